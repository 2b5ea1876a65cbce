"""Box-restricted compiled fits, Fisher information and χ² of the 2D Gaussian + constant (numba).

A spot that covers a fraction of its frame leaves most pixels at mu = c: there the Jacobian is
(0, ..., 0, 1) and the weight one constant (when the offset is one number per frame), so their
share of χ², the gradient and the normal matrix follows from sums of the data over them
(Σ v, Σ v d', Σ v d'², v the valid flag, d' = d - shift), which per-row prefix sums give in
O(1) per row. The box is, row by row, the run of pixels where exp(-½ rᵀ Σ⁻¹ r) >=
exp(-LOG_CUT); outside it the Gaussian is below 1.4e-11 of its peak and is taken as 0: the
weight of the dropped tail in any sum is below ~1e-10 of the spot's. Inside the box the sums
are taken in the row-moment form of :mod:`fitdiff.extract.rows2d_numba` (14 sums per pixel
for every shape).

The Gaussian is never evaluated by one exp per pixel: an axis-aligned one (Sxy = 0) is the
product gy[i] gx[j] of its axes (:func:`axes_gauss`); a rotated one is, row by row,
exp(-½ uy²/Syy) times a 1D Gaussian in x about the row's conditional centre
x0 + (Sxy/Syy) uy with variance det Σ / Syy (:func:`fill_box`), filled by the product
recurrence of :func:`fitdiff.extract.lm_numba._fill_gauss`.

Each LM iteration is one pass (:func:`_trial_pass`): the descent test of the trial point and,
at the same time, its normal equations, so an accepted step needs no pass of its own and the
covariance at the solution none either. The same estimator and iteration as the whole-frame
kernel :func:`fitdiff.extract.lm2d_numba.fit_gauss2d`, its reference in the tests.
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
from .rows2d_numba import (
    CHI2,
    DELTA,
    NROW,
    R0,
    add_row,
    row_frame,
    seg_chi2,
    seg_delta,
    seg_info,
    seg_trial,
    symmetrise,
)

#: Gaussian factors below exp(-LOG_CUT) ≈ 1.4e-11 count as zero (outside the box).
LOG_CUT = 25.0


@njit(cache=True, error_model="numpy")
def segments(y, x, hx, f, ja, jb):
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
def _ray(out, amp, tau, q):
    """out[k] = amp tau^k q[k] for every k: the powers of ``tau`` eight at a time (one
    product per eight pixels), so the writes are independent of each other."""
    n = out.shape[0]
    t1 = tau
    t2 = t1 * tau
    t3 = t2 * tau
    t4 = t3 * tau
    t5 = t4 * tau
    t6 = t5 * tau
    t7 = t6 * tau
    t8 = t7 * tau
    lead = amp
    for m in range(n // 8):
        k = 8 * m
        out[k] = lead * q[k]
        out[k + 1] = lead * t1 * q[k + 1]
        out[k + 2] = lead * t2 * q[k + 2]
        out[k + 3] = lead * t3 * q[k + 3]
        out[k + 4] = lead * t4 * q[k + 4]
        out[k + 5] = lead * t5 * q[k + 5]
        out[k + 6] = lead * t6 * q[k + 6]
        out[k + 7] = lead * t7 * q[k + 7]
        lead *= t8
    for k in range(n - n % 8, n):
        out[k] = lead * q[k]
        lead *= tau


@njit(cache=True, error_model="numpy")
def fill_box(y, x, hx, f, g, ja, jb, q):
    """g = exp(-½ rᵀ Σ⁻¹ r) inside the box of ``f``, 0 elsewhere; ``ja, jb`` hold the box of
    what ``g`` held on entry (its pixels outside the new box are zeroed) and the new box on
    return. ``q`` (X + 1,) is scratch.

    Row i is exp(-½ uy²/Syy) times a Gaussian in x of variance s = det Σ / Syy (the same for
    every row) about xc = x0 + (Sxy/Syy) uy. On a uniform grid (step h), from an anchor
    pixel ja (δ = x[ja] - xc), exp(-(δ + k h)²/(2 s)) = exp(-δ²/(2 s)) τ^k q[k] with
    τ = exp(-δ h/s) and q[k] = exp(-k² h²/(2 s)) one table for the frame: a few exps per
    row, no exp per pixel (relative error ~1e-13 of the direct exp, tested). The run right
    of the pixel jc nearest xc is anchored at jc, the run left of it at the box's first
    pixel; the product stays below e^50 (the box keeps δ²/(2 s) <= LOG_CUT), so nothing
    overflows, and no value above the cut underflows. Non-uniform x (``hx`` = 0) takes the
    1D recurrence of :func:`fitdiff.extract.lm_numba._fill_gauss`.
    """
    ny, nx = y.shape[0], x.shape[0]
    old_a = ja.copy()
    old_b = jb.copy()
    segments(y, x, hx, f, ja, jb)
    for i in range(ny):  # zero what the old box held outside the new one
        for j in range(old_a[i], min(old_b[i], ja[i])):
            g[i * nx + j] = 0.0
        for j in range(max(old_a[i], jb[i]), old_b[i]):  # (all of it when the new is empty)
            g[i * nx + j] = 0.0
    y0, x0, syy, sxx, sxy = f[1], f[2], f[3], f[4], f[5]
    s_row = (syy * sxx - sxy * sxy) / syy
    slope = sxy / syy
    if hx > 0.0:
        for k in range(nx + 1):
            q[k] = math.exp(-0.5 * (k * hx) ** 2 / s_row)
    for i in range(ny):
        a, b = ja[i], jb[i]
        if b <= a:
            continue
        uy = y[i] - y0
        xc = x0 + slope * uy
        ey = -0.5 * uy * uy / syy
        if hx > 0.0:
            jc = int(min(max(round((xc - x[0]) / hx), float(a)), float(b - 1)))
            for j0, j1 in ((a, jc), (jc, b)):
                if j1 > j0:
                    dl = x[0] + j0 * hx - xc
                    lead = math.exp(ey - 0.5 * dl * dl / s_row)
                    _ray(g[i * nx + j0 : i * nx + j1], lead, math.exp(-dl * hx / s_row), q)
        else:
            row = g[i * nx + a : i * nx + b]
            _fill_gauss(x[a:b], hx, xc, s_row, row)
            rf = math.exp(ey)
            for j in range(b - a):
                row[j] *= rf


@njit(cache=True, error_model="numpy")
def axes_gauss(y, x, hx, f, gy, gx, ja, jb):
    """The box of an axis-aligned Gaussian (Sxy = 0) and its two factors: gy[i] =
    exp(-½ uy²/Syy) on every row, gx[j] = exp(-½ ux²/Sxx) on the widest row's columns (the
    others' boxes lie inside it), so exp(-½ rᵀ Σ⁻¹ r) = gy[i] gx[j]."""
    segments(y, x, hx, f, ja, jb)
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
def frame_sums(d, vf, shift, tot):
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
def row_prefix(d, valid, nx, shift, vf, pre):
    """vf = valid as 0/1; ``pre`` (3, Y, X + 1) the per-row prefix sums of v, v d', v d'²
    (d' = d - shift) so any run of a row sums in O(1). Returns the number of valid pixels."""
    ny = pre.shape[1]
    nvalid = 0
    for i in range(ny):
        a0 = a1 = a2 = 0.0
        pre[0, i, 0] = pre[1, i, 0] = pre[2, i, 0] = 0.0
        base = i * nx
        for j in range(nx):
            v = 1.0 if valid[base + j] else 0.0
            vf[base + j] = v
            dd = d[base + j] - shift
            a0 += v
            a1 += v * dd
            a2 += v * dd * dd
            pre[0, i, j + 1] = a0
            pre[1, i, j + 1] = a1
            pre[2, i, j + 1] = a2
        nvalid += int(a0)
    return nvalid


