"""Compiled diffusive moment pass for a stack of parameter sets (numba, optional).

:func:`fitdiff.solvers.moments_many._diffusive_many` on the numpy path makes about 35 numpy
passes over the (P, V, T) arrays of a stack and some 60 small calls on the (P, V, V) rate
matrices; both are fixed costs per call that a stack of 16 sets cannot hide. Here three loops
do all of it:

* :func:`rate_setup` builds every set's rate matrix K, the radiative rates γ and the
  symmetrised Π^(−½) K Π^(½) that numpy's stacked ``eigh`` diagonalises;
* :func:`prepare_rows` turns the eigen-decomposition into the eigenbasis coefficients and
  writes the exponents and erfcx arguments of the pulse response;
* :func:`diffusive_rows` makes n, m and the PL row over (set, time), the V values of a time in
  registers, and writes only the rows the caller asked for.

Every elementwise operation is the numpy path's, in the same order (K's accumulation, e^A,
the Gaussian, the divided differences, their guards), so those are the same numbers to the
bit; only the short sums inside the V × V products (the diffusion coefficient in the
eigenbasis, S E) may round differently from numpy's BLAS products, so the rows agree to
~1e-15 relative (tested to 1e-12 against the numpy path and one-at-a-time solves).

``exp`` and erfcx are not written here: numpy's vectorised ``exp`` is several times faster
than libm's in a loop, and scipy's ``erfcx`` is a ufunc a cacheable numba function cannot
call. :func:`prepare_rows` lists the arguments, numpy and scipy map them in one call each,
and :func:`diffusive_rows` reads them back.

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
#: Beyond this |z| the erfcx term of h = e^A − ½ e^(−τ²/2σ²) erfcx(|z|) (μ >= 0, A <= 0) is
#: ½ erfc(|z|) e^A < 1e-29 e^A, below half an ulp of e^A: h is e^A to the bit, so erfcx is
#: not evaluated there (e^(−τ²/2σ²)/e^A = e^(−z²) exactly, and the roundings of the two
#: exponentials and of the product are ~1e-16 relative, far inside that margin).
_Z_FAR = 8.0
#: Relative spacing (|Δλ| · time scale) below which the divided differences need the Taylor
#: branch (``linear._CLOSE``; such stacks stay on the numpy path).
_CLOSE = 1e-3


@njit(cache=True, error_model="numpy")
def rate_setup(pi, light, phonon, krad, knr, rates, fr, to, gamma, root, Ksym):  # pragma: no cover
    """Rate matrices of every set, as ``moments_many.rate_inputs_many`` and ``_eigen_many``.

    Parameters (P sets, V valleys, N transitions; rates in 1/ps)
    ----------
    pi : (P or 1, V) Boltzmann weights.  light : (P or 1, V) light-cone factors (1 = none).
    phonon : (P or 1, N) phonon factors (1 = none).
    krad, knr : (V, P) radiative and non-radiative rates.  rates : (N, P) downhill rates.
    fr, to : (N,) valley index of each transition's start and end.
    gamma : out (P, V) γ = k_rad × light cone.  root : out (P, V) √π.
    Ksym : out (P, V, V) ½ (Ks + Ksᵀ) with Ks = Π^(−½) K Π^(½).
    """
    P, V = gamma.shape
    N = fr.shape[0]
    K = np.empty((V, V))
    for p in range(P):
        pp = p if pi.shape[0] > 1 else 0
        pl = p if light.shape[0] > 1 else 0
        ph = p if phonon.shape[0] > 1 else 0
        for i in range(V):
            gamma[p, i] = krad[i, p] * light[pl, i]
            for j in range(V):
                K[i, j] = 0.0
        for k in range(N):
            i, j = fr[k], to[k]
            down = rates[k, p] / phonon[ph, k]
            up = down * pi[pp, i] / pi[pp, j]
            K[j, i] += down
            K[i, i] -= down
            K[i, j] += up
            K[j, j] -= up
        for i in range(V):
            K[i, i] -= gamma[p, i] + knr[i, p]
            root[p, i] = math.sqrt(pi[pp, i])
        for a in range(V):
            for b in range(V):
                ks_ab = K[a, b] / root[p, a] * root[p, b]
                ks_ba = K[b, a] / root[p, b] * root[p, a]
                Ksym[p, a, b] = 0.5 * (ks_ab + ks_ba)


@njit(cache=True, error_model="numpy")
def prepare_rows(
    lam, U, root, D, w0, excitons, s, tau, sigma, S, beta, e1, coef, safe, A, G, zt, zi, off
):  # pragma: no cover - compiled
    """Eigenbasis coefficients and the pulse response's exponents and erfcx arguments.

    Parameters (P sets, V valleys, T times; rates in 1/ps, lengths in µm, times in ps)
    ----------
    lam, U : eigenvalues (P, V) and orthonormal eigenvectors (P, V, V) of ``Ksym``.
    root : (P, V) √π.  D : (P, V) diffusion coefficients in µm²/ps.  w0 : (P,) spot radius.
    excitons : source excitons.  s : index of the source valley.
    tau : (P or 1, T) time since the pulse centre.  sigma : (P or 1,) pulse ⊛ IRF σ (> 0).
    S, beta, e1, coef, safe : out, as :func:`diffusive_rows` takes them.
    A : out (P, V, T) the exponent min(λτ + ½(λσ)², 0), 0 where it is <= −746.
    G : out (P or 1, T) −τ²/2σ², 0 where it is <= −746 (one row when tau and sigma are).
    zt, zi : out, |z| = |τ + λσ²|/(√2 σ) and its time index for every (set, eigenvalue, time)
        whose erfcx term counts (Gaussian not exactly 0, and not μ >= 0 with |z| > 8).
    off : out (P V + 1,) where each (set, eigenvalue)'s entries of ``zt`` start.

    Returns
    -------
    int
        Number of erfcx arguments, or −1 when some set has a nearly coincident eigenvalue pair
        (the divided differences then need the numpy path's Taylor branch).
    """
    P, V = lam.shape
    T = tau.shape[1]
    Sinv = np.empty((V, V))
    D4 = np.empty(V)
    live = np.empty(T, dtype=np.bool_)
    scale = 0.0
    k = 0
    for p in range(P):
        pt = p if tau.shape[0] > 1 else 0
        ps = p if sigma.shape[0] > 1 else 0
        sig = sigma[ps]
        sig2 = sig**2
        rz = _SQRT2 * sig
        taur = tau[pt]
        if p == 0 or tau.shape[0] > 1 or sigma.shape[0] > 1:
            top = 0.0
            for t in range(T):
                top = max(top, abs(taur[t]))
                arg = -0.5 * (taur[t] / sig) ** 2
                live[t] = arg > _EXP_ZERO
                if p < G.shape[0]:
                    G[p, t] = arg if arg > _EXP_ZERO else 0.0
            scale = top + 5.0 * sig
        # the eigenbasis: S = Π^½ U, S⁻¹ = Uᵀ Π^(−½) (exact inverses, Block.detailed_balance)
        for a in range(V):
            D4[a] = 4.0 * D[p, a]
            for b in range(V):
                S[p, a, b] = root[p, a] * U[p, a, b]
                Sinv[a, b] = U[p, b, a] / root[p, b]
        w0_exc = w0[p] ** 2 * excitons
        for a in range(V):
            beta[p, a] = Sinv[a, s] * excitons
            e1[p, a] = Sinv[a, s] * w0_exc
        for a in range(V):
            for b in range(V):
                chat = 0.0
                for c in range(V):
                    chat += (Sinv[a, c] * D4[c]) * S[p, c, b]
                coef[p, a, b] = chat * beta[p, b]
                diff = lam[p, a] - lam[p, b]
                if a != b and abs(diff) * scale < _CLOSE:
                    return -1
                safe[p, a, b] = 1.0 if a == b else diff
        for i in range(V):
            off[p * V + i] = k
            li = lam[p, i]
            half_ls2 = 0.5 * (li * sig) ** 2
            Ar = A[p, i]
            for t in range(T):
                a = li * taur[t] + half_ls2
                b = a if a < 0.0 else 0.0
                Ar[t] = b if b > _EXP_ZERO else 0.0
            for t in range(T):
                if live[t]:
                    tt = taur[t]
                    mu = li * sig2 + tt
                    z = abs(mu) / rz
                    if mu >= 0.0 and z > _Z_FAR and li * tt + half_ls2 <= 0.0:
                        continue
                    zt[k] = z
                    zi[k] = t
                    k += 1
    off[P * V] = k
    return k


@njit(cache=True, error_model="numpy")
def diffusive_rows(
    lam, S, beta, e1, coef, safe, gamma, tau, sigma, eA, G, ex, zi, off, out
):  # pragma: no cover - compiled
    """n, m and the PL row of every set and time, into ``out`` (P, 2, R, T).

    Parameters (P sets, V valleys, T times; rates in 1/ps, lengths in µm)
    ----------
    lam, S : eigenvalues (P, V) and eigenvectors (P, V, V) of the rate matrix K.
    beta, e1 : (P, V) source in the eigenbasis for n (excitons) and for m (w0² excitons).
    coef : (P, V, V) coefficient of h[λ_i, λ_j] in the m level.
    safe : (P, V, V) λ_i − λ_j (no pair may be nearly coincident; the diagonal takes h′).
    gamma : (P, V) radiative rates.
    tau : (P or 1, T) time since the pulse centre, ps.  sigma : (P or 1,) pulse ⊛ IRF σ, ps.
    eA, G : e^A (P, V, T) and e^(−τ²/2σ²) (P or 1, T) of :func:`prepare_rows`' exponents.
    ex, zi, off : erfcx of the |z| :func:`prepare_rows` listed, their time indices and where
        each (set, eigenvalue) starts.
    out : (P, 2, R, T); R = V + 1 (valleys and the PL row) or 1 (PL row only).

    The pulse response h and h′ = ∂h/∂λ (``linear.pulse_terms``, order 1) are first written
    where the erfcx term does not count (contiguous loops over time that vectorise), then
    the listed entries are overwritten with the full formula. h[λ_i, λ_j] = h[λ_j, λ_i] to the
    bit (both the difference and the eigenvalue gap change sign exactly), so each pair is
    divided once.
    """
    P, V = lam.shape
    T = tau.shape[1]
    R = out.shape[2]
    H0 = np.empty((V, T))
    H1 = np.empty((V, T))
    Q = np.empty((V, V, T))
    E0 = np.empty((V, T))
    E1 = np.empty((V, T))
    d = np.empty(T)
    fg = np.empty(T)
    a0 = np.empty(T)
    a1 = np.empty(T)
    for p in range(P):
        pt = p if tau.shape[0] > 1 else 0
        ps = p if sigma.shape[0] > 1 else 0
        pg = p if G.shape[0] > 1 else 0
        sig = sigma[ps]
        sig2 = sig**2
        rf = _SQRT2PI * sig
        taur = tau[pt]
        Gr = G[pg]
        if p == 0 or G.shape[0] > 1:
            for t in range(T):  # the pulse f times σ² (0 where the Gaussian underflows)
                gt = Gr[t] if -0.5 * (taur[t] / sig) ** 2 > _EXP_ZERO else 0.0
                fg[t] = sig2 * (gt / rf)
        for i in range(V):
            li = lam[p, i]
            half_ls2 = 0.5 * (li * sig) ** 2
            h0 = H0[i]
            h1 = H1[i]
            er = eA[p, i]
            for t in range(T):
                tt = taur[t]
                a = li * tt + half_ls2
                mu = li * sig2 + tt
                b = a if a < 0.0 else 0.0
                h = er[t] if b > _EXP_ZERO else 0.0
                h = h if mu >= 0.0 else 0.0
                h0[t] = h
                h1[t] = mu * h + fg[t]
            for k in range(off[p * V + i], off[p * V + i + 1]):
                t = zi[k]
                tt = taur[t]
                mu = li * sig2 + tt
                tail = ex[k] * (0.5 * Gr[t])
                if mu < 0.0:
                    h = tail
                else:
                    a = li * tt + half_ls2
                    b = a if a < 0.0 else 0.0
                    h = (er[t] if b > _EXP_ZERO else 0.0) - tail
                h0[t] = h
                h1[t] = mu * h + fg[t]
        # the divided differences h[λ_i, λ_j], one division per pair
        for i in range(V):
            for j in range(i + 1, V):
                sij = safe[p, i, j]
                q = Q[i, j]
                hi = H0[i]
                hj = H0[j]
                for t in range(T):
                    q[t] = (hi[t] - hj[t]) / sij
        # E = the source in the eigenbasis times h, plus the divided-difference contraction
        for i in range(V):
            b, c1 = beta[p, i], e1[p, i]
            hi = H0[i]
            e0 = E0[i]
            for t in range(T):
                e0[t] = b * hi[t]
                d[t] = 0.0
            for j in range(V):
                cij = coef[p, i, j]
                q = H1[i] if j == i else (Q[i, j] if i < j else Q[j, i])
                for t in range(T):
                    d[t] += cij * q[t]
            e1r = E1[i]
            for t in range(T):
                e1r[t] = c1 * hi[t] + d[t]
        # back to the valleys (S E) and the PL row (γ · S E)
        o0 = out[p, 0, R - 1]
        o1 = out[p, 1, R - 1]
        for t in range(T):
            o0[t] = 0.0
            o1[t] = 0.0
        for v in range(V):
            g = gamma[p, v]
            for t in range(T):
                a0[t] = 0.0
                a1[t] = 0.0
            for i in range(V):
                svi = S[p, v, i]
                e0 = E0[i]
                e1r = E1[i]
                for t in range(T):
                    a0[t] += svi * e0[t]
                    a1[t] += svi * e1r[t]
            if R > 1:
                ov0 = out[p, 0, v]
                ov1 = out[p, 1, v]
                for t in range(T):
                    ov0[t] = a0[t]
                    ov1[t] = a1[t]
            for t in range(T):
                o0[t] += g * a0[t]
                o1[t] += g * a1[t]
