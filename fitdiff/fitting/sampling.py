"""Posterior sampling with emcee, stored in a resumable HDF5 chain.

emcee is called directly (DESIGN.md): lmfit's wrapper knows only bounds as priors and keeps no
resumable chain. The chain lives in an :class:`emcee.backends.HDFBackend` written step by step,
tagged with the objective's fingerprint; a rerun with the same objective resumes it (emcee stores
the random state with every step, so a resumed chain equals an uninterrupted one), a changed
model, dataset or prior starts a new chain and says so.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from pathlib import Path

import emcee
import h5py
import numpy as np

from ..errors import FitError
from .objective import Objective
from .quality import annotate_posterior
from .results import FitResult, Posterior

_GROUP = "mcmc"
_FP_ATTR = "fitdiff_fingerprint"
#: emcee's advice: trust τ_int only for chains longer than ~50 τ (emcee autocorrelation tutorial).
CONVERGED_TAUS = 50.0


#: Bytes per chunk of the chain datasets; chunks hold whole steps (see ChainBackend.reset).
_CHUNK_BYTES = 1 << 12


#: Buffered chain writes: at most this many steps, or this many seconds, between writes.
FLUSH_STEPS = 100
FLUSH_SECONDS = 1.0


class ChainBackend(emcee.backends.HDFBackend):
    """emcee's HDFBackend that keeps the file open during a run and writes steps in blocks.

    emcee's own ``save_step`` opens and closes the file (three times) per step, ~4 ms that
    dominated the sampling overhead of fast models. Inside :meth:`kept_open` the file is opened
    once, and steps are kept in memory and written as one block every ``flush_steps`` steps or
    ``flush_seconds`` seconds, whichever comes first (and whenever anything reads the chain,
    and when the run ends). A block writes its rows, the acceptance counts, the random state
    of its last step and, last, the iteration counter, then ``flush()`` hands everything to
    the OS. A SIGKILL therefore loses at most the steps of the unwritten block (≤ 1 s of
    sampling by default), never part of a step: the stored random state is that of the last
    stored step, so a rerun resumes from there and ends with exactly the requested steps,
    bit for bit the chain of an uninterrupted run.

    The stored layout is emcee's own (same datasets and attributes; only the chunk shape
    differs), so ``emcee.backends.HDFBackend`` reads these files unchanged.

    Parameters
    ----------
    flush_steps : int, optional
        Steps per written block (1 = every step, the unbuffered behaviour; default
        ``FLUSH_STEPS``).
    flush_seconds : float, optional
        Longest time a finished step waits in memory (default ``FLUSH_SECONDS``).
    """

    def __init__(
        self,
        filename,
        name: str = _GROUP,
        *,
        flush_steps: int | None = None,
        flush_seconds: float | None = None,
    ):
        super().__init__(filename, name=name)
        self._run: _OpenChain | None = None
        self.flush_steps = max(1, int(FLUSH_STEPS if flush_steps is None else flush_steps))
        self.flush_seconds = float(FLUSH_SECONDS if flush_seconds is None else flush_seconds)

    def open(self, mode: str = "r"):
        # emcee's readers use ``with self.open() as f``: lend the open file without closing it,
        # after writing any buffered steps so that what they read is the whole chain
        if self._run is not None:
            self.flush()
            return contextlib.nullcontext(self._run.file)
        return super().open(mode)

    def flush(self) -> None:
        """Write the buffered steps now (nothing to do outside :meth:`kept_open`)."""
        if self._run is not None and self._run.name is not None:
            self._run.write_pending()

    @contextlib.contextmanager
    def kept_open(self):
        """Hold the file open for writing while the block runs (reads go through it too)."""
        if self._run is not None:
            yield self
            return
        f = super().open("a")
        try:
            self._run = self._open_chain(f, self.name if self.name in f else None)
            yield self
        finally:
            try:
                self.flush()  # steps of an interrupted run are still valid steps
            finally:
                self._run = None
                f.close()

    def _open_chain(self, f, name):
        return _OpenChain(f, name, self.flush_steps, self.flush_seconds)

    def reset(self, nwalkers, ndim):
        """Start an empty chain, like emcee's ``reset`` but with chunks of whole steps.

        h5py's automatic chunks split a step of 32 walkers × 5 parameters over 12 chunks;
        one step per row of chunks makes the per-step write touch one chunk per dataset.
        """
        with self.kept_open():
            f = self._run.file
            if self.name in f:
                del f[self.name]
            g = f.create_group(self.name)
            g.attrs["version"] = emcee.__version__
            g.attrs["nwalkers"] = nwalkers
            g.attrs["ndim"] = ndim
            g.attrs["has_blobs"] = False
            g.attrs["iteration"] = 0
            g.create_dataset("accepted", data=np.zeros(nwalkers))
            rows = max(1, _CHUNK_BYTES // (8 * nwalkers * ndim))
            g.create_dataset(
                "chain",
                (0, nwalkers, ndim),
                maxshape=(None, nwalkers, ndim),
                dtype=self.dtype,
                chunks=(rows, nwalkers, ndim),
            )
            g.create_dataset(
                "log_prob",
                (0, nwalkers),
                maxshape=(None, nwalkers),
                dtype=self.dtype,
                chunks=(rows, nwalkers),
            )
            self._run = self._open_chain(f, self.name)

    def save_step(self, state, accepted):
        with self.kept_open():
            self._run.save(state, accepted)


class _OpenChain:
    """Handles of one open chain group, its buffered steps and what was last written.

    The block writes go through h5py's low-level API (``h5d``/``h5a`` ids kept across
    writes): the high-level ``dataset[i] = row`` and ``attrs[k] = v`` rebuild selections and
    attributes on every call, ~80 µs each against ~15 µs.
    """

    def __init__(self, f: h5py.File, name: str | None, flush_steps: int, flush_seconds: float):
        self.file = f
        self.name = name
        self.flush_steps, self.flush_seconds = flush_steps, flush_seconds
        if name is None:  # no chain yet: reset() creates it and rebuilds this
            return
        g = self.group = f[name]
        self.shape = (int(g.attrs["nwalkers"]), int(g.attrs["ndim"]))
        self.chain, self.log_prob = g["chain"].id, g["log_prob"].id
        self.accepted_ds = g["accepted"].id
        self.accepted = g["accepted"][...]
        self.iteration = int(g.attrs["iteration"])
        # only the random-state entries are read (each attribute read costs ~0.1 ms)
        self.written = {k: g.attrs[k] for k in g.attrs if k.startswith("random_state_")}
        self.attr_ids: dict[str, h5py.h5a.AttrID] = {}
        self.pending: list[tuple[np.ndarray, np.ndarray, np.ndarray, tuple]] = []
        self.last_write = time.monotonic()

    def _set_attr(self, key: str, value) -> None:
        aid = self.attr_ids.get(key)
        if aid is None:
            if key not in self.group.attrs:
                self.group.attrs[key] = value  # created once with h5py's own type mapping
            aid = self.attr_ids[key] = h5py.h5a.open(self.group.id, key.encode())
        aid.write(np.asarray(value, dtype=aid.dtype))

    def _write_rows(self, dataset: h5py.h5d.DatasetID, row: int, values: np.ndarray) -> None:
        values = np.ascontiguousarray(values, dtype=np.float64)
        space = dataset.get_space()  # fresh: emcee's grow() changes the extent
        space.select_hyperslab((row,) + (0,) * (values.ndim - 1), values.shape)
        dataset.write(h5py.h5s.create_simple(values.shape), space, values)

    def save(self, state, accepted) -> None:
        if state.coords.shape != self.shape or state.blobs is not None:
            raise ValueError(
                f"state of shape {state.coords.shape} (or with blobs) "
                f"does not fit a chain of shape {self.shape}"
            )
        # copies: emcee may reuse its arrays for the next step
        self.pending.append(
            (
                np.array(state.coords, dtype=np.float64),
                np.array(state.log_prob, dtype=np.float64),
                np.array(accepted, dtype=np.float64),
                state.random_state,
            )
        )
        if (
            len(self.pending) >= self.flush_steps
            or time.monotonic() - self.last_write >= self.flush_seconds
        ):
            self.write_pending()

    def write_pending(self) -> None:
        """Write the buffered steps as one block; the iteration counter last."""
        self.last_write = time.monotonic()
        if not self.pending:
            return
        it, k = self.iteration, len(self.pending)
        self._write_rows(self.chain, it, np.stack([p[0] for p in self.pending]))
        self._write_rows(self.log_prob, it, np.stack([p[1] for p in self.pending]))
        for p in self.pending:
            self.accepted += p[2]
        self.accepted_ds.write(h5py.h5s.ALL, h5py.h5s.ALL, self.accepted)
        # the random state after the block's last step; the Mersenne-Twister key changes only
        # every 624 draws and the generator's name never: unchanged entries are not rewritten
        for i, v in enumerate(self.pending[-1][3]):
            key = f"random_state_{i}"
            old = self.written.get(key)
            if old is None or not np.array_equal(old, v):
                if isinstance(v, str):
                    self.group.attrs[key] = v
                else:
                    self._set_attr(key, v)
                self.written[key] = np.copy(v) if isinstance(v, np.ndarray) else v
        # the iteration counter last: steps count only once all of the block is written
        self._set_attr("iteration", it + k)
        self.iteration = it + k
        self.pending = []
        self.file.flush()


class StretchMove(emcee.moves.StretchMove):
    """emcee's default move with a half-ensemble's proposal and acceptance in a few array steps.

    emcee loops over the walkers in Python (a uniform draw, a ``log`` and a comparison per
    walker) and rebuilds both halves of the ensemble with masks twice per step, a fixed cost
    per step that rivals a batched model evaluation at 16 walkers. Here the half-ensemble's
    uniforms come from one ``rand(n)`` call, which draws the same numbers in the same order as
    n calls of ``rand()``, the proposal is emcee's arithmetic on the same draws, and the same
    acceptance arithmetic runs on arrays, so the chain is emcee's own bit for bit (tested
    against ``emcee.moves.StretchMove``).

    Parameters
    ----------
    log_prob_many : callable, optional
        The log-probability of a stack of positions (P, ndim) → (P,), as given to emcee with
        ``vectorize=True``. The move then calls it directly, with emcee's checks (every
        proposed position finite, no NaN returned), instead of through emcee's per-walker
        unpacking of the results (the same numbers: a float per walker, no blobs).
    """

    def __init__(self, *args, log_prob_many=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.log_prob_many = log_prob_many

    def _log_prob(self, model, q):
        if self.log_prob_many is None:
            return model.compute_log_prob_fn(q)
        finite = np.isfinite(q)
        if not finite.all():  # emcee's messages (EnsembleSampler.compute_log_prob)
            if np.isinf(q).any():
                raise ValueError("At least one parameter value was infinite")
            raise ValueError("At least one parameter value was NaN")
        log_prob = np.asarray(self.log_prob_many(q), dtype=float).reshape(len(q))
        if np.isnan(log_prob).any():
            raise ValueError("Probability function returned NaN")
        return log_prob, None

    def propose(self, model, state):
        nwalkers, ndim = state.coords.shape
        if nwalkers < 2 * ndim and not self.live_dangerously:
            raise RuntimeError(
                "It is unadvisable to use a red-blue move "
                "with fewer walkers than twice the number of dimensions."
            )
        self.setup(state.coords)
        accepted = np.zeros(nwalkers, dtype=bool)
        inds = np.arange(nwalkers) % self.nsplits
        if self.randomize_split:
            model.random.shuffle(inds)
        random = model.random
        for split in range(self.nsplits):
            S1 = inds == split
            s = state.coords[S1]
            if self.nsplits == 2:  # the other half, as emcee's concatenation of one set
                c = state.coords[~S1]
            else:
                c = np.concatenate([state.coords[inds == j] for j in range(self.nsplits)
                                    if j != split], axis=0)  # fmt: skip
            # emcee's StretchMove.get_proposal: the same draws in the same order
            zz = ((self.a - 1.0) * random.rand(len(s)) + 1) ** 2.0 / self.a
            factors = (ndim - 1.0) * np.log(zz)
            cr = c[random.randint(len(c), size=(len(s),))]
            q = cr - (cr - s) * zz[:, None]
            new_log_probs, new_blobs = self._log_prob(model, q)
            lnpdiff = factors + new_log_probs - state.log_prob[S1]
            accept = lnpdiff > np.log(random.rand(len(lnpdiff)))
            accepted[S1] = accept
            if new_blobs is None and state.blobs is None:
                # Move.update without building a State: the accepted rows of this half
                m1 = S1 & accepted
                state.coords[m1] = q[accept]
                state.log_prob[m1] = new_log_probs[accept]
            else:
                new_state = emcee.State(q, log_prob=new_log_probs, blobs=new_blobs)
                state = self.update(state, new_state, accepted, S1)
        return state, accepted


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
    return _initial_state(objective, center, scale, walkers, rng)[0]


def _initial_state(objective, center, scale, walkers, rng) -> tuple[np.ndarray, np.ndarray]:
    """Walker starts and their log-posteriors (handed to emcee so it need not recompute them)."""
    center = np.asarray(center, float)
    scale = np.asarray(scale, float)
    lp_center = objective.logpost(center)
    if not math.isfinite(lp_center):
        raise FitError("log-posterior is not finite at the walkers' start point")
    # all walkers at once (one batched evaluation); the draws are the ones the one-by-one
    # loop below makes when every walker lands inside the support, so the start is the same
    saved = rng.bit_generator.state
    coords = center + scale * rng.standard_normal((walkers, center.size))
    lps = objective.logpost_many(coords) if hasattr(objective, "logpost_many") else None
    if lps is not None and np.isfinite(lps).all():
        return coords, lps
    rng.bit_generator.state = saved
    out = np.empty((walkers, center.size))
    log_prob = np.empty(walkers)
    for i in range(walkers):
        for _ in range(1000):
            x = center + scale * rng.standard_normal(center.size)
            lp = objective.logpost(x)
            if math.isfinite(lp):
                out[i], log_prob[i] = x, lp
                break
            scale = scale * 0.7  # the ball pokes outside the support: shrink it
        else:
            out[i], log_prob[i] = center, lp_center
    return out, log_prob


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
    fingerprint: str | None = None,
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
    fingerprint : str, optional
        Identity of the chain stored in ``backend_path``: a stored chain with another one is
        restarted, one with the same one resumed. Default: the objective's
        :meth:`~Objective.fingerprint` and the seed. Orchestration passes the chain part of the
        run inputs (:func:`fitdiff.inputs.part`), which holds the seed and walkers too.
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
        holding = contextlib.nullcontext()
    else:
        path = Path(backend_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # the seed is part of a chain's identity: a new seed must not extend another's chain
        if fingerprint is None:
            fingerprint = f"{objective.fingerprint()}:seed={seed}"
        resume, reason = _stored_state(path, fingerprint, walkers, ndim)
        backend = ChainBackend(str(path), name=_GROUP)
        holding = backend.kept_open()
    run = (objective, backend, resume, reason)
    settings = (walkers, steps, burn, thin, seed, start, progress)
    with holding:
        if backend_path is not None and not resume:
            backend.reset(walkers, ndim)
            with backend.open("a") as f:
                f[_GROUP].attrs[_FP_ATTR] = fingerprint
                f[_GROUP].attrs["fitdiff_names"] = ",".join(objective.names)
        if pool is None and workers > 1:
            import multiprocessing

            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(workers, initializer=_init_worker, initargs=(objective,)) as own_pool:
                return _run(*run, own_pool, _worker_logpost, *settings)
        if pool is None:
            # emcee hands each half of the ensemble at once: one batched model evaluation
            # per half-step instead of one per walker
            if hasattr(objective, "prepare_many"):
                objective.prepare_many(walkers * (steps + 1))
            return _run(*run, None, objective.logpost_many, *settings, vectorize=True)
        return _run(*run, pool, objective, *settings)


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
    vectorize: bool = False,
) -> Posterior:
    ndim = objective.ndim
    sampler = emcee.EnsembleSampler(
        walkers, ndim, logpost, pool=pool, backend=backend, vectorize=vectorize,
        moves=StretchMove(log_prob_many=logpost if vectorize else None),
    )  # fmt: skip
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
        coords, log_prob0 = _initial_state(objective, center, scale, walkers, rng)
        # the start's log-posteriors are known: emcee would otherwise evaluate them again
        state = emcee.State(coords, log_prob=log_prob0)
    else:
        state = None
    if done < steps:
        sampler.run_mcmc(state, steps - done, progress=progress)
    if hasattr(backend, "flush"):
        backend.flush()
    if resume:
        reason = f"resumed stored chain from step {done}"

    chain = backend.get_chain()[:steps]
    log_prob = backend.get_log_prob()[:steps]
    acceptance = float(np.mean(backend.accepted) / max(backend.iteration, 1))
    kept = chain[burn:]
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = emcee.autocorr.integrated_time(kept, tol=0, quiet=True)
    length = kept.shape[0]
    worst = float(np.max(tau))
    defined = math.isfinite(worst) and worst > 0
    converged = bool(defined and length >= CONVERGED_TAUS * worst)
    if not defined:
        # a parameter whose kept samples never changed (very short chains): no τ_int exists
        message = (
            f"not converged: τ_int is undefined after {length} kept steps (some parameter "
            f"never moved); run more steps (e.g. --steps {max(10 * steps, 100)})"
        )
    elif converged:
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
    post = Posterior(
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
    annotate_posterior(post, objective)  # posterior ≈ prior warnings (issue 12 item 5)
    if post.samples.size:
        # the model's validity (e.g. D(T) flags) at the posterior median, as the fit reports it
        median = np.median(post.samples, axis=0)
        post.warnings = [*post.warnings, *objective.validity_warnings(median)]
    return post
