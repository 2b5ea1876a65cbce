"""Background-subtracted second moments, excess kurtosis and integrated intensity, all rows at once.

The window is the whole (cropped) profile; it biases the moment on non-compact profiles and is
therefore part of the result (``settings["x_range_um"]``). Errors are first-order (delta-method)
propagation of the pixel variances, including the background estimated from the edge pixels,
which enters every pixel and dominates the error of a wide window.
"""

from __future__ import annotations

import numpy as np

from ..errors import ExtractionError, MissingExtraError
from . import compiled
from .lm import row_offsets


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


#: Seconds per pixel of the numpy moment pass (1024 × 1024 streak in ~40 ms on the idle
#: 2-core CI box, docs/guide/performance.md): what ``auto`` predicts it would cost.
NUMPY_SECONDS_PER_PIXEL = 4e-8
BACKENDS = ("auto", "numpy", "numba")


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

    Returns
    -------
    dict
        ``intensity`` (counts), ``center`` (list of µm arrays), ``sigma2`` (list per axis, µm²),
        ``w2`` (µm², sum of the axis variances, times 2 in 1D), their ``*_err``, ``background``
        (counts per pixel), ``kurtosis_excess`` (0 for a Gaussian).

    Other Parameters
    ----------------
    backend : {"auto", "numpy", "numba"}
        "numba": one compiled pass per row (:mod:`fitdiff.extract.moments_numba`; the same
        formulas, sums in another order); "numpy": array passes; "auto": the compiled pass when
        loading numba pays (:mod:`fitdiff.extract.compiled`).
    """
    if backend not in BACKENDS:
        raise ExtractionError(f"backend = {backend!r}; allowed {BACKENDS}")
    if backend == "numba" or (
        backend == "auto" and compiled.wanted(NUMPY_SECONDS_PER_PIXEL * np.size(data))
    ):
        kernel = _kernel()
        if kernel is not None:
            return _compiled_moments(kernel, coords, data, variance, edges)
        if backend == "numba":
            raise MissingExtraError("numba", "fast", "backend = 'numba'")
    if backend == "auto":
        compiled.spent_numpy(NUMPY_SECONDS_PER_PIXEL * np.size(data))
    return _numpy_moments(coords, data, variance, edges)


def _kernel():
    try:
        from . import moments_numba
    except ImportError:
        return None
    return moments_numba


def _compiled_moments(kernel, coords, data, variance, edges) -> dict[str, np.ndarray]:
    """:func:`profile_moments` through the compiled per-row pass."""

    def req(a, dtype=np.float64):  # one array layout: each distinct one is a compilation
        return np.require(a, dtype, ["C_CONTIGUOUS", "ALIGNED"])

    k = len(coords)
    nrow, npix = data.shape
    table = np.empty((nrow, kernel.NFIXED + 3 * k))
    if edges is None:
        edges = np.zeros(npix, dtype=bool)
    kernel.row_moments(
        req(np.vstack(coords)),
        req(data),
        req(variance),
        req(edges, np.bool_),
        3.0 if k == 1 else 2.0,
        table,
    )
    axis = [table[:, kernel.NFIXED + 3 * a : kernel.NFIXED + 3 * a + 3] for a in range(k)]
    factor = 2.0 if k == 1 else 1.0
    return {
        "intensity": table[:, kernel.INTENSITY],
        "intensity_err": table[:, kernel.INTENSITY_ERR],
        "center": [c[:, 0] for c in axis],
        "sigma2": [c[:, 1] for c in axis],
        "sigma2_err": [c[:, 2] for c in axis],
        "w2": factor * table[:, kernel.W2],
        "w2_err": factor * table[:, kernel.W2_ERR],
        "background": table[:, kernel.BACKGROUND],
        "kurtosis_excess": table[:, kernel.KURTOSIS],
    }


def _numpy_moments(coords, data, variance, edges) -> dict[str, np.ndarray]:
    """:func:`profile_moments` as numpy array passes."""
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
        # in 1D r² is the one axis' f and w²_raw its σ²: the same error, computed once
        w2_err = sig2_err[0] if len(coords) == 1 else err(r2, w2_raw)
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


def streak_moments(
    x, data, bad, offset, noise, edges, numpy_seconds: float | None = None
) -> dict | None:
    """:func:`profile_moments` of 1D rows with the noise-model variance at the data, in one
    compiled kernel, or None when it does not apply (the caller takes the general path).

    The variance of a pixel, ``noise.variance(data + offset)``, is evaluated inside the
    kernel (:func:`fitdiff.extract.moments_numba.row_moments_noise1d`) instead of as a
    (B, N) array, and each row's largest pixel comes out of the same sweep. Applies to rows
    with no masked pixel and one offset number per row, when numba is wanted
    (:mod:`.compiled`).

    Parameters
    ----------
    x : ndarray (N,)
        Pixel centres, µm.
    data : ndarray (B, N)
        Counts after background subtraction (float64, finite).
    bad : bool
        Whether any pixel is masked (then None).
    offset : ndarray broadcastable to ``data``
        Counts subtracted before (the noise model sees ``data + offset``).
    noise : NoiseModel
        Pixel variance model (counts²).
    edges : ndarray of bool (N,)
        Background pixels (:func:`edge_pixels`).
    numpy_seconds : float, optional
        What the numpy path of the whole call is predicted to cost (s), for the rent-or-buy
        rule of :mod:`.compiled`. Default: the moments alone.

    Returns
    -------
    dict or None
        The keys of :func:`profile_moments` and ``peak`` (largest pixel of each row, counts).
    """
    if bad or data.shape[0] == 0:
        return None
    if numpy_seconds is None:
        numpy_seconds = NUMPY_SECONDS_PER_PIXEL * data.size
    if not compiled.wanted(numpy_seconds):
        return None
    offc = row_offsets(offset, data.shape)
    kernel = _kernel()
    if offc is None or kernel is None or not np.isfinite(offc).all():
        return None
    table = np.empty((data.shape[0], kernel.NFIXED + 3))
    peak = np.empty(data.shape[0])
    kernel.row_moments_noise1d(
        np.ascontiguousarray(x, dtype=float),
        np.require(data, np.float64, ["C_CONTIGUOUS", "ALIGNED"]),
        np.ascontiguousarray(offc),
        float(noise.excess * noise.gain),
        float(noise.read_noise**2),
        float(noise.floor),
        np.ascontiguousarray(edges, dtype=bool),
        table,
        peak,
    )
    nf = kernel.NFIXED
    return {
        "intensity": table[:, kernel.INTENSITY],
        "intensity_err": table[:, kernel.INTENSITY_ERR],
        "center": [table[:, nf]],
        "sigma2": [table[:, nf + 1]],
        "sigma2_err": [table[:, nf + 2]],
        "w2": 2.0 * table[:, kernel.W2],
        "w2_err": 2.0 * table[:, kernel.W2_ERR],
        "background": table[:, kernel.BACKGROUND],
        "kurtosis_excess": table[:, kernel.KURTOSIS],
        "peak": peak,
    }
