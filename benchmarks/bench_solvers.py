"""Speed of the exact moment solver against the spatial solvers (issue 5).

Case: three WS2-like valleys at 77 K (fitdiff.testing.three_valley), 500 times,
Gaussian pulse and IRF on. Prints the time per evaluation, evaluations per second and the
ratios to (a) the exact Hankel spatial solver and (b) a plain method-of-lines finite-volume
PDE solve (BDF, sparse Jacobian), each asked for the same PL width w²_PL(t). "fit step" is
what a fit pays per likelihood call: ``with_parameters`` with a new D and a new rate (so K
changes and its eigen-decomposition is redone) plus the solve.

"batched" is :func:`fitdiff.solvers.moments_many.solve_moments_many` on a stack of P parameter
sets (new D and rate in each, as a fit step) asking for what a fit of w²_PL(t) and PL(t) needs
(no derivatives, PL row only), against the same sets one at a time (``with_parameters`` +
``solve_moments``) in the same run. Both are timed in CPU seconds of this process
(``time.process_time``) as well as wall time: on a shared machine the CPU time is the
per-core figure, and the ratio is measured within one run either way.

    python benchmarks/bench_solvers.py            # about 20 s on one core
    python benchmarks/bench_solvers.py --batched-only
"""

from __future__ import annotations

import sys
import time

import numpy as np

from fitdiff.solvers import ValleyModel, solve_moments, solve_spatial
from fitdiff.solvers.moments_many import load_compiled, solve_moments_many
from fitdiff.testing import three_valley, two_valley, with_numba_setting


