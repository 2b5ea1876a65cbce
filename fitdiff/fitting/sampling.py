"""Posterior sampling with emcee, stored in a resumable HDF5 chain.

emcee is called directly (DESIGN.md): lmfit's wrapper knows only bounds as priors and keeps no
resumable chain. The chain lives in an :class:`emcee.backends.HDFBackend` written step by step,
tagged with the objective's fingerprint; a rerun with the same objective resumes it (emcee stores
the random state with every step, so a resumed chain equals an uninterrupted one), a changed
model, dataset or prior starts a new chain and says so.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import emcee
import h5py
import numpy as np

from ..errors import FitError
from .objective import Objective
from .results import FitResult, Posterior

_GROUP = "mcmc"
_FP_ATTR = "fitdiff_fingerprint"
#: emcee's advice: trust τ_int only for chains longer than ~50 τ (emcee autocorrelation tutorial).
CONVERGED_TAUS = 50.0


class ChainBackend(emcee.backends.HDFBackend):
    """emcee's HDFBackend with a per-step write that opens the file once.

    emcee's ``save_step`` opens the HDF5 file three times per step (two for its shape checks);
    at ~5 ms per open that dominated the sampling overhead of fast models. The stored layout is
    emcee's own, so ``emcee.backends.HDFBackend`` reads these files unchanged.
    """

    def save_step(self, state, accepted):
        with self.open("a") as f:
            g = f[self.name]
            shape = (int(g.attrs["nwalkers"]), int(g.attrs["ndim"]))
            if state.coords.shape != shape or state.blobs is not None:
                raise ValueError(
                    f"state of shape {state.coords.shape} (or with blobs) "
                    f"does not fit a chain of shape {shape}"
                )
            iteration = g.attrs["iteration"]
            g["chain"][iteration, :, :] = state.coords
            g["log_prob"][iteration, :] = state.log_prob
            g["accepted"][:] += accepted
            for i, v in enumerate(state.random_state):
                g.attrs[f"random_state_{i}"] = v
            # the iteration counter last: a step counts only once all of it is written
            g.attrs["iteration"] = iteration + 1


_WORKER_OBJECTIVE: Objective | None = None


def _init_worker(objective: Objective) -> None:
    global _WORKER_OBJECTIVE
    _WORKER_OBJECTIVE = objective


def _worker_logpost(theta) -> float:
    return _WORKER_OBJECTIVE.logpost(theta)


def _stored_state(path: Path, fingerprint: str, walkers: int, ndim: int) -> tuple[bool, str]:
    """Return (resume?, reason) for an existing chain file."""
    if not path.exists():
        return False, "new chain"
    try:
        with h5py.File(path, "r") as f:
            if _GROUP not in f:
                return False, "new chain (file held no chain)"
            g = f[_GROUP]
            fp = g.attrs.get(_FP_ATTR, "")
            if isinstance(fp, bytes):
                fp = fp.decode()
            shape = (int(g.attrs["nwalkers"]), int(g.attrs["ndim"]))
    except (OSError, KeyError):
        broken = path.with_suffix(path.suffix + ".broken")
        os.replace(path, broken)
        return False, f"stored chain was unreadable (moved to {broken.name}); new chain"
    if fp != fingerprint:
        return False, (
            "model, data, parameters, priors or seed changed since the stored chain: new chain"
        )
    if shape != (walkers, ndim):
        return (
            False,
            f"stored chain has (walkers, ndim) = {shape}, not {(walkers, ndim)}: new chain",
        )
    return True, "resumed stored chain"


def initial_walkers(
    objective: Objective, center, scale, walkers: int, rng: np.random.Generator
) -> np.ndarray:
    """Draw walker starts in a small Gaussian ball around ``center`` with finite log-posterior.

    Parameters
    ----------
    center, scale : array_like
        Centre (e.g. the least-squares optimum) and per-parameter spread (parameter units).
    """
    center = np.asarray(center, float)
    scale = np.asarray(scale, float)
    if not math.isfinite(objective.logpost(center)):
        raise FitError("log-posterior is not finite at the walkers' start point")
    out = np.empty((walkers, center.size))
    for i in range(walkers):
        for _ in range(1000):
            x = center + scale * rng.standard_normal(center.size)
            if math.isfinite(objective.logpost(x)):
                out[i] = x
                break
            scale = scale * 0.7  # the ball pokes outside the support: shrink it
        else:
            out[i] = center
    return out


def sample(
    objective: Objective,
    *,
    backend_path: str | os.PathLike | None,
    walkers: int = 32,
    steps: int = 2000,
    burn: int | None = None,
    thin: int = 1,
    seed: int | None = None,
    pool=None,
    workers: int = 1,
    start: FitResult | None = None,
    progress: bool = False,
) -> Posterior:
    """Sample the posterior ``objective.logpost`` with emcee's ensemble sampler.

    Parameters
    ----------
    objective : Objective or GlobalObjective
    backend_path : path or None
        HDF5 file of the chain (created, resumed or restarted; see module docstring);
        None keeps the chain in memory (no resume; for quick studies).
    walkers : int
        Number of walkers, at least 2 × number of free parameters.
    steps : int
        Total chain length wanted; a stored chain is extended up to it (a longer stored chain
        is summarised over its first ``steps``).
    burn : int, optional
        Steps discarded before summarising (default: steps // 4); must be < steps.
    thin : int
        Keep every ``thin``-th step of the summary samples.
    seed : int, optional
        Seeds the walkers' start and emcee's generator (same seed → same chain).
    pool : optional
        An object with ``map`` (e.g. ``multiprocessing.Pool``) to evaluate walkers in parallel.
    workers : int
        > 1 (and no ``pool``): a spawned process pool of this size that receives the objective
        once at start-up (emcee would otherwise pickle it for every batch of walkers).
    start : FitResult, optional
        Least-squares result to start around (ball of 0.1 stderr); default: the current values.
    progress : bool
        Show emcee's tqdm progress bar (orchestration decides; nothing here prints).
    """
    ndim = objective.ndim
    if ndim == 0:
        raise FitError("no free parameters to sample")
    if walkers < 2 * ndim:
        raise FitError(f"sample.walkers = {walkers} must be ≥ 2 × {ndim} free parameters")
    if steps < 1:
        raise FitError(f"sample.steps = {steps} must be ≥ 1")
    burn = steps // 4 if burn is None else int(burn)
    if not 0 <= burn < steps:
        raise FitError(f"sample.burn = {burn} must be in [0, steps = {steps})")
    if thin < 1:
        raise FitError(f"sample.thin = {thin} must be ≥ 1")

    if backend_path is None:
        resume, reason = False, "in-memory chain"
        backend = emcee.backends.Backend()
    else:
        path = Path(backend_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # the seed is part of a chain's identity: a new seed must not extend another's chain
        fingerprint = f"{objective.fingerprint()}:seed={seed}"
        resume, reason = _stored_state(path, fingerprint, walkers, ndim)
        backend = ChainBackend(str(path), name=_GROUP)
    if backend_path is not None and not resume:
        backend.reset(walkers, ndim)
        with h5py.File(path, "a") as f:
            f[_GROUP].attrs[_FP_ATTR] = fingerprint
            f[_GROUP].attrs["fitdiff_names"] = ",".join(objective.names)
    if pool is None and workers > 1:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(workers, initializer=_init_worker, initargs=(objective,)) as own_pool:
            return _run(
                objective,
                backend,
                resume,
                reason,
                own_pool,
                _worker_logpost,
                walkers,
                steps,
                burn,
                thin,
                seed,
                start,
                progress,
            )
    return _run(
        objective,
        backend,
        resume,
        reason,
        pool,
        objective,
        walkers,
        steps,
        burn,
        thin,
        seed,
        start,
        progress,
    )


def _run(
    objective,
    backend,
    resume,
    reason,
    pool,
    logpost,
    walkers,
    steps,
    burn,
    thin,
    seed,
    start,
    progress,
) -> Posterior:
    ndim = objective.ndim
    sampler = emcee.EnsembleSampler(walkers, ndim, logpost, pool=pool, backend=backend)
    done = backend.iteration if backend.initialized else 0
    if done == 0:
        rng = np.random.default_rng(seed)
        sampler.random_state = np.random.RandomState(seed).get_state()
        if start is not None:
            center = start.theta
            scale = np.array([start.stderr(n) for n in start.names])
        else:
            center = objective.theta0
            scale = np.full(ndim, np.nan)
        fallback = 1e-4 * np.maximum(np.abs(center), 1e-8)
        scale = np.where(np.isfinite(scale) & (scale > 0), 0.1 * scale, fallback)
        state = initial_walkers(objective, center, scale, walkers, rng)
    else:
        state = None
    if done < steps:
        sampler.run_mcmc(state, steps - done, progress=progress)

    chain = backend.get_chain()[:steps]
    log_prob = backend.get_log_prob()[:steps]
    acceptance = float(np.mean(backend.accepted) / max(backend.iteration, 1))
    kept = chain[burn:]
    tau = emcee.autocorr.integrated_time(kept, tol=0, quiet=True)
    length = kept.shape[0]
    worst = float(np.max(tau))
    converged = bool(length >= CONVERGED_TAUS * worst)
    if converged:
        message = f"converged: chain after burn-in is {length / worst:.0f} τ_int long (≥ 50 τ)"
    else:
        need = int(math.ceil(CONVERGED_TAUS * worst)) + burn
        message = (
            f"not converged: chain after burn-in is {length / worst:.1f} τ_int long "
            f"(τ_int ≤ {worst:.1f} steps); run ≥ 50 τ: set steps ≥ {need} (--steps {need})"
        )
    if done > steps:
        message += f"; stored chain has {done} steps, summarised over the first {steps}"
    message = f"{reason}; {message}"
    return Posterior(
        names=list(objective.names),
        units=objective.units(),
        chain=chain,
        samples=kept[::thin].reshape(-1, ndim),
        log_prob=log_prob[burn:][::thin].reshape(-1),
        tau_int=np.asarray(tau, float),
        acceptance_fraction=acceptance,
        steps=int(chain.shape[0]),
        burn=burn,
        thin=thin,
        walkers=walkers,
        seed=seed,
        converged=converged,
        message=message,
        resumed_from=int(done) if resume else 0,
    )
