"""Compiled per-frame Levenberg-Marquardt for the 2D Gaussian + constant of a stack (numba).

The same estimator and iteration as :func:`fitdiff.extract.lm.batched_lm` and the streak kernel
:mod:`fitdiff.extract.lm_numba` (model-based camera weights, damping 1e-3 ×0.1/×10 clipped to
[1e-9, 1e9], descent test with the weights of the current point, convergence when every step is
below ``tol`` / sqrt(H_kk), covariance (J^T W J)^-1 at the solution), one frame at a time.

All three shapes run through one fused pass over the frame's pixels that builds the model, the
weights, χ², the gradient and the normal matrix of the full Gaussian

    mu = A exp(-½ rᵀ Σ⁻¹ r) + c,  Σ = [[Sxx, Sxy], [Sxy, Syy]],  r = (x - x0, y - y0),

whose 7 parameters ``(A, y0, x0, Syy, Sxx, Sxy, c)`` map linearly onto each shape's own
(isotropic: Syy = Sxx = s, Sxy = 0; elliptical: Sxy = 0). The 7 × 7 sums are projected onto the
shape's parameters afterwards (H = Eᵀ H₇ E with the 0/1 map E), which costs nothing per pixel.

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

from .lm_numba import FLAGS, _fill_gauss

NFULL = 7  # (A, y0, x0, Syy, Sxx, Sxy, c)
#: shape name -> code of the kernel; the number of parameters is NPAR[code]
SHAPE_CODES = {"isotropic": 0, "elliptical": 1, "rotated": 2}
NPAR = (5, 6, 7)


@njit(cache=True, error_model="numpy")
def _embedding(shape):
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
def _full(e, p, f):
    for a in range(NFULL):
        acc = 0.0
        for i in range(p.shape[0]):
            acc += e[a, i] * p[i]
        f[a] = acc


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
def _project(e, h7, g7, h, gr):
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
def _solve(a, b, out):
    """Solve the n × n system ``a out = b`` by Gaussian elimination with partial pivoting;
    a zero (or NaN) pivot gives NaN, like the numpy path's singular rows."""
    n = b.shape[0]
    m = np.empty((n, n + 1))
    m[:, :n] = a
    m[:, n] = b
    for col in range(n):
        piv = col
        for r in range(col + 1, n):
            if abs(m[r, col]) > abs(m[piv, col]):
                piv = r
        if not m[piv, col] != 0.0:
            out[:] = np.nan
            return
        if piv != col:
            for k in range(n + 1):
                m[col, k], m[piv, k] = m[piv, k], m[col, k]
        for r in range(col + 1, n):
            fac = m[r, col] / m[col, col]
            for k in range(col, n + 1):
                m[r, k] -= fac * m[col, k]
    for r in range(n - 1, -1, -1):
        acc = m[r, n]
        for k in range(r + 1, n):
            acc -= m[r, k] * out[k]
        out[r] = acc / m[r, r]


@njit(cache=True, error_model="numpy")
def _admissible(p, shape):
    for k in range(p.shape[0]):
        if not np.isfinite(p[k]):
            return False
    if shape == 0:
        return p[3] > 0.0
    if shape == 1:
        return p[3] > 0.0 and p[4] > 0.0
    return p[3] > 0.0 and p[4] > 0.0 and p[3] * p[4] > p[5] * p[5]


@njit(cache=True, error_model="numpy")
def _fit_frame(y, x, hx, d, valid, off, p, shape, ge, read2, floor, max_iter, tol, cov):
    """Fit one frame in place (``p``), fill ``cov``; return (χ², converged, iterations)."""
    n = d.shape[0]
    npar = p.shape[0]
    e = _embedding(shape)
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
    _full(e, p, f)
    ok_start = _admissible(p, shape)
    if ok_start:
        _fill_frame(y, x, hx, f, g)
    else:
        g[:] = 0.0
    if ok_start and nvalid > npar:
        for _ in range(max_iter):
            chi2 = _normal_pass(y, x, d, vf, off, g, f, ge, read2, floor, w, h7, g7)
            _project(e, h7, g7, hess, grad)
            damped[:, :] = hess
            for k in range(npar):
                damped[k, k] += lam * hess[k, k]
            _solve(damped, grad, step)
            finite = True
            for k in range(npar):
                trial[k] = p[k] + step[k]
                finite = finite and np.isfinite(step[k])
            ok_step = finite and _admissible(trial, shape)
            better = False
            if ok_step:
                _full(e, trial, f_try)
                _fill_frame(y, x, hx, f_try, g_try)
                better = _chi2(d, g_try, f_try[0], f_try[6], w) <= chi2
            niter += 1
            lam = lam * 0.1 if better else lam * 10.0
            lam = min(max(lam, 1e-9), 1e9)
            if better:
                p[:] = trial
                f[:] = f_try
                g, g_try = g_try, g
            small = finite
            for k in range(npar):
                se = math.sqrt(abs(1.0 / hess[k, k])) if hess[k, k] > 0 else 0.0
                small = small and abs(step[k]) <= tol * se
            if small:
                converged = True
            if small or ((not better) and lam >= 1e9):
                break
    chi2 = _normal_pass(y, x, d, vf, off, g, f, ge, read2, floor, w, h7, g7)
    _project(e, h7, g7, hess, grad)
    cov[:, :] = np.nan
    finite = True
    for i in range(npar):
        for j in range(npar):
            finite = finite and np.isfinite(hess[i, j])
    if finite:
        unit = np.zeros(npar)
        col = np.empty(npar)
        for j in range(npar):
            unit[:] = 0.0
            unit[j] = 1.0
            _solve(hess, unit, col)
            cov[:, j] = col
        positive = True
        for k in range(npar):
            positive = positive and cov[k, k] > 0
        if not positive:
            cov[:, :] = np.nan
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


