"""Unit tests of the Boltzmann rung's golden-rule rates (TOPRUNG.md §0, §2, §3, §7 unit tests)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fitdiff.solvers.boltzmann import rates
from fitdiff.units import J_PER_EV, J_PER_MEV


def test_lab_unit_constants():
    # TOPRUNG.md §0 (scipy.constants CODATA, quoted to the digits printed there)
    assert rates.HBAR2_2M0_MEV_NM2 == pytest.approx(38.0998, rel=2e-6)
    assert rates.HBAR_M0_UM2_PS == pytest.approx(1.15768e-4, rel=5e-6)
    assert rates.KS_PER_M0_M_S == pytest.approx(8.6379e-6, rel=2e-5)
    assert rates.HBAR_S_MEV_NM == pytest.approx(6.58212e-4, rel=2e-6)
    # §0: WS2 placeholder M = 0.6, s = 4300 m/s gives k_s = 0.02229 nm⁻¹, M s² = 0.0631 meV
    ks = rates.KS_PER_M0_M_S * 0.6 * 4300.0
    assert ks == pytest.approx(0.02229, rel=3e-4)
    assert 2.0 * float(rates.kinetic_meV(ks, 0.6)) == pytest.approx(0.0631, rel=2e-3)  # ħ²k_s²/M


def test_golden_rule_prefactors():
    # TOPRUNG.md §2.1: C_v = 6.692796e-4 M Ξ²/(ρ s); §2.2: 6.919795e-7 N M D²/(ρ ħΩ)
    assert rates.ACOUSTIC_PREFACTOR == pytest.approx(6.692796e-4, rel=1e-6)
    assert rates.INTERVALLEY_PREFACTOR == pytest.approx(6.919795e-7, rel=1e-6)
    # §2.2 example: M = 0.6, D_iv = 1 eV/Å = 10 eV/nm, ħΩ = 20 meV, ρ = 4.78e-6: 0.434 /ps at T = 0
    r = rates.intervalley_rate(1, 0.6, 10.0, 20.0, 4.78e-6, rates.kT_meV(1.0), emission=True)
    assert r == pytest.approx(0.434, rel=2e-3)
    assert rates.intervalley_rate(1, 0.6, 10.0, 20.0, 4.78e-6, rates.kT_meV(1.0), False) < 1e-90


def test_seed000_rate_factor_exactly_one():
    # TOPRUNG.md §3: seed-000 set (Ξ = 7 eV, M = 0.5, ρ = 4.46e-6 kg/m², s = 4100 m/s):
    # C_v = 0.8967, τ0 = 20.046 ps, and π C k_BT/(ħs) · τ_ph = 1 (seed 000 eq. 3) to 1e-12
    C = rates.acoustic_constant(0.5, 7.0, 4.46e-6, 4100.0)
    assert C == pytest.approx(0.8967, rel=1e-4)
    tau0 = rates.tau0_ps(0.5, 7.0, 4.46e-6)
    assert tau0 == pytest.approx(20.046, rel=5e-5)
    for T in (20.0, 77.0, 300.0):
        kT = rates.kT_meV(T)
        ms2 = 2.0 * float(rates.kinetic_meV(rates.KS_PER_M0_M_S * 0.5 * 4100.0, 0.5))  # M s²
        tau_ph = ms2 * tau0 / kT
        gamma = math.pi * C * kT / (rates.HBAR_S_MEV_NM * 4100.0)
        assert gamma * tau_ph == pytest.approx(1.0, rel=1e-12)
    # §3: 1/τ_ph = 26.99 /ps at 300 K
    assert math.pi * C * rates.kT_meV(300.0) / (rates.HBAR_S_MEV_NM * 4100.0) == pytest.approx(
        26.99, rel=5e-4
    )


def test_exact_kernel_against_quasi_elastic_limit():
    # TOPRUNG.md §3 table: exact kernel Γ_out τ_ph at ε = 0.25/1/3 k_BT, 20 K, seed-000 set:
    # 0.975 / 0.982 / 1.000; momentum rate Σ W(1 − cos φ) τ_ph: 0.933 / 0.966 / 0.998
    M, s, T = 0.5, 4100.0, 20.0
    kT = rates.kT_meV(T)
    C = rates.acoustic_constant(M, 7.0, 4.46e-6, s)
    tau_ph = 1.0 / (math.pi * C * kT / (rates.HBAR_S_MEV_NM * s))
    Q = rates.momentum_per_nm(np.array([0.25, 1.0, 3.0]) * kT, M)
    _, rate, cos_phi = rates.acoustic_events(Q, M, s, C, kT)
    np.testing.assert_allclose(rate.sum(1) * tau_ph, [0.975, 0.982, 1.000], atol=1.5e-3)
    np.testing.assert_allclose(
        (rate * (1 - cos_phi)).sum(1) * tau_ph, [0.933, 0.966, 0.998], atol=1.5e-3
    )


def _brute_force(Q0, eta, M, xi, rho, s, kT, nQ=3001, nphi=721):
    """(2π/ħ)|g_q|² [(n+1) δ(ε'−ε+ħsq) + n δ(ε'−ε−ħsq)] summed over Q' on a polar grid with
    a Lorentzian of half-width ``eta`` (meV) for δ: Σ_Q' → A/(2π)² ∫d²Q', so
    Γ = Ξ²/(4πρs) ∫ d²Q' q [...] (SI inside, 1/ps out)."""
    pref = (xi * J_PER_EV) ** 2 / (4 * np.pi * rho * s) * 1e9 * 1e18 / J_PER_MEV * 1e-12
    ks = rates.KS_PER_M0_M_S * M * s
    Qp = np.linspace(0.0, Q0 + 6 * ks + 0.05, nQ)[1:]
    dQ = Qp[1] - Qp[0]
    phi = (np.arange(nphi) + 0.5) * np.pi / nphi  # φ and −φ: factor 2 below
    QQ, PP = np.meshgrid(Qp, phi, indexing="ij")
    q = np.sqrt(Q0**2 + QQ**2 - 2 * Q0 * QQ * np.cos(PP))
    E = rates.HBAR_S_MEV_NM * s * q
    nb = 1.0 / np.expm1(E / kT)
    de = rates.kinetic_meV(QQ, M) - rates.kinetic_meV(Q0, M)

    def lor(x):
        return eta / np.pi / (x**2 + eta**2)

    w = 2 * q * ((nb + 1) * lor(de + E) + nb * lor(de - E)) * QQ * dQ * (np.pi / nphi)
    return pref * w.sum(), pref * (w * (1 - np.cos(PP))).sum()


