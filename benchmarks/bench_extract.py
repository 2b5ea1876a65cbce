"""Benchmark of the batched Gaussian width extractor (issue 4).

A 1024 × 1024 Poisson streak image whose PL decays to nothing by the last rows is fitted three
ways: the batched extractor (``fitdiff.extract``), one moment pass over the image (the
memory-bound floor) and a per-row ``scipy.optimize.curve_fit`` loop with the same model and the
same starting guesses (the baseline). Prints the speed ratios and the median relative σ²
difference between batched and curve_fit over the rows both call usable. Targets (not asserted):
loop/batched >= 30, median |Δσ²|/σ² < 1 %, batched/moment <= 20.

The batched fit runs the compiled numba kernel when numba is installed (extra ``fast``) and the
numpy batch otherwise; both are timed when available and the path behind the headline figures
is printed. The first call of the compiled path (JIT compilation, or loading numba's on-disk
cache on later runs) is excluded from the timings and printed separately.

Two curve_fit loops are timed: the issue's baseline, the textbook loop with data weights
sigma = sqrt(max(d, 1)), and a loop of the same estimator as the extractor (weights from the
model, re-fitted until σ² moves < 1e-4), which is the one the σ² agreement is judged against:
data weights bias σ² at a few counts per pixel, so that loop disagrees by design.

The issue-15 rows: ``extract_widths`` all in against one bare moment pass (three weighted
sums per row, the memory-bound floor) and against the per-row curve_fit loop, and the first
``extract_widths`` call in a new process (numba import and cache load, or the numpy path when
that is cheaper for the image: :mod:`fitdiff.extract.compiled`), timed in fresh subprocesses
against the warm call of the same process. The breakdown counts the rows the Gaussian fit runs, their iterations and the rows of the
Fisher-information passes.

    python benchmarks/bench_extract.py [--rows 1024] [--cols 1024] [--seed 0] [--numpy]
    python benchmarks/bench_extract.py --cold-only      # just the first-call rows
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from fitdiff.extract import extract_widths
from fitdiff.extract.gauss import gaussian_model
from fitdiff.extract.lm import batched_lm, numba_available
from fitdiff.extract.moments import edge_pixels, profile_moments
from fitdiff.extract.noise import NoiseModel
from fitdiff.extract.widths import gauss_start
from fitdiff.io.measurement import Measurement
from fitdiff.testing import streak, with_numba_setting


def make_image(nt: int, nx: int, seed: int) -> Measurement:
    """Poisson streak: 3e4 photons/row at t = 0 decaying with tau = 250 ps over 0-2000 ps
    (~10 photons/row at the end, under 2 counts/pixel background), w² = 2 + 4·(5 cm²/s)·t."""
    m, _ = streak(
        seed,
        nt=nt,
        nx=nx,
        t_ps=(0.0, 2000.0),
        x_um=(-12.0, 12.0),
        D_cm2_s=5.0,
        w0_um=np.sqrt(2.0),
        photons=3e4,
        tau_ps=250.0,
        bg=2.0,
        center_um=0.0,
    )
    return m


def best_of(fn, repeat: int) -> float:
    """Shortest wall time of ``repeat`` calls, seconds (the least disturbed by other jobs)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def model(x, amp, x0, s2, c):
    return amp * np.exp(-((x - x0) ** 2) / (2 * s2)) + c


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1024)
    ap.add_argument("--cols", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--numpy", action="store_true", help="headline figures for the numpy path")
    ap.add_argument("--cold-only", action="store_true", help="only the first-call rows")
    args = ap.parse_args(argv)
    cold_rows(args.rows, args.cols, args.seed)
    if args.cold_only:
        return
    m = make_image(args.rows, args.cols, args.seed)
    x = m.coords["x"]
    data = m.counts.astype(float)
    valid = np.ones(data.shape, dtype=bool)
    nm = NoiseModel()
    coords = [x]
    edges = edge_pixels(coords, 0.1)

    def moment_pass():
        return profile_moments(coords, data, nm.variance(data), edges)

    mom = moment_pass()
    p0 = gauss_start(coords, data, ~valid, mom)
    gm = gaussian_model(coords)

    snr = mom["intensity"] / mom["intensity_err"]
    rows = np.flatnonzero(snr >= 5.0)  # the rows extract_widths fits (min_snr = 5)

    # the fitted rows' arrays are selected once: copying them is data preparation, not fitting
    p0_f, data_f, valid_f = p0[rows], data[rows], valid[rows]

    def batched(backend):
        return batched_lm(gm, p0_f, data_f, valid_f, nm.variance, backend=backend)

    def bare_moments():  # the floor: three weighted sums per row, no errors or kurtosis
        y = data - data[:, edges].mean(axis=1, keepdims=True)
        return y.sum(1), y @ x, y @ (x * x)

    fast = numba_available()
    path = "numpy" if args.numpy or not fast else "numba"
    t_warm = None
    if fast:  # compile (or load the cache) before any timing, and report what it cost
        t0 = time.perf_counter()
        batched("numba")
        extract_widths(m)
        t_warm = time.perf_counter() - t0
    t_moment = best_of(moment_pass, 5)
    # the bare sums take ~10 ms: more repeats find an undisturbed one on a shared machine
    t_bare = best_of(bare_moments, 20)
    t_path = {"numpy": best_of(lambda: batched("numpy"), 3)}
    if fast:
        t_path["numba"] = best_of(lambda: batched("numba"), 5)
    t_batched = t_path[path]
    backend_env = {"numpy": "0", "numba": "1"}[path]
    t_full = best_of(lambda: with_numba_setting(backend_env, lambda: extract_widths(m)), 5)
    df = with_numba_setting(backend_env, lambda: extract_widths(m))
    ok = df["ok"].to_numpy()

    def loop(reweight):
        out = np.full(len(data), np.nan)
        for i in rows:
            row, p = data[i], p0[i]
            try:
                if not reweight:  # the textbook loop: weights from the data, floored at 1
                    p, _ = curve_fit(
                        model,
                        x,
                        row,
                        p0=p,
                        sigma=np.sqrt(np.maximum(row, 1.0)),
                        absolute_sigma=True,
                    )
                else:  # the same estimator as batched: weights from the model, iterated
                    for _ in range(8):
                        sigma = np.sqrt(nm.variance(model(x, *p)))
                        new, _ = curve_fit(model, x, row, p0=p, sigma=sigma, absolute_sigma=True)
                        done = abs(new[2] - p[2]) < 1e-4 * abs(p[2])
                        p = new
                        if done:
                            break
                out[i] = p[2]
            except (RuntimeError, ValueError):
                pass
        return out

    def naive():
        """The user script the issue's ratio is judged against: every row, a Gaussian +
        offset through ``curve_fit`` with its default settings (unweighted, 'lm', default
        tolerances), started from a guess read off the row (peak height above the minimum,
        position of the maximum, a tenth of the window as width, the minimum as offset)."""
        out = np.full(len(data), np.nan)
        width0 = ((x[-1] - x[0]) / 10.0) ** 2
        for i, row in enumerate(data):
            p0 = [row.max() - row.min(), x[np.argmax(row)], width0, row.min()]
            try:
                p, _ = curve_fit(model, x, row, p0=p0)
                out[i] = p[2]
            except (RuntimeError, ValueError):
                pass
        return out

    results = {}
    with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", OptimizeWarning)
        s2_naive = naive()
        t_naive = best_of(naive, 2)
        for reweight in (True, False):
            s2_loop = loop(reweight)
            # best of 2, like the batched timings' best-of: the least disturbed run counts
            results[reweight] = (best_of(lambda r=reweight: loop(r), 2), s2_loop)
    s2_batched = df["sigma2_um2"].to_numpy()
    print(
        f"image {args.rows} x {args.cols}, seed {args.seed}; fitted rows {len(rows)}, "
        f"ok rows {ok.sum()} of {len(ok)}"
    )
    print(f"path: {path}  (numba installed and enabled: {fast})")
    if t_warm is not None:
        print(f"first compiled call (JIT or cache load, excluded) {1e3 * t_warm:8.1f} ms")
    print(f"moment pass                 {1e3 * t_moment:8.1f} ms")
    for name, t in t_path.items():
        print(f"batched Gauss fit, {name:5s}    {1e3 * t:8.1f} ms")
    print(f"extract_widths (everything) {1e3 * t_full:8.1f} ms")
    print(f"bare moment sums            {1e3 * t_bare:8.1f} ms")
    print(f"batched fit / moment pass   = {t_batched / t_moment:7.2f}x  (target <= 20)")
    print(f"batched fit / bare sums     = {t_batched / t_bare:7.2f}x")
    print(f"extract_widths / moment     = {t_full / t_moment:7.2f}x")
    print(
        f"extract_widths / bare sums  = {t_full / t_bare:7.2f}x  (issue 15 target <= 5, "
        f"all in, path {path})"
    )
    both = ok & np.isfinite(s2_naive)
    rel = np.abs(s2_batched[both] - s2_naive[both]) / s2_naive[both]
    print(
        f"naive per-row curve_fit loop (every row, default settings; the issue-15 baseline): "
        f"{1e3 * t_naive:8.1f} ms; loop / extract_widths = {t_naive / t_full:6.1f}x "
        f"(target >= 30, all in); loop / batched fit = {t_naive / t_batched:6.1f}x"
    )
    print(
        f"    median |dsigma2|/sigma2 = {100 * np.median(rel):7.3f} % over {both.sum()} ok rows"
        f" (unweighted least squares: a different estimator)"
    )
    breakdown(m, backend_env)
    for reweight, label in (
        (False, "curve_fit, data weights (textbook, the issue-4 baseline)"),
        (True, "curve_fit, model weights (same estimator)"),
    ):
        t_loop, s2_loop = results[reweight]
        both = ok & np.isfinite(s2_loop)
        rel = np.abs(s2_batched[both] - s2_loop[both]) / s2_loop[both]
        print(
            f"{label}: loop {1e3 * t_loop:8.1f} ms; loop / batched fit = "
            f"{t_loop / t_batched:6.1f}x (target >= 30); loop / extract_widths = "
            f"{t_loop / t_full:6.1f}x"
        )
        print(
            f"    median |dsigma2|/sigma2 = {100 * np.median(rel):7.3f} % over {both.sum()} "
            f"ok rows (target < 1 %); 90th percentile {100 * np.percentile(rel, 90):.3f} %"
        )
        if reweight:
            continue
        bright = both & (np.nan_to_num(df["amplitude"].to_numpy()) > 100.0)
        rel_b = np.abs(s2_batched[bright] - s2_loop[bright]) / s2_loop[bright]
        print(
            f"    on the {bright.sum()} rows with peak > 100 counts/pixel: median "
            f"{100 * np.median(rel_b):.3f} % (data weights are biased at a few counts)"
        )


def breakdown(m, backend_env: str) -> None:
    """Where ``extract_widths``' all-in time goes (cProfile cumulative times of its steps;
    the profiler inflates Python-level work, so read the shares, not the absolute times)."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    with_numba_setting(backend_env, lambda: (prof.enable(), extract_widths(m), prof.disable()))
    stats = pstats.Stats(prof).stats
    parts = {
        "extract_widths": "all in",
        "prepare": "preprocessing (crop, bin, masks, offset)",
        "profile_moments": "moment statistics (start values, signal test)",
        "streak_moments": "moment statistics, one kernel (start values, signal test)",
        "_fit_snr": "fitted-signal test (predicted errors at the start values)",
        "_gauss_columns": "batched Gaussian fit and its columns",
        "_model_errors_and_collapse": "model-based w2 errors (Fisher, iterated) and collapse test",
    }
    cum = {}
    for (_, _, name), row in stats.items():
        if name in parts:
            cum[name] = cum.get(name, 0.0) + row[3]
    total = cum.get("extract_widths", float("nan"))
    print("extract_widths, where the time goes (cProfile, shares of the all-in time):")
    for name, label in parts.items():
        if name in cum and name != "extract_widths":
            print(f"    {label:62s} {100 * cum[name] / total:5.1f} %")
    iterations(m, backend_env)


def iterations(m, backend_env: str) -> None:
    """How many rows the Gaussian fit runs, their LM iterations, and the rows of the Fisher
    information passes (signal test and model-based w² errors) of one ``extract_widths``."""
    from fitdiff.extract import weights, widths

    seen = {"rows": 0, "calls": 0}
    fit_lm, pe_w, pe_s = widths.batched_lm, weights.predicted_errors, widths.predicted_errors

    def lm_spy(*a, **k):
        seen["lm"] = out = fit_lm(*a, **k)
        return out

    def pe_spy(fn):
        def spy(coords, p, *a, **k):
            seen["rows"] += len(p)
            seen["calls"] += 1
            return fn(coords, p, *a, **k)

        return spy

    widths.batched_lm, weights.predicted_errors = lm_spy, pe_spy(pe_w)
    widths.predicted_errors = pe_spy(pe_s)
    try:
        df = with_numba_setting(backend_env, lambda: extract_widths(m))
    finally:
        widths.batched_lm, weights.predicted_errors, widths.predicted_errors = fit_lm, pe_w, pe_s
    n = seen["lm"].niter
    cap = df.attrs["settings"]["max_iter"]
    ok = df["ok"].to_numpy()[df["redchi"].notna().to_numpy()]  # the fitted rows' flags
    print(
        f"    fitted rows {n.size} ({int(ok.sum())} end ok); LM iterations {int(n.sum())} "
        f"({int(n[ok].sum())} in the ok rows), at the {cap}-iteration cap "
        f"{int((n >= cap).sum())}, > 36: {int((n > 36).sum())}"
    )
    print(f"    Fisher information: {seen['calls']} passes over {seen['rows']} rows in all")


_COLD = """
import sys, time
sys.path.insert(0, {bench!r})
from bench_extract import make_image
m = make_image({rows}, {cols}, {seed})
from fitdiff.extract import extract_widths
t0 = time.perf_counter(); extract_widths(m); t1 = time.perf_counter()
extract_widths(m); t2 = time.perf_counter()
print(t1 - t0, t2 - t1, 'numba' in sys.modules)
"""


def cold_rows(rows: int, cols: int, seed: int, repeats: int = 2) -> None:
    """First ``extract_widths`` call of a new process against its warm second call."""
    import subprocess
    import sys
    from pathlib import Path

    code = _COLD.format(bench=str(Path(__file__).parent), rows=rows, cols=cols, seed=seed)
    env0 = {k: v for k, v in os.environ.items() if k != "FITDIFF_NUMBA"}
    print(f"first extract_widths call in a new process ({rows} x {cols}), best of {repeats}:")
    warm_numba = None
    for label, env in (
        ("auto", env0),
        ("numpy forced", {**env0, "FITDIFF_NUMBA": "0"}),
        ("numba forced", {**env0, "FITDIFF_NUMBA": "1"}),
    ):
        runs = []
        for _ in range(repeats):
            out = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
            ).stdout.split()
            runs.append((float(out[0]), float(out[1]), out[2] == "True"))
        first = min(r[0] for r in runs)
        warm = min(r[1] for r in runs)
        if label == "numba forced":
            warm_numba = warm
        print(
            f"  {label:13s} first {first * 1e3:8.1f} ms, second {warm * 1e3:8.1f} ms "
            f"(numba loaded after the first call: {runs[0][2]})"
        )
        if label == "auto":
            first_auto = first
    print(
        f"  first call (auto) / warm compiled call = {first_auto / warm_numba:6.1f}x"
        "  (target: first call <= 0.3 s idle, or the numpy path where faster)"
    )


if __name__ == "__main__":
    main()
