"""Priors on fit parameters, each usable both as a log-density and as a least-squares residual.

Priors enter least squares as extra residuals (the bumps convention) so that lmfit and emcee
optimise the same posterior: every prior here returns a residual ``r(x)`` with
``r(x)**2 / 2 == -logpdf(x) + const`` on its support (PHYSICS.md §4, DESIGN.md house style).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError

_NORM_CONST = 0.5 * math.log(2.0 * math.pi)


@dataclass(frozen=True)
class Prior:
    """Base class: a one-dimensional prior with support ``[lower, upper]``."""

    @property
    def support(self) -> tuple[float, float]:
        return (-math.inf, math.inf)

    def logpdf(self, x: float) -> float:
        raise NotImplementedError

    def residual(self, x: float) -> float | None:
        """Return the least-squares residual, or None when the prior is flat on its support."""
        raise NotImplementedError

    def to_dict(self) -> dict:
        raise NotImplementedError

    def _inside(self, x: float) -> bool:
        lo, hi = self.support
        return lo <= x <= hi


@dataclass(frozen=True)
class Uniform(Prior):
    """Flat prior on ``[min, max]`` (in the parameter's unit)."""

    min: float
    max: float

    @property
    def support(self):
        return (self.min, self.max)

    def logpdf(self, x):
        return -math.log(self.max - self.min) if self._inside(x) else -math.inf

    def residual(self, x):
        return None

    def to_dict(self):
        return {"kind": "uniform", "min": self.min, "max": self.max}


@dataclass(frozen=True)
class LogUniform(Prior):
    """Prior flat in ln x on ``[min, max]``, ``0 < min < max`` (scale-free, Jeffreys-like)."""

    min: float
    max: float

    @property
    def support(self):
        return (self.min, self.max)

    def logpdf(self, x):
        if not self._inside(x):
            return -math.inf
        return -math.log(x) - math.log(math.log(self.max / self.min))

    def residual(self, x):
        # -logpdf = ln x + const; ln(x/min) >= 0 on the support, so its square root is real.
        return math.sqrt(2.0 * math.log(max(x, self.min) / self.min))

    def to_dict(self):
        return {"kind": "log_uniform", "min": self.min, "max": self.max}


@dataclass(frozen=True)
class Normal(Prior):
    """Gaussian prior with mean ``mu`` and standard deviation ``sigma`` (parameter's unit)."""

    mu: float
    sigma: float

    def logpdf(self, x):
        z = (x - self.mu) / self.sigma
        return -0.5 * z * z - math.log(self.sigma) - _NORM_CONST

    def residual(self, x):
        return (x - self.mu) / self.sigma

    def to_dict(self):
        return {"kind": "normal", "mu": self.mu, "sigma": self.sigma}


@dataclass(frozen=True)
class TruncatedNormal(Prior):
    """Gaussian ``(mu, sigma)`` restricted to ``[min, max]`` (normalisation dropped: constant)."""

    mu: float
    sigma: float
    min: float = -math.inf
    max: float = math.inf

    @property
    def support(self):
        return (self.min, self.max)

    def logpdf(self, x):
        if not self._inside(x):
            return -math.inf
        z = (x - self.mu) / self.sigma
        return -0.5 * z * z

    def residual(self, x):
        return (x - self.mu) / self.sigma

    def to_dict(self):
        return {
            "kind": "truncated_normal",
            "mu": self.mu,
            "sigma": self.sigma,
            "min": self.min,
            "max": self.max,
        }


_KINDS = {
    "uniform": (Uniform, ("min", "max"), ()),
    "log_uniform": (LogUniform, ("min", "max"), ()),
    "normal": (Normal, ("mu", "sigma"), ()),
    "truncated_normal": (TruncatedNormal, ("mu", "sigma"), ("min", "max")),
}


def prior_from_dict(spec: dict, where: str = "prior") -> Prior:
    """Build a prior from its configuration table.

    Parameters
    ----------
    spec : dict
        ``{"kind": ..., **arguments}``: ``uniform`` (min, max), ``log_uniform`` (min, max),
        ``normal`` (mu, sigma), ``truncated_normal`` (mu, sigma, optional min, max).
    where : str
        Key path used in error messages, e.g. ``parameters.D_cm2_s.prior``.

    Raises
    ------
    ConfigError
        Unknown kind or key, missing or non-numeric argument, empty range, sigma <= 0.
    """
    if not isinstance(spec, dict):
        raise ConfigError(
            f"{where}: expected a table like {{kind = 'normal', mu = 1, sigma = 0.1}}"
        )
    kind = spec.get("kind")
    if kind not in _KINDS:
        raise ConfigError(f"{where}.kind: {kind!r} is not one of {sorted(_KINDS)}")
    cls, required, optional = _KINDS[kind]
    args = {}
    for key, value in spec.items():
        if key == "kind":
            continue
        if key not in required + optional:
            raise ConfigError(
                f"{where}.{key}: unknown key for a {kind} prior (allowed: {list(required + optional)})"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}.{key}: expected a number, got {value!r}")
        args[key] = float(value)
    for key in required:
        if key not in args:
            raise ConfigError(f"{where}.{key}: required for a {kind} prior")
    if "sigma" in args and not args["sigma"] > 0:
        raise ConfigError(f"{where}.sigma: must be > 0, got {args['sigma']}")
    lo, hi = args.get("min", -math.inf), args.get("max", math.inf)
    if not lo < hi:
        raise ConfigError(f"{where}: min ({lo}) must be < max ({hi})")
    if kind == "log_uniform" and not lo > 0:
        raise ConfigError(f"{where}.min: a log_uniform prior needs min > 0, got {lo}")
    return cls(**args)
