"""Run a campaign: map one task per measurement over an executor, survive dying workers.

:func:`run_campaign` builds a :class:`~fitdiff.batch.measurement.Task` per measurement, submits
them, rebuilds a process pool that a dying worker broke and resubmits what it lost (charging
an attempt only to tasks that had started), then writes the summary and runs the global fit
(:mod:`fitdiff.batch.summary`). Orchestration: it logs to ``OUT/batch.log`` and may show a
progress bar.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .executors import crash_types, parse_executor
from .measurement import STARTED, Task, message, run_measurement
from .schema import Campaign, load_campaign
from .summary import GLOBAL_DIR, SUMMARY, run_global, summary_frame, write_csv

#: Log file and run-directory folder inside OUT/.
LOG = "batch.log"
RUNS_DIR = "runs"

log = logging.getLogger("fitdiff.batch")


@dataclass
class CampaignResult:
    """What :func:`run_campaign` did.

    Attributes
    ----------
    out_dir : pathlib.Path
    summary : pandas.DataFrame
        One row per measurement (the content of ``OUT/summary.csv``).
    seconds : float
        Wall-clock time of the campaign, s.
    global_summary : object or None
        The :class:`fitdiff.pipeline.RunSummary` of the ``[global]`` fit, if any.
    global_error : str
        Why the global fit failed ("" when it ran or was not configured).
    """

    out_dir: Path
    summary: Any
    seconds: float
    global_summary: Any = None
    global_error: str = ""

    def count(self, status: str) -> int:
        """Number of measurements with ``status`` (``ok``, ``failed`` or ``reused``)."""
        return int((self.summary["status"] == status).sum())

    @property
    def ok(self) -> bool:
        """True when no measurement (and no global fit) failed."""
        return self.count("failed") == 0 and not self.global_error


def run_campaign(
    campaign: Campaign | str | os.PathLike,
    out_dir: str | os.PathLike,
    executor: str | Executor | Callable[[], Executor] = "local",
    *,
    force: bool = False,
    progress: bool = False,
    task: Callable[[Task], dict[str, Any]] = run_measurement,
) -> CampaignResult:
    """Run every measurement of a campaign on an executor; write ``OUT/summary.csv``.

    Parameters
    ----------
    campaign : Campaign or path
        A loaded campaign or the campaign TOML.
    out_dir : path
        Output folder: ``runs/<name>/`` per measurement, ``summary.csv``, ``batch.log`` and
        ``global/`` (created if missing).
    executor : str, Executor or callable
        ``"local"``, ``"processes:N"``, ``"dask://HOST:PORT"``; or an executor (used as is,
        not shut down); or a factory returning one (called again when the executor breaks).
    force : bool
        Redo every measurement even when complete.
    progress : bool
        Show a progress bar on stderr (counts of ok/failed/reused, ETA).
    task : callable
        The per-measurement function (picklable), :func:`run_measurement` unless testing.

    Returns
    -------
    CampaignResult
    """
    started = time.perf_counter()
    if not isinstance(campaign, Campaign):
        campaign = load_campaign(campaign)
    # absolute: workers (dask, another host) need not share this process's working directory
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    handler = _open_log(out_dir / LOG)
    try:
        log.info(
            "campaign %s: %d measurements, executor %s, out %s",
            campaign.path,
            len(campaign.measurements),
            _describe(executor),
            out_dir,
        )
        tasks = [
            Task(spec, campaign.analysis, out_dir / RUNS_DIR / spec.name, force)
            for spec in campaign.measurements
        ]
        rows = _execute(tasks, executor, task, campaign.retries, progress)
        summary = summary_frame(campaign, rows)
        write_csv(summary, out_dir / SUMMARY)
        result = CampaignResult(out_dir, summary, 0.0)
        if campaign.global_fit is not None:
            result.global_summary, result.global_error = run_global(
                campaign, summary, out_dir / GLOBAL_DIR, force
            )
        result.seconds = time.perf_counter() - started
        log.info(
            "done in %.1f s: %d ok, %d reused, %d failed",
            result.seconds,
            result.count("ok"),
            result.count("reused"),
            result.count("failed"),
        )
        return result
    finally:
        log.removeHandler(handler)
        handler.close()


def _describe(executor: Any) -> str:
    return executor if isinstance(executor, str) else type(executor).__name__


def _open_log(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler


def _execute(tasks: list[Task], executor, fn, retries: int, progress: bool) -> dict[str, dict]:
    """Run ``fn`` over ``tasks``; rebuild a broken pool and retry crashed tasks."""
    from tqdm import tqdm

    if isinstance(executor, str):
        factory: Callable[[], Executor] | None = parse_executor(executor)
    elif isinstance(executor, Executor):
        factory = None
    elif callable(executor):
        factory = executor
    else:
        raise ConfigError(
            f"executor {executor!r}: expected a spec string, an Executor or a factory"
        )
    rows: dict[str, dict] = {}
    attempts = {t.spec.measurement: 0 for t in tasks}
    counts = {"ok": 0, "failed": 0, "reused": 0}
    bar = tqdm(
        total=len(tasks),
        desc="fitdiff batch",
        unit="meas",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    pending = list(tasks)
    try:
        while pending:
            pool = executor if factory is None else factory()
            crashes = crash_types()  # a dask factory imports distributed
            for t in pending:
                (t.run_dir / STARTED).unlink(missing_ok=True)
            futures, crashed = {}, []
            for t in pending:
                try:
                    futures[pool.submit(fn, t)] = t
                except crashes as exc:  # an earlier task of this round killed the pool
                    crashed.append((t, exc))
            pending = []
            try:
                for future in as_completed(futures):
                    t = futures[future]
                    try:
                        row = future.result()
                    except crashes as exc:
                        crashed.append((t, exc))
                        continue
                    except Exception as exc:  # e.g. the task could not be pickled
                        row = {
                            "measurement": t.spec.measurement,
                            "status": "failed",
                            "error": message(exc),
                            "run_dir": str(t.run_dir),
                            "_traceback": "".join(traceback.format_exception(exc)),
                        }
                    _record(rows, counts, bar, t, row, attempts)
            finally:
                if factory is not None:
                    pool.shutdown(wait=True, cancel_futures=True)
            if crashed:
                pending = _triage(crashed, attempts, retries, factory, rows, counts, bar)
    finally:
        bar.close()
    return rows


def _triage(crashed, attempts, retries, factory, rows, counts, bar) -> list[Task]:
    """Decide which tasks of a crashed round run again; record the others as failed."""
    started = [t.run_dir.joinpath(STARTED).exists() for t, _ in crashed]
    if not any(started):
        # No task is known to have started (the pool died at start-up): charge all, so that
        # a pool that can never start ends the campaign instead of looping.
        started = [True] * len(crashed)
    again = []
    for (t, exc), charged in zip(crashed, started, strict=True):
        name = t.spec.measurement
        attempts[name] += charged
        if factory is None:
            reason = (
                f"worker crashed ({message(exc)}); the executor cannot be rebuilt: "
                "pass an executor spec or factory to retry"
            )
        elif attempts[name] > retries:
            reason = f"worker crashed on each of {attempts[name]} attempts ({message(exc)})"
        else:
            log.warning(
                "%s: worker crashed (%s); retrying (attempt %d of %d)",
                name,
                message(exc),
                attempts[name] + 1,
                retries + 1,
            )
            again.append(t)
            continue
        row = {
            "measurement": name,
            "status": "failed",
            "error": reason,
            "run_dir": str(t.run_dir),
            "attempts": attempts[name],
        }
        _record(rows, counts, bar, t, row, attempts)
    return again


def _record(rows, counts, bar, t: Task, row: dict, attempts) -> None:
    tb = row.pop("_traceback", None)
    row = {**t.spec.values, **row}
    # crashed attempts plus the one that produced this row (a crash-failed row carries its own)
    row.setdefault("attempts", attempts[t.spec.measurement] + (row["status"] != "reused"))
    rows[t.spec.measurement] = row
    counts[row["status"]] = counts.get(row["status"], 0) + 1
    if row["status"] == "failed":
        log.error("%s: failed: %s%s", t.spec.measurement, row["error"], f"\n{tb}" if tb else "")
    else:
        log.info(
            "%s: %s in %.2f s", t.spec.measurement, row["status"], row.get("run_time_s") or 0.0
        )
    bar.update(1)
    bar.set_postfix(counts, refresh=False)