# ---------------------------------------------------------------------------------------------
# Box-restricted passes. A spot that covers a fraction of its frame leaves most pixels at
# mu = c: there the Jacobian is (0, ..., 0, 1) and the weight one constant (when the offset is
# one number per frame), so their share of χ², the gradient and the normal matrix follows from
# three sums over the frame (Σ v, Σ v d', Σ v d'², v the valid flag, d' = d - shift) minus the
# same sums inside the box. The box is, row by row, the run of pixels where
# exp(-½ rᵀ Σ⁻¹ r) >= exp(-LOG_CUT); outside it the Gaussian is below 1.4e-11 of its peak and is
# taken as 0: the weight of the dropped tail in any sum is below ~1e-10 of the spot's.
# ---------------------------------------------------------------------------------------------

#: Gaussian factors below exp(-LOG_CUT) ≈ 1.4e-11 count as zero (outside the box).
LOG_CUT = 25.0


@njit(cache=True, error_model="numpy")
def _segments(y, x, hx, f, ja, jb):
    """Column range [ja[i], jb[i]) of each row where g >= exp(-LOG_CUT) (empty: ja = jb = 0).

    ``hx`` = 0 (non-uniform x) keeps whole rows of the rows the spot reaches.
    """
    ny, nx = y.shape[0], x.shape[0]
    y0, x0, syy, sxx, sxy = f[1], f[2], f[3], f[4], f[5]
    s_row = (syy * sxx - sxy * sxy) / syy
    slope = sxy / syy
    for i in range(ny):
        ja[i] = 0
        jb[i] = 0
        uy = y[i] - y0
        e = -0.5 * uy * uy / syy
        if not e > -LOG_CUT:
            continue
        a, b = 0, nx
        if hx > 0.0:
            hw = math.sqrt(2.0 * s_row * (LOG_CUT + e))
            xc = x0 + slope * uy
            lo = (xc - hw - x[0]) / hx
            hi = (xc + hw - x[0]) / hx
            if np.isfinite(lo) and np.isfinite(hi):
                # clamped as floats first: int() of a huge value is undefined in LLVM
                a = int(min(max(math.ceil(lo), 0.0), float(nx)))
                b = int(min(max(math.floor(hi) + 1.0, 0.0), float(nx)))
        if b > a:
            ja[i] = a
            jb[i] = b


@njit(cache=True, error_model="numpy")
def _fill_box(y, x, hx, f, g, ja, jb):
    """g = exp(-½ rᵀ Σ⁻¹ r) inside the box of ``f``, 0 elsewhere; ``ja, jb`` hold the box of
    what ``g`` held on entry (its pixels are zeroed first) and the new box on return."""
    nx = x.shape[0]
    for i in range(y.shape[0]):
        for n in range(i * nx + ja[i], i * nx + jb[i]):
            g[n] = 0.0
    _segments(y, x, hx, f, ja, jb)
    y0, x0, syy, sxx, sxy = f[1], f[2], f[3], f[4], f[5]
    s_row = (syy * sxx - sxy * sxy) / syy
    slope = sxy / syy
    for i in range(y.shape[0]):
        a, b = ja[i], jb[i]
        if b <= a:
            continue
        uy = y[i] - y0
        row = g[i * nx + a : i * nx + b]
        _fill_gauss(x[a:b], hx, x0 + slope * uy, s_row, row)
        rf = math.exp(-0.5 * uy * uy / syy)
        for j in range(b - a):
            row[j] *= rf


