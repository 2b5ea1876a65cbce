"""Compiled per-frame Levenberg-Marquardt for the 2D Gaussian + constant over whole frames (numba).

The kernel for frames whose subtracted offset varies from pixel to pixel (a pre-pulse dark
frame), and the reference of the box-restricted kernel :mod:`fitdiff.extract.box2d_numba`
that fits every other stack. The same estimator and iteration as :func:`fitdiff.extract.lm.batched_lm` and the streak kernel
:mod:`fitdiff.extract.lm_numba` (model-based camera weights, damping 1e-3 ×0.1/×10 clipped to
[1e-9, 1e9], descent test with the weights of the current point, convergence when every step is
below ``tol`` / sqrt(H_kk), covariance (J^T W J)^-1 at the solution), one frame at a time.

All three shapes run through one fused pass over the frame's pixels that builds the model, the
weights, χ², the gradient and the normal matrix of the full Gaussian

    mu = A exp(-½ rᵀ Σ⁻¹ r) + c,  Σ = [[Sxx, Sxy], [Sxy, Syy]],  r = (x - x0, y - y0),

whose 7 parameters ``(A, y0, x0, Syy, Sxx, Sxy, c)`` map linearly onto each shape's own
(isotropic: Syy = Sxx = s, Sxy = 0; elliptical: Sxy = 0). The 7 × 7 sums are projected onto the
shape's parameters afterwards (:mod:`fitdiff.extract.gauss2d_numba`), which costs nothing per
pixel.

The exponential is never evaluated per pixel: completing the square in x, row y of the frame is
exp(-½ uy²/Syy) times a 1D Gaussian in x with centre x0 + (Sxy/Syy) uy and variance
det Σ / Syy, filled by the product recurrence of :func:`fitdiff.extract.lm_numba._fill_gauss`.

Frames run serially (see :mod:`fitdiff.extract.lm_numba` on threads). This module imports numba;
:mod:`fitdiff.extract.lm` imports it only when numba is installed (extra ``fast``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .gauss2d_numba import (  # noqa: F401 (SHAPE_CODES: the callers' name -> code)
    NFULL,
    SHAPE_CODES,
    admissible,
    covariance_into,
    damped_step,
    embedding,
    full,
    next_damping,
    project,
    small_step,
)
from .lm_numba import FLAGS, _fill_gauss


@njit(cache=True, error_model="numpy")
def _fill_frame(y, x, hx, f, g):
    """g (Y·X,) = exp(-½ rᵀ Σ⁻¹ r) of the full parameters ``f``, row by row (see module doc)."""
    ny, nx = y.shape[0], x.shape[0]
    y0, x0, syy, sxx, sxy = f[1], f[2], f[3], f[4], f[5]
    s_row = (syy * sxx - sxy * sxy) / syy  # variance of x at fixed y
    slope = sxy / syy
    for i in range(ny):
        uy = y[i] - y0
        e = -0.5 * uy * uy / syy
        row = g[i * nx : (i + 1) * nx]
        if not e > -745.0:  # the whole row underflows (or is NaN: left as zeros)
            row[:] = 0.0
            continue
        _fill_gauss(x, hx, x0 + slope * uy, s_row, row)
        rf = math.exp(e)
        for j in range(nx):
            row[j] *= rf


@njit(cache=True, error_model="numpy", fastmath=FLAGS)
def _normal_pass(y, x, d, vf, off, g, f, ge, read2, floor, w, h, gr):
    """Weights at the model of ``f``, then χ², J^T W r (``gr``, 7) and J^T W J (``h``, 7 × 7)."""
    amp, y0, x0, syy, sxx, sxy, c = f[0], f[1], f[2], f[3], f[4], f[5], f[6]
    det = syy * sxx - sxy * sxy
    a, b, cc = syy / det, -sxy / det, sxx / det  # Σ⁻¹ in (x, y)
    nx = x.shape[0]
    chi2 = 0.0
    g0 = g1 = g2 = g3 = g4 = g5 = g6 = 0.0
    h00 = h01 = h02 = h03 = h04 = h05 = h06 = 0.0
    h11 = h12 = h13 = h14 = h15 = h16 = 0.0
    h22 = h23 = h24 = h25 = h26 = 0.0
    h33 = h34 = h35 = h36 = 0.0
    h44 = h45 = h46 = 0.0
    h55 = h56 = h66 = 0.0
    for i in range(y.shape[0]):
        uy = y[i] - y0
        by = b * uy
        cy = cc * uy
        base = i * nx
        for j in range(nx):
            n = base + j
            ux = x[j] - x0
            gn = g[n]
            mu = amp * gn + c
            var = max((mu + off[n]) * ge + read2, floor)
            wn = vf[n] / var
            w[n] = wn
            r = d[n] - mu
            wr = wn * r
            chi2 += wr * r
            vx = a * ux + by
            vy = b * ux + cy
            ag = amp * gn
            j1 = ag * vy
            j2 = ag * vx
            j3 = 0.5 * j1 * vy
            j4 = 0.5 * j2 * vx
            j5 = j2 * vy
            g0 += wr * gn
            g1 += wr * j1
            g2 += wr * j2
            g3 += wr * j3
            g4 += wr * j4
            g5 += wr * j5
            g6 += wr
            w0 = wn * gn
            w1 = wn * j1
            w2 = wn * j2
            w3 = wn * j3
            w4 = wn * j4
            w5 = wn * j5
            h00 += w0 * gn
            h01 += w0 * j1
            h02 += w0 * j2
            h03 += w0 * j3
            h04 += w0 * j4
            h05 += w0 * j5
            h06 += w0
            h11 += w1 * j1
            h12 += w1 * j2
            h13 += w1 * j3
            h14 += w1 * j4
            h15 += w1 * j5
            h16 += w1
            h22 += w2 * j2
            h23 += w2 * j3
            h24 += w2 * j4
            h25 += w2 * j5
            h26 += w2
            h33 += w3 * j3
            h34 += w3 * j4
            h35 += w3 * j5
            h36 += w3
            h44 += w4 * j4
            h45 += w4 * j5
            h46 += w4
            h55 += w5 * j5
            h56 += w5
            h66 += wn
    gr[0], gr[1], gr[2], gr[3], gr[4], gr[5], gr[6] = g0, g1, g2, g3, g4, g5, g6
    h[0, 0], h[0, 1], h[0, 2], h[0, 3], h[0, 4], h[0, 5], h[0, 6] = (
        h00,
        h01,
        h02,
        h03,
        h04,
        h05,
        h06,
    )
    h[1, 1], h[1, 2], h[1, 3], h[1, 4], h[1, 5], h[1, 6] = h11, h12, h13, h14, h15, h16
    h[2, 2], h[2, 3], h[2, 4], h[2, 5], h[2, 6] = h22, h23, h24, h25, h26
    h[3, 3], h[3, 4], h[3, 5], h[3, 6] = h33, h34, h35, h36
    h[4, 4], h[4, 5], h[4, 6] = h44, h45, h46
    h[5, 5], h[5, 6], h[6, 6] = h55, h56, h66
    for i in range(NFULL):
        for j in range(i):
            h[i, j] = h[j, i]
    return chi2


@njit(cache=True, error_model="numpy", fastmath=FLAGS)
def _chi2(d, g, amp, c, w):
    """χ² of the model A g + c with given weights ``w`` (descent test of one quadratic)."""
    chi2 = 0.0
    for n in range(d.shape[0]):
        r = d[n] - (amp * g[n] + c)
        chi2 += w[n] * r * r
    return chi2


@njit(cache=True, error_model="numpy")
def _fit_frame(y, x, hx, d, valid, off, p, shape, ge, read2, floor, max_iter, tol, cov):
    """Fit one frame in place (``p``), fill ``cov``; return (χ², converged, iterations)."""
    n = d.shape[0]
    npar = p.shape[0]
    e = embedding(shape)
    vf = np.empty(n)
    nvalid = 0
    for k in range(n):
        vf[k] = 1.0 if valid[k] else 0.0
        nvalid += valid[k]
    w = np.empty(n)
    g = np.empty(n)
    g_try = np.empty(n)
    f = np.empty(NFULL)
    f_try = np.empty(NFULL)
    h7 = np.empty((NFULL, NFULL))
    g7 = np.empty(NFULL)
    hess = np.empty((npar, npar))
    grad = np.empty(npar)
    damped = np.empty((npar, npar))
    step = np.empty(npar)
    trial = np.empty(npar)
    lam = 1e-3
    converged = False
    niter = 0
    full(e, p, f)
    ok_start = admissible(p, shape)
    if ok_start:
        _fill_frame(y, x, hx, f, g)
    else:
        g[:] = 0.0
    if ok_start and nvalid > npar:
        for _ in range(max_iter):
            chi2 = _normal_pass(y, x, d, vf, off, g, f, ge, read2, floor, w, h7, g7)
            project(e, h7, g7, hess, grad)
            finite, ok_step = damped_step(hess, grad, lam, p, shape, damped, step, trial)
            better = False
            if ok_step:
                full(e, trial, f_try)
                _fill_frame(y, x, hx, f_try, g_try)
                better = _chi2(d, g_try, f_try[0], f_try[6], w) <= chi2
            niter += 1
            lam = next_damping(lam, better)
            if better:
                p[:] = trial
                f[:] = f_try
                g, g_try = g_try, g
            small = small_step(hess, step, finite, tol)
            if small:
                converged = True
            if small or ((not better) and lam >= 1e9):
                break
    chi2 = _normal_pass(y, x, d, vf, off, g, f, ge, read2, floor, w, h7, g7)
    project(e, h7, g7, hess, grad)
    covariance_into(hess, cov)
    return chi2, converged, niter


@njit(cache=True, error_model="numpy")
def fit_gauss2d(y, x, hx, data, valid, offset, p0, shape, ge, read2, floor, max_iter, tol):
    """Fit A exp(-½ rᵀ Σ⁻¹ r) + c (Σ restricted by ``shape``) to every frame of ``data``.

    Parameters
    ----------
    y, x : ndarray (Y,), (X,)
        Pixel-centre axes, µm; frames are flattened y-major (pixel n = i X + j).
    hx : float
        Pixel spacing of ``x`` in µm when uniform (see :func:`lm_numba.uniform_step`), else 0.
    data : ndarray (B, Y·X)
        Counts after background subtraction.
    valid : ndarray of bool (B, Y·X)
    offset : ndarray (B, Y·X) or (1, Y·X)
        Counts subtracted before fitting (the noise model sees ``mu + offset``); one row
        serves every frame.
    p0 : ndarray (B, P)
        Starting parameters: (A, y0, x0, s, c) for shape 0 (isotropic), (A, y0, x0, Syy, Sxx,
        c) for 1 (elliptical), (A, y0, x0, Syy, Sxx, Sxy, c) for 2 (rotated); µm, µm², counts.
    shape : int
        0, 1 or 2 (see :data:`SHAPE_CODES`).
    ge, read2, floor : float
        Noise model ``max((mu + offset) ge + read2, floor)`` in counts².
    max_iter : int
    tol : float

    Returns
    -------
    p (B, P), cov (B, P, P), chi2 (B,), converged (B,) bool, niter (B,) int
    """
    nrow, npar = p0.shape
    p = p0.copy()
    cov = np.empty((nrow, npar, npar))
    chi2 = np.empty(nrow)
    converged = np.zeros(nrow, dtype=np.bool_)
    niter = np.zeros(nrow, dtype=np.int64)
    for i in range(nrow):
        c2, conv, it = _fit_frame(
            y,
            x,
            hx,
            data[i],
            valid[i],
            offset[i if offset.shape[0] > 1 else 0],
            p[i],
            shape,
            ge,
            read2,
            floor,
            max_iter,
            tol,
            cov[i],
        )
        chi2[i] = c2
        converged[i] = conv
        niter[i] = it
    return p, cov, chi2, converged, niter
