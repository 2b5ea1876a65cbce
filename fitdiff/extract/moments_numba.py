"""Compiled single pass per row for :func:`fitdiff.extract.moments.profile_moments` (numba).

The numpy version makes ~25 passes over the (B, N) image (background, centroid, squared
offsets, second and fourth moments, and for each error a full (B, N) array of derivatives);
here each row is read three times while it sits in cache: (1) edge background, zeroth and
first moments and the intensity error, (2) second and fourth moments about the centroid and
the sums the error formulas need, (3) the delta-method errors. The formulas are the numpy
version's (same derivatives, including the background estimated from the edge pixels, which
enters every pixel); sums run left to right instead of numpy's pairwise order, so results
agree to rounding (tested to 1e-10 relative).

This module imports numba; :mod:`fitdiff.extract.moments` imports it only when the compiled
path is wanted (see :mod:`fitdiff.extract.compiled`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: Columns of the per-row output before the per-axis block (centre, σ², σ² error).
INTENSITY, INTENSITY_ERR, BACKGROUND, KURTOSIS, W2, W2_ERR = range(6)
NFIXED = 6


@njit(cache=True, error_model="numpy")
def row_moments(coords, data, variance, edges, gauss_ratio, out):  # pragma: no cover - compiled
    """Fill ``out`` (B, 6 + 3k) with the moments of every row of ``data`` (B, N).

    ``coords`` (k, N) pixel coordinates; ``variance`` (B, N); ``edges`` (N,) bool (all False:
    no background); ``gauss_ratio`` the kurtosis of a Gaussian (3 in 1D, 2 for r² in 2D).
    """
    k, N = coords.shape
    B = data.shape[0]
    n_edge = 0
    for j in range(N):
        if edges[j]:
            n_edge += 1
    cen = np.empty(k)
    s2 = np.empty(k)
    sum_f = np.empty(k + 1)
    for b in range(B):
        d = data[b]
        v = variance[b]
        bg = 0.0
        if n_edge > 0:
            for j in range(N):
                if edges[j]:
                    bg += d[j]
            bg /= n_edge
        # pass 1: m0, first moments, intensity error (d intensity / d pixel = 1 - N/n_edge
        # on edge pixels, through the background)
        m0 = 0.0
        for a in range(k):
            cen[a] = 0.0
        ie = 0.0
        w_edge = 1.0 - (N / n_edge if n_edge > 0 else 0.0)
        for j in range(N):
            y = d[j] - bg
            m0 += y
            for a in range(k):
                cen[a] += y * coords[a, j]
            g = w_edge if edges[j] else 1.0
            ie += g * g * v[j]
        for a in range(k):
            cen[a] /= m0
        # pass 2: second moments per axis, fourth moment of r, sums of f for the errors
        for a in range(k):
            s2[a] = 0.0
        r4 = 0.0
        for q in range(k + 1):
            sum_f[q] = 0.0
        for j in range(N):
            y = d[j] - bg
            r2 = 0.0
            for a in range(k):
                u = coords[a, j] - cen[a]
                f = u * u
                s2[a] += f * y
                sum_f[a] += f
                r2 += f
            sum_f[k] += r2
            r4 += r2 * r2 * y
        w2 = 0.0
        for a in range(k):
            s2[a] /= m0
            w2 += s2[a]
        out[b, INTENSITY] = m0
        out[b, INTENSITY_ERR] = math.sqrt(ie)
        out[b, BACKGROUND] = bg
        out[b, KURTOSIS] = r4 / m0 / (w2 * w2) - gauss_ratio
        out[b, W2] = w2
        # pass 3: delta-method errors of q = Σ f y / m0 for each axis and for r² (w²):
        # dq/dpixel_j = (f_j − q)/m0 − [j edge] Σ_i (f_i − q)/m0 / n_edge
        nq = k + 1 if k > 1 else 1  # in 1D r² is the one axis: its error is computed once
        for q in range(nq):
            qv = w2 if q == k else s2[q]
            through = 0.0
            if n_edge > 0:
                through = (sum_f[q] - N * qv) / m0 / n_edge
            acc = 0.0
            for j in range(N):
                if q == k:
                    f = 0.0
                    for a in range(k):
                        u = coords[a, j] - cen[a]
                        f += u * u
                else:
                    u = coords[q, j] - cen[q]
                    f = u * u
                g = (f - qv) / m0
                if edges[j]:
                    g -= through
                acc += g * g * v[j]
            err = math.sqrt(acc)
            if q == k or k == 1:
                out[b, W2_ERR] = err
            if q < k:
                out[b, NFIXED + 3 * q + 2] = err
        for a in range(k):
            out[b, NFIXED + 3 * a] = cen[a]
            out[b, NFIXED + 3 * a + 1] = s2[a]


@njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def row_moments_noise1d(x, data, offc, ge, read2, floor, edges, out, peak):  # pragma: no cover
    """:func:`row_moments` of 1D rows (k = 1) with the noise-model variance of each pixel,
    max((d + offc[b])·ge + read2, floor), evaluated on the fly (no (B, N) variance array),
    and each row's largest pixel into ``peak`` (B,).

    Two sweeps per row: (1) the edge background's sums, m0, the centroid, Σ v, Σ_edge v and the
    peak; (2) Σ f y, Σ f, Σ f² y and the variance-weighted Σ v f, Σ v f², Σ_edge v f with
    f = (x - centre)², from which the delta-method error of σ² follows by expanding
    Σ v (df/dpixel)² in powers of f (the numpy version's formula, summed in another order).
    Sums may be reordered (vectorised); ``edges`` (N,) bool, all False: no background.
    """
    N = x.shape[0]
    B = data.shape[0]
    n_edge = 0
    for j in range(N):
        if edges[j]:
            n_edge += 1
    eidx = np.empty(n_edge, dtype=np.int64)
    ef = np.zeros(N)
    i = 0
    for j in range(N):
        if edges[j]:
            eidx[i] = j
            ef[j] = 1.0
            i += 1
    for b in range(B):
        d = data[b]
        off = offc[b]
        bg = 0.0
        for i in range(n_edge):
            bg += d[eidx[i]]
        if n_edge > 0:
            bg /= n_edge
        m0 = c1 = sv = sev = 0.0
        top = -np.inf
        for j in range(N):
            dj = d[j]
            y = dj - bg
            m0 += y
            c1 += y * x[j]
            v = max((dj + off) * ge + read2, floor)
            sv += v
            sev += ef[j] * v
            top = max(top, dj)
        cen = c1 / m0
        s2 = sf = r4 = svf = svf2 = sevf = 0.0
        for j in range(N):
            dj = d[j]
            y = dj - bg
            u = x[j] - cen
            f = u * u
            v = max((dj + off) * ge + read2, floor)
            s2 += f * y
            sf += f
            r4 += f * f * y
            vf = v * f
            svf += vf
            svf2 += vf * f
            sevf += ef[j] * vf
        q = s2 / m0
        # intensity error: d intensity / d pixel = 1 - N/n_edge on edge pixels
        w_edge = 1.0 - (N / n_edge if n_edge > 0 else 0.0)
        ie = sv + (w_edge * w_edge - 1.0) * sev
        # σ² error: d q / d pixel_j = (f_j - q)/m0 - [j edge] T, T = Σ (f - q)/m0 / n_edge
        through = (sf - N * q) / m0 / n_edge if n_edge > 0 else 0.0
        direct2 = (svf2 - 2.0 * q * svf + q * q * sv) / (m0 * m0)
        cross = (sevf - q * sev) / m0
        err2 = direct2 - 2.0 * through * cross + through * through * sev
        err = math.sqrt(err2)
        out[b, INTENSITY] = m0
        out[b, INTENSITY_ERR] = math.sqrt(ie)
        out[b, BACKGROUND] = bg
        out[b, KURTOSIS] = r4 / m0 / (q * q) - 3.0
        out[b, W2] = q
        out[b, W2_ERR] = err
        out[b, NFIXED] = cen
        out[b, NFIXED + 1] = q
        out[b, NFIXED + 2] = err
        peak[b] = top
