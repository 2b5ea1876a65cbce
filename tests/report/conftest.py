"""Fixtures of the report tests: a complete synthetic RUN directory (see run_builder)."""

from __future__ import annotations

from pathlib import Path

import pytest
from run_builder import make_run


@pytest.fixture(scope="session")
def full_run(tmp_path_factory) -> tuple[Path, dict]:
    """A complete RUN directory (fit + a short, unconverged chain) and its truths."""
    run_dir = tmp_path_factory.mktemp("session") / "run"
    return run_dir, make_run(run_dir)
