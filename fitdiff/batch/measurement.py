"""One measurement of a campaign, as a worker runs it: the pipeline into its run directory.

:func:`run_measurement` is the task a campaign maps over its executor; it never raises, so one
corrupt file is one ``failed`` row. :func:`fit_columns` turns ``results.json`` into summary
columns named with their units (:func:`column_names`).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..atomic import write_json
from ..errors import FitdiffError
from ..inputs import digest, run_inputs_of
from .schema import MeasurementSpec

#: Written into each run directory after a success: the summary row and the run-inputs digest.
RECORD = "batch.json"
#: Written by a task when it starts; tells a crash of a running task from a queued one.
STARTED = ".batch-started"


@dataclass(frozen=True)
class Task:
    """What a worker needs to run one measurement (picklable).

    Attributes
    ----------
    spec : MeasurementSpec
    analysis : pathlib.Path
        The analysis template.
    run_dir : pathlib.Path
        The measurement's run directory.
    force : bool
        Redo every pipeline stage.
    """

    spec: MeasurementSpec
    analysis: Path
    run_dir: Path
    force: bool = False


def run_measurement(task: Task) -> dict[str, Any]:
    """Run the pipeline for one measurement and return its summary row; never raises.

    The pipeline decides what to redo: its stage keys derive from the measurement's run inputs
    (:func:`fitdiff.inputs.run_inputs`: the resolved configuration, the content of every file
    it references, the fitdiff version), so a changed covariance, table or MODEL.toml redoes
    the stages that read it and nothing changed redoes nothing. A measurement of which no stage
    ran is ``reused``; the campaign keeps no record of completeness of its own.

    The row holds ``measurement, status, error``, the values, the fitted parameters with their
    errors (from ``results.json``), ``run_time_s`` and ``run_dir``; a failure's traceback rides
    along under ``_traceback`` for the log. After a success, ``RECORD`` (``batch.json``) in the
    run directory holds the row and the digest of the run inputs.
    """
    started = time.perf_counter()
    spec = task.spec
    row: dict[str, Any] = {
        "measurement": spec.measurement,
        "status": "ok",
        "error": "",
        **spec.values,
    }
    try:
        task.run_dir.mkdir(parents=True, exist_ok=True)
        (task.run_dir / STARTED).write_text(f"{os.getpid()}\n", encoding="utf-8")
        # Removed before any work: the record describes the outputs beside it, or nothing.
        (task.run_dir / RECORD).unlink(missing_ok=True)
        from ..pipeline import run

        summary = run(
            task.analysis, task.run_dir, force=task.force, quiet=True, overrides=spec.overrides
        )
        if not summary.ran:
            row["status"] = "reused"
        row.update(fit_columns(task.run_dir))
        row["run_time_s"] = time.perf_counter() - started
        row["run_dir"] = str(task.run_dir)
        record = run_inputs_of(task.analysis, spec.overrides)
        write_json(
            task.run_dir / RECORD,
            {
                "row": row,
                "stages": {s.name: s.status for s in summary.stages},
                "inputs_sha256": digest(record, "report"),
                "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                "fitdiff": __version__,
            },
        )
    except Exception as exc:  # isolation: any error of one measurement is its row, not ours
        row.update(
            status="failed",
            error=message(exc),
            run_dir=str(task.run_dir),
            run_time_s=time.perf_counter() - started,
            _traceback="".join(traceback.format_exception(exc)),
        )
    finally:
        try:
            (task.run_dir / STARTED).unlink(missing_ok=True)
        except OSError:
            pass
    return row


def message(exc: BaseException) -> str:
    """One line saying what went wrong; a foreign exception is named by its type."""
    text = str(exc).strip() or type(exc).__name__
    if not isinstance(exc, FitdiffError):  # a bug or a foreign library's error: say which
        text = f"{type(exc).__name__}: {text}"
    return " ".join(text.split())


def _unit_token(unit: str) -> str:
    """``"cm²/s"`` -> ``"cm2_s"``: a unit as it appears at the end of a column name."""
    token = unit.replace("²", "2").replace("³", "3").replace("^", "").replace("µ", "u")
    token = token.replace("μ", "u").replace("/", "_").replace("*", "_").replace(" ", "_")
    return re.sub(r"_+", "_", token).strip("_")


def column_names(name: str, unit: str | None) -> tuple[str, str]:
    """Value and error column names of a fitted parameter, units last.

    ``("D_cm2_s", "cm2/s")`` -> ``("D_cm2_s", "D_err_cm2_s")``; ``("D", "cm2/s")`` ->
    ``("D_cm2_s", "D_err_cm2_s")``; a dimensionless ``"ln_f"`` -> ``("ln_f", "ln_f_err")``.
    """
    token = _unit_token(unit or "")
    if token in ("", "1", "dimensionless", "none"):
        return name, f"{name}_err"
    if name.endswith("_" + token):
        return name, f"{name[: -len(token) - 1]}_err_{token}"
    return f"{name}_{token}", f"{name}_err_{token}"


def fit_columns(run_dir: Path) -> dict[str, Any]:
    """Summary columns from ``RUN/results.json``: each parameter and its error, each derived
    quantity (the tensor's ``D_major_cm2_s``, ...) and its error, ``redchi``."""
    results = json.loads((Path(run_dir) / "results.json").read_text(encoding="utf-8"))
    out: dict[str, Any] = {}
    derived = {k: v for k, v in results.get("derived", {}).items() if isinstance(v, dict)}
    for name, par in [*results.get("parameters", {}).items(), *derived.items()]:
        if "value" not in par:
            continue  # derived quantities of several datasets: keyed by label, not summarised
        value_col, err_col = column_names(name, par.get("unit"))
        out[value_col] = par.get("value")
        out[err_col] = par.get("stderr")
    out["redchi"] = results.get("redchi")
    return out
