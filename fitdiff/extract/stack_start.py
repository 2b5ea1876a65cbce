"""Start values of the 2D Gaussian fit of a stack's frames when the brightest pixel misleads.

The default start (:func:`fitdiff.extract.widths.gauss_start`) takes the spot's peak from the
frame's largest pixel; for sparse photons that pixel is a fluctuation, so where the moment width
disagrees the start is the one of the two that fits the frame better. The comparison runs in
the compiled χ² kernel (:func:`fitdiff.extract.box2d_numba.chi2_gauss2d`) when numba is loaded,
else in numpy; both decide alike.
"""

from __future__ import annotations

import numpy as np

from . import compiled, lm
from .gauss import gaussian_model


def stack_start(p0, coords, grid, data, bad, offset, nm, mom) -> np.ndarray:
    """Start values (A, y0, x0, σ², c) of the frames of a stack: ``p0`` (the peak-based
    :func:`fitdiff.extract.widths.gauss_start`, modified in place), or the moment width where
    it fits the frame better.

    The peak-based width assumes the largest pixel is the spot's peak;
    in a frame of sparse photons (a TCSPC scan: most pixels 0 or 1) the largest pixel is a
    fluctuation several times the peak, the start ~10× too narrow and the fit needs ~20
    iterations (or collapses onto a noise feature). Where it is less than half the moment
    width, the start is whichever of the two Gaussians (the moment one with A from the moment
    intensity) has the smaller χ² with the weights of its own model (the measure the fit
    minimises); elsewhere the peak start stands, so clean frames are unchanged.

    Parameters
    ----------
    p0 : ndarray (B, 5)
        Peak-based start (A counts, y0 µm, x0 µm, σ² µm², c counts).
    coords : list of ndarray (Y·X,)
        Flattened pixel centres (y, x), µm.
    grid : (ndarray (Y,), ndarray (X,))
        The axes of the frames, µm.
    data, bad, offset : ndarray (B, Y·X)
        Counts after background subtraction, masked pixels, counts subtracted before.
    nm : NoiseModel
    mom : dict
        The frames' moments (``w2``, ``intensity``; :func:`fitdiff.extract.moments.profile_moments`).
    """
    s_mom = 0.5 * mom["w2"]  # σ² of a round spot with the moments' w² = σy² + σx²
    steps = [np.ptp(c) / max(len(c) - 1, 1) for c in grid]
    lo, hi = min(steps) ** 2 / 4, max(np.ptp(c) for c in grid) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = p0[:, 3] / s_mom
        # only the symptom of a fluctuating peak (too narrow); a wide noisy window can make
        # the moment width the smaller one, and there the peak start is the better
        cand = (s_mom > lo) & (s_mom < hi) & (mom["intensity"] > 0) & (ratio < 0.5)
    if not cand.any():
        return p0
    rows = np.flatnonzero(cand)
    alt = p0[rows].copy()
    alt[:, 3] = s_mom[rows]
    alt[:, 0] = mom["intensity"][rows] * float(np.prod(steps)) / (2 * np.pi * alt[:, 3])
    chi2 = _start_chi2(coords, grid, data, bad, offset, nm, rows, p0[rows], alt)
    take = chi2[:, 1] < chi2[:, 0]
    p0[rows[take]] = alt[take]
    return p0


def _start_chi2(coords, grid, data, bad, offset, nm, rows, p, q) -> np.ndarray:
    """χ² (R, 2) of the rows ``rows`` of ``data`` at the round-Gaussian parameters ``p`` and
    ``q`` (R rows), weights at each model (compiled for one offset number per frame when numba
    is loaded, reading the rows in place; else numpy); NaN where not admissible."""
    wanted = compiled.wanted(lm.NUMPY_SECONDS_PER_PIXEL * len(rows) * data.shape[1])
    kernel = lm._import_kernels_2d() if wanted else None
    off = offset if offset.strides[0] else offset[:1]
    if kernel is not None and (off == off[:, :1]).all():
        y, x = (np.ascontiguousarray(a, dtype=float) for a in grid)
        valid = ~bad if bad.any() else np.ones((1, data.shape[1]), dtype=bool)
        return kernel.chi2_gauss2d(
            y,
            x,
            lm._import_kernels().uniform_step(x),
            np.require(data, np.float64, ["C_CONTIGUOUS", "ALIGNED"]),
            np.asarray(rows, dtype=np.int64),
            np.ascontiguousarray(valid),
            np.ascontiguousarray(np.broadcast_to(off[:, 0], (len(data),)), dtype=float),
            np.ascontiguousarray(p, dtype=float),
            np.ascontiguousarray(q, dtype=float),
            0,
            float(nm.excess * nm.gain),
            float(nm.read_noise**2),
            float(nm.floor),
        )
    data, bad = data[rows], bad[rows]
    offset = np.broadcast_to(off[rows] if len(off) > 1 else off, data.shape)
    out = []
    for par in (p, q):
        mu, _ = gaussian_model(coords, isotropic=True).evaluate(par)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            chi2 = (~bad * (data - mu) ** 2 / nm.variance(mu + offset)).sum(axis=1)
        out.append(np.where(np.all(np.isfinite(par), axis=1) & (par[:, 3] > 0), chi2, np.nan))
    return np.column_stack(out)
