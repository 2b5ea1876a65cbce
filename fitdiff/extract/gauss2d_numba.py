"""Shared pieces of the compiled 2D Gaussian fits of a stack's frames (numba).

The 7 full parameters ``(A, y0, x0, Syy, Sxx, Sxy, c)`` of

    mu = A exp(-½ rᵀ Σ⁻¹ r) + c,  Σ = [[Sxx, Sxy], [Sxy, Syy]],  r = (x - x0, y - y0),

map linearly onto each shape's own (isotropic: Syy = Sxx = s, Sxy = 0; elliptical: Sxy = 0)
through the 0/1 matrix E (:func:`embedding`); the normal equations are summed in the full
parameters and projected (H = Eᵀ H₇ E), which costs nothing per pixel. Here: that map, the
admissible region, the small dense solves, and the Levenberg-Marquardt bookkeeping (damping
1e-3 ×0.1/×10 clipped to [1e-9, 1e9], convergence when every step is below ``tol`` /
sqrt(H_kk)) shared by the whole-frame kernel (:mod:`fitdiff.extract.lm2d_numba`) and the
box-restricted one (:mod:`fitdiff.extract.box2d_numba`), the same iteration as
:func:`fitdiff.extract.lm.batched_lm`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# the dense solve and covariance the streak kernels use too
from .lm_numba import _covariance_into as covariance_into  # noqa: F401 (the 2D kernels import it here)
from .lm_numba import _solve as solve

NFULL = 7  # (A, y0, x0, Syy, Sxx, Sxy, c)
#: shape name -> code of the kernel; the number of parameters is NPAR[code]
SHAPE_CODES = {"isotropic": 0, "elliptical": 1, "rotated": 2}
NPAR = (5, 6, 7)


@njit(cache=True, error_model="numpy")
def embedding(shape):
    """E (7, npar): full parameters = E @ shape parameters (0/1 entries)."""
    npar = 5 if shape == 0 else (6 if shape == 1 else 7)
    e = np.zeros((NFULL, npar))
    e[0, 0] = e[1, 1] = e[2, 2] = 1.0
    if shape == 0:
        e[3, 3] = e[4, 3] = 1.0
        e[6, 4] = 1.0
    elif shape == 1:
        e[3, 3] = e[4, 4] = 1.0
        e[6, 5] = 1.0
    else:
        for k in range(3, NFULL):
            e[k, k] = 1.0
    return e


@njit(cache=True, error_model="numpy")
def full(e, p, f):
    for a in range(NFULL):
        acc = 0.0
        for i in range(p.shape[0]):
            acc += e[a, i] * p[i]
        f[a] = acc


@njit(cache=True, error_model="numpy")
def project(e, h7, g7, h, gr):
    """h = Eᵀ h7 E, gr = Eᵀ g7 (the shape's normal equations from the full ones)."""
    npar = e.shape[1]
    for i in range(npar):
        acc = 0.0
        for a in range(NFULL):
            acc += e[a, i] * g7[a]
        gr[i] = acc
        for j in range(npar):
            acc = 0.0
            for a in range(NFULL):
                if e[a, i] != 0.0:
                    for b in range(NFULL):
                        acc += e[a, i] * h7[a, b] * e[b, j]
            h[i, j] = acc


@njit(cache=True, error_model="numpy")
def admissible(p, shape):
    for k in range(p.shape[0]):
        if not np.isfinite(p[k]):
            return False
    if shape == 0:
        return p[3] > 0.0
    if shape == 1:
        return p[3] > 0.0 and p[4] > 0.0
    return p[3] > 0.0 and p[4] > 0.0 and p[3] * p[4] > p[5] * p[5]


@njit(cache=True, error_model="numpy")
def damped_step(hess, grad, lam, p, shape, damped, step, trial):
    """Solve (H + λ diag H) step = grad into ``step``, ``trial`` = p + step.

    Returns (finite, ok): whether the step is finite, and whether the trial is also
    admissible (worth evaluating).
    """
    npar = p.shape[0]
    damped[:, :] = hess
    for k in range(npar):
        damped[k, k] += lam * hess[k, k]
    solve(damped, grad, step)
    finite = True
    for k in range(npar):
        trial[k] = p[k] + step[k]
        finite = finite and np.isfinite(step[k])
    return finite, finite and admissible(trial, shape)


@njit(cache=True, error_model="numpy")
def small_step(hess, step, finite, tol):
    """True when every step is below ``tol`` times 1/sqrt(H_kk) (<= the marginal error, so
    the test is conservative); a NaN step is never small."""
    small = finite
    for k in range(step.shape[0]):
        se = math.sqrt(abs(1.0 / hess[k, k])) if hess[k, k] > 0 else 0.0
        small = small and abs(step[k]) <= tol * se
    return small


@njit(cache=True, error_model="numpy")
def next_damping(lam, better):
    """λ × 0.1 after an accepted step, × 10 after a rejected one, within [1e-9, 1e9]."""
    lam = lam * 0.1 if better else lam * 10.0
    return min(max(lam, 1e-9), 1e9)
