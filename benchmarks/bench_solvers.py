"""Speed of the exact moment solver against the spatial solvers (issue 5).

Case: three WS2-like valleys at 77 K (fitdiff.testing.three_valley), 500 times,
Gaussian pulse and IRF on. Prints the time per evaluation, evaluations per second and the
ratios to (a) the exact Hankel spatial solver and (b) a plain method-of-lines finite-volume
PDE solve (BDF, sparse Jacobian), each asked for the same PL width w²_PL(t). "fit step" is
what a fit pays per likelihood call: ``with_parameters`` with a new D and a new rate (so K
changes and its eigen-decomposition is redone) plus the solve.

    python benchmarks/bench_solvers.py            # about 20 s on one core
"""

from __future__ import annotations

import time

import numpy as np

from fitdiff.solvers import ValleyModel, solve_moments, solve_spatial
from fitdiff.testing import three_valley, two_valley


def best_time(fn, repeat: int, number: int) -> float:
    """Best mean wall time of ``number`` calls over ``repeat`` rounds (as timeit advises)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return min(times)


def main() -> None:
    model = ValleyModel.from_dict(three_valley()).with_parameters(irf_fwhm_ps=3.0, w_psf_um=0.3)
    t = np.linspace(0.0, 200.0, 500)
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
