"""Exact response of a block lower-triangular linear system to a Gaussian (or delta) pulse.

Every rung of the moment ladder (PHYSICS.md §3.3, §3.5 design note) is a linear system

    dX/dt = A X + b f(t),   X = (x_0, x_1, x_2) = (n, p, m) over internal states,

whose generator is block lower-triangular: the moment of order r² (m) is fed by p and n but
never feeds back. The diagonal blocks are diagonalisable (the n and m blocks share the rate
operator K, the p block is K restricted and damped), but A itself is *defective*: n and m have
equal eigenvalues, which is where the secular term 4Dt comes from. So A is never
eigen-decomposed as a whole. Instead each diagonal block is diagonalised once and the response
is written with divided differences of the scalar pulse response

    h(λ, t) = ∫_0^∞ exp(λu) f(t − u) du     (f: unit-area Gaussian of width σ centred at t0),

an exponentially modified Gaussian evaluated with ``scipy.special.erfcx`` so it neither
overflows nor underflows. Convolving f with a Gaussian IRF is the same h with
σ² → σ_pulse² + σ_IRF², so the instrument is applied to n and m before any ratio is formed.

Coincident (or nearly coincident) eigenvalues are handled with Taylor expansions in λ, whose
derivatives ∂^k h are closed-form truncated-Gaussian moments; this keeps the divided
differences accurate to rounding for any spacing of the eigenvalues.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
from scipy.special import erfcx

from ..errors import ModelError

#: Relative spacing (|Δλ| · time scale) below which divided differences switch to Taylor series.
_CLOSE = 1e-3
_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)
#: exp(x) rounds to exactly 0 for x <= this.
_EXP_ZERO = -746.0


@dataclass(frozen=True)
class Block:
    """One diagonalised diagonal block: ``A_block = S diag(eigvals) Sinv`` (rates in 1/ps)."""

    eigvals: np.ndarray
    S: np.ndarray
    Sinv: np.ndarray

    @property
    def size(self) -> int:
        """Number of internal states of the block."""
        return self.eigvals.size

    @classmethod
    def diagonal(cls, d: np.ndarray) -> Block:
        """A block that is already diagonal."""
        d = np.asarray(d, dtype=float)
        eye = np.eye(d.size)
        return cls(d, eye, eye)

    @classmethod
    def detailed_balance(cls, K: np.ndarray, weights: np.ndarray) -> Block:
        """Diagonalise a rate matrix obeying detailed balance with stationary ``weights``.

        K_vv' π_v' = K_v'v π_v makes Π^(-1/2) K Π^(1/2) symmetric, so ``eigh`` gives real
        eigenvalues and an orthogonal basis; the eigenvector matrices are then exact inverses
        of each other without a numerical ``inv`` (which would lose digits when the valley
        populations differ by 1e13, as at 20 K).
        """
        root = np.sqrt(np.asarray(weights, dtype=float))
        Ks = K / root[:, None] * root[None, :]
        lam, U = np.linalg.eigh(0.5 * (Ks + Ks.T))
        return cls(lam, root[:, None] * U, U.T / root[None, :])

    @classmethod
    def general(cls, A: np.ndarray) -> Block:
        """Diagonalise any diagonalisable block with real spectrum (``numpy.linalg.eig``)."""
        lam, S = np.linalg.eig(A)
        if np.iscomplexobj(lam):
            if np.max(np.abs(lam.imag)) > 1e-9 * max(1.0, np.max(np.abs(lam.real))):
                raise ModelError("the moment generator has complex eigenvalues (not a rate model)")
            lam, S = lam.real, S.real
        return cls(lam, S, np.linalg.inv(S))


def pulse_derivatives(lam: np.ndarray, tau: np.ndarray, sigma: float, order: int) -> list:
    """Return [∂^k h(λ, τ) for k = 0..order] with shape ``lam.shape + tau.shape``.

    Parameters
    ----------
    lam : numpy.ndarray
        Eigenvalues λ in 1/ps (real, typically <= 0).
    tau : numpy.ndarray
        Time since the pulse centre, t − t0, in ps (1-D).
    sigma : float
        Pulse (⊛ IRF) standard deviation in ps; 0 means a delta pulse.
    order : int
        Highest λ-derivative wanted.

    Notes
    -----
    ∂^k h = ∫_0^∞ u^k e^(λu) f(τ − u) du are moments of a Gaussian in u (centre μ = τ + λσ²)
    truncated to u > 0, which obey H_k = μ H_(k−1) + (k−1) σ² H_(k−2) (+ σ² f(τ) for k = 1).
    """
    return pulse_terms(lam, tau, sigma, order)[0]


def pulse_terms(lam, tau, sigma, order: int, work=None) -> tuple[list, np.ndarray]:
    """:func:`pulse_derivatives` and the pulse shape f(τ) in 1/ps from one pass.

    The moment solver needs both; f shares the Gaussian factor of h', so computing them
    together saves one exponential per time. Arguments as :func:`pulse_derivatives`, except
    that ``tau`` may have any shape broadcasting against ``lam[..., None]`` and ``sigma`` may
    be an array (all > 0) broadcasting against both: a stack of parameter sets at once, with
    the same elementwise arithmetic as one set. ``work`` (a :class:`Workspace`) supplies the
    large arrays, which are then overwritten by the next call with the same workspace.
    """
    lam = np.asarray(lam, dtype=float)[..., None]
    tau = np.asarray(tau, dtype=float)
    if np.ndim(sigma) == 0 and sigma == 0.0:
        # a delta pulse creates the population at t0 (inclusive), so w²(t0) = w0²
        h0 = np.where(tau >= 0.0, np.exp(lam * np.maximum(tau, 0.0)), 0.0)
        out = [h0]
        for _ in range(order):
            out.append(out[-1] * tau)
        return out, np.zeros_like(tau)
    shape = np.broadcast_shapes(lam.shape, tau.shape)
    buf = Workspace.none if work is None else work
    # μ = τ + λσ² (the sum in either order is the same number)
    mu = np.multiply(lam, sigma**2, out=buf.get("mu", shape))
    mu += tau
    # h = ½ e^A erfc(z), A = λτ + λ²σ²/2, z = −μ/(√2 σ). For z > 0 write
    # e^A erfc(z) = e^(-τ²/2σ²) erfcx(z) (no overflow); for z <= 0 (where τ >= -λσ² >= 0, so
    # A <= 0) use erfc(z) = 2 - erfc(-z), i.e. h = e^A - ½ e^(-τ²/2σ²) erfcx(-z), which loses
    # at most one bit (h >= e^A / 2). One erfcx call on |z| serves both branches.
    # Speed (the fit's hot path): exp(x <= -746) is exactly 0 in double precision but takes
    # the slow underflow path, so the Gaussian, which underflows away from the pulse, skips
    # such x with ufunc ``where=``; updates are in place. The numbers are unchanged.
    arg = -0.5 * (tau / sigma) ** 2
    gauss = np.exp(arg, out=np.zeros_like(arg), where=arg > _EXP_ZERO)
    # erfcx is the costliest call per element and its result is multiplied by the Gaussian:
    # at times where that is exactly 0 for every row (|τ| > 38.6 σ, most of a long window) it
    # is not evaluated (``tail`` keeps the finite |z| there, and |z| · 0 = 0, the same product).
    # (A ufunc ``where=`` mask would do the same, but scipy's erfcx crashes with a broadcast
    # mask, so the times are sliced.)
    tail = np.abs(mu, out=buf.get("tail", shape))
    tail /= _SQRT2 * sigma  # |z|
    T = tail.shape[-1]
    live = np.flatnonzero((gauss > 0.0).reshape(-1, T).any(axis=0)) if T else np.arange(0)
    if live.size == T:
        erfcx(tail, out=tail)
    elif live.size and live[-1] - live[0] + 1 == live.size:
        part = tail[..., live[0] : live[-1] + 1]
        erfcx(part, out=part)
    elif live.size:
        tail[..., live] = erfcx(tail[..., live])
    tail *= 0.5 * gauss
    A = np.multiply(lam, tau, out=buf.get("h0", shape))
    A += 0.5 * (lam * sigma) ** 2
    np.minimum(A, 0.0, out=A)
    with np.errstate(under="ignore"):
        h0 = np.exp(A, out=A)  # e^A, then h in place
    h0 -= tail
    np.copyto(h0, tail, where=np.less(mu, 0.0, out=buf.get("neg", shape, bool)))  # z > 0
    out = [h0]
    fgauss = gauss / (_SQRT2PI * sigma)
    if order >= 1:
        h1 = np.multiply(mu, h0, out=buf.get("h1", shape))
        h1 += sigma**2 * fgauss
        out.append(h1)
    for k in range(2, order + 1):
        out.append(mu * out[k - 1] + (k - 1) * sigma**2 * out[k - 2])
    return out, fgauss


class Workspace:
    """Reusable arrays for the batched solvers, one set per thread.

    A stack of parameter sets makes arrays of a few hundred kB to MB. Allocating them afresh
    on every call costs a page fault per 4 kB page once the C allocator hands such sizes back
    to the system (glibc's mmap and trim thresholds), which on a loaded machine cost more
    than the arithmetic; keeping them between calls avoids that. Not shared between threads.
    """

    none: Workspace

    def __init__(self, keep: bool = True):
        self._keep = keep
        self._local = threading.local()

    def get(self, name: str, shape: tuple, dtype=float) -> np.ndarray:
        """An uninitialised array of ``shape`` (the same memory each call with this name)."""
        if not self._keep:
            return np.empty(shape, dtype)
        arrays = self._local.__dict__.setdefault("arrays", {})
        key = (name, tuple(shape), np.dtype(dtype).char)
        a = arrays.get(key)
        if a is None:
            if len(arrays) > 64:  # stacks of a few sizes in practice; bound the memory kept
                arrays.clear()
            a = arrays[key] = np.empty(shape, dtype)
        return a

    def many(self, name: str, layout: tuple) -> tuple:
        """Several arrays at once, ``layout`` a tuple of (shape, dtype): one lookup for all of
        them (a hot path asking for a dozen small arrays per call saves the other lookups)."""
        if not self._keep:
            return tuple(np.empty(shape, dtype) for shape, dtype in layout)
        arrays = self._local.__dict__.setdefault("arrays", {})
        key = (name, layout)
        a = arrays.get(key)
        if a is None:
            if len(arrays) > 64:
                arrays.clear()
            a = arrays[key] = tuple(np.empty(shape, dtype) for shape, dtype in layout)
        return a


Workspace.none = Workspace(keep=False)


def _pair_table(lam_a, Ha, lam_b, Hb, tau, sigma, scale) -> np.ndarray:
    """Table h[λa_i, λb_j](τ) of first divided differences, shape (A, B, T).

    ``Ha``/``Hb`` are the derivative stacks (orders 0 and 1) of :func:`pulse_derivatives` at the
    nodes. Close pairs use h[c+d, c−d] = h'(c) + h'''(c) d²/6 + O(d⁴) (exact for d = 0).
    """
    diff = lam_a[:, None] - lam_b[None, :]
    close = np.abs(diff) * scale < _CLOSE
    safe = np.where(close, 1.0, diff)
    table = (Ha[0][:, None, :] - Hb[0][None, :, :]) / safe[..., None]
    if lam_a is lam_b:
        # one block against itself: the diagonal is h[a, a] = h'(a), set through a strided
        # view because for a few valleys index arrays cost more than the arithmetic
        A = lam_a.size
        table.reshape(A * A, -1)[:: A + 1] = Ha[1]
        close.flat[:: A + 1] = False
        if not close.any():
            return table
    ii, jj = np.nonzero(close)
    exact = diff[ii, jj] == 0.0
    table[ii[exact], jj[exact]] = Ha[1][ii[exact]]  # h[a, a] = h'(a)
    for i, j in zip(ii[~exact], jj[~exact], strict=True):
        c, d = 0.5 * (lam_a[i] + lam_b[j]), 0.5 * diff[i, j]
        H = pulse_derivatives(np.array(c), tau, sigma, 3)
        table[i, j] = H[1] + H[3] * d**2 / 6.0
    return table


def _triple_table(la, lb, lc, Tab, Tbc, Tac, tau, sigma, scale) -> np.ndarray:
    """Table h[a_i, b_l, c_k](τ) of second divided differences, shape (A, B, C, T).

    Of the three equivalent recursions the one dividing by the largest node difference is
    used, so no cancellation is amplified; triples whose nodes all nearly coincide use the
    Taylor series about their mean.
    """
    a, b, c = la[:, None, None], lb[None, :, None], lc[None, None, :]
    dens = np.stack(np.broadcast_arrays(a - c, b - c, a - b))
    pick = np.argmax(np.abs(dens), axis=0)
    den = np.take_along_axis(dens, pick[None], axis=0)[0]
    close = np.abs(den) * scale < _CLOSE
    den = np.where(close, 1.0, den)[..., None]
    # h[a,b,c] = (h[a,b] − h[b,c])/(a−c) = (h[b,a] − h[a,c])/(b−c) = (h[a,c] − h[c,b])/(a−b)
    # Each node triple needs one of the three differences: gather the two rows it needs
    # from one stack of the pair tables rather than forming all three for every triple.
    A, B, C = pick.shape
    T = Tab.shape[-1]
    rows = np.concatenate([Tab.reshape(A * B, T), Tbc.reshape(B * C, T), Tac.reshape(A * C, T)])
    i, j, k = np.indices(pick.shape)
    ab, bc, ac = i * B + j, A * B + j * C + k, A * B + B * C + i * C + k
    first = np.where(pick == 2, ac, ab).ravel()
    second = np.where(pick == 1, ac, bc).ravel()
    out = ((rows[first] - rows[second]) / den.reshape(A * B * C, 1)).reshape(A, B, C, T)
    for i, j, k in zip(*np.nonzero(close), strict=True):
        x = np.array([la[i], lb[j], lc[k]])
        d = x - x.mean()
        h2 = d @ d + d[0] * d[1] + d[0] * d[2] + d[1] * d[2]
        H = pulse_derivatives(np.array(x.mean()), tau, sigma, 4)
        # the h''' term vanishes because the deviations sum to zero
        out[i, j, k] = 0.5 * H[2] + H[4] * h2 / 24.0
    return out


def chain_response(
    blocks: list[Block],
    couplings: dict[tuple[int, int], np.ndarray],
    sources: list[np.ndarray | None],
    tau: np.ndarray,
    sigma: float,
) -> list[np.ndarray]:
    """Exact solution of dx_i/dt = B_i x_i + Σ_(j<i) C_ij x_j + b_i f(t), x(−∞) = 0.

    Parameters
    ----------
    blocks : list of Block
        The diagonal blocks B_0, B_1, ... (at most three levels: n, p, m).
    couplings : dict
        ``{(i, j): C_ij}`` for i > j (matrix of shape (size_i, size_j), rates in 1/ps or the
        moment's own units per ps).
    sources : list
        Source vector b_i of each level (None = no direct source).
    tau : numpy.ndarray
        Time since the pulse centre in ps.
    sigma : float
        Standard deviation of the pulse (⊛ IRF) in ps; 0 = delta pulse.

    Returns
    -------
    list of numpy.ndarray
        x_i(τ) with shape (size_i, len(tau)) per level.
    """
    if len(blocks) > 3:
        raise ModelError("chain_response supports at most three moment levels (n, p, m)")
    tau = np.asarray(tau, dtype=float)
    scale = float(np.max(np.abs(tau), initial=0.0)) + 5.0 * sigma
    lam = [blk.eigvals for blk in blocks]
    # blocks sharing an operator (n and m share K) share their derivative stacks
    # blocks sharing an operator (n and m share K) share their derivative stacks; the distinct
    # blocks' eigenvalues go through one batched call (elementwise, so the same numbers).
    # Orders 0 and 1 suffice: h[a, a] = h'(a); near-coincident pairs get their own higher
    # derivatives at the midpoint in _pair_table.
    owner = [next(j for j in range(i + 1) if blocks[j] is blk) for i, blk in enumerate(blocks)]
    distinct = [i for i in range(len(blocks)) if owner[i] == i]
    Hall = pulse_derivatives(np.concatenate([lam[i] for i in distinct]), tau, sigma, 1)
    bounds = np.cumsum([0] + [lam[i].size for i in distinct])
    own = {i: [h[bounds[q] : bounds[q + 1]] for h in Hall] for q, i in enumerate(distinct)}
    H = [own[owner[i]] for i in range(len(blocks))]
    beta = [None if b is None else blk.Sinv @ b for blk, b in zip(blocks, sources, strict=True)]
    chat = {ij: blocks[ij[0]].Sinv @ C @ blocks[ij[1]].S for ij, C in couplings.items()}
    pairs: dict[tuple[int, int], np.ndarray] = {}

    def pair(i: int, j: int) -> np.ndarray:
        if (i, j) not in pairs:
            pairs[(i, j)] = _pair_table(lam[i], H[i], lam[j], H[j], tau, sigma, scale)
        return pairs[(i, j)]

    out = []
    for i, blk in enumerate(blocks):
        xt = np.zeros((blk.size, tau.size))
        if beta[i] is not None:
            xt += beta[i][:, None] * H[i][0]
        for j in range(i):
            C = chat.get((i, j))
            if C is None:
                continue
            if beta[j] is not None:
                # Σ_k C_ik β_k h[λ_i, λ_k](τ) as one batched matrix product
                xt += np.matmul((C * beta[j])[:, None, :], pair(i, j))[:, 0, :]
            for k in range(j):
                C2 = chat.get((j, k))
                if C2 is None or beta[k] is None:
                    continue
                dd = _triple_table(
                    lam[i], lam[j], lam[k], pair(i, j), pair(j, k), pair(i, k), tau, sigma, scale
                )
                # Σ_lk C_il C2_lk β_k h[λ_i, κ_l, λ_k](τ) as one batched matrix product
                W = (C[:, :, None] * (C2 * beta[k])[None, :, :]).reshape(C.shape[0], 1, -1)
                xt += np.matmul(W, dd.reshape(W.shape[0], W.shape[2], tau.size))[:, 0, :]
        out.append(blk.S @ xt)
    return out


def pulse_shape(tau: np.ndarray, sigma: float) -> np.ndarray:
    """The unit-area Gaussian pulse f(τ) in 1/ps (zero everywhere for a delta pulse, τ ≠ 0)."""
    tau = np.asarray(tau, dtype=float)
    if sigma == 0.0:
        return np.zeros_like(tau)
    return np.exp(-0.5 * (tau / sigma) ** 2) / (_SQRT2PI * sigma)


def _pair_many(lam_a, Ha, lam_b, Hb, same: bool, tau, sigma, scale) -> np.ndarray:
    """:func:`_pair_table` for P parameter sets: lam (P, A) and (P, B), H (P, ·, T).

    ``tau`` (P, T), ``sigma`` (P,) (0 for delta pulses), ``scale`` (P,). Shape (P, A, B, T).
    """
    P, A = lam_a.shape
    diff = lam_a[:, :, None] - lam_b[:, None, :]
    close = np.abs(diff) * scale[:, None, None] < _CLOSE
    safe = np.where(close, 1.0, diff)
    table = (Ha[0][:, :, None, :] - Hb[0][:, None, :, :]) / safe[..., None]
    if same:
        table.reshape(P, A * A, -1)[:, :: A + 1] = Ha[1]
        close.reshape(P, A * A)[:, :: A + 1] = False
    for p, i, j in zip(*np.nonzero(close), strict=True):
        if diff[p, i, j] == 0.0:
            table[p, i, j] = Ha[1][p, i]  # h[a, a] = h'(a)
            continue
        c, d = 0.5 * (lam_a[p, i] + lam_b[p, j]), 0.5 * diff[p, i, j]
        H = pulse_derivatives(np.array(c), tau[p], float(sigma[p]), 3)
        table[p, i, j] = H[1] + H[3] * d**2 / 6.0
    return table


def _triple_many(la, lb, lc, Tab, Tbc, Tac, tau, sigma, scale) -> np.ndarray:
    """:func:`_triple_table` for P parameter sets, shape (P, A, B, C, T)."""
    a, b, c = la[:, :, None, None], lb[:, None, :, None], lc[:, None, None, :]
    dens = np.stack(np.broadcast_arrays(a - c, b - c, a - b))
    pick = np.argmax(np.abs(dens), axis=0)
    den = np.take_along_axis(dens, pick[None], axis=0)[0]
    close = np.abs(den) * scale[:, None, None, None] < _CLOSE
    den = np.where(close, 1.0, den)
    P, A, B, C = pick.shape
    T = Tab.shape[-1]
    rows = np.concatenate(
        [Tab.reshape(P, A * B, T), Tbc.reshape(P, B * C, T), Tac.reshape(P, A * C, T)], axis=1
    )
    i, j, k = np.indices((A, B, C))
    ab, bc, ac = i * B + j, A * B + j * C + k, A * B + B * C + i * C + k
    first = np.where(pick == 2, ac, ab).reshape(P, -1)
    second = np.where(pick == 1, ac, bc).reshape(P, -1)
    pp = np.arange(P)[:, None]
    out = (rows[pp, first] - rows[pp, second]) / den.reshape(P, A * B * C, 1)
    out = out.reshape(P, A, B, C, T)
    for p, i, j, k in zip(*np.nonzero(close), strict=True):
        x = np.array([la[p, i], lb[p, j], lc[p, k]])
        d = x - x.mean()
        h2 = d @ d + d[0] * d[1] + d[0] * d[2] + d[1] * d[2]
        H = pulse_derivatives(np.array(x.mean()), tau[p], float(sigma[p]), 4)
        out[p, i, j, k] = 0.5 * H[2] + H[4] * h2 / 24.0
    return out


def chain_response_many(blocks, couplings, sources, tau, sigma, delta: bool) -> list[np.ndarray]:
    """:func:`chain_response` for P parameter sets with diagonal couplings.

    Parameters
    ----------
    blocks : list of (eigvals, S, Sinv)
        Per level, arrays of shapes (P, L), (P, L, L), (P, L, L); levels sharing an operator
        pass the same tuple object (they then share their pulse-derivative stacks).
    couplings : dict
        ``{(i, j): c}`` with c of shape (P, L): the coupling matrix is diag(c) (levels i and
        j have the same size).
    sources : list
        Source vectors (P, L) of each level, or None.
    tau : numpy.ndarray
        Time since each set's pulse centre in ps, shape (P, T).
    sigma : numpy.ndarray
        Pulse (⊛ IRF) standard deviation in ps per set, shape (P,).
    delta : bool
        True when every set has a delta pulse (sigma 0).

    Returns
    -------
    list of numpy.ndarray
        x_i(τ) with shape (P, L_i, T) per level; the same arithmetic as :func:`chain_response`
        for each set (a diagonal matrix product is the elementwise product it reduces to).
    """
    P, T = tau.shape
    scale = (np.abs(tau).max(axis=1) if T else 0.0) + 5.0 * sigma
    sig = 0.0 if delta else sigma[:, None, None]
    lam = [blk[0] for blk in blocks]
    owner = [next(j for j in range(i + 1) if blocks[j] is blk) for i, blk in enumerate(blocks)]
    distinct = [i for i in range(len(blocks)) if owner[i] == i]
    Hall = pulse_derivatives(
        np.concatenate([lam[i] for i in distinct], axis=1), tau[:, None], sig, 1
    )
    bounds = np.cumsum([0] + [lam[i].shape[1] for i in distinct])
    own = {i: [h[:, bounds[q] : bounds[q + 1]] for h in Hall] for q, i in enumerate(distinct)}
    H = [own[owner[i]] for i in range(len(blocks))]
    beta = [
        None if b is None else np.matmul(blk[2], b[:, :, None])[:, :, 0]
        for blk, b in zip(blocks, sources, strict=True)
    ]
    chat = {
        ij: np.matmul(blocks[ij[0]][2] * c[:, None, :], blocks[ij[1]][1])
        for ij, c in couplings.items()
    }
    pairs: dict[tuple[int, int], np.ndarray] = {}

    def pair(i: int, j: int) -> np.ndarray:
        if (i, j) not in pairs:
            same = blocks[i] is blocks[j]
            pairs[(i, j)] = _pair_many(lam[i], H[i], lam[j], H[j], same, tau, sigma, scale)
        return pairs[(i, j)]

    out = []
    for i, blk in enumerate(blocks):
        L = lam[i].shape[1]
        xt = np.zeros((P, L, T))
        if beta[i] is not None:
            xt += beta[i][:, :, None] * H[i][0]
        for j in range(i):
            C = chat.get((i, j))
            if C is None:
                continue
            if beta[j] is not None:
                xt += np.matmul((C * beta[j][:, None, :])[:, :, None, :], pair(i, j))[:, :, 0, :]
            for k in range(j):
                C2 = chat.get((j, k))
                if C2 is None or beta[k] is None:
                    continue
                dd = _triple_many(
                    lam[i], lam[j], lam[k], pair(i, j), pair(j, k), pair(i, k), tau, sigma, scale
                )
                W = C[:, :, :, None] * (C2 * beta[k][:, None, :])[:, None, :, :]
                W = W.reshape(P, L, 1, -1)
                xt += np.matmul(W, dd.reshape(P, L, W.shape[3], T))[:, :, 0, :]
        out.append(np.matmul(blk[1], xt))
    return out
