"""Synthetic streak images and stacks with known truth (PHYSICS.md §1: w² = w0² + 4Dt, w² = 2σ²)."""

from __future__ import annotations

import numpy as np

from fitdiff.io.measurement import Measurement
from fitdiff.units import UM2_PS_PER_CM2_S


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
    """Poisson streak image: ``photons`` e^(-t/tau) per row spread over a Gaussian of
    σ² = w²/2 (or a 50/50 mixture of σ² and 9σ² for ``profile="mixture"``), plus ``bg``
    counts per pixel. Returns (Measurement, true w² per row)."""
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
    """Poisson (t, y, x) stack of an axis-aligned Gaussian spot with σx² = sx2 (1 + growth·i),
    σy² likewise, centred at (0.4, -0.3) µm, 0.25 µm pixels. Returns (Measurement, σx², σy²)."""
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
