"""Compare finished RUN directories: AIC, BIC, ln Z and Bayes factors in one table.

Orchestration (reads RUN files, writes the table atomically; prints nothing): each RUN
contributes its ``results.json`` (χ², AIC, BIC; from ``fitdiff fit``/``run``) and its
``evidence.json`` (ln Z; from ``fitdiff evidence`` or ``[evidence]`` in ``fitdiff run``);
either may be absent, not both. The table itself is
:func:`fitdiff.fitting.compare.evidence_table`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic import write_text
from .errors import LoadError
from .fitting.compare import evidence_table


def _read(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LoadError(f"{path}: not readable JSON ({exc})") from None


def describe_model(config: dict | None) -> str:
    """A short model description from a run's configuration (its report title if it has one)."""
    if not config:
        return ""
    title = (config.get("report") or {}).get("title")
    if isinstance(title, str) and title:
        return title
    model = config.get("model") or {}
    kind = model.get("kind", "")
    detail = model.get("diffusivity") or model.get("method") or model.get("model")
    return f"{kind} ({Path(detail).name if kind == 'valleys' else detail})" if detail else kind


def run_entry(run_dir) -> dict:
    """One row of the comparison from a RUN directory.

    Raises
    ------
    LoadError
        The directory holds neither results.json nor evidence.json, or one is unreadable.
    """
    run_dir = Path(run_dir)
    results, ev = _read(run_dir / "results.json"), _read(run_dir / "evidence.json")
    if results is None and ev is None:
        raise LoadError(
            f"{run_dir}: neither results.json nor evidence.json; run `fitdiff fit` or "
            "`fitdiff evidence` into it first"
        )
    config = (results or ev).get("config") or _read(run_dir / "analysis.json")
    results, ev = results or {}, ev or {}
    return {
        "model": describe_model(config),
        "ndata": results.get("ndata", ev.get("ndata")),
        "k": results.get("nvarys", ev.get("k")),
        "chi2": results.get("chi2"),
        "aic": results.get("aic"),
        "bic": results.get("bic"),
        "lnZ": ev.get("lnZ"),
        "lnZ_err": ev.get("lnZ_err"),
    }


def compare_runs(run_dirs, labels=None) -> pd.DataFrame:
    """The comparison table of several RUN directories (labels: their folder names)."""
    run_dirs = [Path(r) for r in run_dirs]
    labels = list(labels) if labels else [r.resolve().name for r in run_dirs]
    if len(set(labels)) != len(labels):
        labels = [str(r) for r in run_dirs]  # same folder names in different places
    return evidence_table({lab: run_entry(r) for lab, r in zip(labels, run_dirs, strict=True)})


def _cell(value, digits: int) -> str:
    if isinstance(value, str):
        return value
    if value is None or not np.isfinite(value):
        return "—"
    return f"{value:.{digits}f}"


def format_table(table: pd.DataFrame, *, markdown: bool = False) -> str:
    """Human-readable table: run, model, k, χ², AIC, BIC, ln Z ± err, ln B ± err, grade."""
    header = ["run", "model", "k", "χ²", "AIC", "BIC", "ΔBIC", "ln Z", "ln B", "Jeffreys"]
    rows = []
    for label, r in table.iterrows():
        lnz = f"{_cell(r['lnZ'], 2)} ± {_cell(r['lnZ_err'], 2)}" if np.isfinite(r["lnZ"]) else "—"
        lnb = (
            f"{_cell(r['ln_B'], 2)} ± {_cell(r['ln_B_err'], 2)}" if np.isfinite(r["ln_B"]) else "—"
        )
        rows.append(
            [
                str(label),
                str(r["model"] or ""),
                _cell(r["k"], 0),
                _cell(r["chi2"], 1),
                _cell(r["aic"], 1),
                _cell(r["bic"], 1),
                _cell(r["delta_bic"], 1),
                lnz,
                lnb,
                r["jeffreys"] or "—",
            ]
        )
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines) + "\n"
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines) + "\n"


def write_table(table: pd.DataFrame, path) -> Path:
    """Write the table as CSV (``.csv``) or Markdown (``.md``), atomically."""
    path = Path(path)
    if path.suffix == ".md":
        write_text(path, format_table(table, markdown=True))
    elif path.suffix == ".csv":
        write_text(path, table.to_csv(float_format="%.6g"))
    else:
        raise LoadError(f"{path}: the comparison is written as .csv or .md, not {path.suffix!r}")
    return path