@njit(cache=True, error_model="numpy", fastmath=FLAGS)
def _normal_box(y, x, d, vf, offc, g, ja, jb, f, ge, read2, floor, tot, h, gr, need_data):
    """:func:`_normal_pass` over the box, the rest of the frame from its sums ``tot`` =
    (Σ v, Σ v d', Σ v d'², shift) with d' = d - shift; the offset is the number ``offc``.
    ``need_data`` False fills ``h`` only (Fisher information; ``d`` unused)."""
    amp, y0, x0, syy, sxx, sxy, c = f[0], f[1], f[2], f[3], f[4], f[5], f[6]
    det = syy * sxx - sxy * sxy
    a, b, cc = syy / det, -sxy / det, sxx / det  # Σ⁻¹ in (x, y)
    nx = x.shape[0]
    shift = tot[3]
    chi2 = 0.0
    s0 = s1 = s2 = 0.0
    g0 = g1 = g2 = g3 = g4 = g5 = g6 = 0.0
    h00 = h01 = h02 = h03 = h04 = h05 = h06 = 0.0
    h11 = h12 = h13 = h14 = h15 = h16 = 0.0
    h22 = h23 = h24 = h25 = h26 = 0.0
    h33 = h34 = h35 = h36 = 0.0
    h44 = h45 = h46 = 0.0
    h55 = h56 = h66 = 0.0
    for i in range(y.shape[0]):
        if jb[i] <= ja[i]:
            continue
        uy = y[i] - y0
        by = b * uy
        cy = cc * uy
        base = i * nx
        for j in range(ja[i], jb[i]):
            n = base + j
            ux = x[j] - x0
            gn = g[n]
            mu = amp * gn + c
            var = max((mu + offc) * ge + read2, floor)
            v = vf[n]
            wn = v / var
            if need_data:
                r = d[n] - mu
                wr = wn * r
                chi2 += wr * r
                dd = d[n] - shift
                s0 += v
                s1 += v * dd
                s2 += v * dd * dd
            else:
                wr = 0.0
                s0 += v
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
    # the rest of the frame: mu = c, one weight, Jacobian (0, ..., 0, 1)
    w_bg = 1.0 / max((c + offc) * ge + read2, floor)
    o0 = tot[0] - s0
    h66 += w_bg * o0
    if need_data:
        o1 = tot[1] - s1
        o2 = tot[2] - s2
        dc = c - shift
        chi2 += w_bg * (o2 - 2.0 * dc * o1 + dc * dc * o0)
        g6 += w_bg * (o1 - dc * o0)
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
def _trial_pass(y, x, d, vf, offc, gc, jac, jbc, gt, ja, jb, fc, f, ge, read2, floor, tot, h, gr):
    """The descent test and the next normal equations in one pass: returns (χ²(trial) -
    χ²(current) with the current weights, χ²(trial) with its own weights) and fills ``h``,
    ``gr`` as :func:`_normal_box` at the trial ``f`` (box ``ja, jb``, Gaussian ``gt``), so an
    accepted step needs no normal pass of its own. The pixels of the two boxes' row hulls
    are visited once; the rest of the frame follows from the sums ``tot``."""
    ac, cc0 = fc[0], fc[6]
    amp, y0, x0, syy, sxx, sxy, c = f[0], f[1], f[2], f[3], f[4], f[5], f[6]
    det = syy * sxx - sxy * sxy
    a, b, cc = syy / det, -sxy / det, sxx / det  # Σ⁻¹ in (x, y) of the trial
    nx = x.shape[0]
    shift = tot[3]
    delta = 0.0
    chi2 = 0.0
    sh0 = sh1 = 0.0  # valid pixels and Σ v d' over the hulls
    s0 = s1 = s2 = 0.0  # the same (and Σ v d'²) over the trial box
    g0 = g1 = g2 = g3 = g4 = g5 = g6 = 0.0
    h00 = h01 = h02 = h03 = h04 = h05 = h06 = 0.0
    h11 = h12 = h13 = h14 = h15 = h16 = 0.0
    h22 = h23 = h24 = h25 = h26 = 0.0
    h33 = h34 = h35 = h36 = 0.0
    h44 = h45 = h46 = 0.0
    h55 = h56 = h66 = 0.0
    for i in range(y.shape[0]):
        has_c, has_t = jbc[i] > jac[i], jb[i] > ja[i]
        if has_c and has_t:
            lo, hi = min(jac[i], ja[i]), max(jbc[i], jb[i])
        elif has_c:
            lo, hi = jac[i], jbc[i]
        elif has_t:
            lo, hi = ja[i], jb[i]
        else:
            continue
        ta, tb = ja[i], jb[i]
        uy = y[i] - y0
        by = b * uy
        cy = cc * uy
        base = i * nx
        for j in range(lo, hi):
            n = base + j
            gn = gt[n]
            muc = ac * gc[n] + cc0
            mu = amp * gn + c
            v = vf[n]
            dn = d[n]
            wc = v / max((muc + offc) * ge + read2, floor)
            delta += wc * (muc - mu) * (2.0 * dn - muc - mu)
            dd = dn - shift
            sh0 += v
            sh1 += v * dd
            if j < ta or j >= tb:
                continue
            wn = v / max((mu + offc) * ge + read2, floor)
            r = dn - mu
            wr = wn * r
            chi2 += wr * r
            s0 += v
            s1 += v * dd
            s2 += v * dd * dd
            ux = x[j] - x0
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

    # outside the hulls both models are constants (current weights: the descent test)
    w_bc = 1.0 / max((cc0 + offc) * ge + read2, floor)
    delta += w_bc * (cc0 - c) * (2.0 * (tot[1] - sh1) - (c + cc0 - 2.0 * shift) * (tot[0] - sh0))
    # outside the trial box: mu = c, one weight, Jacobian (0, ..., 0, 1)
    w_bg = 1.0 / max((c + offc) * ge + read2, floor)
    o0 = tot[0] - s0
    o1 = tot[1] - s1
    o2 = tot[2] - s2
    dc = c - shift
    chi2 += w_bg * (o2 - 2.0 * dc * o1 + dc * dc * o0)
    g6 += w_bg * (o1 - dc * o0)
    h66 += w_bg * o0
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
    return delta, chi2


