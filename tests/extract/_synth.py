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
