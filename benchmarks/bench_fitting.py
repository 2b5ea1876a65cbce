"""Fitting benchmark: log-posterior evaluations/s for the ``valleys`` model and emcee overhead.

Model: 3 valleys (WS2-like KK bright, KK' and KΛ dark; PHYSICS.md §3.1 offsets), 300 times,
Gaussian pulse, IRF and PSF; data w²_PL(t) and PL(t) fitted jointly (one moment solve per
evaluation, shared through the model's cache). Baseline for the overhead ratio: the same number
of bare model calls (``ValleyModel.with_parameters`` + ``solve_moments``) as emcee makes
(walkers × (steps + 1), the + 1 being the walkers' start). The emcee wall time is the whole
:func:`fitdiff.fitting.sample` call: fingerprint, HDF5 chain file, start, steps and summary.
Target (issue 6): overhead ratio ≤ 1.5.

The machine is shared, so each figure is the fastest of ``--repeats`` interleaved runs (the
least disturbed one); the ratio divides the fastest emcee run by the fastest bare run.

Run:  python benchmarks/bench_fitting.py [--walkers 16 32 64 --steps 20 --repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fitdiff.fitting import (
    GlobalObjective,
    KineticsData,
    Objective,
    WidthsData,
    make_parameters,
    sample,
)
from fitdiff.fitting.valleys import ValleysModel
from fitdiff.solvers import ValleyModel, solve_moments
from fitdiff.testing import THREE_VALLEYS

FREE = ("D_KK_cm2_s", "D_KKp_cm2_s", "D_KL_cm2_s", "rate_KK_KKp_per_ps", "pl_scale")


def build():
    base = ValleyModel.from_dict(THREE_VALLEYS)
    t = np.linspace(-10.0, 500.0, 300)
    sol = solve_moments(base, t)
    rng = np.random.default_rng(0)
    w_err = np.full(t.size, 0.01)
    c = 1e6 * sol.pl
    c_err = 0.02 * c + 1.0
    widths = pd.DataFrame(
        {
            "t_ps": t,
            "w2_um2": sol.w2_pl_um2 + w_err * rng.standard_normal(t.size),
            "w2_err_um2": w_err,
        }
    )
    pl = pd.DataFrame(
        {"t_ps": t, "intensity": c + c_err * rng.standard_normal(t.size), "intensity_err": c_err}
    )
    model = ValleysModel(base)
    params = make_parameters(model, pl_scale=1e6)
    for n in FREE:
        params[n].set(vary=True)
    objs = [
        Objective(model, WidthsData.from_frame(widths, label="w"), params),
        Objective(model, KineticsData.from_frame(pl, label="pl"), params),
    ]
    return base, t, GlobalObjective(objs)


def overhead(base, t, obj, thetas, walkers: int, steps: int) -> tuple[float, float, int]:
    """One bare-model timing and one emcee timing: (bare s, emcee wall s, model calls)."""
    n_calls = walkers * (steps + 1)
    names = obj.names[:-1]  # pl_scale is not a solver parameter
    t0 = time.perf_counter()
    for i in range(n_calls):
        th = thetas[i % len(thetas)]
        solve_moments(base.with_parameters(**dict(zip(names, th[:-1], strict=True))), t)
    bare = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        sample(
            obj, backend_path=Path(tmp) / "chain.h5", walkers=walkers, steps=steps, burn=0, seed=1
        )
        wall = time.perf_counter() - t0
    return bare, wall, n_calls


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--walkers", type=int, nargs="+", default=[16, 32, 64])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    base, t, obj = build()
    theta0 = obj.theta0
    rng = np.random.default_rng(1)
    thetas = theta0 * (1 + 1e-3 * rng.standard_normal((200, theta0.size)))

    per_logpost = np.inf
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        for th in thetas:
            obj.logpost(th)
        per_logpost = min(per_logpost, (time.perf_counter() - t0) / len(thetas))

    print(f"valleys (3 valleys, {t.size} times, pulse + IRF + PSF; w²_PL and PL jointly)")
    print(f"  log-posterior: {per_logpost * 1e3:.3f} ms/eval = {1 / per_logpost:.0f} evals/s")
    for walkers in args.walkers:
        runs = [overhead(base, t, obj, thetas, walkers, args.steps) for _ in range(args.repeats)]
        bare = min(r[0] for r in runs)
        wall = min(r[1] for r in runs)
        n_calls = runs[0][2]
        print(
            f"  {walkers} walkers × {args.steps} steps: bare model calls {n_calls} in "
            f"{bare:.3f} s ({bare / n_calls * 1e3:.3f} ms each); emcee with HDF5 chain "
            f"{wall:.3f} s; overhead ratio {wall / bare:.2f} (target ≤ 1.5)"
        )


if __name__ == "__main__":
    main()
