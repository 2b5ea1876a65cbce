"""Scattering and dephasing times of seed 000 against PHYSICS.md §2 and independent formulas."""

import numpy as np
import pytest
from scipy import constants as c

from fitdiff import physics

# Seed 000, Fig. 2 caption (the "typical TMDC" parameter set of PHYSICS.md §2).
FIG2 = dict(xi_eV=7.0, M_m0=0.5, rho_g_cm2=4.46e-7, s_cm_s=4.1e5)


def _tau0_si():
    # tau0^-1 = M^2 xi^2 / (rho hbar^3), seed 000 text under eq. (7), straight from CODATA in SI.
    M = 0.5 * c.m_e
    xi = 7.0 * c.electron_volt
    rho = 4.46e-7 * 10.0  # g/cm^2 -> kg/m^2
    return rho * c.hbar**3 / (M**2 * xi**2)


def test_tau0_reference_value():
    # PHYSICS.md §2 reference: tau0 = 20.05 ps
    assert physics.tau0_ps(**{k: FIG2[k] for k in ("xi_eV", "M_m0", "rho_g_cm2")}) == (
        pytest.approx(20.05, rel=1e-3)
    )


def test_tau0_matches_si_formula():
    # same equation evaluated independently in SI with scipy.constants
    got = physics.tau0_ps(xi_eV=7.0, M_m0=0.5, rho_g_cm2=4.46e-7)
    assert got == pytest.approx(_tau0_si() * 1e12, rel=1e-12)


def test_100K_times_reference_values():
    # PHYSICS.md §2 reference row at T = 100 K: tau = 0.1112 ps, tau_phi = 0.4890 ps
    tau0 = physics.tau0_ps(xi_eV=7.0, M_m0=0.5, rho_g_cm2=4.46e-7)
    tau = physics.tau_ph_ps(100.0, tau0_ps=tau0, M_m0=0.5, s_cm_s=4.1e5)
    assert tau == pytest.approx(0.1112, rel=1e-3)
    assert physics.tau_phi_ps(100.0, tau0_ps=tau0) == pytest.approx(0.4890, rel=1e-3)


def test_tau_eps_is_half_tau0():
    # seed 000, Fig. 2(a) text: tau_eps = tau0 / 2
    assert physics.tau_eps_ps(20.0) == pytest.approx(10.0, rel=1e-15)


def test_tau_phi_scales_as_T_to_minus_two_thirds():
    # seed eq. (9): tau_phi ∝ T^(-2/3), so an 8-fold T change divides it by 4
    t1, t8 = physics.tau_phi_ps(np.array([10.0, 80.0]), tau0_ps=20.0)
    assert t1 / t8 == pytest.approx(4.0, rel=1e-12)


def test_matthiessen_rule():
    # 1/tau = 1/tau_ph + 1/tau_dis (seed Fig. 3): 1 ps and 1 ps combine to 0.5 ps; inf is absent
    assert physics.tau_momentum_ps(1.0, 1.0) == pytest.approx(0.5, rel=1e-15)
    assert physics.tau_momentum_ps(0.3, np.inf) == pytest.approx(0.3, rel=1e-15)


def test_exciton_exciton_dephasing_seed_example():
    # seed 000 discussion: n = 1e10 cm^-2, E_B = 200 meV, a_B = 15 Å gives tau_phi,xx "~10 ps";
    # with prefactor 1: hbar / (n a_B^2 E_B) evaluated with CODATA hbar
    expected_ps = c.hbar / (1e10 * (1.5e-7) ** 2 * 0.2 * c.electron_volt) * 1e12
    got = physics.tau_phi_xx_ps(1e10, a_B_nm=1.5, E_B_meV=200.0)
    assert got == pytest.approx(expected_ps, rel=1e-12)
    assert got == pytest.approx(14.63, rel=1e-3)  # same number, written out for the reader


def test_no_density_no_exciton_dephasing():
    # zero density: the rate vanishes, the time is infinite (channel switched off)
    assert np.isinf(physics.tau_phi_xx_ps(0.0, a_B_nm=1.5, E_B_meV=200.0))


def test_quasi_elastic_scale():
    # seed eq. (5): M s^2 / kB ~ 1 K; for Fig. 2 parameters M s^2 = 0.5 m_e (4.1e3 m/s)^2
    expected_meV = 0.5 * c.m_e * 4.1e3**2 / (1e-3 * c.electron_volt)
    assert physics.ms2_meV(M_m0=0.5, s_cm_s=4.1e5) == pytest.approx(expected_meV, rel=1e-12)
