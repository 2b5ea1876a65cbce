"""Simulated datasets for the fitting tests (fixed seeds; the truth is the generating value)."""

from __future__ import annotations

import numpy as np
import pandas as pd

# A two-valley bright/dark model in the MODEL.toml schema of fitdiff simulate (PHYSICS.md §3.1):
# the dark valley KKp lies 30 meV below the bright KK (order of seed 001's 30.5 / 51.5 meV
# offsets) and diffuses faster, so the PL width is pulled toward the dark majority's.
TWO_VALLEYS = {
    "T_K": 50.0,
    "valley": [
        {"name": "KK", "E_meV": 0.0, "D_cm2_s": 0.5, "radiative_rate_per_ps": 0.05},
        {"name": "KKp", "E_meV": -30.0, "D_cm2_s": 3.0, "nonradiative_rate_per_ps": 0.002},
    ],
    "transition": [{"from": "KK", "to": "KKp", "rate_per_ps": 0.05}],
    "source": {"valley": "KK", "w0_um": 0.6},
    "instrument": {"irf_fwhm_ps": 5.0},
}

THREE_VALLEYS = {
    "T_K": 50.0,
    "valley": [
        {"name": "KK", "E_meV": 0.0, "D_cm2_s": 0.5, "radiative_rate_per_ps": 0.05},
        {"name": "KKp", "E_meV": -51.5, "D_cm2_s": 3.0, "nonradiative_rate_per_ps": 0.002},
        {"name": "KL", "E_meV": -30.5, "D_cm2_s": 1.5, "nonradiative_rate_per_ps": 0.004},
    ],
    "transition": [
        {"from": "KK", "to": "KKp", "rate_per_ps": 0.05},
        {"from": "KK", "to": "KL", "rate_per_ps": 0.03},
        {"from": "KL", "to": "KKp", "rate_per_ps": 0.02},
    ],
    "source": {"valley": "KK", "w0_um": 0.6, "pulse_fwhm_ps": 2.0},
    "instrument": {"irf_fwhm_ps": 5.0, "w_psf_um": 0.3},
}


def linear_widths(seed: int, *, D_cm2_s=1.5, w0_2_um2=1.0, n=30, err_um2=0.02, t_max_ps=500.0):
    """w² = w0² + 4Dt (PHYSICS.md §1) plus Gaussian noise of known sigma."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, t_max_ps, n)
    w2 = w0_2_um2 + 4.0 * D_cm2_s * 1e-4 * t  # 1 cm²/s = 1e-4 µm²/ps (PHYSICS.md §0)
    err = np.full(n, err_um2)
    return pd.DataFrame(
        {"t_ps": t, "w2_um2": w2 + err * rng.standard_normal(n), "w2_err_um2": err, "ok": True}
    )


def write_linear_analysis(folder, *, seed=3, steps=200, walkers=8, extra=""):
    """A widths table and an ANALYSIS.toml for the linear model in ``folder``; returns the TOML."""
    from pathlib import Path

    from fitdiff.extract import write_table_csv

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_table_csv(linear_widths(seed), folder / "widths.csv")
    toml = folder / "analysis.toml"
    toml.write_text(
        f"""
[data]
widths = "widths.csv"

[model]
kind = "linear"

[parameters.D_cm2_s]
min = 0.0
max = 20.0
prior = {{ kind = "uniform", min = 0.0, max = 20.0 }}

[fit]
t_range_ps = [0.0, 500.0]

[sample]
walkers = {walkers}
steps = {steps}
burn = 50
seed = 7
{extra}
""",
        encoding="utf-8",
    )
    return toml


def tensor_widths(seed, *, D_cm2_s=(2.0, 0.8, 0.6), sigma0=(0.6, 0.5, 0.05), nt=10, n=24):
    """A ``shape="rotated"`` widths table of a simulated Poisson stack: Σ(t) = Σ0 + 2 D t
    (D in cm²/s, Σ0 (Sxx, Syy, Sxy) in µm²) sampled at pixel centres, 0.25 µm pixels, t = 0 to
    1000 ps, 2e4 photons per frame on 1 count/pixel; extracted by fitdiff.extract_widths."""
    from fitdiff.extract import extract_widths
    from fitdiff.io.measurement import Measurement

    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1000.0, nt)
    h = 0.25
    ax = (np.arange(n) - n / 2) * h
    yy, xx = np.meshgrid(ax, ax, indexing="ij")
    D = np.array(D_cm2_s) * 1e-4  # µm²/ps (PHYSICS.md §0: 1 cm²/s = 1e-4 µm²/ps)
    counts = np.empty((nt, n, n), dtype=np.uint16)
    for i, ti in enumerate(t):
        sxx, syy, sxy = np.array(sigma0) + 2 * D * ti
        det = sxx * syy - sxy * sxy
        q = (syy * xx * xx - 2 * sxy * xx * yy + sxx * yy * yy) / det
        counts[i] = rng.poisson(2e4 * h * h * np.exp(-0.5 * q) / (2 * np.pi * np.sqrt(det)) + 1.0)
    m = Measurement(
        counts, ("t", "y", "x"), {"t": t, "y": ax, "x": ax}, {"t": "ps", "y": "um", "x": "um"}
    )
    return extract_widths(m, shape="rotated")
