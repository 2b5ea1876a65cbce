"""Fitting benchmark: log-posterior evaluations/s for the ``valleys`` model and emcee overhead.

Model: 3 valleys (WS2-like KK bright, KK' and KΛ dark; PHYSICS.md §3.1 offsets), 500 times,
Gaussian pulse, IRF and PSF; data w²_PL(t) and PL(t) fitted jointly (one moment solve per
evaluation, shared through the model's cache). The emcee wall time is the whole
:func:`fitdiff.fitting.sample` call: fingerprint, HDF5 chain file, start, steps and summary.

Two sampler paths are timed in the same run: the default (emcee ``vectorize=True`` on
``Objective.logpost_many``, one batched model evaluation per half-ensemble; the chain written
in blocks) and the path before it (one walker at a time through a serial pool, the chain
flushed every step). Baselines: the model calls each path makes, bare: batched
(``solve_moments_many`` of each half-ensemble) for the default path, one at a time
(``with_parameters`` + ``solve_moments``) for the old one. Targets (issue 15): ≥ 3 × 10⁴
log-posterior evaluations per second of wall time at 32 walkers; overhead (sample ÷ bare
model calls) ≤ 1.2 at 16 walkers.

The machine is shared, so each figure is the fastest of ``--repeats`` interleaved runs (the
least disturbed one); ratios divide fastest by fastest. The idle-equivalent rate (the ratio to
one bare ``solve_moments`` times its idle rate, 8300/s) is printed for wall time and for CPU
seconds of this process, which other jobs on the machine disturb less.

The batched model runs its compiled pass (numba, ``FITDIFF_NUMBA=1``: the steady state of a
long run, which loads it by itself: :meth:`ValleysModel.prepare_many`) unless ``--numpy``.
What bounds the overhead ratio is printed too: emcee's own cost per step (the stretch move,
its random numbers and state snapshot, and the buffered chain) with a free model, against
the model's cost per step.

Run:  python benchmarks/bench_fitting.py [--walkers 16 32 --steps 60 --repeats 3] [--numpy]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import emcee
import numpy as np

from fitdiff.fitting import (
    GlobalObjective,
    KineticsData,
    Objective,
    WidthsData,
    make_parameters,
    sample,
    sampling,
)
from fitdiff.fitting.valleys import ValleysModel
from fitdiff.solvers import ValleyModel, solve_moments
from fitdiff.solvers.moments_many import load_compiled, solve_moments_many
from fitdiff.testing import THREE_VALLEYS, valley_curves

FREE = ("D_KK_cm2_s", "D_KKp_cm2_s", "D_KL_cm2_s", "rate_KK_KKp_per_ps", "pl_scale")


def build():
    base = ValleyModel.from_dict(THREE_VALLEYS)
    t = np.linspace(-10.0, 500.0, 500)
    widths, pl = valley_curves(THREE_VALLEYS, t, 0)
    model = ValleysModel(base)
    params = make_parameters(model, pl_scale=1e6)
    for n in FREE:
        params[n].set(vary=True)
    objs = [
        Objective(model, WidthsData.from_frame(widths, label="w"), params),
        Objective(model, KineticsData.from_frame(pl, label="pl"), params),
    ]
    return base, t, GlobalObjective(objs)


class SerialPool:
    """A pool that maps one walker at a time: emcee's per-walker path (the path before
    stacked evaluation), for the same-run comparison."""

    def map(self, fn, items):
        return list(map(fn, items))


def _sample(obj, walkers, steps, *, old: bool) -> tuple[float, float]:
    """(wall, CPU) seconds of one whole ``sample`` call (fingerprint, chain file, start,
    steps, summary).

    ``old``: one walker at a time and the chain flushed every step (the code before stacked
    evaluation and buffered writes); otherwise the default path.
    """
    saved = sampling.FLUSH_STEPS
    if old:
        sampling.FLUSH_STEPS = 1
    try:
        with tempfile.TemporaryDirectory() as tmp:
            t0, c0 = time.perf_counter(), time.process_time()
            sample(
                obj,
                backend_path=Path(tmp) / "chain.h5",
                walkers=walkers,
                steps=steps,
                burn=0,
                seed=1,
                pool=SerialPool() if old else None,
            )
            return time.perf_counter() - t0, time.process_time() - c0
    finally:
        sampling.FLUSH_STEPS = saved


def bare_single(base, t, names, thetas, n_calls) -> float:
    """n_calls bare model calls one at a time (``with_parameters`` + ``solve_moments``)."""
    t0 = time.perf_counter()
    for i in range(n_calls):
        th = thetas[i % len(thetas)]
        solve_moments(base.with_parameters(**dict(zip(names, th[:-1], strict=True))), t)
    return time.perf_counter() - t0


#: One bare evaluation of the 3-valley model idle on this machine (issue 15: 120 µs): turns
#: same-run ratios into idle-equivalent rates.
IDLE_SINGLE_PER_S = 8300.0


def bare_solve(base, t, n: int = 10, batches: int = 5) -> tuple[float, float]:
    """(wall, CPU) seconds per bare ``solve_moments`` of the base model (the issue's "one
    evaluation"): the fastest of ``batches`` short batches for each clock (the least
    disturbed; a conservative baseline for the idle-equivalent rates, which scale with it)."""
    wall = cpu = np.inf
    for _ in range(batches):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(n):
            solve_moments(base, t)
        wall = min(wall, (time.perf_counter() - t0) / n)
        cpu = min(cpu, (time.process_time() - c0) / n)
    return wall, cpu


def bare_batched(base, t, names, thetas, walkers, steps) -> float:
    """The model calls emcee's stacked path makes: the start (all walkers) and two halves of
    the ensemble per step, each one :func:`solve_moments_many` of what the fit needs."""
    half = walkers // 2
    t0 = time.perf_counter()
    for k in range(2 * steps + 1):
        P = walkers if k == 0 else half
        rows = thetas[(np.arange(P) + k * half) % len(thetas)]
        values = {n: rows[:, j] for j, n in enumerate(names)}
        solve_moments_many(base, t, values, derivatives=False, valleys=False)
    return time.perf_counter() - t0


def emcee_per_step(walkers: int, ndim: int, steps: int = 200) -> float:
    """Wall seconds per step of emcee (vectorized, this package's chain backend and stretch
    move, as ``sample`` runs it) on a model that costs nothing: the sampler's own share of
    every step."""

    def free(x):
        return -0.5 * np.sum(x * x, axis=1)

    with tempfile.TemporaryDirectory() as tmp:
        backend = sampling.ChainBackend(str(Path(tmp) / "c.h5"))
        with backend.kept_open():
            backend.reset(walkers, ndim)
            s = emcee.EnsembleSampler(
                walkers,
                ndim,
                free,
                vectorize=True,
                backend=backend,
                moves=sampling.StretchMove(log_prob_many=free),
            )
            p0 = np.random.default_rng(0).standard_normal((walkers, ndim))
            t0 = time.perf_counter()
            s.run_mcmc(p0, steps)
            return (time.perf_counter() - t0) / steps


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--walkers", type=int, nargs="+", default=[16, 32])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--numpy", action="store_true", help="the numpy path of the batched model")
    args = ap.parse_args(argv)
    path = "numpy" if args.numpy or load_compiled() is None else "numba"
    os.environ["FITDIFF_NUMBA"] = "0" if path == "numpy" else "1"
    base, t, obj = build()
    theta0 = obj.theta0
    rng = np.random.default_rng(1)
    thetas = theta0 * (1 + 1e-3 * rng.standard_normal((200, theta0.size)))
    names = obj.names[:-1]  # pl_scale is not a solver parameter

    one, many = np.inf, np.inf
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        for th in thetas[:64]:
            obj.logpost(th)
        one = min(one, (time.perf_counter() - t0) / 64)
        t0 = time.perf_counter()
        for k in range(4):
            obj.logpost_many(thetas[16 * k : 16 * (k + 1)])
        many = min(many, (time.perf_counter() - t0) / 64)

    print(
        f"valleys (3 valleys, {t.size} times, pulse + IRF + PSF; w²_PL and PL jointly); "
        f"batched model path: {path}"
    )
    print(
        f"  log-posterior one at a time {one * 1e3:.3f} ms = {1 / one:.0f}/s; stacked by 16 "
        f"{many * 1e3:.3f} ms = {1 / many:.0f}/s; ratio {one / many:.2f}x"
    )
    for walkers in args.walkers:
        n_calls = walkers * (args.steps + 1)
        runs = []
        for _ in range(args.repeats):  # interleaved: each round sees the same machine load
            runs.append(
                (
                    bare_single(base, t, names, thetas, n_calls),
                    bare_batched(base, t, names, thetas, walkers, args.steps),
                    _sample(obj, walkers, args.steps, old=True),
                    _sample(obj, walkers, args.steps, old=False),
                    bare_solve(base, t),
                )
            )
        b1, bm = (min(r[i] for r in runs) for i in range(2))
        old, new, solve1 = (min(r[i][0] for r in runs) for i in range(2, 5))
        new_cpu, solve1_cpu = (min(r[i][1] for r in runs) for i in (3, 4))
        em = min(emcee_per_step(walkers, obj.ndim) for _ in range(args.repeats))
        print(f"  {walkers} walkers x {args.steps} steps ({n_calls} log-posterior evaluations):")
        print(
            f"    sample, stacked + buffered chain  {new:7.3f} s = {n_calls / new:7.0f} evals/s"
            f" of wall time (target >= 3e4/s at 32 walkers)"
        )
        print(
            f"    idle-equivalent: {n_calls / new * solve1 * IDLE_SINGLE_PER_S:7.0f} evals/s "
            f"(rate / one bare solve_moments here ({solve1 * 1e6:.0f} us, best of the same "
            f"rounds) x its idle rate {IDLE_SINGLE_PER_S:.0f}/s, issue 15); in CPU seconds "
            f"of this process (less disturbed by other jobs): sample {new_cpu:.3f} s, bare "
            f"solve {solve1_cpu * 1e6:.0f} us, idle-equivalent "
            f"{n_calls / new_cpu * solve1_cpu * IDLE_SINGLE_PER_S:7.0f} evals/s"
        )
        print(
            f"    sample, one walker at a time + per-step flush {old:7.3f} s = "
            f"{n_calls / old:7.0f} evals/s; stacked is {old / new:5.2f}x faster"
        )
        print(
            f"    bare model calls: batched {bm:7.3f} s, one at a time {b1:7.3f} s (ratio "
            f"{b1 / bm:5.2f}x)"
        )
        print(
            f"    overhead ratio: sample / bare batched calls = {new / bm:5.2f} (target <= 1.2 at"
            f" 16 walkers); old path / bare single calls = {old / b1:5.2f}"
        )
        per_step_model = bm / (2 * args.steps + 1) * 2
        print(
            f"    bound: emcee + chain per step with a free model {em * 1e3:6.3f} ms against the"
            f" model's {per_step_model * 1e3:6.3f} ms per step (two half-ensembles): "
            f"1 + ratio = {1 + em / per_step_model:5.2f} before the objective and per-run costs"
        )


if __name__ == "__main__":
    main()
