"""Model comparison (AIC/BIC tables), best-fit tables and posterior-predictive bands."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import FitError
from .objective import Objective
from .results import FitResult, Posterior

_BANDS = {"p2_5": 2.5, "p16": 16.0, "p50": 50.0, "p84": 84.0, "p97_5": 97.5}


def compare_models(results: dict[str, FitResult]) -> pd.DataFrame:
    """AIC/BIC table of competing models fitted to the same data.

    Parameters
    ----------
    results : dict of str to FitResult
        Label → least-squares result; all must have the same ``ndata``.

    Returns
    -------
    DataFrame
        Index = label, columns ``ndata, nvarys, chi2, redchi, aic, bic, delta_aic, delta_bic,
        aic_weight`` (Akaike weights exp(−ΔAIC/2), normalised), sorted by AIC.
    """
    if not results:
        raise FitError("compare_models needs at least one result")
    ndata = {r.ndata for r in results.values()}
    if len(ndata) != 1:
        raise FitError(f"models were fitted to different numbers of points {sorted(ndata)}")
    df = pd.DataFrame(
        {
            k: {
                "ndata": r.ndata,
                "nvarys": r.nvarys,
                "chi2": r.chi2,
                "redchi": r.redchi,
                "aic": r.aic,
                "bic": r.bic,
            }
            for k, r in results.items()
        }
    ).T
    df["delta_aic"] = df["aic"] - df["aic"].min()
    df["delta_bic"] = df["bic"] - df["bic"].min()
    w = np.exp(-0.5 * df["delta_aic"].astype(float))
    df["aic_weight"] = w / w.sum()
    return df.sort_values("aic")


def best_fit_table(objective: Objective, theta) -> pd.DataFrame:
    """Data and model on each dataset's grid: the ``best_fit.csv`` table.

    Columns ``dataset, observable, x_name, x, y, y_err, model, pull`` plus the grid under its
    own name (``t_ps`` or ``T_K``) and model-specific columns.
    """
    vals = objective.values(theta)
    frames = []
    for t in objective.terms:
        d = t.data
        if d.kind == "image":
            frames.append(_image_rows(t, vals))
            continue
        m = t.predict(vals)
        frame = pd.DataFrame(
            {
                "dataset": d.label,
                "observable": d.y_name,
                d.x_name: d.x,
                "y": d.y,
                "y_err": d.y_err,
                "model": m,
                "pull": (d.y - m) / d.y_err,
            }
        )
        for k, v in t.model.extra_columns(t.model_values(vals), d).items():
            frame[k] = np.asarray(v, float)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _image_rows(term, vals) -> pd.DataFrame:
    """Per-slice rows of an image-level term: the model w²(t), profiled A(t) and c(t), and
    the slice's share of Σ r² (no per-slice w² data exist at this level: ``y`` is NaN)."""
    d = term.data
    mv = term.model_values(vals)
    mu, amp, c = term.model.image(mv, d)
    r, _ = d.whiten(mu[d.valid])
    rows = np.repeat(np.arange(len(d.t_ps)), d.valid.sum(1))
    chi2 = np.bincount(rows, weights=r * r, minlength=len(d.t_ps))
    nan = np.full(len(d.t_ps), np.nan)
    return pd.DataFrame(
        {
            "dataset": d.label,
            "observable": "w2_um2",
            "t_ps": d.t_ps,
            "y": nan,
            "y_err": nan,
            "model": term.model.w2(mv, d),
            "pull": nan,
            "amplitude": amp,
            "background": c,
            "chi2_slice": chi2,
            "pixels": d.valid.sum(1),
        }
    )


def _predict_summary(term, vals) -> np.ndarray:
    """What the posterior predictive tracks: the model on the grid, or w²(t) of an image."""
    if term.data.kind == "image":
        return term.model.w2(term.model_values(vals), term.data)
    return term.predict(vals)


def posterior_predictive(
    objective: Objective, posterior: Posterior, *, draws: int = 200, seed: int | None = None
) -> pd.DataFrame:
    """Quantiles of the model over posterior draws, on each dataset's grid.

    Returns
    -------
    DataFrame
        ``dataset, observable, t_ps`` (or ``T_K``) and the model's ``p2_5, p16, p50, p84,
        p97_5`` over ``draws`` samples drawn (without replacement when possible) from the chain.
    """
    rng = np.random.default_rng(seed)
    n = posterior.samples.shape[0]
    idx = rng.choice(n, size=min(draws, n), replace=False)
    preds = [[] for _ in objective.terms]
    for i in idx:
        vals = objective.values(posterior.samples[i])
        for k, t in enumerate(objective.terms):
            preds[k].append(_predict_summary(t, vals))
    frames = []
    for t, p in zip(objective.terms, preds, strict=True):
        q = np.percentile(np.array(p), list(_BANDS.values()), axis=0)
        image = t.data.kind == "image"
        frame = pd.DataFrame(
            {
                "dataset": t.data.label,
                "observable": "w2_um2" if image else t.data.y_name,
                t.data.x_name: t.data.t_ps if image else t.data.x,
            }
        )
        for name, row in zip(_BANDS, q, strict=True):
            frame[name] = row
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
