"""Bayesian evidence ln Z by nested sampling (dynesty) over an :class:`Objective`.

Z = ∫ L(θ) π(θ) dθ with L the objective's normalised Gaussian likelihood (PHYSICS.md §4) and
π the analysis's own prior, made a proper, normalised measure per parameter
(:mod:`fitdiff.fitting.prior_measure`; an improper prior is an error). dynesty's static
:class:`~dynesty.NestedSampler` draws from the prior through its quantile transform and shrinks
the live set until the remaining prior volume could change ln Z by less than ``dlogz``.

The run can be checkpointed: dynesty pickles the sampler (random state included) every few
seconds into ``checkpoint_path``, tagged here with the objective's fingerprint and the run
settings; a rerun with the same objective and settings resumes it, anything else starts over
and says so. Nothing here prints: the progress bar is opt-in.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import FitError
from .objective import Objective
from .prior_measure import PriorTransform, prior_widths
from .results import _PERCENTILES, package_versions

#: dynesty's own stand-in for ln L = −∞ (a finite floor keeps its volume bookkeeping finite).
_LOGL_FLOOR = -1e300
#: Seconds between checkpoints (dynesty's ``checkpoint_every``).
CHECKPOINT_SECONDS = 10.0
_FP_ATTR = "fitdiff_fingerprint"
#: dynesty bounding regions offered (``[evidence] bound``).
BOUNDS = ("multi", "single")
#: dynesty sampling methods offered (``[evidence] sample``).
SAMPLERS = ("auto", "unif", "rwalk", "slice", "rslice")


class EvidenceInterrupted(KeyboardInterrupt):
    """The run was interrupted; ``checkpoint`` is where its last saved state is (or None)."""

    def __init__(self, checkpoint: Path | None):
        super().__init__(str(checkpoint) if checkpoint else "")
        self.checkpoint = checkpoint


class LogLikelihood:
    """ln L of the objective with the failure value dynesty expects (picklable for checkpoints)."""

    def __init__(self, objective: Objective):
        self.objective = objective

    def __call__(self, theta) -> float:
        ll = self.objective.loglike(theta)
        return ll if math.isfinite(ll) else _LOGL_FLOOR


@dataclass
class Evidence:
    """Result of a nested-sampling run.

    Attributes
    ----------
    lnZ, lnZ_err : float
        Natural log of the evidence and dynesty's error estimate (statistical, from the
        information H and the number of live points).
    samples : ndarray (n, ndim)
        The dead and final live points; ``weights`` their normalised importance weights.
    information : float
        Kullback–Leibler divergence H of posterior from prior, nats.
    n_eff : float
        Kish effective sample size of the weighted samples, (Σw)² / Σw².
    seconds : float
        Wall time of this call (resumed runs: only the part run now).
    """

    names: list[str]
    units: dict[str, str]
    lnZ: float
    lnZ_err: float
    samples: np.ndarray
    weights: np.ndarray
    information: float
    n_live: int
    dlogz: float
    seed: int | None
    n_iter: int
    n_call: int
    seconds: float
    prior_widths: dict[str, float | None] = field(default_factory=dict)
    resumed: bool = False
    message: str = ""
    engine: str = "dynesty"

    @property
    def n_eff(self) -> float:
        w = self.weights
        return float(w.sum() ** 2 / np.sum(w * w))

    def summary(self) -> dict[str, dict[str, float]]:
        """Per-parameter weighted quantiles, mean, sd: the shape of posterior.json's parameters."""
        from dynesty.utils import quantile

        out = {}
        q = [p / 100.0 for p in _PERCENTILES.values()]
        for i, n in enumerate(self.names):
            x = self.samples[:, i]
            values = quantile(x, q, weights=self.weights)
            row = {k: float(v) for k, v in zip(_PERCENTILES, values, strict=True)}
            mean = float(np.sum(self.weights * x))
            sd = float(math.sqrt(max(np.sum(self.weights * (x - mean) ** 2), 0.0)))
            width = self.prior_widths.get(n)
            row.update(
                mean=mean,
                sd=sd,
                prior_width_ratio=None if not width else sd / width,
                unit=self.units.get(n, ""),
            )
            out[n] = row
        return out

    def to_dict(self) -> dict:
        """The ``evidence.json`` content (the orchestration adds the configuration)."""
        import dynesty

        return {
            "lnZ": self.lnZ,
            "lnZ_err": self.lnZ_err,
            "engine": self.engine,
            "engine_version": dynesty.__version__,
            "n_live": self.n_live,
            "dlogz": self.dlogz,
            "seed": self.seed,
            "n_eff": self.n_eff,
            "n_iter": self.n_iter,
            "n_call": self.n_call,
            "information_nats": self.information,
            "run_time_s": self.seconds,
            "resumed": self.resumed,
            "message": self.message,
            "parameters": self.summary(),
            "versions": {**package_versions(), "dynesty": dynesty.__version__},
        }


