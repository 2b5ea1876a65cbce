"""Errors a Gaussian profile fit *should* have: the inverse Fisher information of one slice.

For a profile mu(x; A, centre, σ², c) on pixels with variance v(mu) (the camera noise model),
the Fisher information of Gaussian or Poisson pixels is F = Jᵀ diag(1/v) J, and F⁻¹ is the
covariance an efficient fit attains (the Cramér–Rao bound). Evaluated at *model* parameters —
not at a slice's own fitted width — it gives errors that do not fluctuate with the noise of the
slice, which is what the weights of a w²(t) fit must be: a slice that fluctuated narrow also
gets a small own error (r ≈ 0.9 between w² and its error at low signal), so weighting by the
own error favours narrow slices and biases D low.
"""

from __future__ import annotations

import numpy as np

from . import compiled
from .gauss import gaussian_model
from .lm import _inverse, row_offsets
from .noise import NoiseModel


def distinct(c: np.ndarray) -> int:
    """Number of distinct values of one flattened pixel-centre axis; a strictly monotonic one
    (a streak's x) needs no sort."""
    c = np.asarray(c)
    if c.ndim == 1 and c.size > 1:
        step = np.diff(c)
        if (step > 0).all() or (step < 0).all():
            return int(c.size)
    return len(np.unique(c))


def pixel_area(coords: list[np.ndarray], grid: tuple | None = None) -> float:
    """Area of one pixel (µm^k) from flattened pixel-centre coordinates (uniform steps), or
    from the axes ``grid`` of the mesh when given (no sort of the flattened coordinates)."""
    axes = coords if grid is None else grid
    n = [distinct(c) for c in coords] if grid is None else [len(g) for g in grid]
    return float(np.prod([np.ptp(c) / max(k - 1, 1) for c, k in zip(axes, n, strict=True)]))


def gauss_params(
    coords: list[np.ndarray],
    intensity: np.ndarray,
    sigma2: np.ndarray | list[np.ndarray],
    centres: list[np.ndarray],
    background: np.ndarray,
    grid: tuple | None = None,
) -> np.ndarray:
    """Parameter rows (A, centres, σ²(s), c) of :func:`~fitdiff.extract.gauss.gaussian_model`.

    Parameters
    ----------
    coords : list of ndarray (N,)
        Flattened pixel centres per spatial axis (µm).
    intensity : ndarray (B,)
        Integrated counts of each slice above background (sum over pixels).
    sigma2 : ndarray (B,) or list of one per axis
        Variance σ² (µm²), one shared (isotropic) or one per axis.
    centres : list of ndarray (B,)
        Centre per axis (µm), same order as ``coords``.
    background : ndarray (B,)
        Constant level under the profile (counts per pixel).
    grid : (ndarray (Y,), ndarray (X,)), optional
        The axes of the mesh ``coords`` is (see :func:`pixel_area`).
    """
    k = len(coords)
    s = [np.asarray(sigma2, float)] if not isinstance(sigma2, list) else list(sigma2)
    norm = (2 * np.pi) ** (k / 2) * np.sqrt(np.prod(s, axis=0) if len(s) > 1 else s[0] ** k)
    amp = np.asarray(intensity, float) * pixel_area(coords, grid) / norm
    return np.column_stack([amp, *centres, *s, background])


