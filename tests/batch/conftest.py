"""Fixtures of the batch tests: one loopback-only dask cluster shared by the module's tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def dask_address():
    """``dask://127.0.0.1:PORT`` of a LocalCluster of 2 single-thread worker processes.

    Bound to 127.0.0.1 only and without a dashboard: nothing is exposed off this machine.
    """
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        yield "dask://" + cluster.scheduler_address.removeprefix("tcp://")
