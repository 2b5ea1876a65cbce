"""Result records of the two engines: :class:`FitResult` and :class:`Posterior`.

``to_dict()`` gives exactly the content of ``results.json`` / ``posterior.json`` (RUN-directory
table of docs/interfaces.md); the orchestration layer adds the configuration and writes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import lmfit
import numpy as np

_PERCENTILES = {"p2_5": 2.5, "p16": 16.0, "median": 50.0, "p84": 84.0, "p97_5": 97.5}


def package_versions() -> dict[str, str]:
    """Versions of fitdiff and of the libraries that shape a result."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("fitdiff", "numpy", "scipy", "lmfit", "emcee", "h5py", "pandas", "arviz"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "unknown"
    return out


@dataclass
class FitResult:
    """Least-squares result.

    Attributes
    ----------
    params : lmfit.Parameters
        Best-fit record with ``stderr`` and ``correl`` (None where unavailable).
    names : list of str
        Free parameter names, the order of ``theta`` and ``covar``.
    theta : ndarray
        Best-fit free values.
    covar : ndarray or None
        Covariance of the free parameters (squared parameter units).
    chi2, redchi : float
        Σ r² over data points only, and chi2 / (ndata − nvarys).
    loglike, logpost : float
        At the optimum (PHYSICS.md §4 normalisation).
    aic, bic : float
        −2 ln L + 2 k and −2 ln L + k ln N (known errors: this is the proper Gaussian AIC; lmfit's
        own N ln(χ²/N) form assumes unknown errors).
    """

    params: lmfit.Parameters
    names: list[str]
    theta: np.ndarray
    covar: np.ndarray | None
    units: dict[str, str]
    chi2: float
    redchi: float
    loglike: float
    logpost: float
    aic: float
    bic: float
    ndata: int
    nvarys: int
    nfev: int
    success: bool
    message: str
    at_bound: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    model: list[dict] = field(default_factory=list)

    def stderr(self, name: str) -> float:
        s = self.params[name].stderr
        return math.nan if s is None else float(s)

    def correlations(self) -> dict[str, dict[str, float]]:
        out = {}
        for n in self.names:
            correl = self.params[n].correl or {}
            out[n] = {k: float(v) for k, v in correl.items()}
        return out

    def to_dict(self) -> dict:
        """The ``results.json`` content (without the configuration, which analysis adds)."""
        return {
            "parameters": {
                n: {
                    "value": float(p.value),
                    "stderr": None if p.stderr is None else float(p.stderr),
                    "unit": self.units.get(n, ""),
                    "vary": bool(p.vary and not p.expr),
                    "expr": p.expr,
                    "min": float(p.min),
                    "max": float(p.max),
                    "at_bound": n in self.at_bound,
                }
                for n, p in self.params.items()
            },
            "chi2": self.chi2,
            "redchi": self.redchi,
            "loglike": self.loglike,
            "logpost": self.logpost,
            "aic": self.aic,
            "bic": self.bic,
            "success": self.success,
            "message": self.message,
            "warnings": list(self.warnings),
            "ndata": self.ndata,
            "nvarys": self.nvarys,
            "nfev": self.nfev,
            "correlations": self.correlations(),
            "model": self.model,
            "versions": package_versions(),
        }


@dataclass
class Posterior:
    """Summary of an emcee chain (PHYSICS.md §4 reporting list).

    ``chain`` is the full stored chain (steps, walkers, ndim); ``samples`` the flat samples after
    ``burn`` and ``thin``; ``log_prob`` their log-posterior.
    """

    names: list[str]
    units: dict[str, str]
    chain: np.ndarray
    samples: np.ndarray
    log_prob: np.ndarray
    tau_int: np.ndarray
    acceptance_fraction: float
    steps: int
    burn: int
    thin: int
    walkers: int
    seed: int | None
    converged: bool
    message: str
    resumed_from: int = 0
    #: Posterior 68 % width / prior 68 % width per parameter (:mod:`fitdiff.fitting.quality`).
    prior_width_ratio: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def ess(self) -> np.ndarray:
        """Effective sample size per parameter: walkers × (steps − burn) / τ_int."""
        return self.walkers * (self.steps - self.burn) / self.tau_int

    def summary(self) -> dict[str, dict[str, float]]:
        """Per parameter: percentiles, mean, sd, τ_int and ESS (emcee), ArviZ's R-hat and
        bulk/tail ESS (walkers as chains), and ``prior_width_ratio`` = posterior 68 % width / prior
        68 % width (:mod:`fitdiff.fitting.quality`; near 1: the data hardly constrain it).
        """
        from .inference_data import arviz_diagnostics

        diagnostics = arviz_diagnostics(self)
        out = {}
        for i, n in enumerate(self.names):
            x = self.samples[:, i]
            q = np.percentile(x, list(_PERCENTILES.values()))
            row = {k: float(v) for k, v in zip(_PERCENTILES, q, strict=True)}
            sd = float(np.std(x, ddof=1))
            row.update(
                mean=float(np.mean(x)),
                sd=sd,
                tau_int=float(self.tau_int[i]),
                ess=float(self.ess[i]),
                **diagnostics[n],
                prior_width_ratio=self.prior_width_ratio.get(n),
                unit=self.units.get(n, ""),
            )
            out[n] = row
        return out

    def to_dict(self) -> dict:
        """The ``posterior.json`` content."""
        return {
            "parameters": self.summary(),
            "acceptance_fraction": self.acceptance_fraction,
            "converged": self.converged,
            "message": self.message,
            "warnings": list(self.warnings),
            "steps": self.steps,
            "burn": self.burn,
            "thin": self.thin,
            "walkers": self.walkers,
            "seed": self.seed,
            "resumed_from": self.resumed_from,
            "versions": package_versions(),
        }