def gauss_covariance(
    coords: list[np.ndarray],
    p: np.ndarray,
    noise: NoiseModel,
    *,
    offset: np.ndarray | float = 0.0,
    valid: np.ndarray | None = None,
    isotropic: bool = True,
    grid: tuple | None = None,
) -> np.ndarray:
    """Inverse Fisher information (B, P, P) of Gaussian-plus-constant fits at parameters ``p``.

    Parameters
    ----------
    coords : list of ndarray (N,)
        Flattened pixel centres per axis (µm).
    p : ndarray (B, P)
        Parameter rows (A, centres, σ²(s), c) in the layout of ``gaussian_model``.
    noise : NoiseModel
        Variance of a pixel at its raw expected level ``mu + offset`` (counts²).
    offset : float or ndarray (B, N)
        Counts subtracted before fitting (so the variance sees the raw level).
    valid : ndarray of bool (B, N), optional
        Pixels that take part (default all).
    isotropic : bool
        Layout of ``p``: one σ² (True) or one per axis.
    grid : (ndarray (Y,), ndarray (X,)), optional
        The axes of a 2D frame whose ``ij`` mesh ``coords`` is: with numba loaded (the rule
        of :mod:`fitdiff.extract.compiled`) and one offset number per row, the compiled pass
        of :func:`fitdiff.extract.box2d_numba.information_gauss2d` computes it (the same sums
        over the spot's box, the constant rest of the frame in closed form).

    Returns
    -------
    ndarray (B, P, P)
        Covariance; NaN for rows whose information matrix is singular or non-finite.
    """
    p = np.asarray(p, float)
    if grid is not None and len(coords) == 2:
        cov = _compiled_covariance(grid, p, noise, offset, valid, isotropic)
        if cov is not None:
            return cov
    model = gaussian_model(coords, isotropic=isotropic)
    ok = model.admissible(p)
    out = np.full((p.shape[0], p.shape[1], p.shape[1]), np.nan)
    if not ok.any():
        return out
    info = _info_compiled(coords, p[ok], noise, offset, valid, ok) if len(coords) == 1 else None
    if isinstance(info, tuple):  # the box kernel inverts as well (same rules as below)
        out[ok] = info[1]
        return out
    if info is None:
        mu, cache = model.evaluate(p[ok])
        off = np.broadcast_to(np.asarray(offset, float), (p.shape[0], mu.shape[1]))[ok]
        w = 1.0 / noise.variance(mu + off)
        if valid is not None:
            w = w * np.asarray(valid, bool)[ok]
        jac = model.jacobian(p[ok], cache)
        info = np.matmul(jac * w[:, None, :], jac.transpose(0, 2, 1))
    cov = np.full_like(info, np.nan)
    good = np.all(np.isfinite(info), axis=(1, 2))
    cov[good] = _inverse(info[good])
    cov[~np.all(np.diagonal(cov, axis1=1, axis2=2) > 0, axis=1)] = np.nan
    out[ok] = cov
    return out


#: numpy seconds per (row × pixel) of :func:`gauss_covariance` on an idle core (~20 array
#: passes over (B, N) and (B, 4, N) arrays; ~65 ms for 640 rows × 1024 pixels): what the
#: compiled path's rent-or-buy rule (:mod:`.compiled`) weighs.
NUMPY_SECONDS_PER_PIXEL = 1e-7


def _info_compiled(coords, p, noise, offset, valid, ok):
    """Fisher information (B, 4, 4) of 1D rows through the compiled sweep, or None when the
    numpy path runs (numba missing or disabled, or not paying for its load yet); with one
    offset number per row, the information and its inverse (NaN unless finite with a
    positive diagonal) from the box kernel, as a tuple."""
    x = np.asarray(coords[0], float)
    cost = NUMPY_SECONDS_PER_PIXEL * p.shape[0] * x.size
    if not compiled.wanted(cost):
        compiled.spent_numpy(cost)
        return None
    try:
        from . import fisher_numba, lm_numba
    except ImportError:
        return None

    # one array type for every call (C order, writeable, aligned): a read-only broadcast or
    # another layout would be another compilation of the kernel
    def rows(a, dtype):  # (B, 1) or (B, N) per fitted row
        a = np.asarray(a, dtype)
        a = a.reshape(1, -1) if a.ndim == 1 else a.reshape(-1, 1) if a.ndim == 0 else a
        a = a[ok] if a.shape[0] == ok.size and ok.size > 1 else a
        return np.require(np.broadcast_to(a, (p.shape[0], a.shape[1])), dtype, ["C", "A", "W"])

    info = np.empty((p.shape[0], 4, 4))
    xc = np.require(x, np.float64, ["C", "A", "W"])
    pc = np.require(p, np.float64, ["C", "A", "W"])
    # one offset number per row (the usual case): only the profile's box is visited
    offc = row_offsets(offset, (ok.size, x.size))
    if offc is not None:
        cov = np.empty_like(info)
        if valid is None:
            vrows = np.ones((1, x.size), dtype=bool)
        else:
            vrows = np.asarray(valid, bool).reshape(-1, x.size)
            vrows = vrows[ok] if vrows.shape[0] == ok.size and ok.size > 1 else vrows
        fisher_numba.info_gauss1d_box(
            xc,
            lm_numba.uniform_step(x),
            pc,
            np.ascontiguousarray(offc[ok]),
            np.require(vrows, np.bool_, ["C", "A", "W"]),
            float(noise.excess * noise.gain),
            float(noise.read_noise**2),
            float(noise.floor),
            info,
            cov,
        )
        return info, cov
    fisher_numba.info_gauss1d(
        xc,
        lm_numba.uniform_step(x),
        pc,
        rows(offset, np.float64),
        rows(True if valid is None else valid, np.bool_),
        float(noise.excess * noise.gain),
        float(noise.read_noise**2),
        float(noise.floor),
        info,
    )
    return info


