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

import numpy as np
from numba import njit

from .lm_numba import FLAGS, _covariance_into, _fill_box, _fill_gauss


@njit(cache=True, error_model="numpy", fastmath=FLAGS)
def _row_info(x, g, amp, x0, s, c, off, vf, ge, read2, floor, m):  # pragma: no cover
    """Jᵀ diag(vf/v) J of one row into ``m`` (4, 4); ``off`` and ``vf`` (N,) per pixel."""
    a1 = amp / s
    a2 = amp / (2.0 * s * s)
    h00 = h01 = h02 = h03 = h11 = h12 = h13 = h22 = h23 = h33 = 0.0
    for n in range(x.shape[0]):
        u = x[n] - x0
        gn = g[n]
        mu = gn * amp + c
        wn = vf[n] / max((mu + off[n]) * ge + read2, floor)
        j1 = gn * (u * a1)
        j2 = gn * (u * u * a2)
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
    m[0, 0], m[0, 1], m[0, 2], m[0, 3] = h00, h01, h02, h03
    m[1, 1], m[1, 2], m[1, 3] = h11, h12, h13
    m[2, 2], m[2, 3], m[3, 3] = h22, h23, h33
    for i in range(4):
        for j in range(i):
            m[i, j] = m[j, i]


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
    h00 = h01 = h02 = h03 = h11 = h12 = h13 = h22 = h23 = h33 = 0.0
    s0 = 0.0
    for n in range(x.shape[0]):
        u = x[n] - x0
        gn = g[n]
        mu = gn * amp + c
        v = vf[n]
        wn = v / max((mu + offc) * ge + read2, floor)
        s0 += v
        j1 = gn * (u * a1)
        j2 = gn * (u * u * a2)
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
    m[0, 0], m[0, 1], m[0, 2], m[0, 3] = h00, h01, h02, h03
    m[1, 1], m[1, 2], m[1, 3] = h11, h12, h13
    m[2, 2], m[2, 3], m[3, 3] = h22, h23, h33
    for i in range(4):
        for j in range(i):
            m[i, j] = m[j, i]
    return s0


@njit(cache=True, error_model="numpy")
def info_gauss1d_box(x, h, p, offc, valid, ge, read2, floor, info, cov):  # pragma: no cover
    """:func:`info_gauss1d` when the offset is one number per row, ``offc`` (B,): only the
    pixels where the Gaussian is above exp(-LOG_CUT) of its peak are visited
    (:func:`fitdiff.extract.lm_numba._fill_box`); the rest of the row has mu = c, one weight
    and the Jacobian (0, 0, 0, 1), so it adds its weight times its valid pixels to the
    background-background entry only. ``valid`` (B or 1, N). ``cov`` (B, 4, 4) receives the
    inverse (NaN unless finite with a positive diagonal, as the numpy path)."""
    B = p.shape[0]
    N = x.shape[0]
    g = np.zeros(N)
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
        _fill_box(x, h, p[b, 1], p[b, 2], g, box)
        lo, hi = box[0], box[1]
        amp, c, off = p[b, 0], p[b, 3], offc[b]
        s0 = _box_info(
            x[lo:hi], g[lo:hi], amp, p[b, 1], p[b, 2], c, off, vf[lo:hi], ge, read2, floor, info[b]
        )
        info[b, 3, 3] += (nvalid - s0) / max((c + off) * ge + read2, floor)
        _covariance_into(info[b], cov[b])
