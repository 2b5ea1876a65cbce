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

    Writes A = min(λτ + ½(λσ)², 0) into ``A`` (P, V, T) and −τ²/2σ² into ``G`` (P, T), and
    |z| = |τ + λσ²| / (√2 σ) into ``zt`` for every (set, eigenvalue, time) whose Gaussian
    exponent is > −746, in that order; returns how many |z|. Exponents <= −746 (e^x is
    exactly 0 there) are written as 0 (numpy's ``exp`` is slow on huge negative or infinite
    arguments) and :func:`diffusive_rows` takes 0 for them, so the numbers are unchanged.

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
            G[p, t] = arg if arg > _EXP_ZERO else 0.0
        for i in range(V):
            li = lam[p, i]
            half_ls2 = 0.5 * (li * sig) ** 2
            for t in range(T):
                tt = tau[pt, t]
                a = li * tt + half_ls2
                if a > 0.0:
                    a = 0.0
                A[p, i, t] = a if a > _EXP_ZERO else 0.0
                if -0.5 * (tt / sig) ** 2 > _EXP_ZERO:
                    zt[k] = abs(li * sig2 + tt) / rz
                    k += 1
    return k


@njit(cache=True, error_model="numpy")
def diffusive_rows(
    lam, S, beta, e1, coef, safe, gamma, tau, sigma, eA, G, ex, out
):  # pragma: no cover - compiled
    """n, m and the PL row of every set and time, into ``out`` (P, 2, R, T).

    Parameters (P sets, V valleys, T times; rates in 1/ps, lengths in µm)
    ----------
    lam, S : eigenvalues (P, V) and eigenvectors (P, V, V) of the rate matrix K.
    beta, e1 : (P, V) source in the eigenbasis for n (excitons) and for m (w0² excitons).
    coef : (P, V, V) coefficient of h[λ_i, λ_j] in the m level.
    safe : (P, V, V) λ_i − λ_j (no pair may be nearly coincident: the caller's Taylor
        branch handles those on the numpy path; the diagonal takes h′).
    gamma : (P, V) radiative rates.
    tau : (P or 1, T) time since the pulse centre, ps.  sigma : (P or 1,) pulse ⊛ IRF σ, ps.
    eA, G : e^A (P, V, T) and the Gaussian e^(−τ²/2σ²) (P, T) from :func:`pulse_args`.
    ex : erfcx of the |z| :func:`pulse_args` wrote, same order.
    out : (P, 2, R, T); R = V + 1 (valleys and the PL row) or 1 (PL row only).

    Loops run over time innermost (contiguous, vectorised), one set at a time in work
    arrays of V × T that stay in cache.
    """
    P, V = lam.shape
    T = tau.shape[1]
    R = out.shape[2]
    H0 = np.empty((V, T))
    H1 = np.empty((V, T))
    E0 = np.empty((V, T))
    E1 = np.empty((V, T))
    d = np.empty(T)
    live = np.empty(T, dtype=np.bool_)
    fg = np.empty(T)
    k = 0
    for p in range(P):
        pt = p if tau.shape[0] > 1 else 0
        ps = p if sigma.shape[0] > 1 else 0
        sig = sigma[ps]
        sig2 = sig**2
        rf = _SQRT2PI * sig
        for t in range(T):  # the decisions of pulse_args, from the same arithmetic
            live[t] = -0.5 * (tau[pt, t] / sig) ** 2 > _EXP_ZERO
            G[p, t] = G[p, t] if live[t] else 0.0
            fg[t] = sig2 * (G[p, t] / rf)
        # the pulse response h and h' = ∂h/∂λ (linear.pulse_terms, order 1)
        for i in range(V):
            li = lam[p, i]
            half_ls2 = 0.5 * (li * sig) ** 2
            for t in range(T):
                tt = tau[pt, t]
                tail = 0.0
                if live[t]:
                    tail = ex[k] * (0.5 * G[p, t])
                    k += 1
                a = li * tt + half_ls2
                mu = li * sig2 + tt
                h = (eA[p, i, t] if min(a, 0.0) > _EXP_ZERO else 0.0) - tail
                if mu < 0.0:
                    h = tail
                H0[i, t] = h
                H1[i, t] = mu * h + fg[t]
        # E = the source in the eigenbasis times h, plus the divided-difference contraction
        for i in range(V):
            b, c1 = beta[p, i], e1[p, i]
            for t in range(T):
                E0[i, t] = b * H0[i, t]
                d[t] = 0.0
            for j in range(V):
                cij = coef[p, i, j]
                if j == i:
                    for t in range(T):
                        d[t] += cij * H1[i, t]
                else:
                    sij = safe[p, i, j]
                    for t in range(T):
                        d[t] += cij * ((H0[i, t] - H0[j, t]) / sij)
            for t in range(T):
                E1[i, t] = c1 * H0[i, t] + d[t]
        # back to the valleys (S E) and the PL row (γ · S E)
        for t in range(T):
            out[p, 0, R - 1, t] = 0.0
            out[p, 1, R - 1, t] = 0.0
        for v in range(V):
            g = gamma[p, v]
            for t in range(T):
                a0 = 0.0
                a1 = 0.0
                for i in range(V):
                    a0 += S[p, v, i] * E0[i, t]
                    a1 += S[p, v, i] * E1[i, t]
                if R > 1:
                    out[p, 0, v, t] = a0
                    out[p, 1, v, t] = a1
                out[p, 0, R - 1, t] += g * a0
                out[p, 1, R - 1, t] += g * a1