@njit(cache=True, error_model="numpy", fastmath=FLAGS)
def _frame_sums(d, vf, shift, tot):
    """tot = (Σ v, Σ v d', Σ v d'², shift), d' = d - shift; ``shift`` near the frame's level
    (its background) keeps the outside χ² from being a difference of large numbers."""
    s0 = s1 = s2 = 0.0
    for n in range(d.shape[0]):
        dd = d[n] - shift
        s0 += vf[n]
        s1 += vf[n] * dd
        s2 += vf[n] * dd * dd
    tot[0], tot[1], tot[2], tot[3] = s0, s1, s2, shift


@njit(cache=True, error_model="numpy")
def _covariance_into(hess, cov):
    """cov = hess⁻¹ (NaN unless finite with a positive diagonal)."""
    npar = hess.shape[0]
    cov[:, :] = np.nan
    for i in range(npar):
        for j in range(npar):
            if not np.isfinite(hess[i, j]):
                return
    unit = np.zeros(npar)
    col = np.empty(npar)
    for j in range(npar):
        unit[:] = 0.0
        unit[j] = 1.0
        _solve(hess, unit, col)
        cov[:, j] = col
    for k in range(npar):
        if not cov[k, k] > 0:
            cov[:, :] = np.nan
            return


@njit(cache=True, error_model="numpy")
def _fit_frame_box(y, x, hx, d, valid, offc, p, shape, ge, read2, floor, max_iter, tol, cov):
    """:func:`_fit_frame` with the box-restricted passes (one offset number per frame)."""
    n = d.shape[0]
    ny = y.shape[0]
    npar = p.shape[0]
    e = _embedding(shape)
    vf = np.empty(n)
    nvalid = 0
    for k in range(n):
        vf[k] = 1.0 if valid[k] else 0.0
        nvalid += valid[k]
    tot = np.empty(4)
    _frame_sums(d, vf, p[npar - 1] if np.isfinite(p[npar - 1]) else 0.0, tot)
    g = np.zeros(n)
    g_try = np.zeros(n)
    ja = np.zeros(ny, dtype=np.int64)
    jb = np.zeros(ny, dtype=np.int64)
    ja_t = np.zeros(ny, dtype=np.int64)
    jb_t = np.zeros(ny, dtype=np.int64)
    f = np.empty(NFULL)
    f_try = np.empty(NFULL)
    h7 = np.empty((NFULL, NFULL))
    g7 = np.empty(NFULL)
    h7_t = np.empty((NFULL, NFULL))
    g7_t = np.empty(NFULL)
    hess = np.empty((npar, npar))
    grad = np.empty(npar)
    damped = np.empty((npar, npar))
    step = np.empty(npar)
    trial = np.empty(npar)
    lam = 1e-3
    converged = False
    niter = 0
    _full(e, p, f)
    ok_start = _admissible(p, shape)
    if ok_start:
        _fill_box(y, x, hx, f, g, ja, jb)
    # the normal equations at the start; later ones come from _trial_pass
    chi2 = _normal_box(y, x, d, vf, offc, g, ja, jb, f, ge, read2, floor, tot, h7, g7, True)
    if ok_start and nvalid > npar:
        for _ in range(max_iter):
            _project(e, h7, g7, hess, grad)
            damped[:, :] = hess
            for k in range(npar):
                damped[k, k] += lam * hess[k, k]
            _solve(damped, grad, step)
            finite = True
            for k in range(npar):
                trial[k] = p[k] + step[k]
                finite = finite and np.isfinite(step[k])
            ok_step = finite and _admissible(trial, shape)
            better = False
            if ok_step:
                _full(e, trial, f_try)
                _fill_box(y, x, hx, f_try, g_try, ja_t, jb_t)
                delta, chi2_t = _trial_pass(
                    y,
                    x,
                    d,
                    vf,
                    offc,
                    g,
                    ja,
                    jb,
                    g_try,
                    ja_t,
                    jb_t,
                    f,
                    f_try,
                    ge,
                    read2,
                    floor,
                    tot,
                    h7_t,
                    g7_t,
                )
                better = delta <= 0.0
            niter += 1
            lam = lam * 0.1 if better else lam * 10.0
            lam = min(max(lam, 1e-9), 1e9)
            if better:  # the normal equations of the new point are the trial's
                p[:] = trial
                f[:] = f_try
                g, g_try = g_try, g
                ja, ja_t = ja_t, ja
                jb, jb_t = jb_t, jb
                h7, h7_t = h7_t, h7
                g7, g7_t = g7_t, g7
                chi2 = chi2_t
            small = finite
            for k in range(npar):
                se = math.sqrt(abs(1.0 / hess[k, k])) if hess[k, k] > 0 else 0.0
                small = small and abs(step[k]) <= tol * se
            if small:
                converged = True
            if small or ((not better) and lam >= 1e9):
                break
    # h7, g7, chi2 belong to p: the covariance needs no further pass
    _project(e, h7, g7, hess, grad)
    _covariance_into(hess, cov)
    return chi2, converged, niter