def _compiled_covariance(grid, p, noise, offset, valid, isotropic) -> np.ndarray | None:
    """:func:`gauss_covariance` of 2D frames through the compiled kernel, or None when it
    does not apply (numba not wanted or missing, an offset that varies over the frame)."""
    nrow = p.shape[0]
    npix = len(grid[0]) * len(grid[1])
    if nrow == 0 or not compiled.wanted(NUMPY_SECONDS_PER_PIXEL * nrow * npix):
        return None
    try:
        from . import box2d_numba as kernel
        from .lm_numba import uniform_step
    except ImportError:
        return None
    off = np.asarray(offset, float)
    off = off.reshape(off.shape[0], -1) if off.ndim == 2 else off.reshape(1, -1)
    if off.strides[0] == 0:  # one frame for every row: test it once
        off = off[:1]
    if off.shape[1] > 1 and not (off == off[:, :1]).all():
        return None
    offc = np.ascontiguousarray(np.broadcast_to(off[:, 0], (nrow,)), dtype=float)
    if valid is None:
        valid = np.ones((1, npix), dtype=bool)
    valid = np.require(np.asarray(valid, bool).reshape(-1, npix), np.bool_, ["C_CONTIGUOUS"])
    y, x = (np.ascontiguousarray(a, dtype=float) for a in grid)
    return kernel.information_gauss2d(
        y,
        x,
        uniform_step(x),
        valid,
        offc,
        np.ascontiguousarray(p, dtype=float),
        0 if isotropic else 1,
        float(noise.excess * noise.gain),
        float(noise.read_noise**2),
        float(noise.floor),
    )


def predicted_errors(
    coords: list[np.ndarray],
    p: np.ndarray,
    noise: NoiseModel,
    *,
    offset: np.ndarray | float = 0.0,
    valid: np.ndarray | None = None,
    isotropic: bool = True,
    grid: tuple | None = None,
) -> dict[str, np.ndarray]:
    """Cramér–Rao errors of w² (µm²) and of the integrated intensity (counts) per row of ``p``.

    w² = 2σ² for an isotropic spot or a line (PHYSICS.md §1), σx² + σy² for an ellipse; the
    intensity is A (2π σ²)^(k/2) / pixel area. Same propagation as the fitted columns of
    :func:`~fitdiff.extract.extract_widths`. ``grid`` as in :func:`gauss_covariance`.
    """
    k = len(coords)
    cov = gauss_covariance(
        coords, p, noise, offset=offset, valid=valid, isotropic=isotropic, grid=grid
    )
    iso = isotropic or k == 1
    nw = 1 if iso else k
    iw = slice(1 + k, 1 + k + nw)
    grad = np.zeros(p.shape)
    grad[:, iw] = 2.0 if (iso and k == 2) or k == 1 else 1.0
    w2_err = np.sqrt(np.einsum("bp,bpq,bq->b", grad, cov, grad))
    s = p[:, iw]
    amp = p[:, 0]
    pix = pixel_area(coords, grid)
    g = np.zeros(p.shape)
    if iso:
        norm = (2 * np.pi * s[:, 0]) ** (k / 2) / pix
        g[:, 0] = norm
        g[:, 1 + k] = amp * norm * (k / 2) / s[:, 0]
    else:
        norm = 2 * np.pi * np.sqrt(s[:, 0] * s[:, 1]) / pix
        g[:, 0] = norm
        g[:, 1 + k] = amp * norm / (2 * s[:, 0])
        g[:, 2 + k] = amp * norm / (2 * s[:, 1])
    int_err = np.sqrt(np.einsum("bp,bpq,bq->b", g, cov, g))
    return {"w2_err": w2_err, "intensity_err": int_err}
