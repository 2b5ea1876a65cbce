"""Model comparison (AIC/BIC and Bayes-factor tables), best-fit tables and predictive bands."""

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


#: Jeffreys' grades of a Bayes factor B (Jeffreys, Theory of Probability, 3rd ed. 1961,
#: App. B, in the form tabulated by Kass & Raftery, JASA 90, 773 (1995)): B < 10^(1/2)
#: "not worth more than a bare mention", < 10 "substantial", < 100 "strong", else "decisive".
#: Upper ends in ln B: ln 10^(1/2) = 1.151, ln 10 = 2.303, ln 100 = 4.605.
JEFFREYS = (
    (0.5 * np.log(10.0), "not worth more than a bare mention"),
    (np.log(10.0), "substantial"),
    (np.log(100.0), "strong"),
    (np.inf, "decisive"),
)


def jeffreys_grade(ln_b: float) -> str:
    """Verbal strength of evidence for a Bayes factor with natural log ``ln_b`` ≥ 0."""
    for upper, words in JEFFREYS:
        if ln_b < upper:
            return words
    return JEFFREYS[-1][1]


_TABLE_KEYS = ("model", "ndata", "k", "chi2", "aic", "bic", "lnZ", "lnZ_err")


def evidence_table(entries: dict[str, dict]) -> pd.DataFrame:
    """Model-comparison table with AIC, BIC, ln Z and Bayes factors against the best model.

    Parameters
    ----------
    entries : dict of str to dict
        Label → ``model`` (description), ``ndata``, ``k`` (free parameters), ``chi2``,
        ``aic``, ``bic`` (least squares; None where not fitted), ``lnZ``, ``lnZ_err``
        (nested sampling; None where not run). All must share ``ndata`` where given.

    Returns
    -------
    DataFrame
        Index = label; columns ``model, ndata, k, chi2, aic, bic, delta_aic, delta_bic, lnZ,
        lnZ_err, ln_B, ln_B_err, jeffreys``: ``ln_B`` = ln Z − ln Z of the best (highest)
        model (≤ 0), its error the two errors in quadrature, ``jeffreys`` the grade of the
        best model's evidence over this one. Sorted by ln Z (best first), then BIC.
    """
    if not entries:
        raise FitError("the comparison needs at least one model")
    unknown = {k for e in entries.values() for k in e} - set(_TABLE_KEYS)
    if unknown:
        raise FitError(f"unknown comparison keys {sorted(unknown)} (allowed: {_TABLE_KEYS})")
    ndata = {e.get("ndata") for e in entries.values()} - {None}
    if len(ndata) > 1:
        raise FitError(
            f"the models were fitted to different numbers of points {sorted(ndata)}: "
            "their χ², AIC, BIC and evidences are not comparable"
        )
    df = pd.DataFrame({label: {k: e.get(k) for k in _TABLE_KEYS} for label, e in entries.items()}).T
    for col in _TABLE_KEYS[1:]:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    df["delta_aic"] = df["aic"] - df["aic"].min()
    df["delta_bic"] = df["bic"] - df["bic"].min()
    best = df["lnZ"].idxmax() if df["lnZ"].notna().any() else None
    if best is None:
        df["ln_B"] = df["ln_B_err"] = np.nan
    else:
        df["ln_B"] = df["lnZ"] - df.loc[best, "lnZ"]
        df["ln_B_err"] = np.hypot(df["lnZ_err"], df.loc[best, "lnZ_err"])
        df.loc[best, "ln_B_err"] = 0.0
    df["jeffreys"] = [
        "" if not np.isfinite(b) else ("best" if label == best else jeffreys_grade(-b))
        for label, b in df["ln_B"].items()
    ]
    df.index.name = "run"
    order = df.assign(_z=-df["lnZ"].fillna(-np.inf), _b=df["bic"]).sort_values(["_z", "_b"])
    return df.loc[order.index]


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


#: Posterior draws per batched model evaluation in :func:`posterior_predictive`.
_CHUNK = 64


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


def _image_w2(term, vals) -> np.ndarray:
    """What the posterior predictive tracks of an image-level term: its model w²(t)."""
    return term.model.w2(term.model_values(vals), term.data)


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
            if t.data.kind == "image":  # image models are not batched: one draw at a time
                m = np.array([_image_w2(t, objective.values(th)) for th in thetas])
            else:
                m = t.model.predict_many(t.model_values(vals), t.data)
            preds[k].append(np.broadcast_to(m, (thetas.shape[0], m.shape[-1])))
    frames = []
    for t, p in zip(objective.terms, preds, strict=True):
        q = np.percentile(np.concatenate(p), list(_BANDS.values()), axis=0)
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
