"""Cost of one Boltzmann-rung evaluation (TOPRUNG.md; issue 15 row "Boltzmann rung").

Case: the TOPRUNG.md §4 baseline at 20 K, ΔQ = k_s/2 (933 unknowns), 2001 output times to
200 ps, delta source. Times, in one run:

* eigen        - the closed form from two ``eigh`` (fitdiff's default), generator prebuilt;
* fit step     - what a fit pays per call when Ξ changes: generator (cached quadrature,
                 rescaled) + eigen solve;
* cold         - a first call in a new parameter region: the θ quadrature rebuilt + solve;
* expm_multiply - the baseline: ``scipy.sparse.linalg.expm_multiply`` of the 3N×3N scaled
                 generator on the same grid (fitdiff's reference path).

and prints the ratio baseline / eigen. BLAS runs on one thread (set before numpy loads):
per-core figures, and on a shared machine threads only add noise.

    python benchmarks/bench_boltzmann.py          # about 30 s on one core
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "solvers"))
from boltzmann_cases import ws2  # noqa: E402

from fitdiff.solvers.boltzmann import BoltzmannModel, build_generator, solve  # noqa: E402
from fitdiff.solvers.boltzmann.generator import _acoustic_unit  # noqa: E402


def best_time(fn, repeat: int) -> tuple[float, float]:
    """Best wall and best CPU (process) time of ``repeat`` calls, in s (the minimum is the least
    noisy, as timeit advises; on a loaded machine the CPU time is what one core costs)."""
    wall, cpu = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return min(wall), min(cpu)


def main() -> None:
    model = BoltzmannModel.from_dict(ws2(20.0, 0.5))
    t = model.time_grid_ps()
    gen = build_generator(model)
    unknowns = 3 * gen.grid.size
    xi = iter(np.linspace(4.0, 6.0, 1000))

    def fit_step():
        m = model.with_parameters(xi_eV_KK=next(xi))
        solve(m, t, generator=build_generator(m))

    def cold():
        _acoustic_unit.cache_clear()
        solve(model, t, generator=build_generator(model))

    t_eigen = best_time(lambda: solve(model, t, generator=gen), 7)
    t_fit = best_time(fit_step, 7)
    t_cold = best_time(cold, 3)
    t_expm = best_time(lambda: solve(model, t, generator=gen, method="expm"), 3)
    a = solve(model, t, generator=gen)
    b = solve(model, t, generator=gen, method="expm")
    agree = np.nanmax(np.abs(a.n[:, 1:] - b.n[:, 1:]) / np.abs(b.n[:, 1:]))
    print(f"Boltzmann rung, 20 K baseline: {unknowns} unknowns, {t.size} times, BLAS 1 thread")
    print(f"  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: wall >= CPU")
    for label, (wall, cpu) in (
        ("eigen (closed form)", t_eigen),
        ("fit step (Ξ changes)", t_fit),
        ("cold (quadrature too)", t_cold),
        ("expm_multiply baseline", t_expm),
    ):
        print(f"  {label:24s} wall {wall * 1e3:8.1f} ms   CPU {cpu * 1e3:8.1f} ms")
    print(f"  ratio expm_multiply / eigen    = {t_expm[0] / t_eigen[0]:.1f} (wall)")
    print(f"  ratio expm_multiply / fit step = {t_expm[0] / t_fit[0]:.1f} (wall)")
    print(f"  max relative difference of n_v(t), eigen vs expm_multiply: {agree:.1e}")


if __name__ == "__main__":
    main()
