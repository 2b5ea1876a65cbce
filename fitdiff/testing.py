"""Synthetic measurements and models with known truth, shared by the tests and the benchmarks.

Every maker is deterministic for a given seed and documents the physics its truth follows
(PHYSICS.md §1: a Fickian spot has w² = w0² + 4Dt and a line profile of variance σ² = w²/2).
The model builders return plain dicts in the MODEL.toml schema, so a caller may change a key
before building a :class:`~fitdiff.solvers.ValleyModel`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fitdiff.io.measurement import Measurement
from fitdiff.units import UM2_PS_PER_CM2_S

__all__ = [
    "SEED000",
    "THREE_VALLEYS",
    "TWO_VALLEYS",
    "linear_widths",
    "stack",
    "streak",
    "streak_truth",
    "three_valley",
    "two_valley",
    "write_corrupt",
    "write_linear_analysis",
    "write_streak",
]

# ------------------------------------------------------------------ valley models (MODEL.toml)


def two_valley(**over) -> dict:
    """The documented negative-diffusion case (docs/guide/simulate.md, analyses README).

    A fast bright valley KK (D = 5 cm²/s) 10 meV above a slow dark valley KKp (0.5 cm²/s) at
    20 K, downhill rate 0.2/ps: at equilibrium KK holds g M e^(-ΔE/kT) / (1 + ...) ≈ 0.3 % of
    the excitons (PHYSICS.md §3.1 detailed balance), so its width is pulled toward KKp's.
    """
    d = {
        "T_K": 20.0,
        "valley": [
            {
                "name": "KK",
                "E_meV": 0.0,
                "M_m0": 0.5,
                "D_cm2_s": 5.0,
                "radiative_rate_per_ps": 0.01,
            },
            {"name": "KKp", "E_meV": -10.0, "M_m0": 0.5, "D_cm2_s": 0.5},
        ],
        "transition": [{"from": "KK", "to": "KKp", "rate_per_ps": 0.2}],
        "source": {"valley": "KK", "w0_um": 0.5, "t0_ps": 0.0, "pulse_fwhm_ps": 0.0},
    }
    d.update(over)
    return d


def three_valley(**over) -> dict:
    """A WS2-like three-valley case with unequal masses and degeneracies, decay and a pulse."""
    d = {
        "T_K": 77.0,
        "valley": [
            {
                "name": "KK",
                "E_meV": 0.0,
                "M_m0": 0.5,
                "D_cm2_s": 4.0,
                "radiative_rate_per_ps": 0.05,
                "nonradiative_rate_per_ps": 0.002,
            },
            {
                "name": "KKp",
                "E_meV": -51.5,
                "M_m0": 0.58,
                "g": 2.0,
                "D_cm2_s": 0.8,
                "nonradiative_rate_per_ps": 0.002,
            },
            {
                "name": "KL",
                "E_meV": -30.5,
                "M_m0": 0.75,
                "g": 2.0,
                "D_cm2_s": 1.5,
                "nonradiative_rate_per_ps": 0.002,
            },
        ],
        "transition": [
            {"from": "KK", "to": "KKp", "rate_per_ps": 0.3},
            {"from": "KK", "to": "KL", "rate_per_ps": 0.5},
            {"from": "KL", "to": "KKp", "rate_per_ps": 0.1},
        ],
        "source": {"valley": "KK", "w0_um": 0.5, "t0_ps": 5.0, "pulse_fwhm_ps": 2.0},
    }
    d.update(over)
    return d


# A two-valley bright/dark model for the fitting tests (PHYSICS.md §3.1): the dark valley KKp
# lies 30 meV below the bright KK (order of seed 001's 30.5 / 51.5 meV offsets) and diffuses
# faster, so the PL width is pulled toward the dark majority's. Copy before changing it.
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

#: Three valleys with seed 001's KK′ and KL offsets (51.5 and 30.5 meV), a pulse and an IRF.
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


# ------------------------------------------------------------------ widths tables


def linear_widths(seed: int, *, D_cm2_s=1.5, w0_2_um2=1.0, n=30, err_um2=0.02, t_max_ps=500.0):
    """w² = w0² + 4Dt (PHYSICS.md §1) in µm² plus Gaussian noise of known σ = ``err_um2``.

    Returns a widths table (``t_ps, w2_um2, w2_err_um2, ok``) on ``n`` times in [0, t_max] ps.
    """
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, t_max_ps, n)
    w2 = w0_2_um2 + 4.0 * D_cm2_s * UM2_PS_PER_CM2_S * t
    err = np.full(n, err_um2)
    return pd.DataFrame(
        {"t_ps": t, "w2_um2": w2 + err * rng.standard_normal(n), "w2_err_um2": err, "ok": True}
    )


def write_linear_analysis(folder, *, seed=3, steps=200, walkers=8, extra=""):
    """A widths table and an ANALYSIS.toml for the linear model in ``folder``; returns the TOML.

    ``extra`` is appended to the ``[sample]`` table (more keys or further tables).
    """
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


# ------------------------------------------------------------------ streak images and stacks


def streak_truth(t_ps, D_cm2_s, w0_um):
    """Squared width w²(t) in µm² of a Fickian spot (PHYSICS.md §1); w0² before t = 0."""
    return w0_um**2 + 4.0 * D_cm2_s * UM2_PS_PER_CM2_S * np.clip(t_ps, 0.0, None)


def streak(
    seed=0,
    *,
    nt=200,
    nx=128,
    t_ps=(-100.0, 1500.0),
    x_um=(-8.0, 8.0),
    D_cm2_s=5.0,
    w0_um=1.5,
    photons=2e4,
    tau_ps=800.0,
    bg=3.0,
    center_um=0.3,
    dims=("t", "x"),
    profile="gauss",
):
    """Poisson streak image with known w²(t).

    ``photons`` e^(-t/tau) per row (t in ps, none before t = 0) spread over a Gaussian of
    σ² = w²/2 µm² (or a 50/50 mixture of σ² and 9σ² for ``profile="mixture"``) centred at
    ``center_um``, plus ``bg`` counts per pixel. Returns (Measurement, true w² per row in µm²).
    """
    rng = np.random.default_rng(seed)
    t = np.linspace(*t_ps, nt)
    x = np.linspace(*x_um, nx)
    dx = x[1] - x[0]
    w2 = streak_truth(t, D_cm2_s, w0_um)
    s2 = w2[:, None] / 2.0
    n = np.where(t >= 0, photons * np.exp(-np.clip(t, 0, None) / tau_ps), 0.0)[:, None]
    u2 = (x[None, :] - center_um) ** 2

    def g(var):
        return dx * np.exp(-u2 / (2 * var)) / np.sqrt(2 * np.pi * var)

    shape = g(s2) if profile == "gauss" else 0.5 * g(s2) + 0.5 * g(9 * s2)
    mean = n * shape + bg
    counts = rng.poisson(mean).astype(np.uint16)
    m = Measurement(counts, ("t", "x"), {"t": t, "x": x}, {"t": "ps", "x": "um"})
    if dims != ("t", "x"):
        m = m.transpose(*dims)
    return m, w2


def stack(seed=0, *, nt=12, ny=48, nx=64, sx2=2.0, sy2=2.0, photons=4e5, bg=2.0, growth=0.1):
    """Poisson (t, y, x) stack of an axis-aligned Gaussian spot.

    σx² = sx2 (1 + growth·i) µm² in frame i (σy² likewise), centred at (0.4, -0.3) µm, 0.25 µm
    pixels, frames 50 ps apart. Returns (Measurement, σx², σy²).
    """
    rng = np.random.default_rng(seed)
    t = np.arange(nt) * 50.0
    y = (np.arange(ny) - ny / 2) * 0.25
    x = (np.arange(nx) - nx / 2) * 0.25
    fx = sx2 * (1 + growth * np.arange(nt))
    fy = sy2 * (1 + growth * np.arange(nt))
    arg = (x[None, None, :] - 0.4) ** 2 / (2 * fx[:, None, None]) + (
        y[None, :, None] + 0.3
    ) ** 2 / (2 * fy[:, None, None])
    norm = 0.25**2 / (2 * np.pi * np.sqrt(fx * fy))[:, None, None]
    counts = rng.poisson(photons * norm * np.exp(-arg) + bg)
    m = Measurement(
        counts, ("t", "y", "x"), {"t": t, "y": y, "x": x}, {"t": "ps", "y": "um", "x": "um"}
    )
    return m, fx, fy


# ------------------------------------------------------------------ files for campaigns

#: Seed 000 Fig. 2 parameters (PHYSICS.md §2 reference values): a D(T) streaks can follow.
SEED000 = {"xi_eV": 7.0, "M_m0": 0.5, "rho_g_cm2": 4.46e-7, "s_cm_s": 4.1e5}


def write_streak(path: Path, D_cm2_s: float, *, seed: int, w0_um: float = 1.5) -> None:
    """A tiny Poisson streak image (41 × 61 px) of a Fickian spot, saved as calibrated TIFF.

    w² = w0² + 4Dt and a line profile has σ² = w²/2 (PHYSICS.md §1); 2e4 photons per row
    decaying with 800 ps, 2 background counts per pixel; t in 0–1000 ps, x in ±6 µm.
    """
    from fitdiff.io import save

    m, _ = streak(
        seed,
        nt=41,
        nx=61,
        t_ps=(0.0, 1000.0),
        x_um=(-6.0, 6.0),
        D_cm2_s=D_cm2_s,
        w0_um=w0_um,
        photons=2e4,
        tau_ps=800.0,
        bg=2.0,
        center_um=0.0,
    )
    save(m, path)


def write_corrupt(path: Path) -> None:
    """A TIFF header followed by garbage: the loader must reject it."""
    Path(path).write_bytes(b"II*\x00" + bytes(range(256)) * 4)
