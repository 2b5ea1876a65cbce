"""Moments of the frames of a stack through the compiled one-pass kernel, when it applies.

The same quantities as :func:`fitdiff.extract.moments.profile_moments` with the edge
background and the noise-model variance at the data (what :func:`~fitdiff.extract.extract_widths`
feeds it), plus each frame's largest pixel, from :mod:`fitdiff.extract.stack_numba` without the
(B, Y·X) variance array. Applies to 2D frames with no masked pixel and one offset number per
frame (the common case); otherwise, or when numba is not wanted (:mod:`.compiled`), returns
None and the caller takes the general path.
"""

from __future__ import annotations

import numpy as np

from . import compiled
from .moments import NUMPY_SECONDS_PER_PIXEL


def stack_moments(
    grid, data, bad, offset, noise, edge_fraction, numpy_seconds: float | None = None
) -> dict | None:
    """Moments of every frame of ``data`` (B, Y·X), or None when the compiled pass does not apply.

    Parameters
    ----------
    grid : (ndarray (Y,), ndarray (X,))
        Pixel-centre axes, µm; frames flattened y-major.
    data : ndarray (B, Y·X)
        Counts after background subtraction (float64).
    bad : bool
        Whether any pixel is masked (then None: masked pixels need the interpolating fill).
    offset : ndarray broadcastable to ``data``
        Counts subtracted before (the noise model sees ``data + offset``).
    noise : NoiseModel
        Pixel variance model (counts²).
    edge_fraction : float
        Background band of :func:`fitdiff.extract.moments.edge_pixels`.
    numpy_seconds : float, optional
        What the numpy path of the whole call is predicted to cost (s), for the rent-or-buy
        rule of :mod:`.compiled`: a Gaussian fit of the frames follows the moments and will
        load numba anyway, so its caller counts it here. Default: the moments alone.

    Returns
    -------
    dict or None
        The keys of :func:`~fitdiff.extract.moments.profile_moments` (axes y, x) and ``peak``
        (largest pixel of each frame, counts).
    """
    nrow, npix = data.shape
    if len(grid) != 2 or nrow == 0 or bad:
        return None
    off = np.asarray(offset, float).reshape(-1, npix) if np.ndim(offset) else None
    if off is not None:
        if off.strides[0] == 0:
            off = off[:1]
        if not (off == off[:, :1]).all():
            return None
        offc = np.broadcast_to(off[:, 0], (nrow,))
    else:
        offc = np.broadcast_to(float(offset), (nrow,))
    if not np.isfinite(offc).all():
        return None
    if numpy_seconds is None:
        numpy_seconds = NUMPY_SECONDS_PER_PIXEL * data.size
    if not compiled.wanted(numpy_seconds):
        return None
    try:
        from . import stack_numba as kernel
    except ImportError:
        return None
    y, x = (np.ascontiguousarray(a, dtype=float) for a in grid)
    edge = []
    for c in (y, x):  # the rule of moments.edge_pixels, per axis
        lo, hi = c.min(), c.max()
        band = edge_fraction * (hi - lo)
        edge.append((c <= lo + band) | (c >= hi - band))
    table = np.empty((nrow, kernel.PEAK + 1))
    kernel.frame_moments(
        y,
        x,
        np.require(data, np.float64, ["C_CONTIGUOUS", "ALIGNED"]),
        np.ascontiguousarray(offc, dtype=float),
        float(noise.excess * noise.gain),
        float(noise.read_noise**2),
        float(noise.floor),
        edge[0],
        edge[1],
        table,
    )
    nf = kernel.NFIXED
    return {
        "intensity": table[:, kernel.INTENSITY],
        "intensity_err": table[:, kernel.INTENSITY_ERR],
        "center": [table[:, nf], table[:, nf + 3]],
        "sigma2": [table[:, nf + 1], table[:, nf + 4]],
        "sigma2_err": [table[:, nf + 2], table[:, nf + 5]],
        "w2": table[:, kernel.W2],
        "w2_err": table[:, kernel.W2_ERR],
        "background": table[:, kernel.BACKGROUND],
        "kurtosis_excess": table[:, kernel.KURTOSIS],
        "peak": table[:, kernel.PEAK],
    }
