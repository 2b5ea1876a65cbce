"""The D(T) table and the fast functions: reference values, limits, validity flags, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import constants as c

from fitdiff import physics
from fitdiff.errors import ConfigError, ModelError

FIG2 = dict(xi_eV=7.0, M_m0=0.5, rho_g_cm2=4.46e-7, s_cm_s=4.1e5)


def test_reference_row_100K():
    # PHYSICS.md §2 reference values (seed 000 Fig. 2 parameters) to 1e-3 relative
    row = physics.diffusivity(100.0).iloc[0]
    assert row.tau_ps == pytest.approx(0.1112, rel=1e-3)
    assert row.tau_phi_ps == pytest.approx(0.4890, rel=1e-3)
    assert row.D_classical_cm2_s == pytest.approx(3.370, rel=1e-3)
    assert row.delta_D_cm2_s == pytest.approx(-0.546, rel=1e-3)
    assert row.D_cm2_s == pytest.approx(3.370 - 0.546, rel=1e-3)
    assert row.tau_eps_ps == pytest.approx(20.05 / 2, rel=1e-3)  # tau_eps = tau0/2, Fig. 2(a)


def test_hbar_over_M_floor():
    # PHYSICS.md §2: hbar/M = 2.315 cm^2/s; D_classical/(hbar/M) must use it
    row = physics.diffusivity(100.0).iloc[0]
    assert row.D_classical_cm2_s / row.D_classical_over_hbar_M == pytest.approx(2.315, rel=1e-3)


def test_classical_is_s2_tau0_at_every_T():
    # seed eq. (4): D = s^2 tau0 independent of T without disorder (3.370 cm^2/s, PHYSICS.md §2)
    T = np.geomspace(2.0, 500.0, 25)
    d = physics.d_classical(T, **FIG2)
    tau0_s = physics.tau0_ps(xi_eV=7.0, M_m0=0.5, rho_g_cm2=4.46e-7) * 1e-12
    np.testing.assert_allclose(d, (4.1e3) ** 2 * tau0_s / 1e-4, rtol=1e-12, atol=0)
    np.testing.assert_allclose(d, 3.370, rtol=1e-3, atol=0)


def test_classical_proportional_to_T_when_disorder_dominates():
    # seed Fig. 3: D ∝ T where tau_dis << tau_ph; the limit is D = kB T tau_dis / M (CODATA).
    # tau_dis = 1e-4 ps vs tau_ph >= 0.7 ps at T <= 16 K: deviation below 1.5e-4.
    T = np.array([4.0, 8.0, 16.0])
    d = physics.d_classical(T, tau_dis_ps=1e-4, **FIG2)
    expected = c.k * T * 1e-16 / (0.5 * c.m_e) / 1e-4
    np.testing.assert_allclose(d, expected, rtol=2e-4, atol=0)


@pytest.mark.parametrize("method", ["log", "cooperon"])
@pytest.mark.parametrize("tau_dis_ps", [np.inf, 1.0])
def test_table_matches_fast_function(method, tau_dis_ps):
    # the table and d_total are two routes to the same D (the fit path must equal the report path)
    T = np.array([4.0, 20.0, 100.0, 300.0])
    table = physics.diffusivity(
        T, method=method, tau_dis_ps=tau_dis_ps, tau_r_ps=50.0, n_x_cm2=1e11
    )
    fast = physics.d_total(
        T, method=method, tau_dis_ps=tau_dis_ps, tau_r_ps=50.0, n_x_cm2=1e11, **FIG2
    )
    np.testing.assert_allclose(table.D_cm2_s, fast, rtol=1e-12, atol=0)
    np.testing.assert_allclose(
        table.D_cm2_s, table.D_classical_cm2_s + table.delta_D_cm2_s, rtol=1e-12, atol=0
    )


def test_columns_and_attrs():
    # column contract of docs/interfaces.md and the CLI
    table = physics.diffusivity([4, 300], material="typical-tmdc", method="cooperon")
    assert tuple(table.columns) == physics.COLUMNS
    assert table.attrs["method"] == "cooperon"
    assert table.attrs["parameters"]["xi_eV"] == pytest.approx(7.0, rel=0, abs=0)


def test_quasi_classical_flag_with_disorder_at_low_T():
    # seed footnote [57]: with tau_dis = 1 ps criterion (2) fails at low T; kB T tau/hbar at 4 K:
    # tau = (1/2.7792 + 1/1)^-1 ps (Matthiessen), kB T tau / hbar from CODATA
    row = physics.diffusivity(4.0, tau_dis_ps=1.0).iloc[0]
    tau = 1 / (1 / 2.779150 + 1.0)
    assert row.kBT_tau_over_hbar == pytest.approx(c.k * 4.0 * tau * 1e-12 / c.hbar, rel=1e-5)
    assert not row.valid
    assert "quasi-classical theory outside its regime" in row.note


def test_no_correction_where_tau_phi_below_tau():
    # PHYSICS.md §2: tau_phi <= tau -> dD = 0 and the row says why. xi = 0.5 eV makes tau0
    # 196 x longer, so tau_phi/tau = 4.40 x 196^(-2/3) = 0.13 at 100 K.
    row = physics.diffusivity(100.0, xi_eV=0.5).iloc[0]
    assert row.tau_phi_over_tau == pytest.approx(4.399 * 196 ** (-2 / 3), rel=1e-3)
    assert row.delta_D_cm2_s == 0.0
    assert row.D_cm2_s == row.D_classical_cm2_s
    assert not row.valid
    assert "tau_phi <= tau" in row.note and "delta_D = 0" in row.note


def test_lifetime_below_tau_removes_log_correction():
    # tau_r = 0.05 ps < tau = 0.111 ps at 100 K: no loop survives, log correction 0
    row = physics.diffusivity(100.0, tau_r_ps=0.05).iloc[0]
    assert row.delta_D_cm2_s == 0.0
    assert "lifetime cut-off" in row.note


def test_high_temperature_caveat():
    # seed Figs. 2-3 shaded region: T > 100 K flagged (but not invalid)
    table = physics.diffusivity([100.0, 150.0])
    assert "optical/zone-edge" not in table.note.iloc[0]
    assert "optical/zone-edge" in table.note.iloc[1]
    assert table.valid.all()


@settings(max_examples=40, deadline=None)
@given(
    T=st.floats(1.0, 1000.0),
    xi=st.floats(0.5, 30.0),
    M=st.floats(0.1, 3.0),
    tau_dis=st.one_of(st.just(np.inf), st.floats(0.01, 100.0)),
    method=st.sampled_from(["log", "cooperon"]),
)
def test_correction_never_positive(T, xi, M, tau_dis, method):
    # weak localization only reduces D (seed eq. 6-7: dD < 0); the log form is clipped at 0
    params = dict(FIG2, xi_eV=xi, M_m0=M, tau_dis_ps=tau_dis)
    dd = physics.d_total(T, method=method, **params) - physics.d_classical(T, **params)
    assert dd <= 1e-12


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(T_K=[4.0, 0.0]), r"T_K must be finite and > 0 K .*got 0"),
        (dict(T_K=-3.0), r"T_K must be finite and > 0 K"),
        (dict(T_K=[]), r"non-empty"),
        (dict(T_K=4.0, M_m0=-1.0), r"M_m0 = -1 is outside the allowed range \(0, inf\)"),
        (dict(T_K=4.0, rho_g_cm2=0.0), r"rho_g_cm2 = 0 is outside the allowed range"),
        (dict(T_K=4.0, tau_dis_ps=0.0), r"tau_dis_ps = 0 is outside the allowed range \(0, inf\]"),
        (dict(T_K=4.0, foo=1.0), r"unknown D\(T\) parameter 'foo'; known parameters: xi_eV"),
        (
            dict(T_K=4.0, method="exact"),
            r"method must be one of classical, log, cooperon; got 'exact'",
        ),
    ],
)
def test_bad_input_raises_model_error(kwargs, match):
    with pytest.raises(ModelError, match=match):
        physics.diffusivity(**kwargs)


def test_unknown_material_lists_known():
    with pytest.raises(
        ConfigError, match=r"unknown material 'unobtainium'; known materials: typical-tmdc"
    ):
        physics.diffusivity(4.0, material="unobtainium")
