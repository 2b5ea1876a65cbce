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


#: The 10 distinct sums of a 4 × 4 normal matrix (h00 h01 h02 h03 h11 h12 h13 h22 h23 h33),
#: all zero: the start of :func:`_info_add`'s accumulation.
ZERO_INFO = (0.0,) * 10


@njit(inline="always")
def _jac(gn, u, a1, a2):
    """The Jacobian's x0 and s columns at one pixel (the A and c columns are gn and 1):
    gn u A/s and gn u² A/(2 s²), with ``a1`` = A/s, ``a2`` = A/(2 s²), ``u`` = x - x0."""
    return gn * (u * a1), gn * (u * u * a2)


@njit(inline="always")
def _info_add(hs, wn, gn, j1, j2, w33):
    """The 10 sums ``hs`` of Jᵀ W J plus one pixel of weight ``wn`` and Jacobian
    (gn, j1, j2, 1); ``w33`` is what the background-background sum takes (``wn``, or a
    difference of weights). Inlined, so the caller's loop keeps scalar sums and vectorises."""
    h00, h01, h02, h03, h11, h12, h13, h22, h23, h33 = hs
    wj0 = wn * gn
    wj1 = wn * j1
    wj2 = wn * j2
    return (
        h00 + wj0 * gn,
        h01 + wj0 * j1,
        h02 + wj0 * j2,
        h03 + wj0,
        h11 + wj1 * j1,
        h12 + wj1 * j2,
        h13 + wj1,
        h22 + wj2 * j2,
        h23 + wj2,
        h33 + w33,
    )


@njit(inline="always")
def _grad_add(gs, wr, gn, j1, j2):
    """The 4 sums ``gs`` of Jᵀ W r plus one pixel (``wr`` = its weight times residual)."""
    return gs[0] + wr * gn, gs[1] + wr * j1, gs[2] + wr * j2, gs[3] + wr


@njit(cache=True, error_model="numpy")
def _store_info(m, hs):
    """Write the 10 sums ``hs`` (see :func:`_info_add`) into the symmetric 4 × 4 ``m``."""
    m[0, 0], m[0, 1], m[0, 2], m[0, 3] = hs[0], hs[1], hs[2], hs[3]
    m[1, 1], m[1, 2], m[1, 3] = hs[4], hs[5], hs[6]
    m[2, 2], m[2, 3], m[3, 3] = hs[7], hs[8], hs[9]
    for i in range(NPAR):
        for j in range(i):
            m[i, j] = m[j, i]


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
    chi2 = 0.0
    gs = (0.0, 0.0, 0.0, 0.0)
    hs = ZERO_INFO
    for n in range(x.shape[0]):
        gn = g[n]
        mu = amp * gn + c
        var = max((mu + off[n]) * ge + read2, floor)
        wn = vf[n] / var
        w[n] = wn
        r = d[n] - mu
        wr = wn * r
        chi2 += wr * r
        j1, j2 = _jac(gn, x[n] - x0, a1, a2)
        gs = _grad_add(gs, wr, gn, j1, j2)
        hs = _info_add(hs, wn, gn, j1, j2, wn)
    grad[0], grad[1], grad[2], grad[3] = gs
    _store_info(hess, hs)
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
    """Solve the n × n system ``a out = b`` by Gaussian elimination with partial pivoting.

    Hand-written because a LAPACK call per row and iteration costs more than the arithmetic;
    a zero pivot (singular matrix, where LAPACK would raise) gives NaN, like the numpy path.
    Shared by the streak (n = 4) and stack (n = 5–7) kernels.
    """
    n = b.shape[0]
    _solve_into(a, b, out, np.empty((n, n + 1)))


@njit(cache=True, error_model="numpy")
def _solve_into(a, b, out, m):
    """:func:`_solve` with the work matrix ``m`` (n, n + 1) given (no allocation per call)."""
    n = b.shape[0]
    m[:, :n] = a
    m[:, n] = b
    for col in range(n):
        piv = col
        for r in range(col + 1, n):
            if abs(m[r, col]) > abs(m[piv, col]):
                piv = r
        if not m[piv, col] != 0.0:  # zero or NaN pivot
            out[:] = np.nan
            return
        if piv != col:
            for k in range(n + 1):
                m[col, k], m[piv, k] = m[piv, k], m[col, k]
        for r in range(col + 1, n):
            f = m[r, col] / m[col, col]
            for k in range(col, n + 1):
                m[r, k] -= f * m[col, k]
    for r in range(n - 1, -1, -1):
        acc = m[r, n]
        for k in range(r + 1, n):
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


