"""Exact moment solver (PHYSICS.md §3.3 with the ballistic start of §3.2): the fast path fits call.

For linear models with spatially uniform coefficients the moments n_v = ∫N_v, p_v = ∫(r·v)N_v
and m_v = ∫r²N_v close exactly:

    dn/dt = K n + b f(t)
    dp/dt = (diag K − 1/τ) p + ⟨v²⟩ n          (ballistic valleys only)
    dm/dt = K m + 4 D n (diffusive valleys) + 2 p (ballistic valleys) + w0² b f(t)

Intervalley jumps randomise the velocity, so p is **lost** on a jump: only the diagonal of K
(out-scattering and decay) acts on p, and in-scattered excitons arrive with p = 0. For a
ballistic valley ⟨v²⟩ = 2 D_v / τ_v, which is 2 kB T / M_v when D_v obeys the Einstein relation
D = kB T τ / M (§3.2) and keeps the long-time D of an isolated valley equal to D_v in any case.
The system is solved by :func:`fitdiff.solvers.linear.chain_response` (analytic in t, pulse and
IRF convolved on n and m before any ratio is formed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..units import UM2_PS_PER_CM2_S
from .linear import Block, _pair_table, chain_response, pulse_shape, pulse_terms
from .model import ValleyModel


@dataclass(frozen=True)
class MomentSolution:
    """Moments of every valley and of the PL on a time grid.

    Attributes
    ----------
    t_ps : numpy.ndarray
        Times in ps, shape (T,).
    valleys : list of str
        Valley names (row order of the per-valley arrays).
    n : numpy.ndarray
        Populations n_v(t) (excitons, source normalised to ``source.excitons``), shape (V, T).
    m_um2 : numpy.ndarray
        Second moments m_v(t) = ∫r²N_v d²r in µm² × excitons, shape (V, T).
    w2_um2 : numpy.ndarray
        Squared widths w_v² = m_v / n_v in µm² (no PSF: valleys are not imaged), shape (V, T).
    D_cm2_s : numpy.ndarray
        Transient D_v(t) = ¼ dw_v²/dt in cm²/s (analytic derivative), shape (V, T).
    pl : numpy.ndarray
        PL(t) = Σ γ_v n_v in excitons/ps, shape (T,).
    w2_pl_um2 : numpy.ndarray
        PL width Σγm / Σγn, plus w_psf² when ``instrument`` is True, in µm², shape (T,).
    D_pl_cm2_s : numpy.ndarray
        ¼ d(w²_PL)/dt in cm²/s, shape (T,).
    instrument : bool
        Whether the IRF (all curves) and PSF (PL width) are included.
    """

    t_ps: np.ndarray
    valleys: list[str]
    n: np.ndarray
    m_um2: np.ndarray
    w2_um2: np.ndarray
    D_cm2_s: np.ndarray
    pl: np.ndarray
    w2_pl_um2: np.ndarray
    D_pl_cm2_s: np.ndarray
    instrument: bool = True

    def to_frame(self) -> pd.DataFrame:
        """The ``fitdiff simulate`` CSV table: t_ps, per valley n/w2/D, then pl, w2_pl, D_pl."""
        cols: dict[str, np.ndarray] = {"t_ps": self.t_ps}
        for i, name in enumerate(self.valleys):
            cols[f"n_{name}"] = self.n[i]
            cols[f"w2_{name}_um2"] = self.w2_um2[i]
            cols[f"D_{name}_cm2_s"] = self.D_cm2_s[i]
        cols["pl"] = self.pl
        cols["w2_pl_um2"] = self.w2_pl_um2
        cols["D_pl_cm2_s"] = self.D_pl_cm2_s
        df = pd.DataFrame(cols)
        df.attrs["instrument"] = self.instrument
        return df


def moment_system(model: ValleyModel):
    """Build the block generator of the (n, p, m) moment system of ``model``.

    Returns
    -------
    blocks, couplings, sources, operators
        The first three are the arguments of :func:`~fitdiff.solvers.linear.chain_response`;
        ``operators`` holds the dense blocks (for the analytic time derivative).
    """
    pi, K, _ = model._rate_inputs()
    V = K.shape[0]
    D = model.diffusion_um2_ps()
    tau = np.array([v.tau_ps for v in model.valleys])
    ballistic = np.flatnonzero(tau > 0)
    bK = Block(*_eigen(model, K, pi))
    b = model.source_vector()
    w02 = model.source.w0_um**2
    diffusive_4D = np.diag(np.where(tau > 0, 0.0, 4.0 * D))
    if ballistic.size == 0:
        blocks = [bK, bK]
        couplings = {(1, 0): diffusive_4D}
        sources = [b, w02 * b]
        operators = [K, K]
    else:
        P = ballistic.size
        kp = np.diag(K)[ballistic] - 1.0 / tau[ballistic]
        c_np = np.zeros((P, V))
        c_np[np.arange(P), ballistic] = 2.0 * D[ballistic] / tau[ballistic]  # ⟨v²⟩ in µm²/ps²
        c_pm = np.zeros((V, P))
        c_pm[ballistic, np.arange(P)] = 2.0  # dm/dt = 2 p
        blocks = [bK, Block.diagonal(kp), bK]
        couplings = {(1, 0): c_np, (2, 0): diffusive_4D, (2, 1): c_pm}
        sources = [b, None, w02 * b]
        operators = [K, np.diag(kp), K]
    return blocks, couplings, sources, operators


def solve_moments(model: ValleyModel, t_ps, *, instrument: bool = True) -> MomentSolution:
    """Solve the exact moment equations of ``model`` on the times ``t_ps``.

    Parameters
    ----------
    model : ValleyModel
        A linear model (annihilation is ignored here: its moments do not close; use
        :func:`~fitdiff.solvers.solve_spatial`).
    t_ps : array_like
        Times in ps (any order, any spacing).
    instrument : bool
        True (default): every n and m is convolved with the Gaussian IRF (exactly, as a wider
        pulse) and w_psf² is added to the PL width, i.e. the curves a measurement sees.
        False: the intrinsic curves.

    Returns
    -------
    MomentSolution
    """
    t = np.asarray(t_ps, dtype=float).ravel()
    sigma = model.pulse_sigma_ps
    if instrument:
        sigma = float(np.hypot(sigma, model.irf_sigma_ps))
    tau = t - model.source.t0_ps
    V = len(model.valleys)
    # Z[q, v, t] with q = n, m, dn/dt, dm/dt and rows v = valleys then the PL (γ-weighted
    # sum): one stack, so each ratio below is one operation over everything
    if model.is_ballistic:
        Z = _chain_moments(model, tau, sigma)
    else:
        Z = _diffusive_moments(model, tau, sigma)
    n, m, dn, dm = Z
    with np.errstate(divide="ignore", invalid="ignore"):
        w2 = m / n
        # c (dm n − m dn) / n², evaluated in place in that order
        D = dm * n
        D -= m * dn
        D *= 0.25 / UM2_PS_PER_CM2_S
        D /= n * n
    w2_pl, D_pl = w2[V], D[V]
    if instrument:
        w2_pl = w2_pl + model.instrument.w_psf_um**2
    return MomentSolution(
        t_ps=t,
        valleys=model.names,
        n=n[:V],
        m_um2=m[:V],
        w2_um2=w2[:V],
        D_cm2_s=D[:V],
        pl=n[V],
        w2_pl_um2=w2_pl,
        D_pl_cm2_s=D_pl,
        instrument=instrument,
    )


def _diffusive_moments(model: ValleyModel, tau: np.ndarray, sigma: float) -> np.ndarray:
    """(n, m, dn/dt, dm/dt) × (valleys, PL) × times for a model without ballistic valleys.

    The two-level case of :func:`~fitdiff.solvers.linear.chain_response` written out: n and
    m share the block K, so one (cached) eigen-decomposition and one pulse-derivative stack
    serve both, and the only coupling is m ← 4 D n. The arithmetic is the general path's, in
    the same order, so the numbers are the same to the last bit (tests/solvers/
    test_fast_path.py); what is saved is the generic bookkeeping. (Folding everything into
    one matrix of partial fractions was tried and is not much faster at 3 valleys, while
    D(t), a difference of near-equal products, then moves by up to 1e-11 relative.)
    """
    pi, K, gamma = model._rate_inputs()
    D4 = 4.0 * model.diffusion_um2_ps()
    lam, S, Sinv = _eigen(model, K, pi)
    s = model._structure()["source_idx"]
    excitons = model.source.excitons
    w0_exc = model.source.w0_um**2 * excitons
    V, T = lam.size, tau.size
    scale = (float(np.abs(tau).max()) if T else 0.0) + 5.0 * sigma
    H, f = pulse_terms(lam, tau, sigma, 1)
    pair = _pair_table(lam, H, lam, H, tau, sigma, scale)
    chat = (Sinv * D4) @ S  # Sinv diag(4D) S: the m ← n coupling in the eigenbasis
    beta = Sinv[:, s] * excitons  # Sinv b for the one-hot source b
    E = np.empty((2, V, T))
    E[0] = beta[:, None] * H[0]
    E[1] = (Sinv[:, s] * w0_exc)[:, None] * H[0]
    E[1] += np.matmul((chat * beta)[:, None, :], pair)[:, 0, :]
    Z = np.empty((4, V + 1, T))
    Z[:2, :V] = np.matmul(S, E)
    # exact time derivatives from the ODE itself (no finite differences)
    Z[2:, :V] = np.matmul(K, Z[:2, :V])
    Z[3, :V] += D4[:, None] * Z[0, :V]
    Z[2, s] += excitons * f
    Z[3, s] += w0_exc * f
    Z[:, V] = gamma @ Z[:, :V]
    return Z


def _eigen(model: ValleyModel, K: np.ndarray, pi: np.ndarray):
    """Eigen-decomposition of K (:meth:`Block.detailed_balance`), reused while K and π repeat.

    Fits that vary only D, w0, t0 or the instrument leave K unchanged, so the last result is
    kept in the model's structure cache (shared by its :meth:`with_parameters` copies).
    """
    cache = model._structure()
    key = K.tobytes() + pi.tobytes()
    hit = cache.get("eigen")
    if hit is not None and hit[0] == key:
        return hit[1]
    blk = Block.detailed_balance(K, pi)
    value = (blk.eigvals, blk.S, blk.Sinv)
    cache["eigen"] = (key, value)  # one tuple assignment: safe against a concurrent reader
    return value


def _chain_moments(model: ValleyModel, tau: np.ndarray, sigma: float) -> np.ndarray:
    """The general path (ballistic valleys): the (n, p, m) chain.

    Same layout as :func:`_diffusive_moments`.
    """
    blocks, couplings, sources, ops = moment_system(model)
    X = chain_response(blocks, couplings, sources, tau, sigma)
    f = pulse_shape(tau, sigma)
    V = X[0].shape[0]
    Z = np.empty((4, V + 1, tau.size))
    last = len(X) - 1
    # exact time derivatives from the ODE itself (no finite differences)
    for q, i in ((0, 0), (1, last)):
        Z[q, :V] = X[i]
        d = ops[i] @ X[i]
        for (a, j), C in couplings.items():
            if a == i:
                d = d + C @ X[j]
        if sources[i] is not None:
            d = d + sources[i][:, None] * f
        Z[q + 2, :V] = d
    Z[:, V] = model.radiative_rates_per_ps() @ Z[:, :V]
    return Z
