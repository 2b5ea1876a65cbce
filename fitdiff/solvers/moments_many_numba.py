"""Compiled diffusive moment pass for a stack of parameter sets (numba, optional).

:func:`fitdiff.solvers.moments_many._diffusive_many` makes about 35 numpy passes over the
(P, V, T) arrays of a stack: the pulse response μ, |z|, e^A, h, h′, the divided-difference
table h[λ_i, λ_j](τ) and its contraction, the eigenbasis products and the PL row. Here one
loop over (set, time) does all of it while the V values of a time sit in registers, and writes
only the rows the caller asked for. Every elementwise operation is the numpy path's, in the
same order (e^A, the Gaussian, the divided differences, their guards); only the short sums
inside the V × V products may round differently, so the two agree to ~1e-15 relative (tested
to 1e-12 against the numpy path and against one-at-a-time solves).

erfcx is not written here: :func:`pulse_args` lists the |z| where the pulse's Gaussian is not
exactly zero, scipy's ``erfcx`` maps them in one call (its exact values; a numba function
cannot call scipy's ufunc and stay cacheable), and :func:`diffusive_rows` reads them back in
the same order.

This module imports numba; :mod:`fitdiff.solvers.moments_many` imports it only when the
compiled path is wanted (:mod:`fitdiff.compiled`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)
#: exp(x) is exactly 0 in double precision for x <= -746 (and slow there): skipped.
_EXP_ZERO = -746.0


@njit(cache=True, error_model="numpy")
def pulse_args(lam, tau, sigma, A, G, zt):  # pragma: no cover - compiled
    """The exponents and erfcx arguments of the pulse response, for numpy to map.

    Writes A = min(λτ + ½(λσ)², 0) into ``A`` (P, T, V) and −τ²/2σ² into ``G`` (P, T), each
    as −inf where it is <= −746 (e^x is exactly 0 there either way, and numpy's ``exp`` takes
    a slow path for such x); and |z| = |τ + λσ²| / (√2 σ) into ``zt`` for every (set, time,
    eigenvalue) whose Gaussian exponent is > −746, in that order. Returns how many |z|.

    ``lam`` (P, V) 1/ps; ``tau`` (P or 1, T) ps; ``sigma`` (P or 1,) ps, > 0.
    """
    P, V = lam.shape
    T = tau.shape[1]
    k = 0
    for p in range(P):
        pt = p if tau.shape[0] > 1 else 0
        ps = p if sigma.shape[0] > 1 else 0
        sig = sigma[ps]
        sig2 = sig**2
        rz = _SQRT2 * sig
        for t in range(T):
            tt = tau[pt, t]
            arg = -0.5 * (tt / sig) ** 2
            live = arg > _EXP_ZERO
            G[p, t] = arg if live else -np.inf
            for i in range(V):
                li = lam[p, i]
                ls = li * sig
                a = li * tt + 0.5 * ls**2
                if a > 0.0:
                    a = 0.0
                A[p, t, i] = a if a > _EXP_ZERO else -np.inf
                if live:
                    mu = li * sig2 + tt
                    zt[k] = abs(mu) / rz
                    k += 1
    return k


@njit(cache=True, error_model="numpy")
def diffusive_rows(
    lam, S, beta, e1, coef, safe, K, gamma, D4, tau, sigma, s, excitons, w0_exc, eA, G, ex, out
):  # pragma: no cover - compiled
    """The diffusive moments of every set and time, into ``out`` (P, nq, R, T).

    Parameters (P sets, V valleys, T times; rates in 1/ps, lengths in µm)
    ----------
    lam, S : eigenvalues (P, V) and eigenvectors (P, V, V) of the rate matrix K.
    beta, e1 : (P, V) source in the eigenbasis for n (excitons) and for m (w0² excitons).
    coef : (P, V, V) coefficient of h[λ_i, λ_j] in the m level.
    safe : (P, V, V) λ_i − λ_j (1 where the pair is treated by the caller's Taylor branch;
        here only the diagonal, which takes h′).
    K, gamma, D4 : (P, V, V) rate matrix, (P, V) radiative rates, (P, V) 4D in µm²/ps.
    tau : (P or 1, T) time since the pulse centre, ps.  sigma : (P or 1,) pulse ⊛ IRF σ, ps.
    s : source valley index.  excitons : excitons per pulse.  w0_exc : (P,) w0² × excitons.
    eA, G : e^A (P, T, V) and the Gaussian e^(−τ²/2σ²) (P, T) from :func:`pulse_args`.
    ex : erfcx of the |z| :func:`pulse_args` wrote, same order.
    out : (P, nq, R, T); nq = 2 (n, m) or 4 (and their time derivatives); R = V + 1 (valleys
        and the PL row) or 1 (PL row only).
    """
    P, V = lam.shape
    T = tau.shape[1]
    nq = out.shape[1]
    R = out.shape[2]
    h0 = np.empty(V)
    h1 = np.empty(V)
    E0 = np.empty(V)
    E1 = np.empty(V)
    SE0 = np.empty(V)
    SE1 = np.empty(V)
    k = 0
    for p in range(P):
        pt = p if tau.shape[0] > 1 else 0
        ps = p if sigma.shape[0] > 1 else 0
        sig = sigma[ps]
        sig2 = sig**2
        rf = _SQRT2PI * sig
        for t in range(T):
            tt = tau[pt, t]
            gauss = G[p, t]
            live = -0.5 * (tt / sig) ** 2 > _EXP_ZERO  # as pulse_args decided
            half = 0.5 * gauss
            for i in range(V):
                mu = lam[p, i] * sig2 + tt
                if live:
                    tail = ex[k] * half
                    k += 1
                else:
                    tail = 0.0
                h = eA[p, t, i] - tail
                if mu < 0.0:
                    h = tail
                h0[i] = h
            fg = gauss / rf
            for i in range(V):
                li = lam[p, i]
                mu = li * sig2 + tt
                h1[i] = mu * h0[i] + sig2 * fg
            # E: the source in the eigenbasis times h, plus the divided-difference contraction
            for i in range(V):
                E0[i] = beta[p, i] * h0[i]
                acc = 0.0
                for j in range(V):
                    if j == i:
                        d = h1[i]
                    else:
                        d = (h0[i] - h0[j]) / safe[p, i, j]
                    acc += coef[p, i, j] * d
                E1[i] = e1[p, i] * h0[i] + acc
            pl0 = 0.0
            pl1 = 0.0
            for v in range(V):
                a0 = 0.0
                a1 = 0.0
                for i in range(V):
                    a0 += S[p, v, i] * E0[i]
                    a1 += S[p, v, i] * E1[i]
                SE0[v] = a0
                SE1[v] = a1
                pl0 += gamma[p, v] * a0
                pl1 += gamma[p, v] * a1
                if R > 1:
                    out[p, 0, v, t] = a0
                    out[p, 1, v, t] = a1
            out[p, 0, R - 1, t] = pl0
            out[p, 1, R - 1, t] = pl1
            if nq == 4:
                # exact time derivatives from the ODE itself (no finite differences)
                pl0 = 0.0
                pl1 = 0.0
                for v in range(V):
                    a0 = 0.0
                    a1 = 0.0
                    for u in range(V):
                        a0 += K[p, v, u] * SE0[u]
                        a1 += K[p, v, u] * SE1[u]
                    a1 += D4[p, v] * SE0[v]
                    if v == s:
                        a0 += excitons * fg
                        a1 += w0_exc[p] * fg
                    pl0 += gamma[p, v] * a0
                    pl1 += gamma[p, v] * a1
                    if R > 1:
                        out[p, 2, v, t] = a0
                        out[p, 3, v, t] = a1
                out[p, 2, R - 1, t] = pl0
                out[p, 3, R - 1, t] = pl1