@njit(cache=True, error_model="numpy")
def model_rows(y, x, hx, f, rot, g, gy, gx, ja, jb, q):
    """The box and the Gaussian of ``f``: a frame array ``g`` (``rot``; zero outside the box,
    ``ja, jb`` describing what it held on entry; ``q`` (X + 1,) scratch) or the axis factors
    ``gy``, ``gx``."""
    if rot:
        fill_box(y, x, hx, f, g, ja, jb, q)
    else:
        axes_gauss(y, x, hx, f, gy, gx, ja, jb)


@njit(cache=True, error_model="numpy")
def _trial_pass(
    y,
    x,
    d,
    vf,
    offc,
    fc,
    gc,
    gyc,
    gxc,
    jac,
    jbc,
    f,
    g,
    gy,
    gx,
    ja,
    jb,
    rot,
    noise,
    pre,
    shift,
    h,
    gr,
):
    """Descent test and the trial's normal equations in one pass over the two boxes.

    Returns (Δ, χ²): Δ = χ²(trial) - χ²(current) with the current weights (the descent test of
    one quadratic), χ² the trial's with its own weights; fills ``h`` (7 × 7) and ``gr`` (7)
    at the trial ``f`` (box ``ja, jb``). The current model is ``fc`` (box ``jac, jbc``); with
    the current point as the trial this is the plain normal pass (Δ = 0). ``pre``: the
    frame's :func:`row_prefix` sums about ``shift``.
    """
    nx = x.shape[0]
    ac, cc0 = fc[0], fc[6]
    amp, c = f[0], f[6]
    h[:, :] = 0.0
    gr[:] = 0.0
    rs = np.empty(NROW)
    geo = np.empty(4)
    coef = np.empty((6, 3))
    delta = chi2 = 0.0
    out0 = out1 = out2 = 0.0  # Σ v, Σ v d', Σ v d'² outside the trial box
    nb0 = nb1 = 0.0  # Σ v, Σ v d' outside both boxes
    for i in range(y.shape[0]):
        base = i * nx
        ca, cb, ta, tb = jac[i], jbc[i], ja[i], jb[i]
        # a rotated Gaussian is a frame array, an axis-aligned one gy[i] gx[j] (no row slices:
        # one contiguous array type for both keeps the pixel loops vectorised)
        if rot:
            grow, gb, gs, gcrow, gcb, gcs = g, base, 1.0, gc, base, 1.0
        else:
            grow, gb, gs, gcrow, gcb, gcs = gx, 0, gy[i], gxc, 0, gyc[i]
        lo, hi = max(ta, ca), min(tb, cb)  # the boxes' overlap when hi > lo
        overlap = tb > ta and cb > ca and hi > lo
        t0, t1, t2 = pre[0, i, nx], pre[1, i, nx], pre[2, i, nx]
        in0 = in1 = in2 = 0.0
        if tb > ta:
            row_frame(y[i], f, geo)
            rs[:] = 0.0
            xc = geo[0]
            if overlap:
                # outside the current box the current model is its constant (gcs = 0)
                runs = ((ta, lo, 0.0), (lo, hi, gcs), (hi, tb, 0.0))
            else:
                runs = ((ta, tb, 0.0), (tb, tb, 0.0), (tb, tb, 0.0))
            for a, b, cs in runs:
                if b > a:
                    seg_trial(
                        x[a:b],
                        d[base + a : base + b],
                        vf[base + a : base + b],
                        grow[gb + a : gb + b],
                        gs,
                        gcrow[gcb + a : gcb + b],
                        cs,
                        xc,
                        ac,
                        cc0,
                        amp,
                        c,
                        offc,
                        noise,
                        rs,
                    )
            add_row(rs, amp, geo, coef, h, gr, True)
            chi2 += rs[CHI2]
            delta += rs[DELTA]
            in0 = pre[0, i, tb] - pre[0, i, ta]
            in1 = pre[1, i, tb] - pre[1, i, ta]
            in2 = pre[2, i, tb] - pre[2, i, ta]
        out0 += t0 - in0
        out1 += t1 - in1
        out2 += t2 - in2
        cur0 = cur1 = 0.0
        if cb > ca:  # the current box outside the trial's: Δ only
            if tb > ta:
                runs = ((ca, min(cb, ta), 0.0), (max(ca, tb), cb, 0.0), (cb, cb, 0.0))
            else:
                runs = ((ca, cb, 0.0), (cb, cb, 0.0), (cb, cb, 0.0))
            for a, b, _ in runs:
                if b > a:
                    delta += seg_delta(
                        d[base + a : base + b],
                        vf[base + a : base + b],
                        gcrow[gcb + a : gcb + b],
                        gcs,
                        ac,
                        cc0,
                        c,
                        offc,
                        noise,
                    )
            cur0 = pre[0, i, cb] - pre[0, i, ca]
            cur1 = pre[1, i, cb] - pre[1, i, ca]
            if overlap:  # counted in both boxes
                cur0 -= pre[0, i, hi] - pre[0, i, lo]
                cur1 -= pre[1, i, hi] - pre[1, i, lo]
        nb0 += t0 - in0 - cur0
        nb1 += t1 - in1 - cur1
    ge, read2, floor = noise[0], noise[1], noise[2]
    # outside both boxes both models are constants (current weights: the descent test)
    w_bc = 1.0 / max((cc0 + offc) * ge + read2, floor)
    delta += w_bc * (cc0 - c) * (2.0 * nb1 - (c + cc0 - 2.0 * shift) * nb0)
    # outside the trial box: mu = c, one weight, Jacobian (0, ..., 0, 1)
    w_bg = 1.0 / max((c + offc) * ge + read2, floor)
    dc = c - shift
    chi2 += w_bg * (out2 - 2.0 * dc * out1 + dc * dc * out0)
    gr[NFULL - 1] += w_bg * (out1 - dc * out0)
    h[NFULL - 1, NFULL - 1] += w_bg * out0
    symmetrise(h)
    return delta, chi2


