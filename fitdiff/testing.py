"""Synthetic measurements and models with known truth, shared by the tests and the benchmarks.

Every maker is deterministic for a given seed and documents the physics its truth follows
(PHYSICS.md §1: a Fickian spot has w² = w0² + 4Dt and a line profile of variance σ² = w²/2).
The model builders return plain dicts in the MODEL.toml schema, so a caller may change a key
before building a :class:`~fitdiff.solvers.ValleyModel`.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from fitdiff.io.measurement import Measurement
from fitdiff.units import UM2_PS_PER_CM2_S

__all__ = [
    "DICE",
    "SEED000",
    "THREE_VALLEYS",
    "TWO_VALLEYS",
    "analog_streak",
    "dice_streak",
    "grid_axes",
    "linear_widths",
    "rotated_stack",
    "poisson_peak_for_cnr",
    "poisson_streak",
    "stack",
    "streak",
    "streak_mean",
    "streak_truth",
    "three_valley",
    "two_valley",
    "valley_curves",
    "write_corrupt",
    "write_linear_analysis",
    "tensor_widths",
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


def valley_curves(
    model: dict, t_ps, seed: int, *, w2_err_um2=0.01, pl_scale=1e6, pl_rel_err=0.02
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """w²_PL(t) and PL(t) of a valley ``model`` dict (exact moments, PHYSICS.md §3.3) with noise.

    Widths carry Gaussian noise of σ = ``w2_err_um2`` (µm²); the PL is scaled to counts by
    ``pl_scale`` with σ = ``pl_rel_err`` · counts + 1. Returns the widths table
    (``t_ps, w2_um2, w2_err_um2``) and the kinetics table (``t_ps, intensity, intensity_err``).
    """
    from fitdiff.solvers import ValleyModel, solve_moments

    rng = np.random.default_rng(seed)
    t = np.asarray(t_ps, float)
    sol = solve_moments(ValleyModel.from_dict(model), t)
    w_err = np.full(t.size, w2_err_um2)
    counts = pl_scale * sol.pl
    c_err = pl_rel_err * counts + 1.0
    widths = pd.DataFrame(
        {
            "t_ps": t,
            "w2_um2": sol.w2_pl_um2 + w_err * rng.standard_normal(t.size),
            "w2_err_um2": w_err,
        }
    )
    pl = pd.DataFrame(
        {
            "t_ps": t,
            "intensity": counts + c_err * rng.standard_normal(t.size),
            "intensity_err": c_err,
        }
    )
    return widths, pl


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


def rotated_stack(
    seed=0,
    *,
    nt=12,
    n=40,
    h=0.25,
    sigma0=(1.0, 1.0, 0.0),
    D_um2_ps=(3e-4, 1e-4, 1e-4),
    t_ps=(0.0, 1000.0),
    photons=4e4,
    bg=2.0,
    center=(0.3, -0.2),
):
    """Poisson (t, y, x) stack of a tilted elliptical Gaussian: Σ(t) = Σ0 + 2 D t with
    Σ0 = (Sxx, Syy, Sxy) ``sigma0`` µm² and D = (Dxx, Dyy, Dxy) ``D_um2_ps`` µm²/ps, pixel-centre
    sampling of ``photons`` per frame on n × n pixels of ``h`` µm, centre (x, y) ``center``.
    Returns (Measurement, true (T, 3) array of (Sxx, Syy, Sxy))."""
    rng = np.random.default_rng(seed)
    t = np.linspace(*t_ps, nt)
    y = (np.arange(n) - n / 2) * h
    x = (np.arange(n) - n / 2) * h
    yy, xx = np.meshgrid(y - center[1], x - center[0], indexing="ij")
    truth = np.array(sigma0)[None, :] + 2.0 * np.array(D_um2_ps)[None, :] * t[:, None]
    counts = np.empty((nt, n, n), dtype=np.uint16)
    for i, (sxx, syy, sxy) in enumerate(truth):
        det = sxx * syy - sxy * sxy
        q = (syy * xx * xx - 2 * sxy * xx * yy + sxx * yy * yy) / det
        mean = photons * h * h * np.exp(-0.5 * q) / (2 * np.pi * np.sqrt(det)) + bg
        counts[i] = rng.poisson(mean)
    m = Measurement(
        counts, ("t", "y", "x"), {"t": t, "y": y, "x": x}, {"t": "ps", "y": "um", "x": "um"}
    )
    return m, truth


def tensor_widths(seed, *, D_cm2_s=(2.0, 0.8, 0.6), sigma0=(0.6, 0.5, 0.05), nt=10, n=24):
    """A ``shape="rotated"`` widths table of a simulated Poisson stack: Σ(t) = Σ0 + 2 D t
    (D in cm²/s, Σ0 (Sxx, Syy, Sxy) in µm²) sampled at pixel centres, 0.25 µm pixels, t = 0 to
    1000 ps, 2e4 photons per frame on 1 count/pixel; extracted by fitdiff.extract_widths."""
    from fitdiff.extract import extract_widths

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


# ------------------------------------------------------------------ noise studies (honest D)
#
# Synthetic streak images with known truth and a known noise model, for honesty studies.
#
# Three makers, each returning a :class:`~fitdiff.io.Measurement` whose ``meta`` holds the truth
# (``truth``) and the camera noise model (``noise``):
#
# * :func:`dice_streak` — the model of Thiebes & Grumstrup, J. Chem. Phys. 160, 124201 (2024)
#   ("DICE"): a Gaussian line profile centred at x = 0 whose population decays as e^(−t/τ),
#   white Gaussian noise of one standard deviation everywhere, CNR = peak / noise SD at t = 0.
# * :func:`poisson_streak` — the same geometry recorded by photon counting (Poisson counts on a
#   constant background of a few counts per pixel).
# * :func:`analog_streak` — an analog camera (counts = gain × photoelectrons + read noise) on a
#   fine pixel grid, for binning studies.
#
# The profile convention is PHYSICS.md §1: I(x) ∝ exp(−x²/w²(t)) with w² = 2σ² = w0² + 4 D t, and
# the integral of each slice is N0 e^(−t/τ) (the population decays; spreading lowers the peak).

#: FWHM = 2 sqrt(ln 2) w for exp(−x²/w²).
_FWHM_PER_W = 2.0 * math.sqrt(math.log(2.0))

#: DICE's geometry and truth (J. Chem. Phys. 160, 124201 (2024), the settings quoted in the
#: fitdiff issue on honest D): FWHM0 1 µm, D 0.1 cm²/s, τ 1 ns, 100 px over 5 µm, 10 frames
#: over 1 ns.
DICE = {
    "fwhm0_um": 1.0,
    "D_cm2_s": 0.1,
    "lifetime_ps": 1000.0,
    "x_um": (-2.5, 2.5, 100),
    "t_ps": (0.0, 1000.0, 10),
}


def grid_axes(x_um=DICE["x_um"], t_ps=DICE["t_ps"]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres ``(t_ps, x_um)`` from ``[start, stop, count]`` triples (endpoints kept)."""
    return np.linspace(*t_ps[:2], int(t_ps[2])), np.linspace(*x_um[:2], int(x_um[2]))