def best_time(fn, repeat: int, number: int) -> float:
    """Best mean wall time of ``number`` calls over ``repeat`` rounds (as timeit advises)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return min(times)


def best_cpu(fn, repeat: int, number: int) -> tuple[float, float]:
    """Best (CPU s, wall s) per call of ``number`` calls over ``repeat`` rounds."""
    cpu, wall = [], []
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(number):
            fn()
        cpu.append((time.process_time() - c0) / number)
        wall.append((time.perf_counter() - w0) / number)
    return min(cpu), min(wall)


#: One evaluation of the 3-valley model idle on this machine (issue 15's table: 120 µs, i.e.
#: 8300/s): converts the same-run ratios below into idle-equivalent rates.
IDLE_SINGLE_PER_S = 8300.0
TARGET_PER_S = 5e4  # issue 15: batched evaluations per second per core


def batched_rows(model, t, sizes=(16, 32, 64)) -> None:
    """Batched evaluations per second against one at a time, same parameter sets, one run.

    Paths: numpy (FITDIFF_NUMBA=0) and, with numba installed, the compiled PL-only pass
    (FITDIFF_NUMBA=1). Baselines: one bare ``solve_moments`` (the issue's "one evaluation")
    and ``with_parameters`` + ``solve_moments`` per set. Rounds are interleaved and the best
    round of each counts (the least disturbed by other jobs on the machine).
    """
    rng = np.random.default_rng(0)
    fast = load_compiled() is not None
    if fast:  # compile or load the kernels before timing
        with_numba_setting("1", lambda: solve_moments_many(model, t, {"D_KK_cm2_s": [4.0, 4.1]}))
    print("batched moment model, 3 valleys, 500 times, pulse + IRF + PSF (w2_PL and PL rows)")
    print(
        f"  idle-equivalent = ratio to one bare solve x {IDLE_SINGLE_PER_S:.0f}/s (issue 15:"
        f" one evaluation idle); target {TARGET_PER_S:.0e}/s = ratio "
        f"{TARGET_PER_S / IDLE_SINGLE_PER_S:.1f}"
    )
    for P in sizes:
        values = {
            "D_KK_cm2_s": 4.0 + 0.5 * rng.random(P),
            "rate_KK_KL_per_ps": 0.5 + 0.05 * rng.random(P),
        }

        def one_at_a_time(P=P, values=values):
            for p in range(P):
                m = model.with_parameters(
                    D_KK_cm2_s=values["D_KK_cm2_s"][p],
                    rate_KK_KL_per_ps=values["rate_KK_KL_per_ps"][p],
                )
                solve_moments(m, t)

        def bare(P=P):
            for _ in range(P):
                solve_moments(model, t)

        def batched(values=values):
            solve_moments_many(model, t, values, derivatives=False, valleys=False)

        fns = {
            "single": bare,
            "with_parameters": one_at_a_time,
            "numpy": lambda: with_numba_setting("0", batched),
        }
        if fast:
            fns["numba"] = lambda: with_numba_setting("1", batched)
        best = {k: (np.inf, np.inf) for k in fns}
        for _ in range(5):
            for k, fn in fns.items():
                c, w = best_cpu(fn, repeat=1, number=2 if k in ("single", "with_parameters") else 4)
                best[k] = (min(best[k][0], c), min(best[k][1], w))
        c1 = best["single"][0]
        line = (
            f"  P = {P:3d}: one bare solve {c1 / P * 1e6:6.1f} us CPU, with_parameters + solve "
            f"{best['with_parameters'][0] / P * 1e6:6.1f} us"
        )
        print(line)
        for k in ("numpy", "numba"):
            if k not in best:
                continue
            cb, wb = best[k]
            ratio = c1 / cb
            print(
                f"      batched, {k:5s} {cb / P * 1e6:6.1f} us CPU/eval ({P / cb:7.0f}/s per core "
                f"here; wall {P / wb:7.0f}/s); ratio to one bare solve {ratio:5.2f}x "
                f"(CPU), to with_parameters + solve {best['with_parameters'][0] / cb:5.2f}x; "
                f"idle-equivalent {ratio * IDLE_SINGLE_PER_S:7.0f}/s (target >= "
                f"{TARGET_PER_S:.0e})"
            )


def main() -> None:
    model = ValleyModel.from_dict(three_valley()).with_parameters(irf_fwhm_ps=3.0, w_psf_um=0.3)
    t = np.linspace(0.0, 200.0, 500)
    batched_rows(model, t)
    if "--batched-only" in sys.argv:
        return
    r = np.linspace(0.0, 8.0, 801)

    t_mom = best_time(lambda: solve_moments(model, t), repeat=5, number=200)
    # what a fit does per likelihood call: new parameter values (a new rate changes K, so no
    # cached eigen-decomposition helps), a validated copy of the model, then the solve
    steps = iter(range(10**9))

    def fit_step():
        k = next(steps) % 64
        m = model.with_parameters(D_KK_cm2_s=4.0 + 0.01 * k, rate_KK_KL_per_ps=0.5 + 0.001 * k)
        solve_moments(m, t)

    t_fit = best_time(fit_step, repeat=5, number=200)
    ballistic = model.with_parameters(tau_KK_ps=0.3, tau_KKp_ps=0.3, tau_KL_ps=0.3)
    t_bal = best_time(lambda: solve_moments(ballistic, t), repeat=5, number=100)
    t_hank = best_time(
        lambda: solve_spatial(model, t, r, instrument=True).w2_pl_um2(), repeat=2, number=1
    )
    t_pde = best_time(
        lambda: solve_spatial(model, t, r, method="pde", instrument=True).w2_pl_um2(),
        repeat=1,
        number=1,
    )
    w_m = solve_moments(model, t).w2_pl_um2[5:]
    w_h = solve_spatial(model, t, r, instrument=True).w2_pl_um2()[5:]
    w_p = solve_spatial(model, t, r, method="pde", instrument=True).w2_pl_um2()[5:]

    print("moment solver, 3 valleys, 500 times, pulse + IRF + PSF")
    print(f"  time per evaluation        {t_mom * 1e6:9.1f} us   ({1 / t_mom:8.0f} evaluations/s)")
    print(f"  fit step (new D, rate)     {t_fit * 1e6:9.1f} us   ({1 / t_fit:8.0f} evaluations/s)")
    print(f"  with ballistic start (3V)  {t_bal * 1e6:9.1f} us   ({1 / t_bal:8.0f} evaluations/s)")
    print(
        f"  Hankel spatial solver      {t_hank * 1e3:9.1f} ms   ratio {t_hank / t_mom:8.0f}x"
        f"   max |dw2/w2| = {np.max(np.abs(w_h / w_m - 1)):.1e}"
    )
    print(
        f"  method-of-lines PDE (BDF)  {t_pde * 1e3:9.1f} ms   ratio {t_pde / t_mom:8.0f}x"
        f"   max |dw2/w2| = {np.max(np.abs(w_p / w_m - 1)):.1e}"
    )
    print(
        f"  fit step vs Hankel         ratio {t_hank / t_fit:8.0f}x"
        "   (target: ratio to the spatial solver >= 1000x)"
    )

    doc = ValleyModel.from_dict(two_valley())
    tt = np.linspace(0.0, 300.0, 30001)
    sol = solve_moments(doc, tt)
    i = int(np.nanargmin(sol.D_cm2_s[0]))
    neg = tt[sol.D_cm2_s[0] < 0]
    print("documented two-valley case (KK 10 meV above KKp, 20 K):")
    print(
        f"  D_KK minimum {sol.D_cm2_s[0, i]:.3f} cm2/s at t = {tt[i]:.2f} ps;"
        f" D_KK < 0 for {neg[0]:.2f} - {neg[-1]:.2f} ps"
    )


if __name__ == "__main__":
    main()
