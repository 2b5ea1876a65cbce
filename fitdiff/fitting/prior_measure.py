"""The prior as a normalised probability measure: quantile transforms and widths per parameter.

:class:`~fitdiff.fitting.Objective` needs the prior only up to a constant (emcee and least
squares never see the normalisation). Nested sampling and the "posterior ≈ prior" diagnostic
need the prior itself: a proper distribution per free parameter, the prior of its
configuration restricted to the parameter's bounds (the objective already tightened the bounds
to the prior's support, so its log-prior has exactly this shape):

* no prior: uniform within ``[min, max]`` (improper when a bound is infinite);
* ``uniform``: uniform within the bounds;
* ``log_uniform``: flat in ln x within the bounds;
* ``normal``, ``truncated_normal``: the Gaussian truncated to the bounds.

Each distribution maps the unit interval to the parameter (``ppf``, what dynesty's prior
transform needs) and knows its standard deviation (the prior width).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from ..errors import ConfigError
from .objective import Objective
from .priors import LogUniform, Normal, Prior, TruncatedNormal, Uniform


@dataclass(frozen=True)
class _UniformMeasure:
    lo: float
    hi: float

    def ppf(self, u: float) -> float:
        return self.lo + u * (self.hi - self.lo)

    def std(self) -> float:
        return (self.hi - self.lo) / math.sqrt(12.0)


@dataclass(frozen=True)
class _LogUniformMeasure:
    lo: float
    hi: float

    def ppf(self, u: float) -> float:
        return self.lo * (self.hi / self.lo) ** u

    def std(self) -> float:
        # moments of the log-uniform density 1/(x ln(b/a)) on [a, b]
        a, b = self.lo, self.hi
        ln = math.log(b / a)
        mean = (b - a) / ln
        second = (b * b - a * a) / (2.0 * ln)
        return math.sqrt(max(second - mean * mean, 0.0))


@dataclass(frozen=True)
class _TruncatedNormalMeasure:
    mu: float
    sigma: float
    lo: float
    hi: float

    def _cdf_bounds(self) -> tuple[float, float]:
        return (
            float(special.ndtr((self.lo - self.mu) / self.sigma)),
            float(special.ndtr((self.hi - self.mu) / self.sigma)),
        )

    def ppf(self, u: float) -> float:
        ca, cb = self._cdf_bounds()
        x = self.mu + self.sigma * float(special.ndtri(ca + u * (cb - ca)))
        return min(max(x, self.lo), self.hi)

    def std(self) -> float:
        from scipy.stats import truncnorm

        a, b = (self.lo - self.mu) / self.sigma, (self.hi - self.mu) / self.sigma
        return float(truncnorm(a, b, loc=self.mu, scale=self.sigma).std())


def _measure(prior: Prior | None, lo: float, hi: float):
    """The proper distribution of one parameter, or None when it is improper."""
    if prior is None or isinstance(prior, Uniform):
        return _UniformMeasure(lo, hi) if math.isfinite(lo) and math.isfinite(hi) else None
    if isinstance(prior, LogUniform):
        return _LogUniformMeasure(lo, hi)
    if isinstance(prior, (Normal, TruncatedNormal)):
        return _TruncatedNormalMeasure(prior.mu, prior.sigma, lo, hi)
    return None


def _bounds(objective: Objective):
    return zip(objective.names, objective.lower.tolist(), objective.upper.tolist(), strict=True)


def prior_measures(objective: Objective) -> list:
    """One proper distribution per free parameter, in the order of ``objective.names``.

    Raises
    ------
    ConfigError
        A free parameter has an improper prior (no prior and an infinite bound); the message
        names it and says how to make it proper.
    """
    out = []
    for name, lo, hi in _bounds(objective):
        m = _measure(objective.priors.get(name), lo, hi)
        if m is None:
            raise ConfigError(
                f"parameters.{name}: the evidence needs a proper prior, but {name} is uniform on "
                f"[{lo}, {hi}]; set finite min and max (uniform within bounds) or a prior such "
                "as prior = {kind = 'normal', mu = ..., sigma = ...}"
            )
        out.append(m)
    return out


def prior_widths(objective: Objective) -> dict[str, float | None]:
    """Prior standard deviation of each free parameter (None where the prior is improper)."""
    out = {}
    for name, lo, hi in _bounds(objective):
        m = _measure(objective.priors.get(name), lo, hi)
        out[name] = None if m is None else m.std()
    return out


class PriorTransform:
    """Map a point of the unit cube to the free-parameter vector (dynesty's prior transform).

    A picklable object rather than a closure: dynesty's checkpoint pickles it.
    """

    def __init__(self, objective: Objective):
        self.measures = prior_measures(objective)

    def __call__(self, u) -> np.ndarray:
        return np.array([m.ppf(float(x)) for m, x in zip(self.measures, u, strict=True)])
