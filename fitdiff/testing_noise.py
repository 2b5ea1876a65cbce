"""Synthetic streak images with known truth and a known noise model, for honesty studies.

Three makers, each returning a :class:`~fitdiff.io.Measurement` whose ``meta`` holds the truth
(``truth``) and the camera noise model (``noise``):

* :func:`dice_streak` — the model of Thiebes & Grumstrup, J. Chem. Phys. 160, 124201 (2024)
  ("DICE"): a Gaussian line profile centred at x = 0 whose population decays as e^(−t/τ),
  white Gaussian noise of one standard deviation everywhere, CNR = peak / noise SD at t = 0.
* :func:`poisson_streak` — the same geometry recorded by photon counting (Poisson counts on a
  constant background of a few counts per pixel).
* :func:`analog_streak` — an analog camera (counts = gain × photoelectrons + read noise) on a
  fine pixel grid, for binning studies.

The profile convention is PHYSICS.md §1: I(x) ∝ exp(−x²/w²(t)) with w² = 2σ² = w0² + 4 D t, and
the integral of each slice is N0 e^(−t/τ) (the population decays; spreading lowers the peak).
"""

from __future__ import annotations

import math

import numpy as np

from .io.measurement import Measurement
from .units import UM2_PS_PER_CM2_S

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


def axes(x_um=DICE["x_um"], t_ps=DICE["t_ps"]) -> tuple[np.ndarray, np.ndarray]:
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
    t, x = axes(x_um, t_ps)
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
    t, x = axes(x_um, t_ps)
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
    t, x = axes(x_um, t_ps)
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
