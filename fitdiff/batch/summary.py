"""The campaign's results: the summary table and the ``[global]`` fit across measurements."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from typing import Any

from ..atomic import atomic_path
from ..errors import ConfigError
from .measurement import message
from .schema import Campaign

#: Summary table and the global fit's folder inside OUT/.
SUMMARY = "summary.csv"
GLOBAL_DIR = "global"

log = logging.getLogger("fitdiff.batch")


def summary_frame(campaign: Campaign, rows: dict[str, dict]):
    """One row per measurement, sorted by the value columns (numbers as numbers: 75 K before
    100 K), then in campaign order; fixed columns first, fit columns after."""
    import pandas as pd

    order = sorted(
        range(len(campaign.measurements)),
        key=lambda i: (
            tuple(_sort_key(campaign.measurements[i].values.get(n)) for n in campaign.value_names),
            i,
        ),
    )
    ordered = [rows[campaign.measurements[i].measurement] for i in order]
    lead = ["measurement", "status", "error", *campaign.value_names]
    tail = ["redchi", "run_time_s", "attempts", "run_dir"]
    middle: dict[str, None] = {}
    for row in ordered:
        middle.update(dict.fromkeys(k for k in row if k not in lead and k not in tail))
    return pd.DataFrame(ordered, columns=[*lead, *middle, *tail])


def _sort_key(value) -> tuple:
    """Numbers first in numeric order, then text, then missing values."""
    if isinstance(value, bool) or value is None:
        return (2, "")
    if isinstance(value, (int, float)):
        return (0, float(value))
    try:
        return (0, float(str(value)))
    except ValueError:
        return (1, str(value))


def write_csv(frame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def run_global(campaign: Campaign, summary, gdir: Path, force: bool) -> tuple[Any, str]:
    """Fit the per-measurement results together with the ``[global]`` analysis.

    Parameters
    ----------
    campaign : Campaign
        With a ``global_fit`` section.
    summary : pandas.DataFrame
        The campaign summary; rows ``ok`` or ``reused`` enter the fit.
    gdir : pathlib.Path
        The global fit's run directory (its input ``table.csv`` goes there too).
    force : bool
        Redo every stage of the global fit.

    Returns
    -------
    (RunSummary or None, str)
        The pipeline's summary and "" on success; None and the reason on failure (never
        raises: the per-measurement results stand whatever happens here).
    """
    spec = campaign.global_fit
    x, y = spec["x"], spec["y"]
    y_err = _err_column(y, summary)
    done = summary[summary["status"].isin(["ok", "reused"])]
    try:
        for col in (y, y_err):
            if col not in done.columns:
                raise ConfigError(
                    f"{campaign.path}: global.y = {y!r}: the summary has no "
                    f"column {col!r}; it has {list(summary.columns)}"
                )
        table = done[[x, y, y_err]].dropna()
        if len(table) < 2:
            raise ConfigError(
                f"{campaign.path}: [global] needs at least 2 successful "
                f"measurements with {y} and {y_err}; have {len(table)}"
            )
        gdir.mkdir(parents=True, exist_ok=True)
        table_path = gdir / "table.csv"
        write_csv(table, table_path)
        from ..pipeline import run

        log.info("global fit: %s over %d measurements", spec["analysis"], len(table))
        result = run(
            spec["analysis"],
            gdir,
            force=force,
            quiet=True,
            overrides={"data": {"table": str(table_path)}},
        )
        return result, ""
    except Exception as exc:
        error = message(exc)
        log.error("global fit failed: %s\n%s", error, "".join(traceback.format_exception(exc)))
        return None, error


def _err_column(y: str, summary) -> str:
    """The summary's error column of ``y``: ``_err`` inserted before a unit (``D_err_cm2_s``)
    where such a column exists, else ``y + "_err"`` (see :func:`column_names`)."""
    for i, char in enumerate(y):
        if char == "_" and f"{y[:i]}_err{y[i:]}" in summary.columns:
            return f"{y[:i]}_err{y[i:]}"
    return f"{y}_err"
