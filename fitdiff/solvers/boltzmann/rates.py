"""Golden-rule exciton-phonon rates in lab units (TOPRUNG.md §2, §0).

Intravalley LA phonons with exact energy transfer ħsq and exact Bose factors, parametrised by
the angle θ between Q and the phonon wave vector (no 1/sin singularity); intervalley zone-edge
phonons with a constant deformation potential D_iv. Units: meV, ps, nm⁻¹, m0, eV, eV/nm,
kg/m², m/s. Constants from ``scipy.constants`` through :mod:`fitdiff.units`.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import constants as _c

from ...units import HBAR_J_S, J_PER_EV, J_PER_MEV, KB_MEV_PER_K, KG_PER_M0

#: ħ²/(2 m0) in meV nm² (TOPRUNG.md §0: 38.0998).
HBAR2_2M0_MEV_NM2 = HBAR_J_S**2 / (2.0 * KG_PER_M0) / J_PER_MEV * 1e18
#: ħ/m0 in µm²/ps (= m²/s; TOPRUNG.md §0: 1.15768 cm²/s).
HBAR_M0_UM2_PS = HBAR_J_S / KG_PER_M0
#: k_s = M s/ħ in nm⁻¹ per (m0 · m/s) (TOPRUNG.md §0: 8.6379e-6).
KS_PER_M0_M_S = KG_PER_M0 / HBAR_J_S * 1e-9
#: ħ s q in meV per (m/s · nm⁻¹) (TOPRUNG.md §0: 6.58212e-4).
HBAR_S_MEV_NM = HBAR_J_S / J_PER_MEV * 1e9
#: C_v = M Ξ²/(π ħ² ρ s) in ps⁻¹ per nm⁻¹ of q, per m0 eV² /(kg/m² · m/s) (§2.1: 6.692796e-4).
ACOUSTIC_PREFACTOR = KG_PER_M0 * J_PER_EV**2 / (math.pi * HBAR_J_S**2) * 1e9 * 1e-12
#: N M D²/(2 ρ ħ ħΩ) in ps⁻¹ per m0 (eV/nm)² /(kg/m² · meV) (§2.2: 6.919795e-7).
INTERVALLEY_PREFACTOR = KG_PER_M0 * (J_PER_EV * 1e9) ** 2 / (2.0 * HBAR_J_S * J_PER_MEV) * 1e-12
#: Gauss–Legendre nodes per branch of the θ integral (§2.3: converged at 64).
THETA_NODES = 64


def k0_from_photon_energy(E_X_eV: float) -> float:
    """Light-cone radius k0 = E_X/(ħc) in nm⁻¹ for an exciton energy ``E_X_eV`` (eV)."""
    return E_X_eV * J_PER_EV / (HBAR_J_S * _c.c) * 1e-9


def kinetic_meV(Q_per_nm, M_m0: float):
    """ε = ħ²Q²/(2M) in meV for Q in nm⁻¹ and M in m0."""
    return HBAR2_2M0_MEV_NM2 / M_m0 * np.asarray(Q_per_nm, float) ** 2


def momentum_per_nm(eps_meV, M_m0: float):
    """Q = sqrt(2 M ε)/ħ in nm⁻¹ for ε in meV (ε >= 0)."""
    return np.sqrt(np.asarray(eps_meV, float) * M_m0 / HBAR2_2M0_MEV_NM2)


def bose(E_meV, kT_meV: float):
    """Bose occupation 1/(e^(E/kT) − 1) of phonons of energy ``E_meV`` (> 0)."""
    return 1.0 / np.expm1(np.asarray(E_meV, float) / kT_meV)


def acoustic_constant(M_m0: float, xi_eV: float, rho_kg_m2: float, s_m_s: float) -> float:
    """C_v = M Ξ²/(π ħ² ρ s) in ps⁻¹ per nm⁻¹ (TOPRUNG.md §2.1)."""
    return ACOUSTIC_PREFACTOR * M_m0 * xi_eV**2 / (rho_kg_m2 * s_m_s)


def tau0_ps(M_m0: float, xi_eV: float, rho_kg_m2: float) -> float:
    """Seed 000's τ0 = ρħ³/(M²Ξ²) in ps (text under its eq. 7)."""
    M = M_m0 * KG_PER_M0
    return rho_kg_m2 * HBAR_J_S**3 / (M**2 * (xi_eV * J_PER_EV) ** 2) * 1e12


def form_factor_sq(q_per_nm, aB_nm: float | None):
    """F(q)² = [1 + (q a_B/4)²]^(−3) (β_e = β_h = ½ variant of §2.1), or 1 when ``aB_nm`` is None."""
    q = np.asarray(q_per_nm, float)
    if aB_nm is None:
        return np.ones_like(q)
    return (1.0 + (0.25 * q * aB_nm) ** 2) ** -3


