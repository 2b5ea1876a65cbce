"""Benchmark of the 2D (t, y, x) stack extractor (issue 17) against one bare pass over the counts.

Two Poisson stacks of the issue's sizes are extracted with ``extract_widths`` (method "gauss",
everything included: conversion, masks, moments, the fit of every slice, the table) for each
2D shape, and timed against the named baseline, **one bare pass over the counts**: converting
the stored integers to float64 and summing them (``np.asarray(counts, float).sum()``), the least
any extractor must do. The ratio extract / bare pass is printed (target <= 20).

* ``133 x 256 x 256``: a decaying, diffusing, rotated elliptical spot (fast axis at 30°) on a
  1-count background, the size of a TCSPC FLIM scan; and, when ``../shared/realdata`` is
  present, the real PicoQuant scan ``ptu_stack_FLIM_z1.ptu`` of the same size (a hazelnut
  section, sparse photons; the fitted spot fills the window, the hard case).
* ``401 x 128 x 128``: the same kind of spot on a finer time grid (a gated-camera stack).

The first call in a fresh process (numba JIT compilation or loading its on-disk cache, imports)
is timed separately by running the extraction once in a subprocess per shape (its ratio is to
the bare pass of this process). The compiled kernels are single-threaded; the header prints the
CPU count and load average, since wall-clock ratios on a shared machine move with the load.

    python benchmarks/bench_stack.py [--repeat 3] [--shapes isotropic,elliptical,rotated]
        [--no-first-call] [--no-real] [--stacks 133x256x256,401x128x128]

Run with the package under test on ``PYTHONPATH`` (e.g. an older checkout, for a "before"
figure); shapes the package does not know are reported as such and skipped.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from fitdiff.extract import extract_widths
from fitdiff.io.measurement import Measurement

REALDATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "realdata"
PTU = REALDATA / "picoquant_ptu" / "ptu_stack_FLIM_z1.ptu"


def make_stack(nt: int, ny: int, nx: int, seed: int = 0) -> Measurement:
    """Poisson stack of a rotated elliptical Gaussian spot (counts stored as uint16).

    Photons per slice 2e5 exp(-t/300 ps) over t = 0..1000 ps; Σ(t) = Σ0 + 2 D t with
    Σ0 = 0.5 µm² I, D = diag(2, 0.5) cm²/s rotated by 30°; 1 count/pixel background;
    pixels 0.1 µm (256²) or 0.2 µm (128²) so the window spans ~25 µm.
    """
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1000.0, nt)
    h = 25.6 / nx
    x = (np.arange(nx) - nx / 2) * h
    y = (np.arange(ny) - ny / 2) * h
    th = np.deg2rad(30.0)
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    d_um2_ps = rot @ np.diag([2.0, 0.5]) @ rot.T * 1e-4  # (x, y) order
    yy, xx = np.meshgrid(y, x, indexing="ij")
    counts = np.empty((nt, ny, nx), dtype=np.uint16)
    for i, ti in enumerate(t):
        s = 0.5 * np.eye(2) + 2.0 * d_um2_ps * ti
        inv = np.linalg.inv(s)
        q = inv[0, 0] * xx**2 + 2 * inv[0, 1] * xx * yy + inv[1, 1] * yy**2
        n = 2e5 * np.exp(-ti / 300.0)
        mean = n * h * h * np.exp(-0.5 * q) / (2 * np.pi * np.sqrt(np.linalg.det(s))) + 1.0
        counts[i] = rng.poisson(mean)
    return Measurement(
        counts,
        ("t", "y", "x"),
        {"t": t, "y": y, "x": x},
        {"t": "ps", "y": "um", "x": "um"},
        format="simulated",
    )


def best_of(fn, repeat: int, clock=time.perf_counter) -> float:
    """Shortest time of ``repeat`` calls, s (the least disturbed by other jobs); ``clock`` is
    wall time, or ``time.process_time`` for the CPU time of this process (all its threads),
    which a loaded machine distorts less."""
    times = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return min(times)


def bare_pass(m: Measurement) -> float:
    return float(np.asarray(m.counts, dtype=float).sum())


def load_stack(name: str) -> Measurement:
    if name == "ptu":
        import fitdiff

        return fitdiff.load(PTU)
    nt, ny, nx = (int(v) for v in name.split("x"))
    return make_stack(nt, ny, nx)


def first_call(name: str, shape: str) -> float | None:
    """Seconds of the first extract_widths call in a fresh interpreter (data built untimed)."""
    code = (
        f"import sys, time; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        "import bench_stack as b; from fitdiff.extract import extract_widths; "
        f"m = b.load_stack({name!r}); t0 = time.perf_counter(); "
        f"extract_widths(m, shape={shape!r}); print(time.perf_counter() - t0)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy()
    )
    if out.returncode != 0:
        return None
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--shapes", default="isotropic,elliptical,rotated")
    ap.add_argument("--no-first-call", action="store_true")
    ap.add_argument("--no-real", action="store_true")
    ap.add_argument("--stacks", default="133x256x256,401x128x128", help="synthetic T x Y x X")
    args = ap.parse_args(argv)
    from fitdiff.extract import widths

    known = getattr(widths, "SHAPES", ("isotropic", "elliptical"))
    shapes = [s for s in args.shapes.split(",") if s]
    names = [s for s in args.stacks.split(",") if s]
    if PTU.is_file() and not args.no_real:
        names.insert(0, "ptu")
    print(f"fitdiff from {Path(widths.__file__).parents[1]}; shapes known: {', '.join(known)}")
    # the compiled kernels run frames serially (one thread): numba's default threading layer
    # aborts when two Python threads launch parallel kernels at once (lm_numba.py)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average {load}; kernels single-threaded")
    print(
        f"{'stack':<13} {'shape':<11} {'bare pass':>10} {'extract':>10} {'ratio':>8} "
        f"{'cpu ratio':>10} {'first call':>14} {'fitted':>7} {'ok':>5}"
    )
    for name in names:
        m = load_stack(name)
        t_bare = best_of(lambda m=m: bare_pass(m), 5 * args.repeat)
        c_bare = best_of(lambda m=m: bare_pass(m), 5 * args.repeat, time.process_time)
        label = "ptu " + "x".join(str(n) for n in m.counts.shape) if name == "ptu" else name
        for shape in shapes:
            if shape not in known:
                print(f"{label:<13} {shape:<11} (shape not supported by this fitdiff)")
                continue
            first = None if args.no_first_call else first_call(name, shape)
            extract_widths(m, shape=shape)  # warm (JIT compiled or cache loaded)
            t_ext = best_of(lambda m=m, s=shape: extract_widths(m, shape=s), args.repeat)
            c_ext = best_of(
                lambda m=m, s=shape: extract_widths(m, shape=s), args.repeat, time.process_time
            )
            df = extract_widths(m, shape=shape)
            fitted = int(np.isfinite(df["redchi"]).sum())
            first_txt = "-" if first is None else f"{first / t_bare:6.0f}x {first:4.1f}s"
            print(
                f"{label:<13} {shape:<11} {1e3 * t_bare:8.2f}ms {1e3 * t_ext:8.1f}ms "
                f"{t_ext / t_bare:7.1f}x {c_ext / c_bare:9.1f}x {first_txt:>14} {fitted:>7} "
                f"{int(df['ok'].sum()):>5}"
            )
    print("ratio = extract_widths (all in, best of --repeat) / one bare pass (convert + sum);")
    print("cpu ratio = the same in CPU time of this process (less distorted on a loaded machine)")


if __name__ == "__main__":
    main()