# ---------------------------------------------------------------------------------------------
# Box-restricted passes, as the 2D kernels do (lm2d_numba): when the offset is one number per
# row, the pixels where the Gaussian is below exp(-LOG_CUT) ≈ 1.4e-11 of its peak have mu = c,
# one weight and the Jacobian (0, 0, 0, 1), so their share of χ², the gradient and the normal
# matrix follows from three row sums (Σ v, Σ v d', Σ v d'², v the valid flag, d' = d - shift)
# minus the same sums inside the box [a, b). Dropping the tail changes any sum by < ~1e-10 of
# the profile's (the box reaches further for a peak far above its background: :func:`_cut`).
# A spot that has collapsed onto a noise spike (a few pixels wide) then costs a
# few pixels per iteration instead of the whole row.
# ---------------------------------------------------------------------------------------------

#: Gaussian values below exp(-LOG_CUT) count as zero (outside the box); lm2d_numba's cut.
LOG_CUT = 25.0
#: Peak-to-background-variance ratio above which the box reaches further (:func:`_cut`).
CUT_RATIO = 100.0


@njit(cache=True, error_model="numpy")
def _fill_box(x, h, x0, s, cut, g, box):
    """g = exp(-(x - x0)² / (2 s)) on the box of (x0, s), 0 elsewhere.

    ``box`` (2,) int holds the box of what ``g`` held on entry (its pixels are zeroed first)
    and the new box [box[0], box[1]) on return. ``h`` = 0 (non-uniform grid): the whole row.
    ``cut``: the box ends where g < exp(-cut) (:func:`_cut`).
    """
    g[box[0] : box[1]] = 0.0
    a, b = _box_bounds(x, h, x0, s, cut)
    box[0], box[1] = a, b
    if b > a:
        _fill_gauss(x[a:b], h, x0, s, g[a:b])


@njit(cache=True, error_model="numpy")
def _box_bounds(x, h, x0, s, cut):
    """The pixels [a, b) where exp(-(x - x0)² / (2 s)) >= exp(-cut); the whole row when
    ``h`` = 0 (non-uniform grid) or the bounds are not finite."""
    n = x.shape[0]
    a, b = 0, n
    if h > 0.0:
        hw = math.sqrt(2.0 * s * cut)
        lo = (x0 - hw - x[0]) / h
        hi = (x0 + hw - x[0]) / h
        if np.isfinite(lo) and np.isfinite(hi):
            # clamped as floats first: int() of a huge value is undefined in LLVM
            a = int(min(max(math.ceil(lo), 0.0), float(n)))
            b = int(min(max(math.floor(hi) + 1.0, 0.0), float(n)))
    return a, max(a, b)


@njit(cache=True, error_model="numpy")
def _cut(amp, c, offc, ge, read2, floor):
    """Where the box of a profile ends, -ln g: LOG_CUT, and further out for a peak more than
    CUT_RATIO times its background's variance, until the profile is below
    CUT_RATIO·exp(-LOG_CUT) ≈ 1.4e-9 of that variance: a peak far above its background
    still changes the weights of pixels where g is below exp(-LOG_CUT)."""
    ratio = abs(amp * ge) / max((c + offc) * ge + read2, floor)
    return LOG_CUT + (math.log(ratio / CUT_RATIO) if ratio > CUT_RATIO else 0.0)


@njit(cache=True, error_model="numpy", fastmath=FLAGS)
def _row_sums(d, vf, shift, tot):
    """tot = (Σ v, Σ v d', Σ v d'², shift), d' = d - shift; ``shift`` near the row's
    background keeps the outside χ² from being a difference of large numbers."""
    s0 = s1 = s2 = 0.0
    for n in range(d.shape[0]):
        dd = d[n] - shift
        s0 += vf[n]
        s1 += vf[n] * dd
        s2 += vf[n] * dd * dd
    tot[0], tot[1], tot[2], tot[3] = s0, s1, s2, shift


