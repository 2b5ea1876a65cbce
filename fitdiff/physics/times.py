"""Scattering, energy- and phase-relaxation times of excitons on acoustic phonons (seed 000).

Plain vectorised functions: every argument broadcasts with numpy, inputs and outputs are in
lab units (ps, K, eV, m0, g/cm², cm/s); SI appears only inside, through :mod:`fitdiff.units`
(CODATA constants from scipy). Equations are those of PHYSICS.md §2.
"""

from __future__ import annotations

import numpy as np

from ..units import (
    HBAR_J_S,
    HBAR_MEV_PS,
    J_PER_EV,
    J_PER_MEV,
    KB_MEV_PER_K,
    KG_M2_PER_G_CM2,
    KG_PER_M0,
    M_S_PER_CM_S,
    PS_PER_S,
    UM_PER_CM,
    UM_PER_NM,
)


def _f(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


def tau0_ps(*, xi_eV, M_m0, rho_g_cm2) -> np.ndarray:
    """Exciton-phonon coupling time tau0, with tau0⁻¹ = M² ξ² / (ρ ħ³).

    Seed 000, text under eq. (7); tau0 = 20.05 ps for the Fig. 2 parameters (PHYSICS.md §2).

    Parameters
    ----------
    xi_eV : array_like
        Deformation-potential difference |Ξc − Ξv| in eV.
    M_m0 : array_like
        Exciton translational mass in units of m0.
    rho_g_cm2 : array_like
        Areal mass density in g/cm².

    Returns
    -------
    ndarray
        tau0 in ps.
    """
    M = _f(M_m0) * KG_PER_M0
    xi = _f(xi_eV) * J_PER_EV
    rho = _f(rho_g_cm2) * KG_M2_PER_G_CM2
    return rho * HBAR_J_S**3 / (M**2 * xi**2) * PS_PER_S


def ms2_meV(*, M_m0, s_cm_s) -> np.ndarray:
    """Energy scale M s² in meV (the quasi-elastic condition is kB T >> M s², seed eq. (5)).

    Parameters
    ----------
    M_m0 : array_like
        Exciton mass in m0.
    s_cm_s : array_like
        Sound velocity in cm/s.
    """
    return _f(M_m0) * KG_PER_M0 * (_f(s_cm_s) * M_S_PER_CM_S) ** 2 / J_PER_MEV


def tau_ph_ps(T_K, *, tau0_ps, M_m0, s_cm_s) -> np.ndarray:
    """Momentum relaxation time on acoustic phonons, tau_ph = M s² tau0 / (kB T) (seed eq. 3).

    Valid for kB T >> M s² (quasi-elastic scattering, seed eq. 5).

    Parameters
    ----------
    T_K : array_like
        Temperature in K.
    tau0_ps : array_like
        Coupling time from :func:`tau0_ps`, in ps.
    M_m0 : array_like
        Exciton mass in m0.
    s_cm_s : array_like
        Sound velocity in cm/s.

    Returns
    -------
    ndarray
        tau_ph in ps.
    """
    return ms2_meV(M_m0=M_m0, s_cm_s=s_cm_s) * _f(tau0_ps) / (KB_MEV_PER_K * _f(T_K))


def tau_momentum_ps(tau_ph_ps, *other_ps) -> np.ndarray:
    """Total momentum relaxation time by Matthiessen's rule, 1/tau = 1/tau_ph + Σ 1/tau_i.

    Seed 000, Fig. 3 (phonons plus static disorder). A channel given as ``inf`` is absent.

    Parameters
    ----------
    tau_ph_ps : array_like
        Phonon scattering time in ps.
    *other_ps : array_like
        Further elastic channels (e.g. disorder ``tau_dis_ps``) in ps.
    """
    rate = 1.0 / _f(tau_ph_ps)
    for tau in other_ps:
        rate = rate + 1.0 / _f(tau)
    return 1.0 / rate


def tau_eps_ps(tau0_ps) -> np.ndarray:
    """Energy relaxation time tau_eps = tau0 / 2 in ps (seed 000, Fig. 2(a) text).

    Parameters
    ----------
    tau0_ps : array_like
        Coupling time in ps.
    """
    return 0.5 * _f(tau0_ps)


def tau_phi_ps(T_K, *, tau0_ps) -> np.ndarray:
    """Phonon phase-relaxation time tau_phi = (ħ² tau0 / (kB T)²)^(1/3) (seed eq. 9).

    Only the inelastic phonon collisions dephase, so this keeps tau0 even with disorder
    (PHYSICS.md §2).

    Parameters
    ----------
    T_K : array_like
        Temperature in K.
    tau0_ps : array_like
        Coupling time in ps.

    Returns
    -------
    ndarray
        tau_phi in ps.
    """
    kT = KB_MEV_PER_K * _f(T_K)
    return np.cbrt(HBAR_MEV_PS**2 * _f(tau0_ps) / kT**2)


def tau_phi_xx_ps(n_x_cm2, *, a_B_nm, E_B_meV, C_xx=1.0) -> np.ndarray:
    """Exciton-exciton dephasing time, 1/tau_phi,xx = C n a_B² E_B / ħ.

    Seed 000, discussion: an order-of-magnitude estimate ("~"); ``C_xx`` is the unknown
    prefactor. The seed's example n = 1e10 cm⁻², E_B = 200 meV, a_B = 15 Å gives ~15 ps
    with C = 1 ("~10 ps" in the text). Zero density gives ``inf`` (no dephasing).

    Parameters
    ----------
    n_x_cm2 : array_like
        Exciton density in cm⁻².
    a_B_nm : array_like
        Exciton Bohr radius in nm.
    E_B_meV : array_like
        Exciton binding energy in meV.
    C_xx : array_like, optional
        Dimensionless prefactor.

    Returns
    -------
    ndarray
        tau_phi,xx in ps.
    """
    a_B_cm = _f(a_B_nm) * UM_PER_NM / UM_PER_CM
    rate = _f(C_xx) * _f(n_x_cm2) * a_B_cm**2 * _f(E_B_meV) / HBAR_MEV_PS
    with np.errstate(divide="ignore"):
        return 1.0 / rate


def kT_tau_over_hbar(T_K, tau_ps) -> np.ndarray:
    """Quasi-classical parameter kB T tau / ħ (seed eq. 2; the theory needs it >> 1).

    Parameters
    ----------
    T_K : array_like
        Temperature in K.
    tau_ps : array_like
        Momentum relaxation time in ps.
    """
    return KB_MEV_PER_K * _f(T_K) * _f(tau_ps) / HBAR_MEV_PS
