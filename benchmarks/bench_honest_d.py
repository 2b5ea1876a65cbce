"""Honest D at every signal level: both routes against the Cramér–Rao bound, and image-fit speed.

Part 1 (the study of the issue "honest D"): for DICE's model (Thiebes & Grumstrup, J. Chem.
Phys. 160, 124201 (2024): Gaussian line profile, population e^(−t/τ), white noise, CNR = peak /
noise SD at t = 0, FWHM0 1 µm, D 0.1 cm²/s, τ 1 ns, 100 px over 5 µm, 10 frames over 1 ns) and
for photon-counting streaks of the same geometry on 3 counts/pixel, simulate N datasets per CNR
and fit each by

* the two-stage route: ``extract_widths`` (Gaussian per slice) → ``linear_diffusion``;
* the image level: ``ImageModel(LinearModel())`` with the camera likelihood, least squares
  through the one ``Objective``.

It prints per CNR: failures, mean and SD of D/D_true, the SD of the pulls (D − D_true)/σ_D,
the 68 % coverage, the Cramér–Rao bound (``fitdiff.fitting.forecast``, the same numbers
``fitdiff plan`` prints) and the ratio scatter / bound.

Part 2: the time of an image-level least-squares fit of a 512 × 512 photon-counting streak
against the two-stage fit (extract + line) of the same image, in the same run.

Run: ``python benchmarks/bench_honest_d.py [--n 200] [--cnr 5 20 50 100] [--skip-study]``.
The machine's load changes wall-clock times; the ratio is measured in one run.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from fitdiff.errors import FitdiffError
from fitdiff.extract import extract_widths
from fitdiff.extract.noise import resolve_noise
from fitdiff.extract.transient import linear_diffusion
from fitdiff.fitting import LinearModel, Objective, least_squares, make_parameters
from fitdiff.fitting.forecast import ROUTES, Experiment
from fitdiff.fitting.image import ImageData, ImageModel
from fitdiff.testing import dice_streak, grid_axes, poisson_streak, streak_mean

MAKERS = {"dice": dice_streak, "poisson": poisson_streak}


def two_stage(m):
    """D, σ_D (cm²/s) of the two-stage route."""
    fit = linear_diffusion(extract_widths(m))
    return fit.D_cm2_s, fit.D_err_cm2_s


def image_level(m, start=None):
    """D, σ_D (cm²/s) of the image-level least-squares fit."""
    nm = resolve_noise(None, m.meta)
    data = ImageData.from_arrays(m.coords["t"], {"x": m.coords["x"]}, m.counts, nm)
    model = ImageModel(LinearModel())
    w2, x0 = start if start is not None else _start(m)
    params = make_parameters(model, w0_2_um2=w2, D_cm2_s=0.0, x0_um=x0)
    params["w0_2_um2"].min = 1e-6
    res = least_squares(Objective(model, data, params))
    p = res.params["D_cm2_s"]
    if p.stderr is None or not math.isfinite(p.stderr) or not res.success:
        raise FitdiffError("no error estimate")
    return p.value, p.stderr


def _start(m):
    """Start values from the image alone: w² and centre of the summed profile's moments."""
    x = m.coords["x"]
    prof = m.counts.sum(axis=0)
    prof = prof - np.median(np.concatenate([prof[:10], prof[-10:]]))
    wts = np.clip(prof, 0, None)
    x0 = float(np.sum(wts * x) / np.sum(wts))
    # area / peak of exp(−x²/w²) is sqrt(π) w
    step = float(x[1] - x[0])
    w = float(np.sum(wts) * step / (np.sqrt(np.pi) * max(prof.max(), 1e-12)))
    return max(w * w, 4 * step * step), x0


def bound(kind: str, m) -> float:
    tr = m.meta["truth"]
    nm = resolve_noise(None, m.meta)
    t, x = m.coords["t"], m.coords["x"]
    exp = Experiment(
        D_cm2_s=tr["D_cm2_s"],
        w0_um=tr["w0_um"],
        lifetime_ps=1000.0,
        peak_counts=tr["peak"],
        background_counts=tr.get("background", 0.0),
        noise=nm,
        x_um=x,
        t_ps=t,
    )
    return {r: f(exp)["sigma_D_cm2_s"] for r, f in ROUTES.items()}


def study(kind: str, cnrs, n: int, seed0: int = 1000):
    print(f"\n{kind}: {n} datasets per CNR")
    head = "CNR  route   failed  mean    SD     pull SD  cover68  bound SD  SD/bound"
    print(head)
    rows = []
    for cnr in cnrs:
        b = bound(kind, MAKERS[kind](cnr, 0))
        for route, fn in (("widths", two_stage), ("image", image_level)):
            est, pulls, failed = [], [], 0
            for s in range(n):
                m = MAKERS[kind](cnr, seed0 + s)
                try:
                    d, e = fn(m)
                except FitdiffError:
                    failed += 1
                    continue
                D = m.meta["truth"]["D_cm2_s"]
                est.append(d / D)
                pulls.append((d - D) / e)
            est, pulls = np.array(est), np.array(pulls)
            bd = b[route] / 0.1
            sd = est.std(ddof=1)
            print(
                f"{cnr:<4} {route:<7} {failed:>4}   {est.mean():6.3f} {sd:6.3f}  "
                f"{pulls.std(ddof=1):6.2f}   {np.mean(np.abs(pulls) < 1):6.2f}   {bd:7.3f}  "
                f"{sd / bd:6.2f}",
                flush=True,
            )
            rows.append((kind, cnr, route, failed, est.mean(), sd, pulls.std(ddof=1), bd))
    return rows


def timing(repeats: int = 3):
    """Image-level LSQ fit of a 512 × 512 Poisson streak vs the two-stage fit of the same."""
    rng = np.random.default_rng(7)
    t, x = grid_axes((-10.0, 10.0, 512), (0.0, 1000.0, 512))
    mean = streak_mean(t, x, peak=200.0, w0_um=1.0, D_cm2_s=1.0, lifetime_ps=500.0, background=3)
    from fitdiff.io.measurement import Measurement

    m = Measurement(
        counts=rng.poisson(mean).astype(float),
        dims=("t", "x"),
        coords={"t": t, "x": x},
        units={"t": "ps", "x": "um"},
        meta={"noise": {"gain": 1.0, "read_noise": 0.0}},
    )
    two_stage(m)  # compile and warm caches
    t2 = min(_timed(two_stage, m) for _ in range(repeats))
    ti = min(_timed(image_level, m) for _ in range(repeats))
    d, e = image_level(m)
    print(
        f"\n512 x 512 Poisson streak: image-level LSQ {ti:.2f} s, two-stage {t2:.2f} s, "
        f"ratio {ti / t2:.1f} (D = {d:.4f} ± {e:.4f} cm²/s, truth 1)"
    )


def _timed(fn, m):
    t0 = time.perf_counter()
    fn(m)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--cnr", type=float, nargs="+", default=[5, 20, 50, 100])
    ap.add_argument("--kinds", nargs="+", default=list(MAKERS))
    ap.add_argument("--skip-study", action="store_true")
    ap.add_argument("--skip-timing", action="store_true")
    args = ap.parse_args()
    if not args.skip_study:
        for kind in args.kinds:
            study(kind, [int(c) if c == int(c) else c for c in args.cnr], args.n)
    if not args.skip_timing:
        timing()


if __name__ == "__main__":
    main()
