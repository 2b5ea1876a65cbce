"""Per-row sums of the 2D Gaussian + constant fit and their assembly into the normal equations.

Along one pixel row of a frame the Jacobian of

    mu = A g + c,  g = exp(-½ rᵀ Σ⁻¹ r),  Σ = [[Sxx, Sxy], [Sxy, Syy]],  r = (x - x0, y - y0)

with respect to the 7 full parameters ``(A, y0, x0, Syy, Sxx, Sxy, c)`` is ``g`` times a
polynomial of degree <= 2 in u = x - xc, the offset from the row's conditional centre
xc = x0 + (Sxy/Syy)(y - y0): with (vx, vy) = Σ⁻¹ r,

    vx = a u,  vy = b u + q,  a = Syy/det Σ,  b = -Sxy/det Σ,  q = (y - y0)/Syy,

and dmu/d(A, y0, x0, Syy, Sxx, Sxy) = g (1, A vy, A vx, A vy²/2, A vx²/2, A vx vy), dmu/dc = 1.
So every entry of Jᵀ W J, Jᵀ W r and χ² over a row follows from 14 sums over its pixels,

    M_p = Σ w g² u^p (p = 0..4),  N_m = Σ w g u^m,  R_m = Σ w r g u^m (m = 0..2),
    W = Σ w,  Rw = Σ w r,  χ² = Σ w r²,

and O(1) algebra per row (:func:`add_row`). The per-pixel work is then the model, one weight
and 14 fused multiply-adds for every shape (the 28 sums of the 7 × 7 matrix cost ~7× more on
the CI box: register spills and no vectorisation), and the loops vectorise (no branches
inside: the caller splits a row into the segments where the current and trial models apply).
u is measured from the conditional centre, where vx vanishes, so the expansion does not
cancel: the sums agree with the direct ones to rounding (tested against the whole-frame
kernel of :mod:`fitdiff.extract.lm2d_numba`).
"""

from __future__ import annotations

from numba import njit

from .lm_numba import FLAGS

#: Layout of a row's sums (``rs``): M0..M4, N0..N2, W, R0..R2, Rw, χ², descent-test Δ.
NROW = 15
M0, N0, W, R0, RW, CHI2, DELTA = 0, 5, 8, 9, 12, 13, 14


@njit(cache=True, error_model="numpy", fastmath=FLAGS)
def seg_trial(x, d, vf, grow, gs, gcrow, gcs, xc, ac, cc0, amp, c, offc, noise, rs):
    """Add to ``rs`` the sums over a run of pixels of one row: ``x``, ``d``, ``vf`` (valid as
    0/1), ``grow``, ``gcrow`` are that run's slices (indexed from 0, so no negative-index
    wrap-around stops the loop from vectorising).

    The trial model is ``amp gs grow[j] + c``; the current one ``ac gcs gcrow[j] + cc0``
    (``gcs`` = 0 where the current model is its constant) enters only the descent test
    Δ = Σ w_cur (mu_cur - mu)(2 d - mu_cur - mu) = χ²(trial) - χ²(current) at the current
    weights. ``noise`` = (ge, read², floor): variance max((mu + offc) ge + read², floor).
    """
    ge, read2, floor = noise[0], noise[1], noise[2]
    dl = chi2 = m0 = m1 = m2 = m3 = m4 = n0 = n1 = n2 = ww = r0 = r1 = r2 = rw = 0.0
    for j in range(d.shape[0]):
        v = vf[j]
        dn = d[j]
        gn = gs * grow[j]
        mu = amp * gn + c
        muc = ac * (gcs * gcrow[j]) + cc0
        wc = v / max((muc + offc) * ge + read2, floor)
        dl += wc * (muc - mu) * (2.0 * dn - muc - mu)
        w = v / max((mu + offc) * ge + read2, floor)
        r = dn - mu
        wr = w * r
        chi2 += wr * r
        u = x[j] - xc
        u2 = u * u
        wg = w * gn
        wg2 = wg * gn
        m0 += wg2
        m1 += wg2 * u
        m2 += wg2 * u2
        m3 += wg2 * u2 * u
        m4 += wg2 * u2 * u2
        n0 += wg
        n1 += wg * u
        n2 += wg * u2
        ww += w
        rg = wr * gn
        r0 += rg
        r1 += rg * u
        r2 += rg * u2
        rw += wr
    rs[0] += m0
    rs[1] += m1
    rs[2] += m2
    rs[3] += m3
    rs[4] += m4
    rs[5] += n0
    rs[6] += n1
    rs[7] += n2
    rs[8] += ww
    rs[9] += r0
    rs[10] += r1
    rs[11] += r2
    rs[12] += rw
    rs[13] += chi2
    rs[14] += dl


@njit(cache=True, error_model="numpy", fastmath=FLAGS)
def seg_delta(d, vf, gcrow, gcs, ac, cc0, c, offc, noise):
    """Δ of the descent test over a run (slices as :func:`seg_trial`) where the trial model is
    its constant ``c`` (inside the current box, outside the trial's)."""
    ge, read2, floor = noise[0], noise[1], noise[2]
    dl = 0.0
    for j in range(d.shape[0]):
        v = vf[j]
        muc = ac * (gcs * gcrow[j]) + cc0
        wc = v / max((muc + offc) * ge + read2, floor)
        dl += wc * (muc - c) * (2.0 * d[j] - muc - c)
    return dl


