"""Compiled Fisher information of 1D Gaussian-plus-constant profiles (numba).

:func:`fitdiff.extract.fisher.gauss_covariance` builds, for every row, the model, the camera
weights and the (4, N) Jacobian as (B, N) arrays and contracts them: ~20 passes over the
image per call, and the model-based weights of a streak (:mod:`fitdiff.extract.weights`)
call it about seven times. Here each row is one sweep that accumulates the 10 distinct entries
of Jᵀ diag(1/v) J, with the Gaussian from the fitter's own recurrence
(:func:`fitdiff.extract.lm_numba._fill_gauss`, exact exp every 128 pixels). Same formulas;
the sums may be reordered (vectorised, as in the fitter) and the Gaussian carries the
recurrence's ~1e-13 relative rounding, so the information agrees with the numpy path to
~1e-12 relative (tested to 1e-9).

This module imports numba; :mod:`fitdiff.extract.fisher` imports it only when the compiled
path is wanted (:mod:`fitdiff.extract.compiled`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .lm_numba import (
    FLAGS,
    ZERO_INFO,
    _box_bounds,
    _covariance_into,
    _cut,
    _fill_box,
    _fill_gauss,
    _info_add,
    _jac,
    _store_info,
)


@njit(cache=True, error_model="numpy", fastmath=FLAGS)
def _row_info(x, g, amp, x0, s, c, off, vf, ge, read2, floor, m):  # pragma: no cover
    """Jᵀ diag(vf/v) J of one row into ``m`` (4, 4); ``off`` and ``vf`` (N,) per pixel."""
    a1 = amp / s
    a2 = amp / (2.0 * s * s)
    hs = ZERO_INFO
    for n in range(x.shape[0]):
        gn = g[n]
        mu = gn * amp + c
        wn = vf[n] / max((mu + off[n]) * ge + read2, floor)
        j1, j2 = _jac(gn, x[n] - x0, a1, a2)
        hs = _info_add(hs, wn, gn, j1, j2, wn)
    _store_info(m, hs)


@njit(cache=True, error_model="numpy")
def info_gauss1d(x, h, p, off, valid, ge, read2, floor, info):  # pragma: no cover - compiled
    """Fill ``info`` (B, 4, 4) with Jᵀ diag(1/v) J of every row of ``p`` (B, 4) = (A, x0, σ², c).

    ``x`` (N,) pixel centres (µm), ``h`` their uniform step (0: not uniform); ``off`` (B, 1 or
    N) counts subtracted before fitting; ``valid`` (B, 1 or N) pixels that take part; the
    variance of a pixel at raw level m is max(m·ge + read2, floor) (:class:`NoiseModel`).
    """
    B = p.shape[0]
    N = x.shape[0]
    g = np.empty(N)
    offn = np.empty(N)
    vf = np.empty(N)
    for b in range(B):
        for n in range(N):
            offn[n] = off[b, n if off.shape[1] > 1 else 0]
            vf[n] = 1.0 if valid[b, n if valid.shape[1] > 1 else 0] else 0.0
        _fill_gauss(x, h, p[b, 1], p[b, 2], g)
        _row_info(x, g, p[b, 0], p[b, 1], p[b, 2], p[b, 3], offn, vf, ge, read2, floor, info[b])


@njit(cache=True, error_model="numpy", fastmath=FLAGS)
def _box_info(x, g, amp, x0, s, c, offc, vf, ge, read2, floor, m):  # pragma: no cover
    """:func:`_row_info` over the views ``x, g, vf`` of the profile's box with one offset
    number ``offc``; returns Σ v over the box (the rest of the row enters through h33)."""
    a1 = amp / s
    a2 = amp / (2.0 * s * s)
    hs = ZERO_INFO
    s0 = 0.0
    for n in range(x.shape[0]):
        gn = g[n]
        mu = gn * amp + c
        v = vf[n]
        wn = v / max((mu + offc) * ge + read2, floor)
        s0 += v
        j1, j2 = _jac(gn, x[n] - x0, a1, a2)
        hs = _info_add(hs, wn, gn, j1, j2, wn)
    _store_info(m, hs)
    return s0


#: The sums of a row's information over every k-th pixel of its box, times k, equal the sums
#: over every pixel up to aliasing terms of relative size ~exp(-ALIAS_EXPONENT) ≈ 2e-22 (see
#: :func:`_alias_free_step`): far below rounding.
ALIAS_EXPONENT = 50.0


@njit(cache=True, error_model="numpy")
def _alias_free_step(h, amp, s, c, off, ge, read2, floor):  # pragma: no cover - compiled
    """Largest k such that the information sums over every k-th pixel (times k) equal the
    sums over all pixels to ~exp(-ALIAS_EXPONENT) relative; 1 when that cannot be promised.

    By Poisson summation a lattice sum of F with spacing H is the integral of F plus terms
    F̂(2πj/H). Every summand is a polynomial times g or g² times the weight
    w = 1/(α g + B), α = ge·A, B = (c + off)·ge + read2, which (with the variance floor
    inactive on the real axis) is analytic in the strip |Im u| < d up to the pole where
    α g(u) = -B; then |F̂(ω)| ≲ exp(d'²/s - d'ω) ∫|F| for d' < d (we take 0.8 d), and the
    g² factor alone bounds it by exp(-ω² s / 4). Both exponents at ω = 2π/H must reach
    ALIAS_EXPONENT. The box's ends (where g < e⁻²⁵) add nothing either way.
    """
    if not (h > 0.0 and s > 0.0):
        return 1
    alpha = ge * amp
    bb = (c + off) * ge + read2
    if not (np.isfinite(alpha) and np.isfinite(bb) and bb > 0.0):
        return 1
    # the variance must be its linear form on the whole real line (no floor, positive)
    low = bb + min(alpha, 0.0)
    if not (low > 0.0 and low >= floor):
        return 1
    t = ALIAS_EXPONENT
    step = math.pi * math.sqrt(s / t)  # the Gaussian factor's bound
    if alpha > 0.0:
        el = math.log(alpha / bb)
        d = math.sqrt(2.0 * s) * math.sqrt(0.5 * (math.sqrt(el * el + math.pi**2) - el))
    elif alpha < 0.0:
        d = math.sqrt(2.0 * s * math.log(bb / -alpha))
    else:
        d = np.inf
    if np.isfinite(d):
        dd = 0.8 * d
        step = min(step, 2.0 * math.pi * dd / (t + dd * dd / s))
    k = step / h
    if not k >= 2.0:
        return 1
    return int(min(k, 1e6))


@njit(cache=True, error_model="numpy", fastmath=FLAGS)
def _sub_info(xs, gs, amp, x0, s, c, offc, ge, read2, floor, w_bg, m):  # pragma: no cover
    """:func:`_box_info` over the lattice points ``xs`` (every k-th pixel of the box, all
    valid) without the factor k; the background-background entry sums w - w_bg, which
    vanishes at the box's ends like the others (w_bg times the row's pixels is added apart)."""
    a1 = amp / s
    a2 = amp / (2.0 * s * s)
    hs = ZERO_INFO
    for n in range(xs.shape[0]):
        gn = gs[n]
        mu = gn * amp + c
        wn = 1.0 / max((mu + offc) * ge + read2, floor)
        j1, j2 = _jac(gn, xs[n] - x0, a1, a2)
        hs = _info_add(hs, wn, gn, j1, j2, wn - w_bg)
    _store_info(m, hs)


@njit(cache=True, error_model="numpy")
def info_gauss1d_box(x, h, p, offc, valid, ge, read2, floor, info, cov):  # pragma: no cover
    """:func:`info_gauss1d` when the offset is one number per row, ``offc`` (B,): only the
    pixels where the Gaussian is above exp(-LOG_CUT) of its peak are visited
    (:func:`fitdiff.extract.lm_numba._fill_box`); the rest of the row has mu = c, one weight
    and the Jacobian (0, 0, 0, 1), so it adds its weight times its valid pixels to the
    background-background entry only. ``valid`` (B or 1, N). ``cov`` (B, 4, 4) receives the
    inverse (NaN unless finite with a positive diagonal, as the numpy path).

    A row with every pixel valid on a uniform grid whose profile spans many pixels sums every
    k-th pixel of its box, times k (:func:`_alias_free_step`: the same sums to ~1e-22).
    """
    B = p.shape[0]
    N = x.shape[0]
    g = np.zeros(N)
    xs = np.empty(N)
    gs = np.empty(N)
    box = np.zeros(2, dtype=np.int64)
    vf = np.empty(N)
    nvalid = 0.0
    for b in range(B):
        if b == 0 or valid.shape[0] > 1:
            vrow = valid[b if valid.shape[0] > 1 else 0]
            nvalid = 0.0
            for n in range(N):
                vf[n] = 1.0 if vrow[n] else 0.0
                nvalid += vf[n]
        amp, x0, s, c, off = p[b, 0], p[b, 1], p[b, 2], p[b, 3], offc[b]
        w_bg = 1.0 / max((c + off) * ge + read2, floor)
        cut = _cut(amp, c, off, ge, read2, floor)
        k = 1
        # every pixel valid, and the box inside the row: a sum cut off where the profile is
        # not negligible would carry end terms that a sparser lattice does not reproduce
        if nvalid == N and s > 0.0:
            hw = math.sqrt(2.0 * s * cut)
            if x0 - hw >= x[0] and x0 + hw <= x[N - 1]:
                k = _alias_free_step(h, amp, s, c, off, ge, read2, floor)
        if k > 1:
            lo, hi = _box_bounds(x, h, x0, s, cut)
            # the lattice through the pixel nearest the centre
            ic = min(max((x0 - x[0]) / h, 0.0), N - 1.0) if np.isfinite(x0) else 0.0
            first = lo + (int(round(ic)) - lo) % k
            m = 0
            for i in range(first, hi, k):
                xs[m] = x[i]
                m += 1
            if m > 0:
                _fill_gauss(xs[:m], k * h, x0, s, gs[:m])
            _sub_info(xs[:m], gs[:m], amp, x0, s, c, off, ge, read2, floor, w_bg, info[b])
            for i in range(4):
                for j in range(i, 4):
                    info[b, i, j] *= k
                for j in range(i):
                    info[b, i, j] = info[b, j, i]
            info[b, 3, 3] += w_bg * nvalid
        else:
            _fill_box(x, h, x0, s, cut, g, box)
            lo, hi = box[0], box[1]
            s0 = _box_info(
                x[lo:hi], g[lo:hi], amp, x0, s, c, off, vf[lo:hi], ge, read2, floor, info[b]
            )
            info[b, 3, 3] += (nvalid - s0) * w_bg
        _covariance_into(info[b], cov[b])
