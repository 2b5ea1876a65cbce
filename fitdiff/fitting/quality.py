"""Fit-quality verdicts beyond "converged": χ² p-value and the posterior-to-prior width ratio.

A least-squares fit can "succeed" with χ²/ν = 233, and a chain can converge on a posterior that
is its prior. These functions turn both into warnings (strings for ``results.json`` /
``posterior.json`` ``warnings``) with the numbers a user needs to judge them.

The posterior ≈ prior measure is ``prior_width_ratio``: the width of the central 68 % posterior
interval (p84 − p16) divided by that of the prior actually sampled (the parameter's prior
restricted to its bounds; uniform within the bounds when no prior is given). A ratio near 1
means the data did not narrow the prior; an improper prior (unbounded, no prior) gives 0.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from .priors import LogUniform, Normal, Prior, TruncatedNormal, Uniform

#: A χ² whose upper-tail probability (both tails for χ²/ν < 1) is below this warns.
CHI2_P_MIN = 1e-3
#: Posterior 68 % width / prior 68 % width at or above this warns: the data barely constrain it.
PRIOR_WIDTH_RATIO_MAX = 0.7

_Q_LO, _Q_HI = 0.15865525393145707, 0.8413447460685429  # Φ(−1), Φ(+1): the "68 %" interval


def chi2_warning(chi2: float, ndata: int, nvarys: int) -> str | None:
    """A warning when χ² is improbable for ``ndata − nvarys`` degrees of freedom, else None.

    The p-value is the probability of a χ² at least this far from ν in its own direction:
    ``sf(χ²)`` when χ²/ν > 1 (model or errors wrong), ``cdf(χ²)`` when χ²/ν < 1 (errors
    overestimated). Both are compared with :data:`CHI2_P_MIN`.
    """
    dof = int(ndata) - int(nvarys)
    if dof < 1 or not math.isfinite(chi2):
        return None
    high = chi2 > dof
    p = float(stats.chi2.sf(chi2, dof) if high else stats.chi2.cdf(chi2, dof))
    if p >= CHI2_P_MIN:
        return None
    why = (
        "the model does not describe the data or the error bars are too small"
        if high
        else "the error bars are too large (overestimated noise)"
    )
    return (
        f"reduced χ² = {chi2 / dof:.3g} (χ² = {chi2:.4g} for {dof} degrees of freedom, "
        f"p = {p:.2g} < {CHI2_P_MIN:g}): {why}; the parameter errors are not trustworthy"
    )


def prior_interval(prior: Prior | None, lower: float, upper: float) -> tuple[float, float]:
    """The central 68 % interval of the prior restricted to ``[lower, upper]`` (the bounds).

    Returns ``(-inf, inf)`` for an improper prior (no prior and an unbounded range).
    """
    if isinstance(prior, Uniform) or isinstance(prior, LogUniform):
        lower, upper = max(lower, prior.min), min(upper, prior.max)
    if prior is None or isinstance(prior, Uniform):
        if not (math.isfinite(lower) and math.isfinite(upper)):
            return -math.inf, math.inf
        return lower + _Q_LO * (upper - lower), lower + _Q_HI * (upper - lower)
    if isinstance(prior, LogUniform):
        a, b = math.log(lower), math.log(upper)
        return math.exp(a + _Q_LO * (b - a)), math.exp(a + _Q_HI * (b - a))
    if isinstance(prior, (Normal, TruncatedNormal)):
        if isinstance(prior, TruncatedNormal):
            lower, upper = max(lower, prior.min), min(upper, prior.max)
        a, b = (lower - prior.mu) / prior.sigma, (upper - prior.mu) / prior.sigma
        dist = stats.truncnorm(a, b, loc=prior.mu, scale=prior.sigma)
        return float(dist.ppf(_Q_LO)), float(dist.ppf(_Q_HI))
    lo, hi = prior.support  # another prior: its support, as a uniform would be
    return prior_interval(None, max(lower, lo), min(upper, hi))


def prior_width_ratios(
    samples: np.ndarray,
    names: list[str],
    priors: dict[str, Prior],
    lower: np.ndarray,
    upper: np.ndarray,
) -> dict[str, float | None]:
    """``prior_width_ratio`` per parameter: posterior (p84 − p16) / prior (p84 − p16).

    Parameters
    ----------
    samples : numpy.ndarray
        Flat posterior samples, shape (n, len(names)).
    names : list of str
        Parameter of each column.
    priors : dict
        Explicit priors by name (others are uniform within their bounds).
    lower, upper : numpy.ndarray
        Bounds of each parameter (its unit).
    """
    out = {}
    for i, name in enumerate(names):
        lo, hi = prior_interval(priors.get(name), float(lower[i]), float(upper[i]))
        p16, p84 = np.percentile(samples[:, i], [100 * _Q_LO, 100 * _Q_HI])
        width = hi - lo
        # an improper prior has no width to compare with: None (null in posterior.json)
        out[name] = float((p84 - p16) / width) if math.isfinite(width) and width > 0 else None
    return out


def prior_warnings(ratios: dict[str, float | None]) -> list[str]:
    """One warning per parameter whose posterior is about as wide as its prior."""
    return [
        f"{name}: posterior ≈ prior (68 % width is {ratio:.2f} of the prior's, "
        f"≥ {PRIOR_WIDTH_RATIO_MAX:g}): the data do not constrain it; its interval is the prior's"
        for name, ratio in ratios.items()
        if ratio is not None and ratio >= PRIOR_WIDTH_RATIO_MAX
    ]


def annotate_posterior(posterior, objective) -> None:
    """Set ``posterior.prior_width_ratio`` and add the posterior ≈ prior warnings.

    ``objective`` supplies the priors and bounds the chain sampled (``priors``, ``lower``,
    ``upper``, ``names``).
    """
    ratios = prior_width_ratios(
        posterior.samples, list(posterior.names), objective.priors, objective.lower, objective.upper
    )
    posterior.prior_width_ratio = ratios
    posterior.warnings = [*posterior.warnings, *prior_warnings(ratios)]
