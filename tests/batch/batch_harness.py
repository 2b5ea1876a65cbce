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


# --- synthetic measurements for the end-to-end tests ------------------------------------------

#: Seed 000 Fig. 2 parameters (PHYSICS.md §2 reference values): the D(T) the streaks follow.
SEED000 = {"xi_eV": 7.0, "M_m0": 0.5, "rho_g_cm2": 4.46e-7, "s_cm_s": 4.1e5}


def write_streak(path: Path, D_cm2_s: float, *, seed: int, w0_um: float = 1.5) -> None:
    """A tiny Poisson streak image (41 × 61 px) of a Fickian spot, saved as calibrated TIFF.

    w² = w0² + 4Dt and a line profile has σ² = w²/2 (PHYSICS.md §1); 2e4 photons per row
    decaying with 800 ps, 2 background counts per pixel.
    """
    import numpy as np

    from fitdiff.io import Measurement, save
    from fitdiff.units import UM2_PS_PER_CM2_S

    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1000.0, 41)
    x = np.linspace(-6.0, 6.0, 61)
    s2 = (w0_um**2 + 4.0 * D_cm2_s * UM2_PS_PER_CM2_S * t)[:, None] / 2.0
    photons = 2e4 * np.exp(-t / 800.0)[:, None]
    mean = photons * (x[1] - x[0]) * np.exp(-(x**2) / (2 * s2)) / np.sqrt(2 * np.pi * s2) + 2.0
    counts = rng.poisson(mean).astype(np.uint16)
    save(Measurement(counts, ("t", "x"), {"t": t, "x": x}, {"t": "ps", "x": "um"}), path)


def write_corrupt(path: Path) -> None:
    """A TIFF header followed by garbage: the loader must reject it."""
    path.write_bytes(b"II*\x00" + bytes(range(256)) * 4)
