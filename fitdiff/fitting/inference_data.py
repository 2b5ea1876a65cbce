"""Posteriors in the ecosystem's format: ArviZ InferenceData, and ArviZ's convergence diagnostics.

emcee's walkers become ArviZ chains (as :func:`arviz.from_emcee` does): the ``posterior``
group holds exactly the samples posterior.json summarises (after ``burn`` and ``thin``), so
medians agree. Walkers of an ensemble are not independent chains - they exchange positions
through the stretch move - so R-hat over walkers is a consistency check beside τ_int, not a
proof of convergence.

Groups built here:

* ``posterior``: one variable per free parameter, dims (chain = walker, draw);
* ``sample_stats``: ``lp`` (log-posterior of each sample);
* ``observed_data``: each dataset's y on its own grid (dimension ``<label>_<x name>``);
* ``posterior_predictive``: replicated data y_rep = model + noise drawn with the dataset's
  errors (and noise inflation), for a subset of draws spread over the chain.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .objective import Objective
from .results import Posterior


def _arviz():
    # ArviZ 0.2x announces its 1.0 refactor with a FutureWarning on import; it is not ours to fix
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import arviz

    return arviz


def chains(posterior: Posterior) -> np.ndarray:
    """The summarised samples as (walker, draw, ndim): ``chain[burn::thin]`` walker-major."""
    return np.transpose(posterior.chain[posterior.burn :: posterior.thin], (1, 0, 2))


def arviz_diagnostics(posterior: Posterior) -> dict[str, dict[str, float]]:
    """R-hat (rank-normalised, split) and bulk/tail ESS per parameter, walkers as chains."""
    az = _arviz()
    x = chains(posterior)
    out = {}
    for i, name in enumerate(posterior.names):
        a = x[:, :, i]
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            values = (
                float(az.rhat(a)),
                float(az.ess(a, method="bulk")),
                float(az.ess(a, method="tail")),
            )
        out[name] = dict(zip(("rhat", "ess_bulk", "ess_tail"), values, strict=True))
    return out


def _replicate(term, values: dict, rng: np.random.Generator) -> np.ndarray:
    """y_rep of one term: the model plus noise of the likelihood's own covariance."""
    d = term.data
    m = term.predict(values)
    f2 = math.exp(2.0 * values[term.ln_f]) if term.ln_f else 0.0
    z = rng.standard_normal(m.size)
    if d.cov is None:
        return m + np.sqrt(d.y_err**2 + f2 * m**2) * z
    return m + np.linalg.cholesky(d.cov + np.diag(f2 * m**2)) @ z


def to_inference_data(
    objective: Objective,
    posterior: Posterior,
    *,
    predictive_draws: int = 200,
    seed: int | None = None,
):
    """An :class:`arviz.InferenceData` of an emcee posterior of ``objective``.

    Parameters
    ----------
    objective : Objective or GlobalObjective
        The objective that was sampled (its datasets give observed_data and the predictive).
    posterior : Posterior
    predictive_draws : int
        About this many posterior-predictive replicates in total (at least one per walker).
    seed : int, optional
        Seeds the predictive noise.
    """
    az = _arviz()
    x = chains(posterior)
    walkers, draws, _ = x.shape
    post = {n: x[:, :, i] for i, n in enumerate(posterior.names)}
    lp = posterior.log_prob.reshape(draws, walkers).T
    observed, dims, coords = {}, {}, {}
    for t in objective.terms:
        dim = f"{t.data.label}_{t.data.x_name}"
        observed[t.data.label] = np.asarray(t.data.y, float)
        dims[t.data.label] = [dim]
        coords[dim] = np.asarray(t.data.x, float)
    per_walker = max(1, math.ceil(predictive_draws / walkers))
    picks = np.unique(np.linspace(0, draws - 1, min(per_walker, draws)).round().astype(int))
    rng = np.random.default_rng(seed)
    predictive = {
        t.data.label: np.empty((walkers, picks.size, len(t.data))) for t in objective.terms
    }
    for w in range(walkers):
        for j, k in enumerate(picks):
            vals = objective.values(x[w, k])
            for t in objective.terms:
                predictive[t.data.label][w, j] = _replicate(t, vals, rng)
    from .. import __version__

    attrs = {
        "inference_library": "emcee",
        "created_by": f"fitdiff {__version__}",
        "chains_are": "emcee walkers",
        "burn": posterior.burn,
        "thin": posterior.thin,
        "units": "; ".join(f"{n}: {posterior.units.get(n, '')}" for n in posterior.names),
    }
    with warnings.catch_warnings():
        # ArviZ guesses a (draw, chain) mix-up when walkers outnumber draws; the shape is right
        warnings.filterwarnings("ignore", message="More chains", category=UserWarning)
        return az.from_dict(
            posterior=post,
            sample_stats={"lp": lp},
            observed_data=observed,
            posterior_predictive=predictive,
            coords=coords,
            dims=dims,
            attrs=attrs,
        )
