"""Background-subtracted second moments, excess kurtosis and integrated intensity, all rows at once.

The window is the whole (cropped) profile; it biases the moment on non-compact profiles and is
therefore part of the result (``settings["x_range_um"]``). Errors are first-order (delta-method)
propagation of the pixel variances, including the background estimated from the edge pixels,
which enters every pixel and dominates the error of a wide window.
"""

from __future__ import annotations

import numpy as np


def edge_pixels(coords: list[np.ndarray], fraction: float) -> np.ndarray:
    """Pixels within ``fraction`` of the span from either end of any axis (N,) bool."""
    edge = np.zeros(coords[0].shape, dtype=bool)
    for c in coords:
        lo, hi = c.min(), c.max()
        band = fraction * (hi - lo)
        edge |= (c <= lo + band) | (c >= hi - band)
    return edge


def fill_masked(values: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Replace ``bad`` entries by linear interpolation along the last axis (vectorised).

    Moments, unlike a weighted fit, cannot give a pixel zero weight without biasing the width,
    so a dead column is bridged from its neighbours in the same row.
    """
    if not bad.any():
        return values
    n = values.shape[-1]
    idx = np.broadcast_to(np.arange(n), values.shape)
    left = np.maximum.accumulate(np.where(bad, -1, idx), axis=-1)
    right = np.flip(
        np.minimum.accumulate(np.flip(np.where(bad, n, idx), axis=-1), axis=-1), axis=-1
    )
    has_l, has_r = left >= 0, right < n
    vl = np.take_along_axis(values, np.clip(left, 0, n - 1), axis=-1)
    vr = np.take_along_axis(values, np.clip(right, 0, n - 1), axis=-1)
    span = np.where(has_l & has_r & (right > left), right - left, 1)
    frac = np.where(has_l & has_r, (idx - left) / span, 0.0)
    interp = np.where(has_l & has_r, vl + frac * (vr - vl), np.where(has_l, vl, vr))
    return np.where(bad & (has_l | has_r), interp, values)


def profile_moments(
    coords: list[np.ndarray],
    data: np.ndarray,
    variance: np.ndarray,
    edges: np.ndarray | None,
    backend: str = "auto",
) -> dict[str, np.ndarray]:
    """Moments of every row of ``data`` (B, N) on flattened pixel ``coords`` (µm).

    Parameters
    ----------
    coords : list of ndarray (N,)
        Pixel coordinates in µm (x; or x, y).
    data : ndarray (B, N)
        Counts with masked pixels already filled.
    variance : ndarray (B, N)
        Variance of each pixel in counts² (0 for filled pixels).
    edges : ndarray of bool (N,) or None
        Pixels whose mean is the constant background subtracted per row; None = none.

    backend : {"auto", "numpy", "numba"}
        "auto": the compiled two-pass kernel of :mod:`fitdiff.extract.moments_numba` when numba
        is installed and enabled (``FITDIFF_NUMBA``), else the numpy expressions below; both
        give the same numbers to rounding.

    Returns
    -------
    dict
        ``intensity`` (counts), ``center`` (list of µm arrays), ``sigma2`` (list per axis, µm²),
        ``w2`` (µm², sum of the axis variances, times 2 in 1D), their ``*_err``, ``background``
        (counts per pixel), ``kurtosis_excess`` (0 for a Gaussian).
    """
    fast = None if backend == "numpy" else _compiled(coords, data, variance, edges)
    if fast is not None:
        return fast
    nrow, npix = data.shape
    if edges is not None and edges.any():
        bg = data[:, edges].mean(axis=1)
    else:
        bg = np.zeros(nrow)
    y = data - bg[:, None]
    m0 = y.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        centres = [(y * c).sum(axis=1) / m0 for c in coords]
        u = [c[None, :] - cen[:, None] for c, cen in zip(coords, centres, strict=True)]
        f_axes = [uj * uj for uj in u]
        sig2 = [(f * y).sum(axis=1) / m0 for f in f_axes]
        r2 = sum(f_axes)
        w2_raw = sum(sig2)
        # 1D: Gaussian kurtosis 3; 2D: r² of a Gaussian is exponential, <r⁴>/<r²>² = 2
        gauss_ratio = 3.0 if len(coords) == 1 else 2.0
        kurt = (r2 * r2 * y).sum(axis=1) / m0 / w2_raw**2 - gauss_ratio

        def err(f, q):
            # d q / d pixel_j for q = sum f y / m0, including the edge-mean background
            direct = (f - q[:, None]) / m0[:, None]
            if edges is not None and edges.any():
                through_bg = direct.sum(axis=1) / edges.sum()
                direct = direct - np.where(edges[None, :], through_bg[:, None], 0.0)
            return np.sqrt((direct * direct * variance).sum(axis=1))

        sig2_err = [err(f, s) for f, s in zip(f_axes, sig2, strict=True)]
        w2_err = err(r2, w2_raw)
        d_int = np.ones((1, npix))
        if edges is not None and edges.any():
            d_int = d_int - np.where(edges, npix / edges.sum(), 0.0)[None, :]
        int_err = np.sqrt((d_int * d_int * variance).sum(axis=1))
    factor = 2.0 if len(coords) == 1 else 1.0
    return {
        "intensity": m0,
        "intensity_err": int_err,
        "center": centres,
        "sigma2": sig2,
        "sigma2_err": sig2_err,
        "w2": factor * w2_raw,
        "w2_err": factor * w2_err,
        "background": bg,
        "kurtosis_excess": kurt,
    }


def _compiled(coords, data, variance, edges) -> dict | None:
    """The moments from the compiled kernel, or None when numba is not available."""
    from .lm import numba_available

    if not numba_available() or len(coords) > 2:
        return None
    from . import moments_numba

    def req(a, dtype=np.float64):
        return np.require(a, dtype, ["C_CONTIGUOUS", "ALIGNED"])

    npix = data.shape[1]
    e = np.zeros(npix, dtype=bool) if edges is None else edges
    c = req(np.stack([np.asarray(ci, dtype=float) for ci in coords]))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = moments_numba.row_moments(c, req(data), req(variance), req(e, np.bool_))
    k = len(coords)
    return {
        "intensity": out[:, 0],
        "intensity_err": out[:, 1],
        "center": [out[:, 6 + a] for a in range(k)],
        "sigma2": [out[:, 8 + a] for a in range(k)],
        "sigma2_err": [out[:, 10 + a] for a in range(k)],
        "w2": out[:, 4],
        "w2_err": out[:, 5],
        "background": out[:, 2],
        "kurtosis_excess": out[:, 3],
    }