@njit(cache=True, error_model="numpy", fastmath=FLAGS)
def _box_pass(x, d, vf, offc, g, a, b, p, ge, read2, floor, tot, hess, grad):
    """:func:`_normal_pass` over the box [a, b), the rest of the row from ``tot``; the offset
    is the number ``offc``. Returns χ² with the weights of ``p``."""
    amp, x0, s, c = p[0], p[1], p[2], p[3]
    a1 = amp / s
    a2 = amp / (2.0 * s * s)
    shift = tot[3]
    chi2 = s0 = s1 = s2 = 0.0
    gs = (0.0, 0.0, 0.0, 0.0)
    hs = ZERO_INFO
    # loops over views from 0: with range(a, b) the index may be negative as far as LLVM can
    # tell, the wraparound test stays in the loop and it is not vectorised (~3x slower)
    xs, ds, vs, gv = x[a:b], d[a:b], vf[a:b], g[a:b]
    for n in range(xs.shape[0]):
        gn = gv[n]
        mu = amp * gn + c
        v = vs[n]
        wn = v / max((mu + offc) * ge + read2, floor)
        dn = ds[n]
        r = dn - mu
        wr = wn * r
        chi2 += wr * r
        dd = dn - shift
        s0 += v
        s1 += v * dd
        s2 += v * dd * dd
        j1, j2 = _jac(gn, xs[n] - x0, a1, a2)
        gs = _grad_add(gs, wr, gn, j1, j2)
        hs = _info_add(hs, wn, gn, j1, j2, wn)
    chi2 += _outside(hess, grad, gs, hs, c, offc, ge, read2, floor, tot, s0, s1, s2)
    return chi2


@njit(cache=True, error_model="numpy", fastmath=FLAGS)
def _outside(hess, grad, gs, hs, c, offc, ge, read2, floor, tot, s0, s1, s2):
    """Add the row outside the box (sums ``s0, s1, s2`` inside it, ``tot`` the row's: see
    :func:`_row_sums`), where mu = c, one weight and the Jacobian is (0, 0, 0, 1), to the box's
    sums ``gs``, ``hs``; store them in ``grad``, ``hess`` and return the outside χ²."""
    w_bg = 1.0 / max((c + offc) * ge + read2, floor)
    o0, o1, o2 = tot[0] - s0, tot[1] - s1, tot[2] - s2
    dc = c - tot[3]
    grad[0], grad[1], grad[2] = gs[0], gs[1], gs[2]
    grad[3] = gs[3] + w_bg * (o1 - dc * o0)
    _store_info(hess, hs)
    hess[3, 3] += w_bg * o0
    return w_bg * (o2 - 2.0 * dc * o1 + dc * dc * o0)


@njit(cache=True, error_model="numpy", fastmath=FLAGS)
def _delta_run(d, vf, offc, gc, gt, pc, pt, shift, ge, read2, floor, lo, hi):
    """Over [lo, hi) outside the trial box: Σ w_c (mu_c - mu_t)(2d - mu_c - mu_t) (the change
    of χ² at the current weights), Σ v and Σ v d'."""
    ac, cc0, amp, c = pc[0], pc[3], pt[0], pt[3]
    delta = sh0 = sh1 = 0.0
    ds, vs, gcs, gts = d[lo:hi], vf[lo:hi], gc[lo:hi], gt[lo:hi]  # see _box_pass
    for n in range(ds.shape[0]):
        muc = ac * gcs[n] + cc0
        mu = amp * gts[n] + c
        v = vs[n]
        dn = ds[n]
        wc = v / max((muc + offc) * ge + read2, floor)
        delta += wc * (muc - mu) * (2.0 * dn - muc - mu)
        sh0 += v
        sh1 += v * (dn - shift)
    return delta, sh0, sh1