def _restore(path: Path, fingerprint: str):
    """The checkpointed sampler if it belongs to this run, else (None, reason)."""
    import dynesty

    if not path.exists():
        return None, "new run"
    try:
        sampler = dynesty.NestedSampler.restore(str(path))
    except Exception:  # a checkpoint of another dynesty version or a truncated file
        broken = path.with_suffix(path.suffix + ".broken")
        os.replace(path, broken)
        return None, f"checkpoint was unreadable (moved to {broken.name}); new run"
    if getattr(sampler, _FP_ATTR, None) != fingerprint:
        return None, "model, data, priors or [evidence] settings changed: new run"
    return sampler, f"resumed checkpoint at iteration {sampler.it - 1}"


def evidence(
    objective: Objective,
    *,
    n_live: int = 500,
    dlogz: float = 0.1,
    seed: int | None = None,
    bound: str = "multi",
    sample: str = "auto",
    checkpoint_path: str | os.PathLike | None = None,
    progress: bool = False,
) -> Evidence:
    """Nested sampling of ``objective`` (dynesty's static sampler): ln Z, its error, the posterior.

    Parameters
    ----------
    objective : Objective or GlobalObjective
        Every free parameter needs a proper prior (:func:`prior_measure.prior_measures`).
    n_live : int
        Live points; the error of ln Z falls as ~ sqrt(H / n_live).
    dlogz : float
        Stop when the remaining prior volume could add less than this to ln Z (nats).
    seed : int, optional
        Seeds dynesty's generator (``numpy.random.default_rng(seed)``).
    bound : {"multi", "single"}
        dynesty's bounding region: several ellipsoids (robust to multimodal or curved
        posteriors; dynesty's default) or one (much less overhead on unimodal posteriors).
    sample : {"auto", "unif", "rwalk", "slice", "rslice"}
        How dynesty draws a new live point inside the bound (its ``sample``): uniform draws
        waste calls when the likelihood contour fills little of the ellipsoid (curved or
        thin posteriors); random walks and slices cost a fixed ~20-40 calls per point.
    checkpoint_path : path, optional
        Pickle of the sampler written every :data:`CHECKPOINT_SECONDS` and at the end; resumed
        when it belongs to the same objective and settings.
    progress : bool
        Show dynesty's progress bar on stderr.

    Raises
    ------
    ConfigError
        A parameter with an improper prior.
    EvidenceInterrupted
        On Ctrl-C; the checkpoint (if any) holds the last saved state.
    """
    import dynesty

    ndim = objective.ndim
    if ndim == 0:
        raise FitError("no free parameters: the evidence is the likelihood itself")
    if n_live < ndim + 1:
        raise FitError(f"evidence.n_live = {n_live} must be > {ndim} free parameters")
    if not dlogz > 0:
        raise FitError(f"evidence.dlogz = {dlogz} must be > 0")
    if bound not in BOUNDS:
        raise FitError(f"evidence.bound = {bound!r} is not one of {list(BOUNDS)}")
    if sample not in SAMPLERS:
        raise FitError(f"evidence.sample = {sample!r} is not one of {list(SAMPLERS)}")
    transform = PriorTransform(objective)  # raises on an improper prior before any work
    fingerprint = (
        f"{objective.fingerprint()}:n_live={n_live}:dlogz={dlogz!r}:seed={seed}:bound={bound}"
        f":sample={sample}"
        f":dynesty={dynesty.__version__}"
    )
    path = None if checkpoint_path is None else Path(checkpoint_path)
    sampler, reason = (None, "no checkpoint") if path is None else _restore(path, fingerprint)
    resumed = sampler is not None
    if sampler is None:
        sampler = dynesty.NestedSampler(
            LogLikelihood(objective),
            transform,
            ndim,
            nlive=n_live,
            bound=bound,
            sample=sample,
            rstate=np.random.default_rng(seed),
        )
        setattr(sampler, _FP_ATTR, fingerprint)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        if not (resumed and sampler.added_live):  # a finished checkpoint needs no more work
            sampler.run_nested(
                dlogz=dlogz,
                print_progress=progress,
                checkpoint_file=None if path is None else str(path),
                checkpoint_every=CHECKPOINT_SECONDS,
                resume=resumed,
            )
    except KeyboardInterrupt:
        raise EvidenceInterrupted(path if path is not None and path.exists() else None) from None
    seconds = time.perf_counter() - t0
    res = sampler.results
    logwt = np.asarray(res.logwt, float)
    weights = np.exp(logwt - logwt.max())
    weights /= weights.sum()
    return Evidence(
        names=list(objective.names),
        units=objective.units(),
        lnZ=float(res.logz[-1]),
        lnZ_err=float(res.logzerr[-1]),
        samples=np.asarray(res.samples, float),
        weights=weights,
        information=float(res.information[-1]),
        n_live=n_live,
        dlogz=dlogz,
        seed=seed,
        n_iter=int(res.niter),
        n_call=int(np.sum(res.ncall)),
        seconds=seconds,
        prior_widths=prior_widths(objective),
        resumed=resumed,
        message=reason,
    )
