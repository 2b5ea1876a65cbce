"""Executors of a campaign: in this process, a process pool, or a dask cluster.

:func:`parse_executor` turns ``fitdiff batch --executor`` into a zero-argument factory, so a
process pool broken by a dying worker can be replaced by calling it again;
:func:`crash_types` names the exceptions that mean "the worker died", not "the task failed".
"""

from __future__ import annotations

import multiprocessing
import re
import sys
from collections.abc import Callable
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool, ProcessPoolExecutor
from concurrent.futures.thread import BrokenThreadPool
from dataclasses import dataclass

from ..errors import ConfigError


class InlineExecutor(Executor):
    """Run each task at submission, in the calling process (``--executor local``).

    concurrent.futures has no synchronous executor; this one keeps debugging simple
    (breakpoints and tracebacks in one process) and adds no start-up cost.
    """

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # the future carries it, as a pool's would
            future.set_exception(exc)
        return future


class DaskExecutor(Executor):
    """A ``distributed.Client`` connected to an existing scheduler, as an Executor.

    Wraps ``client.get_executor(pure=False)`` (every submission runs, even with equal
    arguments, so a resubmitted task is not answered from dask's cache) and closes the client
    on shutdown.

    Parameters
    ----------
    address : str
        Scheduler address, e.g. ``"tcp://10.0.0.5:8786"``.
    timeout_s : float
        How long to wait for the scheduler, s.
    """

    def __init__(self, address: str, *, timeout_s: float = 10.0):
        try:
            from distributed import Client
        except ImportError:
            from ..errors import MissingExtraError

            raise MissingExtraError("distributed", "dask", "the dask executor") from None
        try:
            self.client = Client(address, timeout=f"{timeout_s}s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(
                f"executor dask://{address.removeprefix('tcp://')}: cannot "
                f"connect to a dask scheduler there ({exc}); start one with "
                "`dask scheduler` or check the address"
            ) from None
        self._inner = self.client.get_executor(pure=False)

    def submit(self, fn, /, *args, **kwargs) -> Future:
        return self._inner.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._inner.shutdown(wait=wait and not cancel_futures)
        self.client.close()


def parse_executor(spec: str) -> Callable[[], Executor]:
    """Return a factory of executors for ``local``, ``processes:N`` or ``dask://HOST:PORT``.

    Parameters
    ----------
    spec : str
        The executor specification of ``fitdiff batch --executor``.

    Returns
    -------
    callable
        A zero-argument function returning a new executor (a broken process pool is replaced
        by calling it again).

    Raises
    ------
    ConfigError
        An unknown form or ``N < 1``.
    """
    spec = spec.strip()
    if spec == "local":
        return InlineExecutor
    if spec.startswith("processes:"):
        text = spec.split(":", 1)[1]
        if not re.fullmatch(r"\d+", text) or int(text) < 1:
            raise ConfigError(f"executor {spec!r}: N in processes:N must be an integer >= 1")
        return _ProcessPoolFactory(int(text))
    if spec.startswith("dask://"):
        address = spec.removeprefix("dask://")
        if not re.fullmatch(r"([a-z]+://)?[^\s:/]+:\d+", address):
            raise ConfigError(
                f"executor {spec!r}: expected dask://HOST:PORT, e.g. dask://127.0.0.1:8786"
            )
        if "://" not in address:
            address = "tcp://" + address
        return _DaskFactory(address)
    raise ConfigError(f"executor {spec!r}: allowed are local, processes:N, dask://HOST:PORT")


#: Modules a process-pool worker needs for :func:`run_measurement` (imported in the forkserver).
_PRELOAD = (
    "fitdiff.batch",
    "fitdiff.batch.measurement",
    "fitdiff.pipeline",
    "fitdiff.analysis",
    "fitdiff.io",
    "fitdiff.extract",
    "fitdiff.fitting",
    "fitdiff.report",
)


@dataclass(frozen=True)
class _ProcessPoolFactory:
    workers: int

    def __call__(self) -> Executor:
        # forkserver: workers fork from a clean server process (the caller may hold threads,
        # e.g. a dask client or a progress bar, which plain fork would copy mid-state). The
        # server imports the pipeline's layers once, so every worker of this and of any
        # rebuilt pool starts with them loaded instead of paying seconds of imports each.
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if context.get_start_method() == "forkserver":
            context.set_forkserver_preload(list(_PRELOAD))
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=context)


@dataclass(frozen=True)
class _DaskFactory:
    address: str

    def __call__(self) -> Executor:
        return DaskExecutor(self.address)


def crash_types() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the worker died, not that the task failed."""
    types: list[type[BaseException]] = [BrokenProcessPool, BrokenThreadPool]
    if "distributed" in sys.modules:  # only a dask executor can raise it
        from distributed import KilledWorker

        types.append(KilledWorker)
    return tuple(types)