@njit(cache=True, error_model="numpy", fastmath=FLAGS)
def _trial_pass(x, d, vf, offc, gc, bc, pc, gt, bt, pt, ge, read2, floor, tot, hess, grad):
    """The descent test and the trial's normal equations in one pass: returns (χ²(trial) -
    χ²(current) at the current weights, χ²(trial) at its own weights) and fills ``hess``,
    ``grad`` as :func:`_box_pass` at ``pt`` (box ``bt``, Gaussian ``gt``), so an accepted step
    needs no pass of its own. The hull of the two boxes is visited once; the rest of the row
    follows from ``tot``. ``gc``, ``gt`` are zero outside their boxes ``bc``, ``bt``."""
    ac, cc0 = pc[0], pc[3]
    amp, x0, s, c = pt[0], pt[1], pt[2], pt[3]
    a1 = amp / s
    a2 = amp / (2.0 * s * s)
    shift = tot[3]
    ta, tb = bt[0], bt[1]
    if bc[1] > bc[0] and tb > ta:
        lo, hi = min(bc[0], ta), max(bc[1], tb)
    elif bc[1] > bc[0]:
        lo, hi = bc[0], bc[1]
    else:
        lo, hi = ta, tb
    if tb > ta:  # the hull outside the trial box
        e0, e1, e2 = _delta_run(d, vf, offc, gc, gt, pc, pt, shift, ge, read2, floor, lo, ta)
        f0, f1, f2 = _delta_run(d, vf, offc, gc, gt, pc, pt, shift, ge, read2, floor, tb, hi)
        e0, e1, e2 = e0 + f0, e1 + f1, e2 + f2
    else:
        e0, e1, e2 = _delta_run(d, vf, offc, gc, gt, pc, pt, shift, ge, read2, floor, lo, hi)
    delta = chi2 = s0 = s1 = s2 = 0.0
    gs = (0.0, 0.0, 0.0, 0.0)
    hs = ZERO_INFO
    xs, ds, vs, gcs, gts = x[ta:tb], d[ta:tb], vf[ta:tb], gc[ta:tb], gt[ta:tb]  # see _box_pass
    for n in range(xs.shape[0]):
        gn = gts[n]
        muc = ac * gcs[n] + cc0
        mu = amp * gn + c
        v = vs[n]
        dn = ds[n]
        wc = v / max((muc + offc) * ge + read2, floor)
        delta += wc * (muc - mu) * (2.0 * dn - muc - mu)
        wn = v / max((mu + offc) * ge + read2, floor)
        r = dn - mu
        wr = wn * r
        chi2 += wr * r
        dd = dn - shift
        s0 += v
        s1 += v * dd
        s2 += v * dd * dd
        j1, j2 = _jac(gn, xs[n] - x0, a1, a2)
        gs = _grad_add(gs, wr, gn, j1, j2)
        hs = _info_add(hs, wn, gn, j1, j2, wn)
    delta += e0
    sh0, sh1 = e1 + s0, e2 + s1
    # outside the hull both models are constants (current weights: the descent test)
    w_bc = 1.0 / max((cc0 + offc) * ge + read2, floor)
    delta += w_bc * (cc0 - c) * (2.0 * (tot[1] - sh1) - (c + cc0 - 2.0 * shift) * (tot[0] - sh0))
    # outside the trial box: mu = c, one weight, Jacobian (0, 0, 0, 1)
    chi2 += _outside(hess, grad, gs, hs, c, offc, ge, read2, floor, tot, s0, s1, s2)
    return delta, chi2


@njit(cache=True, error_model="numpy")
def _covariance_into(hess, cov):
    """cov = hess⁻¹ (NaN unless finite with a positive diagonal); any n × n (streaks and
    stacks)."""
    n = hess.shape[0]
    cov[:, :] = np.nan
    for i in range(n):
        for j in range(n):
            if not np.isfinite(hess[i, j]):
                return
    unit = np.zeros(n)
    col = np.empty(n)
    for j in range(n):
        unit[:] = 0.0
        unit[j] = 1.0
        _solve(hess, unit, col)
        cov[:, j] = col
    for k in range(n):
        if not cov[k, k] > 0:  # False for NaN too
            cov[:, :] = np.nan
            return


