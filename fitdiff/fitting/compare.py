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


#: Posterior draws per batched model evaluation in :func:`posterior_predictive`.
_CHUNK = 64


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
    # the draws go through the models as stacks (one batched evaluation per term and chunk;
    # chunks bound the memory of models whose work arrays grow with the stack)
    for start in range(0, idx.size, _CHUNK):
        thetas = posterior.samples[idx[start : start + _CHUNK]]
        vals = objective.values_many(thetas)
        for k, t in enumerate(objective.terms):
            m = t.model.predict_many(t.model_values(vals), t.data)
            preds[k].append(np.broadcast_to(m, (thetas.shape[0], len(t.data.x))))
    frames = []
    for t, p in zip(objective.terms, preds, strict=True):
        q = np.percentile(np.concatenate(p), list(_BANDS.values()), axis=0)
        frame = pd.DataFrame(
            {"dataset": t.data.label, "observable": t.data.y_name, t.data.x_name: t.data.x}
        )
        for name, row in zip(_BANDS, q, strict=True):
            frame[name] = row
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
