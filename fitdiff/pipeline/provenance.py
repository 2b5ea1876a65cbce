"""Provenance of a run: ``RUN/provenance.json`` with every input file's SHA-256, the versions of
Python, fitdiff and the packages that shape the numbers, the seed, dates and per-stage times."""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import Any

from .. import __version__
from ..common import jsonable, sha256_file
from .engine import StageRunner, now

#: Packages whose versions provenance.json records (those whose numbers shape the results).
DEPENDENCIES = (
    "numpy",
    "scipy",
    "pandas",
    "lmfit",
    "emcee",
    "h5py",
    "tifffile",
    "matplotlib",
    "corner",
)


def dependency_versions() -> dict[str, str]:
    """Return the installed versions of Python, fitdiff and :data:`DEPENDENCIES`."""
    versions = {"python": platform.python_version(), "fitdiff": __version__}
    for name in DEPENDENCIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def provenance(
    analysis, overrides, inputs: dict, runner: StageRunner, started: str, seconds: float
) -> dict[str, Any]:
    """The provenance record: inputs with SHA-256, versions, seed, date, per-stage times.

    Parameters
    ----------
    analysis : fitdiff.analysis.Analysis
    overrides : mapping or None
        What the caller merged into the analysis file.
    inputs : dict
        The run inputs (:func:`fitdiff.inputs.run_inputs`); its ``files`` are recorded.
    runner : StageRunner
        Holds this call's stage results and the stage records.
    started : str
        ISO time the run started; ``seconds`` its wall-clock time so far, s.
    """
    stages = {}
    for result in runner.results:
        record = runner.read_record(result.name) or {}
        stages[result.name] = {
            "status": result.status,
            # A reused stage reports the time it took when it ran (its record), not ~0 s.
            "seconds": record.get("seconds", result.seconds)
            if result.status == "reused"
            else result.seconds,
            "finished": record.get("finished"),
            "key": result.key,
        }
    sample = analysis.config["sample"] if "sample" in analysis.raw else None
    return {
        "analysis": {"path": str(analysis.path), "sha256": sha256_file(analysis.path)},
        "inputs": inputs["files"],
        "overrides": jsonable(overrides or {}),
        "seed": sample["seed"] if sample else None,
        "date": now(),
        "started": started,
        "run_time_s": seconds,
        "stages": stages,
        "versions": dependency_versions(),
        "command": " ".join(sys.argv) if sys.argv and sys.argv[0] else None,
        "platform": platform.platform(),
    }