@njit(cache=True, error_model="numpy", fastmath=FLAGS)
def seg_info(x, vf, grow, gs, xc, amp, c, offc, noise, rs):
    """Add to ``rs`` the data-free sums (M, N, W) over a run (slices as :func:`seg_trial`) and,
    in ``rs[R0]``, its number of valid pixels (the Fisher information needs no residuals)."""
    ge, read2, floor = noise[0], noise[1], noise[2]
    m0 = m1 = m2 = m3 = m4 = n0 = n1 = n2 = ww = s0 = 0.0
    for j in range(vf.shape[0]):
        v = vf[j]
        gn = gs * grow[j]
        w = v / max((amp * gn + c + offc) * ge + read2, floor)
        u = x[j] - xc
        u2 = u * u
        wg = w * gn
        wg2 = wg * gn
        m0 += wg2
        m1 += wg2 * u
        m2 += wg2 * u2
        m3 += wg2 * u2 * u
        m4 += wg2 * u2 * u2
        n0 += wg
        n1 += wg * u
        n2 += wg * u2
        ww += w
        s0 += v
    rs[0] += m0
    rs[1] += m1
    rs[2] += m2
    rs[3] += m3
    rs[4] += m4
    rs[5] += n0
    rs[6] += n1
    rs[7] += n2
    rs[8] += ww
    rs[9] += s0


@njit(cache=True, error_model="numpy", fastmath=FLAGS)
def seg_chi2(d, vf, grow, gs, amp, c, offc, shift, noise, acc):
    """Add to ``acc`` (χ², Σ v, Σ v d', Σ v d'²) over a run (slices as :func:`seg_trial`),
    d' = d - shift."""
    ge, read2, floor = noise[0], noise[1], noise[2]
    chi2 = s0 = s1 = s2 = 0.0
    for j in range(d.shape[0]):
        v = vf[j]
        dn = d[j]
        mu = amp * (gs * grow[j]) + c
        w = v / max((mu + offc) * ge + read2, floor)
        r = dn - mu
        chi2 += w * r * r
        dd = dn - shift
        s0 += v
        s1 += v * dd
        s2 += v * dd * dd
    acc[0] += chi2
    acc[1] += s0
    acc[2] += s1
    acc[3] += s2


@njit(cache=True, error_model="numpy")
def row_frame(y_i, f, geo):
    """``geo`` = (xc, a, b, q) of the row at ``y_i`` for the full parameters ``f`` (module doc)."""
    y0, x0, syy, sxx, sxy = f[1], f[2], f[3], f[4], f[5]
    det = syy * sxx - sxy * sxy
    uy = y_i - y0
    geo[0] = x0 + (sxy / syy) * uy
    geo[1] = syy / det
    geo[2] = -sxy / det
    geo[3] = uy / syy


@njit(cache=True, error_model="numpy")
def add_row(rs, amp, geo, coef, h, gr, with_data):
    """Add one row's sums ``rs`` to the 7 × 7 ``h`` (upper triangle) and, ``with_data``,
    to ``gr`` (Jᵀ W r). ``coef`` (6, 3) is scratch: the Jacobian columns' polynomials in u."""
    a, b, q = geo[1], geo[2], geo[3]
    coef[0, 0], coef[0, 1], coef[0, 2] = 1.0, 0.0, 0.0
    coef[1, 0], coef[1, 1], coef[1, 2] = amp * q, amp * b, 0.0
    coef[2, 0], coef[2, 1], coef[2, 2] = 0.0, amp * a, 0.0
    coef[3, 0], coef[3, 1], coef[3, 2] = 0.5 * amp * q * q, amp * q * b, 0.5 * amp * b * b
    coef[4, 0], coef[4, 1], coef[4, 2] = 0.0, 0.0, 0.5 * amp * a * a
    coef[5, 0], coef[5, 1], coef[5, 2] = 0.0, amp * a * q, amp * a * b
    for k in range(6):
        ck0, ck1, ck2 = coef[k, 0], coef[k, 1], coef[k, 2]
        for m in range(k, 6):
            cm0, cm1, cm2 = coef[m, 0], coef[m, 1], coef[m, 2]
            # Σ_(p,s) c_kp c_ms M_(p+s)
            h[k, m] += (
                ck0 * cm0 * rs[0]
                + (ck0 * cm1 + ck1 * cm0) * rs[1]
                + (ck0 * cm2 + ck1 * cm1 + ck2 * cm0) * rs[2]
                + (ck1 * cm2 + ck2 * cm1) * rs[3]
                + ck2 * cm2 * rs[4]
            )
        h[k, 6] += ck0 * rs[N0] + ck1 * rs[N0 + 1] + ck2 * rs[N0 + 2]
        if with_data:
            gr[k] += ck0 * rs[R0] + ck1 * rs[R0 + 1] + ck2 * rs[R0 + 2]
    h[6, 6] += rs[W]
    if with_data:
        gr[6] += rs[RW]


@njit(cache=True, error_model="numpy")
def symmetrise(h):
    """Copy the upper triangle of ``h`` into the lower."""
    n = h.shape[0]
    for i in range(n):
        for j in range(i):
            h[i, j] = h[j, i]