@njit(cache=True, error_model="numpy")
def _clear(g, ja, jb, nx):
    """Zero the box of ``g`` and empty the box."""
    for i in range(ja.shape[0]):
        for n in range(i * nx + ja[i], i * nx + jb[i]):
            g[n] = 0.0
        ja[i] = 0
        jb[i] = 0


@njit(cache=True, error_model="numpy")
def _fit_frame(y, x, hx, d, valid, offc, p, shape, noise, max_iter, tol, cov, work, pre, vf):
    """Fit one frame in place (``p``), fill ``cov``; return (χ², converged, iterations).

    ``work`` = (g, g_try) frame arrays of the rotated shape (zero outside their boxes);
    ``pre`` (3, Y, X + 1) and ``vf`` (Y·X) are scratch.
    """
    ny, nx = y.shape[0], x.shape[0]
    npar = p.shape[0]
    rot = shape == 2
    e = embedding(shape)
    g, g_t = work[0], work[1]
    ja = np.zeros(ny, dtype=np.int64)
    jb = np.zeros(ny, dtype=np.int64)
    ja_t = np.zeros(ny, dtype=np.int64)
    jb_t = np.zeros(ny, dtype=np.int64)
    gy, gx = np.zeros(ny), np.zeros(nx)
    gy_t, gx_t = np.zeros(ny), np.zeros(nx)
    q = np.empty(nx + 1)
    f = np.empty(NFULL)
    f_t = np.empty(NFULL)
    h7, g7 = np.empty((NFULL, NFULL)), np.empty(NFULL)
    h7_t, g7_t = np.empty((NFULL, NFULL)), np.empty(NFULL)
    hess = np.empty((npar, npar))
    grad = np.empty(npar)
    damped = np.empty((npar, npar))
    step = np.empty(npar)
    trial = np.empty(npar)
    shift = p[npar - 1] if np.isfinite(p[npar - 1]) else 0.0
    nvalid = row_prefix(d, valid, nx, shift, vf, pre)
    lam = 1e-3
    converged = False
    niter = 0
    full(e, p, f)
    ok_start = admissible(p, shape)
    if ok_start:
        model_rows(y, x, hx, f, rot, g, gy, gx, ja, jb, q)
    # the normal equations at the start; later ones come with each trial
    _, chi2 = _trial_pass(
        y,
        x,
        d,
        vf,
        offc,
        f,
        g,
        gy,
        gx,
        ja,
        jb,
        f,
        g,
        gy,
        gx,
        ja,
        jb,
        rot,
        noise,
        pre,
        shift,
        h7,
        g7,
    )
    if ok_start and nvalid > npar:
        for _ in range(max_iter):
            project(e, h7, g7, hess, grad)
            finite, ok_step = damped_step(hess, grad, lam, p, shape, damped, step, trial)
            better = False
            if ok_step:
                full(e, trial, f_t)
                model_rows(y, x, hx, f_t, rot, g_t, gy_t, gx_t, ja_t, jb_t, q)
                delta, chi2_t = _trial_pass(
                    y,
                    x,
                    d,
                    vf,
                    offc,
                    f,
                    g,
                    gy,
                    gx,
                    ja,
                    jb,
                    f_t,
                    g_t,
                    gy_t,
                    gx_t,
                    ja_t,
                    jb_t,
                    rot,
                    noise,
                    pre,
                    shift,
                    h7_t,
                    g7_t,
                )
                better = delta <= 0.0
            niter += 1
            lam = next_damping(lam, better)
            if better:  # the normal equations of the new point are the trial's
                p[:] = trial
                f[:] = f_t
                g, g_t = g_t, g
                gy, gy_t = gy_t, gy
                gx, gx_t = gx_t, gx
                ja, ja_t = ja_t, ja
                jb, jb_t = jb_t, jb
                h7, h7_t = h7_t, h7
                g7, g7_t = g7_t, g7
                chi2 = chi2_t
            small = small_step(hess, step, finite, tol)
            if small:
                converged = True
            if small or ((not better) and lam >= 1e9):
                break
    # h7, g7, chi2 belong to p: the covariance needs no further pass
    project(e, h7, g7, hess, grad)
    covariance_into(hess, cov)
    if rot:  # leave the frame arrays zero for the next frame
        _clear(g, ja, jb, nx)
        _clear(g_t, ja_t, jb_t, nx)
    return chi2, converged, niter