@njit(cache=True, error_model="numpy", fastmath=FLAGS)
def _pass_axes(
    y, x, d, vf, offc, gyc, gxc, jac, jbc, fc, gy, gx, ja, jb, f, iso, ge, read2, floor, tot, h, gr
):
    """:func:`_trial_pass` for an axis-aligned Gaussian (Sxy = 0), Gaussians as products of
    their axes (:func:`_axes_gauss`), sums in the shape's own parameters: fills ``h`` (6 × 6)
    and ``gr`` (6,) in the layout (A, y0, x0, Syy, Sxx, c), where for ``iso`` column 3 is the
    one width s (and column 4 is zero). Returns (χ²(trial) - χ²(current) with the current
    weights, χ²(trial) with its own). With the current point as the trial it is the plain
    normal pass (the difference is 0)."""
    ac, cc0 = fc[0], fc[6]
    amp, y0, x0, syy, sxx, c = f[0], f[1], f[2], f[3], f[4], f[6]
    iy, ix = 1.0 / syy, 1.0 / sxx
    nx = x.shape[0]
    shift = tot[3]
    delta = 0.0
    chi2 = 0.0
    sh0 = sh1 = 0.0
    s0 = s1 = s2 = 0.0
    g0 = g1 = g2 = g3 = g4 = g5 = 0.0
    h00 = h01 = h02 = h03 = h04 = h05 = 0.0
    h11 = h12 = h13 = h14 = h15 = 0.0
    h22 = h23 = h24 = h25 = 0.0
    h33 = h34 = h35 = 0.0
    h44 = h45 = h55 = 0.0
    for i in range(y.shape[0]):
        ca, cb, ta, tb = jac[i], jbc[i], ja[i], jb[i]
        has_c, has_t = cb > ca, tb > ta
        if has_c and has_t:
            lo, hi = min(ca, ta), max(cb, tb)
        elif has_c:
            lo, hi = ca, cb
        elif has_t:
            lo, hi = ta, tb
        else:
            continue
        gyci = gyc[i]
        gyi = gy[i]
        vy = (y[i] - y0) * iy
        base = i * nx
        for j in range(lo, hi):
            n = base + j
            gcn = gyci * gxc[j] if ca <= j < cb else 0.0
            in_t = ta <= j < tb
            gn = gyi * gx[j] if in_t else 0.0
            muc = ac * gcn + cc0
            mu = amp * gn + c
            v = vf[n]
            dn = d[n]
            wc = v / max((muc + offc) * ge + read2, floor)
            delta += wc * (muc - mu) * (2.0 * dn - muc - mu)
            dd = dn - shift
            sh0 += v
            sh1 += v * dd
            if not in_t:
                continue
            wn = v / max((mu + offc) * ge + read2, floor)
            r = dn - mu
            wr = wn * r
            chi2 += wr * r
            s0 += v
            s1 += v * dd
            s2 += v * dd * dd
            vx = (x[j] - x0) * ix
            ag = amp * gn
            j1 = ag * vy
            j2 = ag * vx
            if iso:
                j3 = 0.5 * (j1 * vy + j2 * vx)
                j4 = 0.0
            else:
                j3 = 0.5 * j1 * vy
                j4 = 0.5 * j2 * vx
            g0 += wr * gn
            g1 += wr * j1
            g2 += wr * j2
            g3 += wr * j3
            g4 += wr * j4
            g5 += wr
            w0 = wn * gn
            w1 = wn * j1
            w2 = wn * j2
            w3 = wn * j3
            w4 = wn * j4
            h00 += w0 * gn
            h01 += w0 * j1
            h02 += w0 * j2
            h03 += w0 * j3
            h04 += w0 * j4
            h05 += w0
            h11 += w1 * j1
            h12 += w1 * j2
            h13 += w1 * j3
            h14 += w1 * j4
            h15 += w1
            h22 += w2 * j2
            h23 += w2 * j3
            h24 += w2 * j4
            h25 += w2
            h33 += w3 * j3
            h34 += w3 * j4
            h35 += w3
            h44 += w4 * j4
            h45 += w4
            h55 += wn
    w_bc = 1.0 / max((cc0 + offc) * ge + read2, floor)
    delta += w_bc * (cc0 - c) * (2.0 * (tot[1] - sh1) - (c + cc0 - 2.0 * shift) * (tot[0] - sh0))
    w_bg = 1.0 / max((c + offc) * ge + read2, floor)
    o0 = tot[0] - s0
    o1 = tot[1] - s1
    o2 = tot[2] - s2
    dc = c - shift
    chi2 += w_bg * (o2 - 2.0 * dc * o1 + dc * dc * o0)
    g5 += w_bg * (o1 - dc * o0)
    h55 += w_bg * o0
    gr[0], gr[1], gr[2], gr[3], gr[4], gr[5] = g0, g1, g2, g3, g4, g5
    h[0, 0], h[0, 1], h[0, 2], h[0, 3], h[0, 4], h[0, 5] = h00, h01, h02, h03, h04, h05
    h[1, 1], h[1, 2], h[1, 3], h[1, 4], h[1, 5] = h11, h12, h13, h14, h15
    h[2, 2], h[2, 3], h[2, 4], h[2, 5] = h22, h23, h24, h25
    h[3, 3], h[3, 4], h[3, 5] = h33, h34, h35
    h[4, 4], h[4, 5], h[5, 5] = h44, h45, h55
    for a in range(6):
        for b in range(a):
            h[a, b] = h[b, a]
    return delta, chi2


