"""Compiled per-row Levenberg-Marquardt for the 1D Gaussian + constant profile (numba).

The same estimator and the same iteration as :func:`fitdiff.extract.lm.batched_lm` (model-based
camera weights, damping 1e-3 ×0.1/×10 clipped to [1e-9, 1e9], descent test with the weights of
the current point, convergence when every step is below ``tol`` / sqrt(H_kk), covariance
(J^T W J)^-1 at the solution), but one row at a time in compiled code. The numpy batch spends
~45 passes over (B, N) arrays per iteration; here one fused pass per pixel builds the model, the
weights, χ², the gradient and the 4 × 4 normal matrix, and a second pass gives the trial χ², so
a 1024-pixel row costs a few µs per iteration. Rows run serially: ``prange`` gained only 1.6×
on two cores and numba's default threading layer aborts when two Python threads launch
parallel kernels at once (a campaign on a thread pool would); parallelism belongs to the
campaign level.

This module imports numba; :mod:`fitdiff.extract.lm` imports it only when numba is installed
(the optional extra ``fast``) and falls back to the numpy batch otherwise.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

NPAR = 4  # (A, x0, s = σ², c)


# Sums over pixels may be reordered (vectorised); no other fast-math licence, so NaN and inf
# checks keep their meaning. The reordering changes results only at rounding level.
FLAGS = {"reassoc", "contract"}
BLOCK = 128  # pixels per exact exp anchor of the Gaussian recurrence


@njit(cache=True, error_model="numpy")
def _ray(g, a, stop, hs, u, inv2s, q):
    """Fill g[a + dir], g[a + 2 dir], ... up to ``stop`` (exclusive) from the anchor g[a].

    ``hs`` = ±pixel spacing (the direction), ``u`` = x[a] - x0, ``q`` = exp(-h²/s). Four
    interleaved chains of stride 4 (g[n+4] = g[n] R[n], R[n+4] = R[n] q^16) keep the
    multiplier busy: a single chain waits on its own previous product.
    """
    d = 1 if hs > 0 else -1
    count = (stop - a) * d - 1  # pixels strictly between the anchor and stop
    if count <= 0:
        return
    h2 = hs * hs
    # the first three by the stride-1 recurrence (ratio g[n+1]/g[n], times q per pixel)
    r = math.exp(-(2.0 * u * hs + h2) * inv2s)
    gk = g[a]
    for m in range(1, min(count, 3) + 1):
        gk *= r
        r *= q
        g[a + m * d] = gk
    if count <= 3:
        return
    q4 = q * q
    q4 *= q4
    q16 = q4 * q4
    q16 *= q16
    r0 = math.exp(-(8.0 * u * hs + 16.0 * h2) * inv2s)  # g[a+4d] / g[a]
    r1 = r0 * q4
    r2 = r1 * q4
    r3 = r2 * q4
    g0, g1, g2, g3 = g[a], g[a + d], g[a + 2 * d], g[a + 3 * d]
    m = 4
    while m + 3 <= count:
        g0 *= r0
        g1 *= r1
        g2 *= r2
        g3 *= r3
        r0 *= q16
        r1 *= q16
        r2 *= q16
        r3 *= q16
        k = a + m * d
        g[k] = g0
        g[k + d] = g1
        g[k + 2 * d] = g2
        g[k + 3 * d] = g3
        m += 4
    if m <= count:
        g[a + m * d] = g0 * r0
    if m + 1 <= count:
        g[a + (m + 1) * d] = g1 * r1
    if m + 2 <= count:
        g[a + (m + 2) * d] = g2 * r2


@njit(cache=True, error_model="numpy")
def _fill_gauss(x, h, x0, s, g):
    """g[n] = exp(-(x[n] - x0)² / (2 s)) for every pixel.

    On a uniform grid (``h`` = spacing > 0) the exponential is a product recurrence
    (g[n+1] = g[n] r[n], r[n+1] = r[n] exp(-h²/s)), re-anchored by an exact exp every BLOCK
    pixels at the pixel nearest the centre, so that the values only shrink away from the anchor
    (no spurious underflow) and the rounding stays at ~(BLOCK/4)² ε. libm's exp is 5-6 ns,
    most of an iteration's cost; the recurrence is two multiplies. ``h = 0`` means a
    non-uniform grid: exact exp per pixel.
    """
    n = x.shape[0]
    inv2s = 0.5 / s
    if h <= 0.0:
        for k in range(n):
            u = x[k] - x0
            g[k] = math.exp(-u * u * inv2s)
        return
    q = math.exp(-h * h / s)
    # clamped as a float first: int() of a NaN or huge value is undefined behaviour in LLVM
    centre = min(max((x0 - x[0]) / h, 0.0), n - 1.0) if np.isfinite(x0) else 0.0
    for b in range(0, n, BLOCK):
        e = min(b + BLOCK, n)
        a = min(max(int(round(centre)), b), e - 1)
        u = x[0] + a * h - x0
        g[a] = math.exp(-u * u * inv2s)
        _ray(g, a, e, h, u, inv2s, q)
        _ray(g, a, b - 1, -h, u, inv2s, q)


@njit(cache=True, error_model="numpy", fastmath=FLAGS)
def _normal_pass(x, d, vf, off, g, p, ge, read2, floor, w, hess, grad):
    """Weights at the model of ``p`` (Gaussian ``g``), then χ², J^T W r, J^T W J in one sweep.

    ``w`` (N,) receives the weights (0 for invalid pixels, ``vf`` = 0) for the descent test.
    """
    amp, x0, s, c = p[0], p[1], p[2], p[3]
    a1 = amp / s
    a2 = amp / (2.0 * s * s)
    chi2 = g0 = g1 = g2 = g3 = 0.0
    h00 = h01 = h02 = h03 = h11 = h12 = h13 = h22 = h23 = h33 = 0.0
    for n in range(x.shape[0]):
        u = x[n] - x0
        gn = g[n]
        mu = amp * gn + c
        var = max((mu + off[n]) * ge + read2, floor)
        wn = vf[n] / var
        w[n] = wn
        r = d[n] - mu
        wr = wn * r
        chi2 += wr * r
        j1 = gn * (u * a1)
        j2 = gn * (u * u * a2)
        g0 += wr * gn
        g1 += wr * j1
        g2 += wr * j2
        g3 += wr
        wj0 = wn * gn
        wj1 = wn * j1
        wj2 = wn * j2
        h00 += wj0 * gn
        h01 += wj0 * j1
        h02 += wj0 * j2
        h03 += wj0
        h11 += wj1 * j1
        h12 += wj1 * j2
        h13 += wj1
        h22 += wj2 * j2
        h23 += wj2
        h33 += wn
    grad[0], grad[1], grad[2], grad[3] = g0, g1, g2, g3
    hess[0, 0], hess[0, 1], hess[0, 2], hess[0, 3] = h00, h01, h02, h03
    hess[1, 1], hess[1, 2], hess[1, 3] = h11, h12, h13
    hess[2, 2], hess[2, 3], hess[3, 3] = h22, h23, h33
    for i in range(NPAR):
        for j in range(i):
            hess[i, j] = hess[j, i]
    return chi2


@njit(cache=True, error_model="numpy", fastmath=FLAGS)
def _chi2(d, g, p, w):
    """χ² of ``p`` (Gaussian ``g``) with given weights ``w`` (descent test of one quadratic)."""
    amp, c = p[0], p[3]
    chi2 = 0.0
    for n in range(d.shape[0]):
        r = d[n] - (amp * g[n] + c)
        chi2 += w[n] * r * r
    return chi2


@njit(cache=True, error_model="numpy")
def _solve(a, b, out):
    """Solve the 4 × 4 system ``a out = b`` by Gaussian elimination with partial pivoting.

    Hand-written because a LAPACK call per row and iteration costs more than the arithmetic;
    a zero pivot (singular matrix, where LAPACK would raise) gives NaN, like the numpy path.
    """
    m = np.empty((NPAR, NPAR + 1))
    m[:, :NPAR] = a
    m[:, NPAR] = b
    for col in range(NPAR):
        piv = col
        for r in range(col + 1, NPAR):
            if abs(m[r, col]) > abs(m[piv, col]):
                piv = r
        if not m[piv, col] != 0.0:  # zero or NaN pivot
            out[:] = np.nan
            return
        if piv != col:
            for k in range(NPAR + 1):
                m[col, k], m[piv, k] = m[piv, k], m[col, k]
        for r in range(col + 1, NPAR):
            f = m[r, col] / m[col, col]
            for k in range(col, NPAR + 1):
                m[r, k] -= f * m[col, k]
    for r in range(NPAR - 1, -1, -1):
        acc = m[r, NPAR]
        for k in range(r + 1, NPAR):
            acc -= m[r, k] * out[k]
        out[r] = acc / m[r, r]


@njit(cache=True, error_model="numpy")
def _admissible(p):
    for k in range(NPAR):
        if not np.isfinite(p[k]):
            return False
    return p[2] > 0.0


@njit(cache=True, error_model="numpy")
def _fit_row(x, h, d, valid, off, p, ge, read2, floor, max_iter, tol, cov):
    """Fit one row in place (``p``), fill ``cov``; return (χ², converged, iterations)."""
    n = x.shape[0]
    vf = np.empty(n)
    nvalid = 0
    for k in range(n):
        vf[k] = 1.0 if valid[k] else 0.0
        nvalid += valid[k]
    w = np.empty(n)
    g = np.empty(n)
    g_try = np.empty(n)
    hess = np.empty((NPAR, NPAR))
    grad = np.empty(NPAR)
    damped = np.empty((NPAR, NPAR))
    step = np.empty(NPAR)
    trial = np.empty(NPAR)
    lam = 1e-3
    converged = False
    niter = 0
    _fill_gauss(x, h, p[1], p[2], g)
    if _admissible(p) and nvalid > NPAR:
        for _ in range(max_iter):
            chi2 = _normal_pass(x, d, vf, off, g, p, ge, read2, floor, w, hess, grad)
            damped[:, :] = hess
            for k in range(NPAR):
                damped[k, k] += lam * hess[k, k]
            _solve(damped, grad, step)
            finite = True
            for k in range(NPAR):
                trial[k] = p[k] + step[k]
                finite = finite and np.isfinite(step[k])
            ok_step = finite and _admissible(trial)
            better = False
            if ok_step:
                _fill_gauss(x, h, trial[1], trial[2], g_try)
                better = _chi2(d, g_try, trial, w) <= chi2
            niter += 1
            lam = lam * 0.1 if better else lam * 10.0
            lam = min(max(lam, 1e-9), 1e9)
            if better:
                p[:] = trial
                g, g_try = g_try, g  # the trial's Gaussian is the next iteration's
            # every step below tol standard errors (1/sqrt(H_kk), a conservative one)
            small = finite
            for k in range(NPAR):
                se = math.sqrt(abs(1.0 / hess[k, k])) if hess[k, k] > 0 else 0.0
                small = small and abs(step[k]) <= tol * se
            if small:
                converged = True
            if small or ((not better) and lam >= 1e9):
                break
    # covariance and χ² at the final parameters, weights from the model (as the numpy path)
    chi2 = _normal_pass(x, d, vf, off, g, p, ge, read2, floor, w, hess, grad)
    cov[:, :] = np.nan
    finite = True
    for i in range(NPAR):
        for j in range(NPAR):
            finite = finite and np.isfinite(hess[i, j])
    if finite:
        unit = np.zeros(NPAR)
        col = np.empty(NPAR)
        for j in range(NPAR):
            unit[:] = 0.0
            unit[j] = 1.0
            _solve(hess, unit, col)
            cov[:, j] = col
        positive = True
        for k in range(NPAR):
            positive = positive and cov[k, k] > 0  # False for NaN too
        if not positive:
            cov[:, :] = np.nan
    return chi2, converged, niter


@njit(cache=True, error_model="numpy")
def fit_gauss1d(x, h, data, valid, offset, p0, ge, read2, floor, max_iter, tol):
    """Fit A exp(-(x - x0)² / (2 s)) + c to every row of ``data``.

    Parameters
    ----------
    x : ndarray (N,)
        Pixel centres, µm.
    h : float
        Pixel spacing in µm when ``x`` is uniform (see :func:`uniform_step`), else 0.
    data : ndarray (B, N)
        Counts after background subtraction.
    valid : ndarray of bool (B, N)
        Pixels that take part.
    offset : ndarray (B, N)
        Counts subtracted before fitting (the noise model sees ``mu + offset``).
    p0 : ndarray (B, 4)
        Starting (A counts, x0 µm, s µm², c counts).
    ge, read2, floor : float
        Noise model ``max((mu + offset) ge + read2, floor)`` in counts² (see ``NoiseModel``).
    max_iter : int
    tol : float
        Convergence in standard errors per step.

    Returns
    -------
    p (B, 4), cov (B, 4, 4), chi2 (B,), converged (B,) bool, niter (B,) int
    """
    nrow = data.shape[0]
    p = p0.copy()
    cov = np.empty((nrow, NPAR, NPAR))
    chi2 = np.empty(nrow)
    converged = np.zeros(nrow, dtype=np.bool_)
    niter = np.zeros(nrow, dtype=np.int64)
    for i in range(nrow):
        c2, conv, it = _fit_row(
            x, h, data[i], valid[i], offset[i], p[i], ge, read2, floor, max_iter, tol, cov[i]
        )
        chi2[i] = c2
        converged[i] = conv
        niter[i] = it
    return p, cov, chi2, converged, niter


def uniform_step(x: np.ndarray, rtol: float = 1e-12) -> float:
    """Spacing of ``x`` (µm) if it is uniform to ``rtol`` of a pixel, else 0 (exact exp path).

    A deviation δ of one pixel from the grid changes g by ~|u| δ / s, < 1e-8 relative here for
    any width above a quarter pixel on a 10⁴-pixel row.
    """
    x = np.asarray(x, dtype=float)
    if x.size < 2:
        return 0.0
    h = (x[-1] - x[0]) / (x.size - 1)
    grid = x[0] + h * np.arange(x.size)
    return float(h) if h > 0 and np.max(np.abs(x - grid)) <= rtol * h else 0.0