@njit(cache=True, error_model="numpy")
def fit_gauss2d_box(y, x, hx, data, rows, valid, offc, p0, shape, ge, read2, floor, max_iter, tol):
    """:func:`fitdiff.extract.lm2d_numba.fit_gauss2d` of the frames ``data[rows]`` (read in
    place; ``rows`` (B,) int) when the offset is one number per frame (``offc`` (B,), counts):
    the passes cover only the spot's box (see LOG_CUT); ``valid`` (B or 1, Y·X) and ``p0``
    (B, P) per fitted frame. Same returns: p (B, P), cov (B, P, P), χ² (B,), converged (B,),
    niter (B,).
    """
    nrow, npar = p0.shape
    ny, nx = y.shape[0], x.shape[0]
    p = p0.copy()
    cov = np.empty((nrow, npar, npar))
    chi2 = np.empty(nrow)
    converged = np.zeros(nrow, dtype=np.bool_)
    niter = np.zeros(nrow, dtype=np.int64)
    noise = (ge, read2, floor)
    work = np.zeros((2, ny * nx if shape == 2 else 0))
    pre = np.empty((3, ny, nx + 1))
    vf = np.empty(ny * nx)
    for i in range(nrow):
        v = valid[i if valid.shape[0] > 1 else 0]
        c2, conv, it = _fit_frame(
            y,
            x,
            hx,
            data[rows[i]],
            v,
            offc[i],
            p[i],
            shape,
            noise,
            max_iter,
            tol,
            cov[i],
            work,
            pre,
            vf,
        )
        chi2[i] = c2
        converged[i] = conv
        niter[i] = it
    return p, cov, chi2, converged, niter


