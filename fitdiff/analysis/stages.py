"""The ``fit`` and ``sample`` stages: run least squares or emcee on an analysis and write the
RUN-directory files (``analysis.json``, ``results.json``, ``best_fit.csv``, ``chain.h5``,
``posterior.json``, ``posterior_predictive.csv``) atomically.

What ``fitdiff fit``, ``fitdiff sample`` and the pipeline's stages call. Nothing here prints;
progress bars are opt-in (``progress=True``).
"""

from __future__ import annotations

import copy
from pathlib import Path

import lmfit
import pandas as pd

from ..atomic import write_json
from ..common import merge
from ..fitting import (
    FitResult,
    Objective,
    Posterior,
    best_fit_table,
    least_squares,
    posterior_predictive,
    sample,
)
from ..inputs import digest, run_inputs
from .schema import Analysis, analysis_from_dict
from .tables import build_objective, load_tables


def _tables(analysis, widths, tables):
    return tables if tables is not None else load_tables(analysis, widths)


def write_analysis_json(analysis: Analysis, run_dir) -> None:
    """Write ``RUN/analysis.json``: the validated, resolved configuration."""
    write_json(Path(run_dir) / "analysis.json", {**analysis.config, "digest": analysis.digest})


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    from ..extract import write_table_csv  # every fitdiff table goes through it (atomic)

    write_table_csv(df, path)


def fit_objective(analysis: Analysis, objective: Objective) -> FitResult:
    """Least squares with the ``[fit]`` settings."""
    f = analysis.config["fit"]
    return least_squares(
        objective, method=f["method"], scale_covar=f["scale_covar"], max_nfev=f.get("max_nfev")
    )


def run_fit(analysis: Analysis, run_dir, widths=None, tables=None) -> FitResult:
    """The ``fit`` stage: least squares; writes analysis.json, results.json, best_fit.csv."""
    run_dir = Path(run_dir)
    objective = build_objective(analysis, _tables(analysis, widths, tables))
    result = fit_objective(analysis, objective)
    write_analysis_json(analysis, run_dir)
    write_json(
        run_dir / "results.json",
        {**result.to_dict(), "config": analysis.config, "analysis_digest": analysis.digest},
    )
    _write_csv(best_fit_table(objective, result.theta), run_dir / "best_fit.csv")
    return result


def with_steps(analysis: Analysis, steps: int) -> Analysis:
    """``analysis`` with ``[sample] steps`` replaced (``burn``, when not given, follows it)."""
    raw = merge(analysis.raw, {"sample": {"steps": int(steps)}})
    return analysis_from_dict(raw, base_dir=analysis.path.parent, path=analysis.path)


def run_sample(
    analysis: Analysis,
    run_dir,
    widths=None,
    tables=None,
    *,
    fit: FitResult = None,
    steps: int | None = None,
    progress: bool = False,
) -> Posterior:
    """The ``sample`` stage: emcee from the least-squares optimum into ``RUN/chain.h5``.

    Writes analysis.json, chain.h5, posterior.json and posterior_predictive.csv. The stored
    chain is resumed (extended up to ``steps``) when its identity, the ``chain`` part of the
    run inputs (:mod:`fitdiff.inputs`: model, data files, parameters and priors, the data
    window, walkers, seed), is unchanged; otherwise it restarts. ``steps``, ``burn``, ``thin``,
    ``workers`` and ``predictive_draws`` never restart it.

    Parameters
    ----------
    widths, tables : optional
        Tables the analysis' own files give, already read (the pipeline passes the widths of
        its extract stage); they are not part of the chain's identity, the files are.
    fit : FitResult, optional
        Least-squares result to start the walkers around (computed when absent).
    steps : int, optional
        Overrides ``[sample] steps`` (e.g. from ``--steps``); ``burn`` follows it unless the
        analysis sets it.
    progress : bool
        Show a progress bar (the CLI passes ``sys.stderr.isatty()``).
    """
    run_dir = Path(run_dir)
    if steps is not None:
        analysis = with_steps(analysis, steps)
    s = analysis.config["sample"]
    objective = build_objective(analysis, _tables(analysis, widths, tables))
    start = fit if fit is not None else fit_objective(analysis, objective)
    write_analysis_json(analysis, run_dir)
    post = sample(
        objective,
        backend_path=run_dir / "chain.h5",
        walkers=s["walkers"],
        steps=s["steps"],
        burn=s["burn"],
        thin=s["thin"],
        seed=s["seed"],
        start=start,
        progress=progress,
        workers=s["workers"],
        fingerprint=digest(run_inputs(analysis), "chain"),
    )
    write_json(
        run_dir / "posterior.json",
        {**post.to_dict(), "config": analysis.config, "analysis_digest": analysis.digest},
    )
    pp = posterior_predictive(objective, post, draws=s["predictive_draws"], seed=s["seed"])
    _write_csv(pp, run_dir / "posterior_predictive.csv")
    return post


def copy_parameters(analysis: Analysis) -> lmfit.Parameters:
    """A copy of the analysis' parameter record (for callers that want to modify it)."""
    return copy.deepcopy(analysis.parameters)
