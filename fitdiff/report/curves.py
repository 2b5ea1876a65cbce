"""Model curves on fine grids for the report: D(T) with its posterior band, and the
per-measurement D of a temperature series.

A fit's ``best_fit.csv`` holds the model at the data points only; drawn through them a curve
has kinks. Here the fitted D(T) is evaluated again on a fine temperature grid from the
parameters of ``results.json`` and, for the band, from draws of ``chain.h5``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import FitdiffError
from ..fitting.models import D_T_PARAMETER_NAMES, diffusivity_cm2_s
from .rundir import RunData

#: Points of the fine temperature grid.
GRID_POINTS = 241
#: Posterior draws evaluated for the band (fixed seed: an unchanged RUN gives the same figure).
BAND_DRAWS = 300


def dT_method(run: RunData) -> str | None:
    """The D(T) method a fit used (``classical``, ``log``, ``cooperon``), or None."""
    model = (run.analysis or {}).get("model") or {}
    if not isinstance(model, dict):
        return None
    if model.get("kind") == "diffusivity":
        return str(model.get("method") or "log")
    if model.get("kind") == "linear" and model.get("diffusivity"):
        return str(model["diffusivity"])
    return None


def dataset_temperatures(run: RunData) -> dict[str, float]:
    """Dataset label → its fixed ``T_K`` (from analysis.json), where one is given."""
    out = {}
    for d in (run.analysis or {}).get("datasets") or []:
        if not isinstance(d, dict) or "label" not in d:
            continue
        T = (d.get("values") or {}).get("T_K")
        if isinstance(T, (int, float)) and math.isfinite(T):
            out[str(d["label"])] = float(T)
    return out


def dataset_labels(run: RunData) -> dict[str, str]:
    """Dataset label → legend text: ``"75 K"`` where the dataset has a temperature."""
    return {name: f"{T:g} K" for name, T in dataset_temperatures(run).items()}


def _values(run: RunData) -> dict[str, float] | None:
    params = (run.results or {}).get("parameters") or {}
    values = {}
    for name in D_T_PARAMETER_NAMES:
        record = params.get(name)
        if isinstance(record, dict) and isinstance(record.get("value"), (int, float)):
            values[name] = float(record["value"])
        elif any(k.startswith(f"{name}__") for k in params) and name != "T_K":
            return None  # a per-dataset D(T) parameter: no single curve
    return values


def _grid(T: np.ndarray) -> np.ndarray:
    lo, hi = float(np.min(T)), float(np.max(T))
    pad = 0.05 * (hi - lo) if hi > lo else 0.1 * hi
    return np.linspace(max(lo - pad, 1e-3 * max(hi, 1.0)), hi + pad, GRID_POINTS)


def dT_curve(run: RunData, T_data: np.ndarray) -> pd.DataFrame | None:
    """The fitted D(T) on a fine grid spanning ``T_data`` (K), with posterior percentiles.

    Returns
    -------
    pandas.DataFrame or None
        ``T_K``, ``D_cm2_s`` (best fit), ``D_classical_cm2_s`` (its classical part, unless the
        method is classical) and, when ``chain.h5`` is present, ``p2_5, p16, p84, p97_5``
        (cm²/s); None when the RUN has no single D(T) (no D(T) model, or per-dataset
        D(T) parameters).
    """
    method = dT_method(run)
    values = _values(run) if method else None
    T_data = np.asarray(T_data, float)
    if values is None or T_data.size == 0:
        return None
    T = _grid(T_data)
    try:
        curve = pd.DataFrame({"T_K": T, "D_cm2_s": diffusivity_cm2_s(T, values, method)})
        if method != "classical":
            curve["D_classical_cm2_s"] = diffusivity_cm2_s(T, values, "classical")
    except FitdiffError:
        return None
    chain = run.chain
    if chain is not None and chain.named:
        post = run.posterior or {}
        burn, thin = int(post.get("burn") or 0), int(post.get("thin") or 1)
        kept = chain.samples[burn::thin].reshape(-1, chain.samples.shape[2])
        columns = [i for i, n in enumerate(chain.names) if n in D_T_PARAMETER_NAMES]
        if len(kept) and columns:
            rng = np.random.default_rng(0)
            picks = rng.choice(len(kept), size=min(BAND_DRAWS, len(kept)), replace=False)
            draws = np.empty((len(picks), T.size))
            for row, j in enumerate(picks):
                v = dict(values)
                v.update({chain.names[i]: float(kept[j, i]) for i in columns})
                draws[row] = diffusivity_cm2_s(T, v, method)
            for key, q in (("p2_5", 2.5), ("p16", 16.0), ("p84", 84.0), ("p97_5", 97.5)):
                curve[key] = np.percentile(draws, q, axis=0)
    return curve


def dT_points(run: RunData, t_range_ps=None) -> pd.DataFrame | None:
    """Each measurement's own D (a straight-line fit of its w²(t)) at its temperature.

    Returns
    -------
    pandas.DataFrame or None
        ``label, T_K, D_cm2_s, D_err_cm2_s`` sorted by T; None without per-dataset widths
        and temperatures.
    """
    from ..extract import linear_diffusion

    temperatures = dataset_temperatures(run)
    widths = run.widths
    if widths is None or "dataset" not in widths or len(temperatures) < 2:
        return None
    rows = []
    for name, T in temperatures.items():
        w = widths[widths["dataset"].astype(str) == name]
        try:
            fit = linear_diffusion(w, None if t_range_ps is None else tuple(t_range_ps))
        except FitdiffError:
            continue
        rows.append(
            {"label": f"{T:g} K", "T_K": T, "D_cm2_s": fit.D_cm2_s, "D_err_cm2_s": fit.D_err_cm2_s}
        )
    if len(rows) < 2:
        return None
    return pd.DataFrame(rows).sort_values("T_K").reset_index(drop=True)