def streak_mean(
    t_ps: np.ndarray,
    x_um: np.ndarray,
    *,
    peak: float,
    w0_um: float,
    D_cm2_s: float,
    lifetime_ps: float,
    background: float = 0.0,
    center_um: float = 0.0,
) -> np.ndarray:
    """Noise-free image (T, X) in counts: peak·(w0/w(t))·e^(−t/τ)·exp(−(x−x0)²/w²(t)) + bg.

    ``peak`` is the value at t = 0, x = x0 above the background (counts); ``w0_um`` the 1/e
    half-width at t = 0 (µm); w²(t) = w0² + 4 D t with D in cm²/s.
    """
    w2 = w0_um**2 + 4.0 * D_cm2_s * UM2_PS_PER_CM2_S * np.asarray(t_ps, float)
    amp = peak * np.exp(-np.asarray(t_ps, float) / lifetime_ps) * np.sqrt(w0_um**2 / w2)
    prof = np.exp(-((np.asarray(x_um, float)[None, :] - center_um) ** 2) / w2[:, None])
    return amp[:, None] * prof + background


def _measurement(counts, t, x, truth, noise, fmt) -> Measurement:
    return Measurement(
        counts=counts,
        dims=("t", "x"),
        coords={"t": t, "x": x},
        units={"t": "ps", "x": "um"},
        meta={"truth": truth, "noise": noise},
        format=fmt,
    )