@njit(cache=True, error_model="numpy")
def _shape_sums(h6, g6, iso, hess, grad):
    """The shape's normal equations from the 6-parameter layout of :func:`_pass_axes`."""
    if iso:
        idx = (0, 1, 2, 3, 5)
        for a in range(5):
            grad[a] = g6[idx[a]]
            for b in range(5):
                hess[a, b] = h6[idx[a], idx[b]]
    else:
        hess[:, :] = h6
        grad[:] = g6


@njit(cache=True, error_model="numpy")
def _fit_frame_axes(y, x, hx, d, valid, offc, p, shape, ge, read2, floor, max_iter, tol, cov):
    """:func:`_fit_frame_box` for the axis-aligned shapes (0, 1): the Gaussian as the product
    of its axes and the sums in the shape's own parameters (:func:`_pass_axes`)."""
    n = d.shape[0]
    ny, nx = y.shape[0], x.shape[0]
    npar = p.shape[0]
    iso = shape == 0
    e = _embedding(shape)
    vf = np.empty(n)
    nvalid = 0
    for k in range(n):
        vf[k] = 1.0 if valid[k] else 0.0
        nvalid += valid[k]
    tot = np.empty(4)
    _frame_sums(d, vf, p[npar - 1] if np.isfinite(p[npar - 1]) else 0.0, tot)
    gy, gx = np.zeros(ny), np.zeros(nx)
    gy_t, gx_t = np.zeros(ny), np.zeros(nx)
    ja = np.zeros(ny, dtype=np.int64)
    jb = np.zeros(ny, dtype=np.int64)
    ja_t = np.zeros(ny, dtype=np.int64)
    jb_t = np.zeros(ny, dtype=np.int64)
    f = np.empty(NFULL)
    f_try = np.empty(NFULL)
    h6, g6 = np.empty((6, 6)), np.empty(6)
    h6_t, g6_t = np.empty((6, 6)), np.empty(6)
    hess = np.empty((npar, npar))
    grad = np.empty(npar)
    damped = np.empty((npar, npar))
    step = np.empty(npar)
    trial = np.empty(npar)
    lam = 1e-3
    converged = False
    niter = 0
    _full(e, p, f)
    if _admissible(p, shape):
        _axes_gauss(y, x, hx, f, gy, gx, ja, jb)
    ok_start = _admissible(p, shape)
    _, chi2 = _pass_axes(
        y, x, d, vf, offc, gy, gx, ja, jb, f, gy, gx, ja, jb, f, iso, ge, read2, floor, tot, h6, g6
    )
    if ok_start and nvalid > npar:
        for _ in range(max_iter):
            _shape_sums(h6, g6, iso, hess, grad)
            damped[:, :] = hess
            for k in range(npar):
                damped[k, k] += lam * hess[k, k]
            _solve(damped, grad, step)
            finite = True
            for k in range(npar):
                trial[k] = p[k] + step[k]
                finite = finite and np.isfinite(step[k])
            ok_step = finite and _admissible(trial, shape)
            better = False
            if ok_step:
                _full(e, trial, f_try)
                _axes_gauss(y, x, hx, f_try, gy_t, gx_t, ja_t, jb_t)
                delta, chi2_t = _pass_axes(
                    y,
                    x,
                    d,
                    vf,
                    offc,
                    gy,
                    gx,
                    ja,
                    jb,
                    f,
                    gy_t,
                    gx_t,
                    ja_t,
                    jb_t,
                    f_try,
                    iso,
                    ge,
                    read2,
                    floor,
                    tot,
                    h6_t,
                    g6_t,
                )
                better = delta <= 0.0
            niter += 1
            lam = lam * 0.1 if better else lam * 10.0
            lam = min(max(lam, 1e-9), 1e9)
            if better:
                p[:] = trial
                f[:] = f_try
                gy, gy_t = gy_t, gy
                gx, gx_t = gx_t, gx
                ja, ja_t = ja_t, ja
                jb, jb_t = jb_t, jb
                h6, h6_t = h6_t, h6
                g6, g6_t = g6_t, g6
                chi2 = chi2_t
            small = finite
            for k in range(npar):
                se = math.sqrt(abs(1.0 / hess[k, k])) if hess[k, k] > 0 else 0.0
                small = small and abs(step[k]) <= tol * se
            if small:
                converged = True
            if small or ((not better) and lam >= 1e9):
                break
    _shape_sums(h6, g6, iso, hess, grad)
    _covariance_into(hess, cov)
    return chi2, converged, niter


@njit(cache=True, error_model="numpy")
def fit_gauss2d_box(y, x, hx, data, valid, offc, p0, shape, ge, read2, floor, max_iter, tol):
    """:func:`fit_gauss2d` when the offset is one number per frame (``offc`` (B,), counts):
    the passes cover only the spot's box (see LOG_CUT). Same returns."""
    nrow, npar = p0.shape
    p = p0.copy()
    cov = np.empty((nrow, npar, npar))
    chi2 = np.empty(nrow)
    converged = np.zeros(nrow, dtype=np.bool_)
    niter = np.zeros(nrow, dtype=np.int64)
    for i in range(nrow):
        v = valid[i if valid.shape[0] > 1 else 0]
        if shape < 2:
            c2, conv, it = _fit_frame_axes(
                y, x, hx, data[i], v, offc[i], p[i], shape, ge, read2, floor, max_iter, tol, cov[i]
            )
        else:
            c2, conv, it = _fit_frame_box(
                y, x, hx, data[i], v, offc[i], p[i], shape, ge, read2, floor, max_iter, tol, cov[i]
            )
        chi2[i] = c2
        converged[i] = conv
        niter[i] = it
    return p, cov, chi2, converged, niter