def acoustic_events(Q, M_m0, s_m_s, C, kT_meV, aB_nm=None, nodes=THETA_NODES):
    """Final states and rates of LA emission and absorption from momenta ``Q`` (§2.1).

    Parameters
    ----------
    Q : numpy.ndarray
        Initial |Q| in nm⁻¹, shape (n,).
    M_m0, s_m_s : float
        Exciton mass (m0) and sound velocity (m/s).
    C : float
        :func:`acoustic_constant` in ps⁻¹ per nm⁻¹.
    kT_meV : float
        Thermal energy in meV.
    aB_nm : float or None
        Form-factor radius (None: F = 1).
    nodes : int
        Gauss–Legendre nodes per branch.

    Returns
    -------
    Qf, rate, cos_phi : numpy.ndarray
        Final |Q'| (nm⁻¹), rate (ps⁻¹, node weight included, the two roots ±θ counted) and the
        cosine of the scattering angle, each of shape (n, 2·nodes): emission then absorption.
    """
    Q = np.asarray(Q, float)[:, None]
    ks = KS_PER_M0_M_S * M_m0 * s_m_s
    hs = HBAR_S_MEV_NM * s_m_s
    x, w = _gauss_legendre(nodes)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta_c = np.arccos(np.minimum(1.0, ks / Q))  # emission needs Q > k_s (Cherenkov)
    # emission: θ in [0, θc], q = 2Q cosθ − 2k_s, Q'² = Q² − 2k_s q
    th = 0.5 * theta_c * (x + 1.0)
    wt = 0.5 * theta_c * w
    q = np.maximum(2.0 * Q * np.cos(th) - 2.0 * ks, 0.0)
    # q [n_B(ħsq) + 1]; at θ = θc the emitted phonon has q → 0 and q n_B → kT/(ħs)
    em_rate = wt * C * (_q_bose(q, hs, kT_meV) + q)
    if aB_nm is not None:
        em_rate *= form_factor_sq(q, aB_nm)
    Qf_em = np.sqrt(np.maximum(Q**2 - 2.0 * ks * q, 0.0))
    cos_em = _safe_div(Q - q * np.cos(th), Qf_em)
    # absorption: θ in [θc, π], q = 2k_s − 2Q cosθ, Q'² = Q² + 2k_s q
    span = math.pi - theta_c
    th = theta_c + 0.5 * span * (x + 1.0)
    wt = 0.5 * span * w
    q = np.maximum(2.0 * ks - 2.0 * Q * np.cos(th), 0.0)
    ab_rate = wt * C * _q_bose(q, hs, kT_meV)
    if aB_nm is not None:
        ab_rate *= form_factor_sq(q, aB_nm)
    Qf_ab = np.sqrt(Q**2 + 2.0 * ks * q)
    cos_ab = _safe_div(Q + q * np.cos(th), Qf_ab)
    return (
        np.concatenate([Qf_em, Qf_ab], axis=1),
        np.concatenate([em_rate, ab_rate], axis=1),
        np.concatenate([cos_em, cos_ab], axis=1),
    )


@functools.cache
def _gauss_legendre(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights on [−1, 1] as (1, nodes) rows (cached: leggauss costs an eigvalsh)."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    x.flags.writeable = False
    w.flags.writeable = False
    return x[None, :], w[None, :]


def _q_bose(q, hs, kT_meV):
    """q n_B(ħsq) with its q → 0 limit kT/(ħs) (the node grid never hits 0, but Q = 0 can)."""
    E = hs * q
    with np.errstate(divide="ignore", invalid="ignore"):
        out = q / np.expm1(E / kT_meV)
    return np.where(E > 0.0, out, kT_meV / hs)


def _safe_div(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0.0, np.clip(a / b, -1.0, 1.0), 1.0)


def intervalley_rate(n_final, M_final_m0, Div_eV_per_nm, hw_meV, rho_kg_m2, kT_meV, emission):
    """Γ = N M_v' D_iv²/(2ρħ ħΩ) [n_B(ħΩ) + ½ ± ½] in ps⁻¹ into the valleys v' (§2.2)."""
    occ = bose(hw_meV, kT_meV) + (1.0 if emission else 0.0)
    return (
        INTERVALLEY_PREFACTOR * n_final * M_final_m0 * Div_eV_per_nm**2 / (rho_kg_m2 * hw_meV) * occ
    )


def kT_meV(T_K: float) -> float:
    """k_B T in meV."""
    return KB_MEV_PER_K * T_K