def test_theta_integral_against_brute_force_2d_quadrature():
    # TOPRUNG.md §7 unit test: the θ-form of §2.1 against a direct 2D sum over final states with
    # a narrow Lorentzian δ; the Lorentzian bias is linear in η, removed by Richardson (2·η/2 − η)
    M, xi, rho, s, T = 0.6, 5.0, 4.78e-6, 4300.0, 20.0
    kT = rates.kT_meV(T)
    C = rates.acoustic_constant(M, xi, rho, s)
    Q = np.array([0.05, 0.15])
    _, rate, cos_phi = rates.acoustic_events(Q, M, s, C, kT)
    theta_out, theta_tr = rate.sum(1), (rate * (1 - cos_phi)).sum(1)
    for k, Q0 in enumerate(Q):
        a = np.array(_brute_force(Q0, 4e-3, M, xi, rho, s, kT))
        b = np.array(_brute_force(Q0, 2e-3, M, xi, rho, s, kT))
        bf = 2 * b - a
        np.testing.assert_allclose([theta_out[k], theta_tr[k]], bf, rtol=2e-3)


def test_form_factor_and_bose():
    # §2.1 variant F² = [1 + (q a_B/4)²]^(−3): 1 at q = 0, 1/8 at q a_B/4 = 1
    np.testing.assert_allclose(rates.form_factor_sq([0.0, 4.0 / 1.25], 1.25), [1.0, 0.125])
    np.testing.assert_allclose(rates.form_factor_sq([0.3], None), [1.0])
    kT = rates.kT_meV(300.0)
    assert float(rates.bose(kT * math.log(2.0), kT)) == pytest.approx(1.0, rel=1e-14)
    # k0 = E_X/(ħc): E_X = 2.0 eV gives 0.01014 nm⁻¹ (TOPRUNG.md §4)
    assert rates.k0_from_photon_energy(2.0) == pytest.approx(0.01014, rel=5e-4)


def test_model_file_errors_name_the_key():
    # bad input: ConfigError naming the key path and what is allowed (DESIGN.md house style)
    import copy

    from boltzmann_cases import ws2

    from fitdiff.errors import ConfigError
    from fitdiff.solvers.boltzmann import BoltzmannModel

    cases = [
        (lambda d: d["valley"][0].update(M_m0=-1.0), r"'valley\[0\]\.M_m0': must be > 0"),
        (
            lambda d: d["grid"].update(dq=1.0),
            r"grid\.dq: unknown model key \(allowed: dQ_over_ks, form_factor_aB_nm\)",
        ),
        (lambda d: d["channel"].append(copy.deepcopy(d["channel"][0])), r"given twice"),
        (lambda d: d["channel"][0].update(to="XX"), r"unknown valley 'XX'"),
        (lambda d: d["valley"][0].update(bright=False), r"no valley is bright"),
        (lambda d: d["source"].update(kind="warm"), r"source\.kind 'warm'"),
        (lambda d: d["light_cone"].update(E_X_eV=2.0), r"k0_per_nm or E_X_eV, not both"),
        (lambda d: d.update(solver="moments"), r"'solver': must be 'boltzmann'"),
        # list elements are named by index, as in the valley-model schema (one set of checks)
        (lambda d: d["time"].update(t_ps=[0.0, "x", 3]), r"'time\.t_ps\[1\]': must be a number"),
        (
            lambda d: d["channel"][0].update(modes=[[16.0, -1.0]]),
            r"'channel\[0\]\.modes\[0\]\[1\] \(Div_eV_per_nm\)': must be >= 0",
        ),
    ]
    for change, match in cases:
        d = ws2()
        change(d)
        with pytest.raises(ConfigError, match=match):
            BoltzmannModel.from_dict(d)
    m = BoltzmannModel.from_dict(ws2())
    with pytest.raises(ValueError, match=r"unknown Boltzmann-model parameter"):
        m.with_parameters(xi_eV_XX=1.0)
    # flat parameters round-trip (TOPRUNG.md §9 names)
    m2 = m.with_parameters(xi_eV_KL=6.0, Div_KK_KL_eV_per_nm=9.0, T_K=30.0, w0_um=0.4)
    v = m2.parameter_values()
    assert (v["xi_eV_KL"], v["Div_KK_KL_eV_per_nm"], v["T_K"], v["w0_um"]) == (6.0, 9.0, 30.0, 0.4)
    assert BoltzmannModel.from_dict(m2.to_dict()) == m2