@njit(cache=True, error_model="numpy")
def _fit_row_box(x, h, d, valid, offc, p, ge, read2, floor, max_iter, tol, cov):
    """:func:`_fit_row` with the box-restricted passes (one offset number ``offc`` per row):
    the same iteration, with the descent test and the next normal equations from one pass."""
    n = x.shape[0]
    vf = np.empty(n)
    nvalid = 0
    for k in range(n):
        vf[k] = 1.0 if valid[k] else 0.0
        nvalid += valid[k]
    tot = np.empty(4)
    _row_sums(d, vf, p[3] if np.isfinite(p[3]) else 0.0, tot)
    g = np.zeros(n)
    g_try = np.zeros(n)
    box = np.zeros(2, dtype=np.int64)
    box_t = np.zeros(2, dtype=np.int64)
    hess = np.empty((NPAR, NPAR))
    grad = np.empty(NPAR)
    hess_t = np.empty((NPAR, NPAR))
    grad_t = np.empty(NPAR)
    damped = np.empty((NPAR, NPAR))
    work = np.empty((NPAR, NPAR + 1))
    step = np.empty(NPAR)
    trial = np.empty(NPAR)
    lam = 1e-3
    converged = False
    niter = 0
    ok_start = _admissible(p)
    if ok_start:
        _fill_box(x, h, p[1], p[2], _cut(p[0], p[3], offc, ge, read2, floor), g, box)
    else:  # no iteration; χ² and covariance of the whole row, as the numpy path gives them
        _fill_gauss(x, h, p[1], p[2], g)
        box[1] = n
    # the normal equations at the start; later ones come from _trial_pass
    chi2 = _box_pass(x, d, vf, offc, g, box[0], box[1], p, ge, read2, floor, tot, hess, grad)
    if ok_start and nvalid > NPAR:
        for _ in range(max_iter):
            damped[:, :] = hess
            for k in range(NPAR):
                damped[k, k] += lam * hess[k, k]
            _solve_into(damped, grad, step, work)
            finite = True
            for k in range(NPAR):
                trial[k] = p[k] + step[k]
                finite = finite and np.isfinite(step[k])
            ok_step = finite and _admissible(trial)
            better = False
            if ok_step:
                cut = _cut(trial[0], trial[3], offc, ge, read2, floor)
                _fill_box(x, h, trial[1], trial[2], cut, g_try, box_t)
                delta, chi2_t = _trial_pass(
                    x,
                    d,
                    vf,
                    offc,
                    g,
                    box,
                    p,
                    g_try,
                    box_t,
                    trial,
                    ge,
                    read2,
                    floor,
                    tot,
                    hess_t,
                    grad_t,
                )
                better = delta <= 0.0
            niter += 1
            lam = lam * 0.1 if better else lam * 10.0
            lam = min(max(lam, 1e-9), 1e9)
            # every step below tol standard errors (1/sqrt(H_kk) of the point it started from)
            small = finite
            for k in range(NPAR):
                se = math.sqrt(abs(1.0 / hess[k, k])) if hess[k, k] > 0 else 0.0
                small = small and abs(step[k]) <= tol * se
            if better:  # the normal equations of the new point are the trial's
                p[:] = trial
                g, g_try = g_try, g
                box, box_t = box_t, box
                hess, hess_t = hess_t, hess
                grad, grad_t = grad_t, grad
                chi2 = chi2_t
            if small:
                converged = True
            if small or ((not better) and lam >= 1e9):
                break
    # hess and chi2 belong to p: the covariance needs no further pass
    _covariance_into(hess, cov)
    return chi2, converged, niter


@njit(cache=True, error_model="numpy")
def fit_gauss1d_box(x, h, data, valid, offc, p0, ge, read2, floor, max_iter, tol):
    """:func:`fit_gauss1d` when the offset is one number per row, ``offc`` (B,): the passes
    cover only the profile's box (see LOG_CUT). ``valid`` (B or 1, N). Same returns."""
    nrow = data.shape[0]
    p = p0.copy()
    cov = np.empty((nrow, NPAR, NPAR))
    chi2 = np.empty(nrow)
    converged = np.zeros(nrow, dtype=np.bool_)
    niter = np.zeros(nrow, dtype=np.int64)
    for i in range(nrow):
        c2, conv, it = _fit_row_box(
            x,
            h,
            data[i],
            valid[i if valid.shape[0] > 1 else 0],
            offc[i],
            p[i],
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
