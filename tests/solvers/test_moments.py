"""Exact moment solver: analytic limits, conservation, detailed balance, an independent ODE."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from fitdiff.solvers import ValleyModel, solve_moments
from fitdiff.solvers.linear import pulse_derivatives
from fitdiff.testing import three_valley, two_valley
from fitdiff.units import UM2_PS_PER_CM2_S

T = np.linspace(0.0, 200.0, 201)


def one_valley(**valley) -> ValleyModel:
    v = {"name": "X", "D_cm2_s": 2.0, **valley}
    return ValleyModel.from_dict({"T_K": 300.0, "valley": [v], "source": {"w0_um": 0.7}})


def test_single_valley_fick():
    # PHYSICS.md §1 / seed 001 below eq. 3: w² = w0² + 4 D t for a delta pulse
    sol = solve_moments(one_valley(nonradiative_rate_per_ps=0.01), T)
    expected = 0.7**2 + 4.0 * 2.0 * UM2_PS_PER_CM2_S * T
    np.testing.assert_allclose(sol.w2_um2[0], expected, rtol=1e-13, atol=0)
    np.testing.assert_allclose(sol.D_cm2_s[0], 2.0, rtol=1e-12, atol=0)
    # n = exp(-k t) for a unit delta source
    np.testing.assert_allclose(sol.n[0], np.exp(-0.01 * T), rtol=1e-13, atol=0)


def test_ballistic_start():
    # PHYSICS.md §3.2: w² = w0² + 4D[t − τ(1 − e^(−t/τ))]
    tau = 3.0
    sol = solve_moments(one_valley(tau_ps=tau), T)
    D = 2.0 * UM2_PS_PER_CM2_S
    expected = 0.49 + 4.0 * D * (T - tau * (1.0 - np.exp(-T / tau)))
    np.testing.assert_allclose(sol.w2_um2[0], expected, rtol=1e-12, atol=0)
    # D(t) = D (1 − e^(−t/τ)): ∝ t at t << τ (seed 001 phase I)
    np.testing.assert_allclose(sol.D_cm2_s[0], 2.0 * (1 - np.exp(-T / tau)), rtol=1e-9, atol=1e-12)


def test_conservation_without_decay(model3):
    m = model3.with_parameters(krad_KK_per_ps=0, knr_KK_per_ps=0, knr_KKp_per_ps=0, knr_KL_per_ps=0)
    t = np.linspace(20.0, 2000.0, 300)  # after the pulse (t0 = 5 ps, FWHM 2 ps)
    sol = solve_moments(m, t)
    # ∫N is constant (PHYSICS.md §3.4 conservation test)
    np.testing.assert_allclose(sol.n.sum(axis=0), 1.0, rtol=0, atol=1e-10)


def test_detailed_balance_relaxation(model3):
    m = model3.with_parameters(krad_KK_per_ps=0, knr_KK_per_ps=0, knr_KKp_per_ps=0, knr_KL_per_ps=0)
    sol = solve_moments(m, [5000.0])
    # populations relax to g M exp(−E/kT) ratios (PHYSICS.md §3.1)
    kT = 8.617333262e-2 * 77.0  # meV; kB from CODATA 2018 (8.617333262e-5 eV/K)
    w = np.array([0.5, 2 * 0.58 * np.exp(51.5 / kT), 2 * 0.75 * np.exp(30.5 / kT)])
    np.testing.assert_allclose(sol.n[:, 0], w / w.sum(), rtol=1e-9, atol=0)


def _ode_reference(model: ValleyModel, t: np.ndarray, sigma: float):
    """Integrate the full (n, p, m) system with DOP853 (independent of the eigen solver)."""
    K = model.rate_matrix()
    V = K.shape[0]
    D = model.diffusion_um2_ps()
    tau = np.array([v.tau_ps for v in model.valleys])
    bal = tau > 0
    b = model.source_vector()
    w02 = model.source.w0_um**2
    t0 = model.source.t0_ps
    safe_tau = np.where(bal, tau, 1.0)

    def rhs(tt, y):
        n, p, m = y[:V], y[V : 2 * V], y[2 * V :]
        f = np.exp(-0.5 * ((tt - t0) / sigma) ** 2) / (np.sqrt(2 * np.pi) * sigma)
        dn = K @ n + b * f
        dp = np.where(bal, np.diag(K) * p - p / safe_tau + 2 * D / safe_tau * n, 0.0)
        dm = K @ m + np.where(bal, 2 * p, 4 * D * n) + w02 * b * f
        return np.concatenate([dn, dp, dm])

    sol = solve_ivp(
        rhs,
        (t0 - 10 * sigma, t[-1]),
        np.zeros(3 * V),
        t_eval=t,
        method="DOP853",
        rtol=1e-12,
        atol=1e-18,
        max_step=sigma / 2,
    )
    return sol.y[:V], sol.y[2 * V :]


@pytest.mark.parametrize("ballistic", [False, True])
def test_against_independent_ode(model3, ballistic):
    m = model3.with_parameters(tau_KK_ps=0.4, tau_KL_ps=0.2) if ballistic else model3
    t = np.linspace(10.0, 150.0, 15)
    sol = solve_moments(m, t, instrument=False)
    n_ref, m_ref = _ode_reference(m, t, m.pulse_sigma_ps)
    np.testing.assert_allclose(sol.n, n_ref, rtol=1e-8, atol=0)
    np.testing.assert_allclose(sol.w2_um2, m_ref / n_ref, rtol=1e-8, atol=0)


def test_irf_is_applied_to_n_and_m_before_the_ratio(model3):
    # IRF ∗ (pulse response) computed by brute-force quadrature of the intrinsic curves
    irf_fwhm = 6.0
    m = model3.with_parameters(irf_fwhm_ps=irf_fwhm, w_psf_um=0.4)
    fine = np.linspace(-40.0, 160.0, 20001)
    intrinsic = solve_moments(m, fine, instrument=False)
    s = irf_fwhm / (2 * np.sqrt(2 * np.log(2)))
    t = np.array([5.0, 10.0, 30.0, 80.0])
    kern = np.exp(-0.5 * ((t[:, None] - fine[None, :]) / s) ** 2)
    kern /= kern.sum(axis=1, keepdims=True)
    gam = m.radiative_rates_per_ps()
    pl = kern @ (gam @ intrinsic.n)
    mpl = kern @ (gam @ intrinsic.m_um2)
    measured = solve_moments(m, t)
    np.testing.assert_allclose(measured.pl, pl, rtol=1e-7, atol=0)
    # PHYSICS.md §1: w²_meas = (IRF ∗ m)/(IRF ∗ n) + w_psf²
    np.testing.assert_allclose(measured.w2_pl_um2, mpl / pl + 0.16, rtol=1e-7, atol=0)


def test_analytic_D_matches_finite_differences(model3):
    # central difference with h = 1e-3 ps: truncation h² D''/6 ~ 2e-7 cm²/s where D swings by
    # 3 cm²/s within 2 ps; rounding ~1e-16 w²/h is negligible
    t, h = np.linspace(8.0, 120.0, 57), 1e-3
    sol = solve_moments(model3, t)
    up, down = solve_moments(model3, t + h), solve_moments(model3, t - h)
    fd_pl = 0.25 * (up.w2_pl_um2 - down.w2_pl_um2) / (2 * h) / UM2_PS_PER_CM2_S
    fd_v = 0.25 * (up.w2_um2 - down.w2_um2) / (2 * h) / UM2_PS_PER_CM2_S
    np.testing.assert_allclose(sol.D_pl_cm2_s, fd_pl, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(sol.D_cm2_s, fd_v, rtol=1e-6, atol=1e-6)


def test_negative_diffusion_of_the_bright_minority():
    # documented case (fitdiff.testing.two_valley): fast bright KK 10 meV above slow dark KKp
    m = ValleyModel.from_dict(two_valley())
    t = np.linspace(0.0, 300.0, 3001)
    sol = solve_moments(m, t)
    D_kk = sol.D_cm2_s[0]
    # values from this solver, cross-checked against the Hankel and PDE solvers in
    # test_spatial.py; the sign change is the physics of seed 001 Fig. 3c
    assert D_kk.min() < -2.0
    window = t[D_kk < 0]
    assert 20.0 < window[0] < 30.0 and 40.0 < window[-1] < 55.0
    # the majority valley never goes negative (seed 001: only the low-populated valley does)
    assert sol.D_cm2_s[1].min() >= 0.0
    # the bright valley ends as a minority (< 1 %) near its detailed-balance share
    assert sol.n[0, -1] / sol.n[:, -1].sum() < 0.01


def test_single_valley_never_negative():
    sol = solve_moments(one_valley(radiative_rate_per_ps=0.05, tau_ps=1.0), T)
    assert np.all(sol.D_cm2_s[0] >= 0.0)
    assert np.all(sol.D_pl_cm2_s >= 0.0)


def test_degenerate_eigenvalues_are_exact():
    # two uncoupled valleys with equal loss: K has a repeated eigenvalue (Taylor branch of the
    # divided differences); each valley must still follow Fick's law exactly
    d = {
        "T_K": 50.0,
        "source": {"w0_um": 0.5},
        "valley": [
            {"name": "A", "D_cm2_s": 1.0, "nonradiative_rate_per_ps": 0.02},
            {"name": "B", "D_cm2_s": 3.0, "nonradiative_rate_per_ps": 0.02},
        ],
    }
    d["source"]["valley"] = "A"
    sol = solve_moments(ValleyModel.from_dict(d), T)
    np.testing.assert_allclose(sol.w2_um2[0], 0.25 + 4e-4 * T, rtol=1e-13, atol=0)


def test_pulse_response_matches_quadrature():
    # h(λ, τ) = ∫_0^∞ e^(λu) f(τ − u) du and its λ-derivatives, by scipy.integrate.quad
    from scipy.integrate import quad

    lam, sigma = -0.3, 1.7
    for tau in (-6.0, -1.0, 0.0, 2.5, 30.0):
        H = pulse_derivatives(np.array(lam), np.array([tau]), sigma, 3)
        for k in range(4):
            ref = quad(
                lambda u, k=k, tau=tau: (
                    u**k
                    * np.exp(lam * u - 0.5 * ((tau - u) / sigma) ** 2)
                    / (np.sqrt(2 * np.pi) * sigma)
                ),
                0,
                np.inf,
                epsabs=0,
                epsrel=1e-13,
            )[0]
            assert H[k][0] == pytest.approx(ref, rel=1e-9, abs=1e-300)


def test_frame_columns(model2):
    df = solve_moments(model2, T).to_frame()
    assert list(df.columns) == [
        "t_ps",
        "n_KK",
        "w2_KK_um2",
        "D_KK_cm2_s",
        "n_KKp",
        "w2_KKp_um2",
        "D_KKp_cm2_s",
        "pl",
        "w2_pl_um2",
        "D_pl_cm2_s",
    ]


def test_three_valley_case_is_valid():
    # guard for the shared builder: the 77 K case has the bright valley as a < 1 % minority
    m = ValleyModel.from_dict(three_valley())
    sol = solve_moments(m, [300.0])
    assert sol.n[0, 0] / sol.n[:, 0].sum() < 0.01