@njit(cache=True, error_model="numpy")
def _axes_gauss(y, x, hx, f, gy, gx, ja, jb):
    """The box of an axis-aligned Gaussian (Sxy = 0) and its two factors: gy[i] =
    exp(-½ uy²/Syy) on every row, gx[j] = exp(-½ ux²/Sxx) on the widest row's columns (the
    others' boxes lie inside it), so exp(-½ rᵀ Σ⁻¹ r) = gy[i] gx[j]."""
    _segments(y, x, hx, f, ja, jb)
    y0, syy = f[1], f[3]
    a, b = x.shape[0], 0
    for i in range(y.shape[0]):
        uy = y[i] - y0
        gy[i] = math.exp(-0.5 * uy * uy / syy)
        if jb[i] > ja[i]:
            a = min(a, ja[i])
            b = max(b, jb[i])
    if b > a:
        _fill_gauss(x[a:b], hx, f[2], f[4], gx[a:b])


@njit(cache=True, error_model="numpy", fastmath=FLAGS)
def _info_axes(y, x, vf, offc, gy, gx, ja, jb, f, iso, ge, read2, floor, n_valid, h):
    """Fisher information ``h`` of an axis-aligned Gaussian (Sxy = 0) directly in its own
    parameters, (A, y0, x0, s, c) (``iso``) or (A, y0, x0, Syy, Sxx, c): :func:`_normal_box`
    without data, with 15 or 21 sums per pixel instead of 28 (the Sxy column is not built),
    and the Gaussian the product gy[i] gx[j] of its two axes (no per-pixel array)."""
    amp, y0, x0, syy, sxx, c = f[0], f[1], f[2], f[3], f[4], f[6]
    iy, ix = 1.0 / syy, 1.0 / sxx
    nx = x.shape[0]
    s0 = 0.0
    h00 = h01 = h02 = h03 = h04 = h05 = 0.0
    h11 = h12 = h13 = h14 = h15 = 0.0
    h22 = h23 = h24 = h25 = 0.0
    h33 = h34 = h35 = 0.0
    h44 = h45 = h55 = 0.0
    for i in range(y.shape[0]):
        if jb[i] <= ja[i]:
            continue
        vy = (y[i] - y0) * iy
        gyi = gy[i]
        base = i * nx
        if iso:
            for j in range(ja[i], jb[i]):
                n = base + j
                gn = gyi * gx[j]
                v = vf[n]
                wn = v / max((amp * gn + c + offc) * ge + read2, floor)
                s0 += v
                vx = (x[j] - x0) * ix
                ag = amp * gn
                j1 = ag * vy
                j2 = ag * vx
                j3 = 0.5 * (j1 * vy + j2 * vx)
                w0 = wn * gn
                w1 = wn * j1
                w2 = wn * j2
                w3 = wn * j3
                h00 += w0 * gn
                h01 += w0 * j1
                h02 += w0 * j2
                h03 += w0 * j3
                h04 += w0
                h11 += w1 * j1
                h12 += w1 * j2
                h13 += w1 * j3
                h14 += w1
                h22 += w2 * j2
                h23 += w2 * j3
                h24 += w2
                h33 += w3 * j3
                h34 += w3
                h44 += wn
        else:
            for j in range(ja[i], jb[i]):
                n = base + j
                gn = gyi * gx[j]
                v = vf[n]
                wn = v / max((amp * gn + c + offc) * ge + read2, floor)
                s0 += v
                vx = (x[j] - x0) * ix
                ag = amp * gn
                j1 = ag * vy
                j2 = ag * vx
                j3 = 0.5 * j1 * vy
                j4 = 0.5 * j2 * vx
                w0 = wn * gn
                w1 = wn * j1
                w2 = wn * j2
                w3 = wn * j3
                w4 = wn * j4
                h00 += w0 * gn
                h01 += w0 * j1
                h02 += w0 * j2
                h03 += w0 * j3
                h04 += w0 * j4
                h05 += w0
                h11 += w1 * j1
                h12 += w1 * j2
                h13 += w1 * j3
                h14 += w1 * j4
                h15 += w1
                h22 += w2 * j2
                h23 += w2 * j3
                h24 += w2 * j4
                h25 += w2
                h33 += w3 * j3
                h34 += w3 * j4
                h35 += w3
                h44 += w4 * j4
                h45 += w4
                h55 += wn
    # the rest of the frame: mu = c, one weight, Jacobian (0, ..., 0, 1)
    w_bg = 1.0 / max((c + offc) * ge + read2, floor)
    if iso:
        h44 += w_bg * (n_valid - s0)
        h[0, 0], h[0, 1], h[0, 2], h[0, 3], h[0, 4] = h00, h01, h02, h03, h04
        h[1, 1], h[1, 2], h[1, 3], h[1, 4] = h11, h12, h13, h14
        h[2, 2], h[2, 3], h[2, 4] = h22, h23, h24
        h[3, 3], h[3, 4], h[4, 4] = h33, h34, h44
    else:
        h55 += w_bg * (n_valid - s0)
        h[0, 0], h[0, 1], h[0, 2], h[0, 3], h[0, 4], h[0, 5] = h00, h01, h02, h03, h04, h05
        h[1, 1], h[1, 2], h[1, 3], h[1, 4], h[1, 5] = h11, h12, h13, h14, h15
        h[2, 2], h[2, 3], h[2, 4], h[2, 5] = h22, h23, h24, h25
        h[3, 3], h[3, 4], h[3, 5] = h33, h34, h35
        h[4, 4], h[4, 5], h[5, 5] = h44, h45, h55
    npar = h.shape[0]
    for i in range(npar):
        for j in range(i):
            h[i, j] = h[j, i]


