"""Task functions for the batch tests: stand-ins for a measurement, and a worker killer.

They live in an importable module (not a test file) because process-pool and dask workers
import a submitted function by its module name.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from fitdiff.batch import Task, run_measurement

#: Created in a run directory by :func:`kill_once` before it kills its worker.
KILLED = "killed-once"


def echo_task(task: Task) -> dict:
    """Read a JSON measurement ``{"D_cm2_s": ..}`` and return it as a row; ``"raise"`` raises."""
    content = json.loads(Path(task.spec.path).read_text(encoding="utf-8"))
    if content.get("raise"):
        raise RuntimeError(f"asked to raise by {task.spec.path.name}")
    task.run_dir.mkdir(parents=True, exist_ok=True)
    return {
        "measurement": task.spec.measurement,
        "status": "ok",
        "error": "",
        "D_cm2_s": content["D_cm2_s"],
        "pid": os.getpid(),
    }


def _kill_self_once(task: Task) -> None:
    task.run_dir.mkdir(parents=True, exist_ok=True)
    (task.run_dir / ".batch-started").write_text(f"{os.getpid()}\n", encoding="utf-8")
    sentinel = task.run_dir / KILLED
    if not sentinel.exists():
        sentinel.write_text("", encoding="utf-8")
        # SIGKILL: the worker dies without cleanup, as under the OOM killer.
        os.kill(os.getpid(), signal.SIGKILL)


def kill_once_echo(task: Task) -> dict:
    """Kill the worker on the first attempt of measurements whose name has ``kill``."""
    if "kill" in task.spec.path.name:
        _kill_self_once(task)
    return echo_task(task)


def always_kill(task: Task) -> dict:
    """Kill the worker on every attempt."""
    task.run_dir.mkdir(parents=True, exist_ok=True)
    (task.run_dir / ".batch-started").write_text(f"{os.getpid()}\n", encoding="utf-8")
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def kill_once_pipeline(task: Task) -> dict:
    """The real :func:`fitdiff.batch.run_measurement`, after killing the first attempt."""
    if "kill" in task.spec.measurement:
        _kill_self_once(task)
    return run_measurement(task)