def dice_streak(
    cnr: float,
    rng: np.random.Generator | int,
    *,
    peak: float = 1000.0,
    fwhm0_um: float = DICE["fwhm0_um"],
    D_cm2_s: float = DICE["D_cm2_s"],
    lifetime_ps: float = DICE["lifetime_ps"],
    x_um=DICE["x_um"],
    t_ps=DICE["t_ps"],
) -> Measurement:
    """A streak on DICE's model: white Gaussian noise of SD ``peak / cnr`` on every pixel.

    The noise model stored in ``meta["noise"]`` is ``{gain: 0, read_noise: peak/cnr}``
    (signal-independent variance).
    """
    rng = np.random.default_rng(rng)
    t, x = grid_axes(x_um, t_ps)
    w0 = fwhm0_um / _FWHM_PER_W
    mean = streak_mean(t, x, peak=peak, w0_um=w0, D_cm2_s=D_cm2_s, lifetime_ps=lifetime_ps)
    sd = peak / cnr
    counts = mean + rng.normal(0.0, sd, mean.shape)
    truth = {"D_cm2_s": D_cm2_s, "w0_um": w0, "w0_2_um2": w0**2, "peak": peak, "cnr": cnr}
    return _measurement(counts, t, x, truth, {"gain": 0.0, "read_noise": sd}, "synthetic-dice")


def poisson_peak_for_cnr(cnr: float, background: float) -> float:
    """Peak counts above ``background`` whose CNR = peak / sqrt(peak + background) is ``cnr``."""
    # peak² − cnr² peak − cnr² bg = 0, positive root
    c2 = cnr * cnr
    return 0.5 * (c2 + math.sqrt(c2 * c2 + 4.0 * c2 * background))


def poisson_streak(
    cnr: float,
    rng: np.random.Generator | int,
    *,
    background: float = 3.0,
    fwhm0_um: float = DICE["fwhm0_um"],
    D_cm2_s: float = DICE["D_cm2_s"],
    lifetime_ps: float = DICE["lifetime_ps"],
    x_um=DICE["x_um"],
    t_ps=DICE["t_ps"],
) -> Measurement:
    """Photon-counting streak (Poisson counts) on ``background`` counts/pixel.

    CNR is the peak above background over the Poisson SD at the peak pixel,
    peak / sqrt(peak + background) (:func:`poisson_peak_for_cnr`).
    """
    rng = np.random.default_rng(rng)
    t, x = grid_axes(x_um, t_ps)
    w0 = fwhm0_um / _FWHM_PER_W
    peak = poisson_peak_for_cnr(cnr, background)
    mean = streak_mean(
        t, x, peak=peak, w0_um=w0, D_cm2_s=D_cm2_s, lifetime_ps=lifetime_ps, background=background
    )
    counts = rng.poisson(mean).astype(float)
    truth = {
        "D_cm2_s": D_cm2_s,
        "w0_um": w0,
        "w0_2_um2": w0**2,
        "peak": peak,
        "background": background,
        "cnr": cnr,
    }
    noise = {"gain": 1.0, "read_noise": 0.0}
    return _measurement(counts, t, x, truth, noise, "synthetic-poisson")


def analog_streak(
    rng: np.random.Generator | int,
    *,
    peak_electrons: float = 400.0,
    gain: float = 2.0,
    read_noise: float = 30.0,
    background_electrons: float = 5.0,
    w0_um: float = 1.5,
    D_cm2_s: float = 1.0,
    lifetime_ps: float = 500.0,
    x_um=(-10.0, 10.0, 256),
    t_ps=(0.0, 400.0, 64),
) -> Measurement:
    """Analog camera: counts = gain · Poisson(photoelectrons) + Normal(0, read_noise).

    Fine pixels (default 256 × 64) meant to be binned; ``meta["noise"]`` is the per-pixel model
    ``{gain, read_noise}`` (counts). w²(t) = w0² + 4 D t, the truth in ``meta["truth"]``.
    """
    rng = np.random.default_rng(rng)
    t, x = grid_axes(x_um, t_ps)
    mean_e = streak_mean(
        t,
        x,
        peak=peak_electrons,
        w0_um=w0_um,
        D_cm2_s=D_cm2_s,
        lifetime_ps=lifetime_ps,
        background=background_electrons,
    )
    counts = gain * rng.poisson(mean_e) + rng.normal(0.0, read_noise, mean_e.shape)
    truth = {"D_cm2_s": D_cm2_s, "w0_um": w0_um, "w0_2_um2": w0_um**2, "gain": gain}
    noise = {"gain": gain, "read_noise": read_noise}
    return _measurement(counts, t, x, truth, noise, "synthetic-analog")


def with_numba_setting(value: str, fn):
    """Call ``fn()`` with ``FITDIFF_NUMBA`` set to ``value`` and restore it afterwards.

    The compiled kernels read the variable at each call (``"0"`` numpy only, ``"1"`` compiled
    whenever numba is installed), so a benchmark times both paths in one process this way.
    """
    old = os.environ.get("FITDIFF_NUMBA")
    os.environ["FITDIFF_NUMBA"] = value
    try:
        return fn()
    finally:
        if old is None:
            del os.environ["FITDIFF_NUMBA"]
        else:
            os.environ["FITDIFF_NUMBA"] = old
