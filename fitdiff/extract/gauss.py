"""Gaussian-plus-constant profile models for the batched fitter, in 1D (streak) and 2D (frames).

Parameters are ``(A, centre_1..k, width(s), c)`` with the widths as variances σ² in µm², so the
covariance of σ² comes straight out of the fit (no error propagation through σ):

    mu = A exp(-sum_j (u_j)² / (2 s_j)) + c,   u_j = coord_j - centre_j

``isotropic`` shares one s over all axes (PHYSICS.md §1: w² = 2σ²); otherwise each axis has its
own (w² = σx² + σy²). The ellipse is axis-aligned: a tilted spot is not modelled.
"""

from __future__ import annotations

import numpy as np

from .lm import BatchedModel


def gaussian_model(coords: list[np.ndarray], isotropic: bool = True) -> BatchedModel:
    """Return the batched Gaussian + constant model on the flattened pixel ``coords``.

    Parameters
    ----------
    coords : list of ndarray (N,)
        Pixel-centre coordinates in µm, one array per spatial axis (x; or x, y), flattened.
    isotropic : bool
        One shared variance (True) or one per axis.
    """
    k = len(coords)
    nw = 1 if isotropic else k
    npar = 2 + k + nw
    by_dtype = {}

    def grid(dtype):
        if dtype not in by_dtype:
            by_dtype[dtype] = [np.asarray(c, dtype=dtype)[None, :] for c in coords]
        return by_dtype[dtype]

    def column(p, j, dtype):
        return p[:, j : j + 1].astype(dtype)

    def offsets(p, dtype):
        return [c - column(p, 1 + j, dtype) for j, c in enumerate(grid(dtype))]

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

    # the line profile of a streak, the hot path, also has a compiled kernel (lm_numba)
    fast = ("gauss1d", np.asarray(coords[0], dtype=float)) if k == 1 else None
    return BatchedModel(evaluate=evaluate, jacobian=jacobian, admissible=admissible, fast=fast)