@njit(cache=True, error_model="numpy")
def information_gauss2d(y, x, hx, valid, offc, p, shape, ge, read2, floor):
    """Inverse Fisher information (B, P, P) of the 2D Gaussian + constant at parameters ``p``
    (layout of :func:`fit_gauss2d`), pixel variance ``max((mu + offc) ge + read2, floor)``.

    ``valid`` (B or 1, Y·X) bool; ``offc`` (B,) counts. NaN where ``p`` is not admissible or
    the information is singular (no positive diagonal), as the numpy
    :func:`fitdiff.extract.fisher.gauss_covariance`.
    """
    nrow, npar = p.shape
    n = y.shape[0] * x.shape[0]
    ny = y.shape[0]
    e = _embedding(shape)
    cov = np.full((nrow, npar, npar), np.nan)
    vf = np.empty(n)
    tot = np.zeros(4)
    g = np.zeros(n)
    ja = np.zeros(ny, dtype=np.int64)
    jb = np.zeros(ny, dtype=np.int64)
    f = np.empty(NFULL)
    h7 = np.empty((NFULL, NFULL))
    g7 = np.empty(NFULL)
    hess = np.empty((npar, npar))
    grad = np.empty(npar)
    dummy = np.empty(0)
    gy = np.empty(ny)
    gx = np.empty(x.shape[0])
    shared = valid.shape[0] == 1
    for r in range(nrow):
        if r == 0 or not shared:
            v = valid[r if not shared else 0]
            s0 = 0.0
            for k in range(n):
                vf[k] = 1.0 if v[k] else 0.0
                s0 += vf[k]
            tot[0] = s0
        if not _admissible(p[r], shape):
            continue
        _full(e, p[r], f)
        if shape < 2:  # axis-aligned: the information in the shape's own parameters
            _axes_gauss(y, x, hx, f, gy, gx, ja, jb)
            _info_axes(
                y, x, vf, offc[r], gy, gx, ja, jb, f, shape == 0, ge, read2, floor, tot[0], hess
            )
        else:
            _fill_box(y, x, hx, f, g, ja, jb)
            _normal_box(
                y, x, dummy, vf, offc[r], g, ja, jb, f, ge, read2, floor, tot, h7, g7, False
            )
            _project(e, h7, g7, hess, grad)
        _covariance_into(hess, cov[r])
    return cov


@njit(cache=True, error_model="numpy")
def chi2_gauss2d(y, x, hx, data, rows, valid, offc, p, q, shape, ge, read2, floor):
    """χ² (R, 2) of the frames ``data[rows]`` at two sets of parameters ``p``, ``q`` (R rows,
    layout of :func:`fit_gauss2d`), each with the weights of its own model (NaN where not
    admissible): what the fit would start from, to choose between start values. ``valid``
    (B or 1, Y·X) and ``offc`` (B,) are indexed like ``data``."""
    nrow = p.shape[0]
    n = y.shape[0] * x.shape[0]
    ny = y.shape[0]
    e = _embedding(shape)
    out = np.full((nrow, 2), np.nan)
    vf = np.empty(n)
    tot = np.empty(4)
    g = np.zeros(n)
    ja = np.zeros(ny, dtype=np.int64)
    jb = np.zeros(ny, dtype=np.int64)
    f = np.empty(NFULL)
    h7 = np.empty((NFULL, NFULL))
    g7 = np.empty(NFULL)
    for r in range(nrow):
        row = rows[r]
        v = valid[row if valid.shape[0] > 1 else 0]
        for k in range(n):
            vf[k] = 1.0 if v[k] else 0.0
        c = p[r, p.shape[1] - 1]
        _frame_sums(data[row], vf, c if np.isfinite(c) else 0.0, tot)
        for which in range(2):
            pr = p[r] if which == 0 else q[r]
            if not _admissible(pr, shape):
                continue
            _full(e, pr, f)
            _fill_box(y, x, hx, f, g, ja, jb)
            out[r, which] = _normal_box(
                y, x, data[row], vf, offc[row], g, ja, jb, f, ge, read2, floor, tot, h7, g7, True
            )
    return out