@njit(cache=True, error_model="numpy")
def information_gauss2d(y, x, hx, valid, offc, p, shape, ge, read2, floor):
    """Inverse Fisher information (B, P, P) of the 2D Gaussian + constant at parameters ``p``
    (layout of :func:`fitdiff.extract.lm2d_numba.fit_gauss2d`), pixel variance
    ``max((mu + offc) ge + read2, floor)``.

    ``valid`` (B or 1, Y·X) bool; ``offc`` (B,) counts. NaN where ``p`` is not admissible or
    the information is singular (no positive diagonal), as the numpy
    :func:`fitdiff.extract.fisher.gauss_covariance`.
    """
    nrow, npar = p.shape
    ny, nx = y.shape[0], x.shape[0]
    n = ny * nx
    rot = shape == 2
    noise = (ge, read2, floor)
    e = embedding(shape)
    cov = np.full((nrow, npar, npar), np.nan)
    vf = np.empty(n)
    g = np.zeros(n if rot else 0)
    gy, gx = np.zeros(ny), np.zeros(nx)
    q = np.empty(nx + 1)
    ja = np.zeros(ny, dtype=np.int64)
    jb = np.zeros(ny, dtype=np.int64)
    f = np.empty(NFULL)
    h7 = np.empty((NFULL, NFULL))
    g7 = np.zeros(NFULL)
    hess = np.empty((npar, npar))
    grad = np.empty(npar)
    rs = np.empty(NROW)
    geo = np.empty(4)
    coef = np.empty((6, 3))
    shared = valid.shape[0] == 1
    n_valid = 0.0
    for r in range(nrow):
        if r == 0 or not shared:
            v = valid[0 if shared else r]
            n_valid = 0.0
            for k in range(n):
                vf[k] = 1.0 if v[k] else 0.0
                n_valid += vf[k]
        if not admissible(p[r], shape):
            continue
        full(e, p[r], f)
        model_rows(y, x, hx, f, rot, g, gy, gx, ja, jb, q)
        amp, c = f[0], f[6]
        h7[:, :] = 0.0
        s0 = 0.0
        for i in range(ny):
            if jb[i] <= ja[i]:
                continue
            base = i * nx
            if rot:
                grow, gb, gs = g, base, 1.0
            else:
                grow, gb, gs = gx, 0, gy[i]
            row_frame(y[i], f, geo)
            rs[:] = 0.0
            a, b = ja[i], jb[i]
            seg_info(
                x[a:b],
                vf[base + a : base + b],
                grow[gb + a : gb + b],
                gs,
                geo[0],
                amp,
                c,
                offc[r],
                noise,
                rs,
            )
            add_row(rs, amp, geo, coef, h7, g7, False)
            s0 += rs[R0]
        # the rest of the frame: mu = c, one weight, Jacobian (0, ..., 0, 1)
        h7[NFULL - 1, NFULL - 1] += (n_valid - s0) / max((c + offc[r]) * ge + read2, floor)
        symmetrise(h7)
        project(e, h7, g7, hess, grad)
        covariance_into(hess, cov[r])
    return cov


