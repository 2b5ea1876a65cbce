"""Compiled kernels of the image-level fit (numba; the optional extra ``fast``).

The same arithmetic as the numpy path of :mod:`fitdiff.fitting.image` — the profiled (A, c)
of each slice by reweighted linear least squares, and Poisson deviance residuals — fused into
one pass per pixel, so a 512 × 512 streak costs a few ms per model evaluation instead of ~20
passes over (T, N) arrays.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def streak_model(x, x0, w2, counts, valid, offset, eg, read2, floor, passes):
    """Model image (T, N) of A_t exp(−(x − x0)²/w2_t) + c_t with (A_t, c_t) profiled.

    ``eg`` = excess·gain, ``read2`` = read², ``floor`` the variance floor (NoiseModel);
    ``offset`` (T, N) the counts subtracted before fitting.
    """
    nt, nx = counts.shape
    mu = np.empty((nt, nx))
    amp = np.empty(nt)
    cst = np.empty(nt)
    g = np.empty(nx)
    for t in range(nt):
        inv = 1.0 / w2[t]
        for i in range(nx):
            u = x[i] - x0
            g[i] = math.exp(-u * u * inv)
        a = 0.0
        c = 0.0
        for p in range(passes + 1):
            sw = 0.0
            sg = 0.0
            sgg = 0.0
            sd = 0.0
            sgd = 0.0
            for i in range(nx):
                if not valid[t, i]:
                    continue
                if p == 0:
                    w = 1.0
                else:
                    v = eg * (a * g[i] + c + offset[t, i]) + read2
                    w = 1.0 / (v if v > floor else floor)
                gi = g[i]
                di = counts[t, i]
                sw += w
                sg += w * gi
                sgg += w * gi * gi
                sd += w * di
                sgd += w * gi * di
            det = sw * sgg - sg * sg
            if det > 0.0:
                a = (sw * sgd - sg * sd) / det
                c = (sgg * sd - sg * sgd) / det
            else:
                a = 0.0
                c = 0.0
        amp[t] = a
        cst[t] = c
        for i in range(nx):
            mu[t, i] = a * g[i] + c
    return mu, amp, cst


@njit(cache=True, error_model="numpy")
def poisson_residuals(mu, n, nlogn_n, off, gain):
    """Signed deviance residuals of photoelectron counts ``n`` at model ``mu`` (counts)."""
    r = np.empty(mu.size)
    for k in range(mu.size):
        lam = mu[k] / gain + off[k]
        if lam < 1e-12:
            lam = 1e-12
        dev = 2.0 * (lam + nlogn_n[k] - n[k] * math.log(lam))
        s = math.sqrt(dev) if dev > 0.0 else 0.0
        r[k] = s if n[k] >= lam else -s
    return r
