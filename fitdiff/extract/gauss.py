"""Gaussian-plus-constant profile models for the batched fitter, in 1D (streak) and 2D (frames).

Parameters are ``(A, centre_1..k, width(s), c)`` with the widths as variances σ² in µm², so the
covariance of σ² comes straight out of the fit (no error propagation through σ):

    mu = A exp(-sum_j (u_j)² / (2 s_j)) + c,   u_j = coord_j - centre_j

``isotropic`` shares one s over all axes (PHYSICS.md §1: w² = 2σ²); otherwise each axis has its
own (w² = σx² + σy²), an axis-aligned ellipse. :func:`rotated_model` is the 2D Gaussian with
the full covariance Σ, mu = A exp(-½ rᵀ Σ⁻¹ r) + c, for a spot whose axes are not the pixel axes.
"""

from __future__ import annotations

import numpy as np

from .lm import BatchedModel


def gaussian_model(
    coords: list[np.ndarray], isotropic: bool = True, grid: tuple | None = None
) -> BatchedModel:
    """Return the batched Gaussian + constant model on the flattened pixel ``coords``.

    Parameters
    ----------
    coords : list of ndarray (N,)
        Pixel-centre coordinates in µm, one array per spatial axis (x; or y, x), flattened.
    isotropic : bool
        One shared variance (True) or one per axis.
    grid : (ndarray (Y,), ndarray (X,)), optional
        The axes of a 2D frame whose ``ij`` mesh ``coords`` is; given, the compiled kernel of
        :mod:`fitdiff.extract.box2d_numba` (or :mod:`~fitdiff.extract.lm2d_numba`) can fit it.
    """
    k = len(coords)
    nw = 1 if isotropic else k
    npar = 2 + k + nw
    by_dtype = {}

    def pixels(dtype):
        if dtype not in by_dtype:
            by_dtype[dtype] = [np.asarray(c, dtype=dtype)[None, :] for c in coords]
        return by_dtype[dtype]

    def column(p, j, dtype):
        return p[:, j : j + 1].astype(dtype)

    def offsets(p, dtype):
        return [c - column(p, 1 + j, dtype) for j, c in enumerate(pixels(dtype))]

    def evaluate(p, dtype=np.float64):
        u = offsets(p, dtype)
        if isotropic:
            arg = sum(uj * uj for uj in u)
            arg *= -0.5 / column(p, 1 + k, dtype)
        else:
            arg = sum(uj * uj * (-0.5 / column(p, 1 + k + j, dtype)) for j, uj in enumerate(u))
        g = np.exp(arg, out=arg)
        mu = g * column(p, 0, dtype)
        mu += column(p, npar - 1, dtype)
        return mu, g

    def jacobian(p, g):
        dtype = g.dtype
        u = offsets(p, dtype)
        amp = column(p, 0, dtype)
        jac = np.empty((g.shape[0], npar, g.shape[1]), dtype=dtype)
        jac[:, 0] = g
        for j, uj in enumerate(u):
            s = column(p, 1 + k + (0 if isotropic else j), dtype)
            np.multiply(g, uj * (amp / s), out=jac[:, 1 + j])
        if isotropic:
            s = column(p, 1 + k, dtype)
            r2 = sum(uj * uj for uj in u)
            np.multiply(g, r2 * (amp / (2 * s * s)), out=jac[:, 1 + k])
        else:
            for j, uj in enumerate(u):
                s = column(p, 1 + k + j, dtype)
                np.multiply(g, uj * uj * (amp / (2 * s * s)), out=jac[:, 1 + k + j])
        jac[:, -1] = 1.0
        return jac

    def admissible(p):
        widths = p[:, 1 + k : 1 + k + nw]
        return np.all(np.isfinite(p), axis=1) & np.all(widths > 0, axis=1)

    # the line profile of a streak and the frames of a stack also have compiled kernels
    if k == 1:
        fast = ("gauss1d", np.asarray(coords[0], dtype=float))
    elif grid is not None:
        fast = ("gauss2d", "isotropic" if isotropic else "elliptical", *grid)
    else:
        fast = None
    return BatchedModel(evaluate=evaluate, jacobian=jacobian, admissible=admissible, fast=fast)


def rotated_model(coords: list[np.ndarray], grid: tuple | None = None) -> BatchedModel:
    """The 2D Gaussian + constant with a full covariance, on flattened pixel ``coords`` (y, x).

    ``grid`` as in :func:`gaussian_model`.

    Parameters are ``(A, y0, x0, Syy, Sxx, Sxy, c)`` (counts, µm, µm², counts) with
    Σ = [[Sxx, Sxy], [Sxy, Syy]] in (x, y): mu = A exp(-½ rᵀ Σ⁻¹ r) + c. With v = Σ⁻¹ r the
    derivatives are ∂g/∂x0 = g vx, ∂g/∂y0 = g vy, ∂g/∂Sxx = ½ g vx², ∂g/∂Syy = ½ g vy²,
    ∂g/∂Sxy = g vx vy (dΣ⁻¹ = -Σ⁻¹ dΣ Σ⁻¹; Sxy enters Σ twice).
    """
    if len(coords) != 2:
        raise ValueError("rotated_model needs two coordinate arrays (y, x)")
    by_dtype = {}

    def pixels(dtype):
        if dtype not in by_dtype:
            by_dtype[dtype] = [np.asarray(c, dtype=dtype)[None, :] for c in coords]
        return by_dtype[dtype]

    def parts(p, dtype):
        gy, gx = pixels(dtype)
        col = [p[:, j : j + 1].astype(dtype) for j in range(7)]
        syy, sxx, sxy = col[3], col[4], col[5]
        det = syy * sxx - sxy * sxy
        a, b, c = syy / det, -sxy / det, sxx / det  # Σ⁻¹ in (x, y)
        uy, ux = gy - col[1], gx - col[2]
        vx = a * ux + b * uy
        vy = b * ux + c * uy
        return col, ux, uy, vx, vy

    def evaluate(p, dtype=np.float64):
        col, ux, uy, vx, vy = parts(p, dtype)
        g = np.exp(-0.5 * (ux * vx + uy * vy))
        return g * col[0] + col[6], g

    def jacobian(p, g):
        dtype = g.dtype
        col, _, _, vx, vy = parts(p, dtype)
        ag = g * col[0]
        jac = np.empty((g.shape[0], 7, g.shape[1]), dtype=dtype)
        jac[:, 0] = g
        jac[:, 1] = ag * vy
        jac[:, 2] = ag * vx
        jac[:, 3] = 0.5 * ag * vy * vy
        jac[:, 4] = 0.5 * ag * vx * vx
        jac[:, 5] = ag * vx * vy
        jac[:, 6] = 1.0
        return jac

    def admissible(p):
        syy, sxx, sxy = p[:, 3], p[:, 4], p[:, 5]
        return np.all(np.isfinite(p), axis=1) & (syy > 0) & (sxx > 0) & (syy * sxx > sxy * sxy)

    fast = None if grid is None else ("gauss2d", "rotated", *grid)
    return BatchedModel(evaluate=evaluate, jacobian=jacobian, admissible=admissible, fast=fast)