@njit(cache=True, error_model="numpy")
def chi2_gauss2d(y, x, hx, data, rows, valid, offc, p, q, shape, ge, read2, floor):
    """χ² (R, 2) of the frames ``data[rows]`` at two sets of parameters ``p``, ``q`` (R rows,
    layout of :func:`fitdiff.extract.lm2d_numba.fit_gauss2d`), each with the weights of its own
    model (NaN where not admissible): what the fit would start from, to choose between start
    values. ``valid`` (B or 1, Y·X) and ``offc`` (B,) are indexed like ``data``."""
    nrow = p.shape[0]
    ny, nx = y.shape[0], x.shape[0]
    n = ny * nx
    rot = shape == 2
    noise = (ge, read2, floor)
    e = embedding(shape)
    out = np.full((nrow, 2), np.nan)
    vf = np.empty(n)
    tot = np.empty(4)
    acc = np.empty(4)
    g = np.zeros(n if rot else 0)
    gy, gx = np.zeros(ny), np.zeros(nx)
    qtab = np.empty(nx + 1)
    ja = np.zeros(ny, dtype=np.int64)
    jb = np.zeros(ny, dtype=np.int64)
    f = np.empty(NFULL)
    for r in range(nrow):
        row = rows[r]
        v = valid[row if valid.shape[0] > 1 else 0]
        for k in range(n):
            vf[k] = 1.0 if v[k] else 0.0
        c0 = p[r, p.shape[1] - 1]
        shift = c0 if np.isfinite(c0) else 0.0
        d = data[row]
        frame_sums(d, vf, shift, tot)
        for which in range(2):
            pr = p[r] if which == 0 else q[r]
            if not admissible(pr, shape):
                continue
            full(e, pr, f)
            model_rows(y, x, hx, f, rot, g, gy, gx, ja, jb, qtab)
            amp, c = f[0], f[6]
            acc[:] = 0.0
            for i in range(ny):
                if jb[i] <= ja[i]:
                    continue
                base = i * nx
                if rot:
                    grow, gb, gs = g, base, 1.0
                else:
                    grow, gb, gs = gx, 0, gy[i]
                a, b = ja[i], jb[i]
                seg_chi2(
                    d[base + a : base + b],
                    vf[base + a : base + b],
                    grow[gb + a : gb + b],
                    gs,
                    amp,
                    c,
                    offc[row],
                    shift,
                    noise,
                    acc,
                )
            # the rest of the frame: mu = c, one weight
            w_bg = 1.0 / max((c + offc[row]) * ge + read2, floor)
            o0, o1, o2 = tot[0] - acc[1], tot[1] - acc[2], tot[2] - acc[3]
            dc = c - shift
            out[r, which] = acc[0] + w_bg * (o2 - 2.0 * dc * o1 + dc * dc * o0)
    return out
