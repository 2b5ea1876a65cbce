"""ValleyModel: schema, validation, detailed balance, flat parameters."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fitdiff.errors import ConfigError, ModelError
from fitdiff.solvers import ValleyModel
from fitdiff.testing import three_valley, two_valley
from fitdiff.units import KB_MEV_PER_K


def test_round_trip_through_to_dict(model3):
    again = ValleyModel.from_dict(model3.to_dict())
    assert again == model3


def test_from_toml_reads_the_documented_example():
    # the commented schema example must stay loadable
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "analyses" / "simulate_example.toml"
    model = ValleyModel.from_toml(path)
    assert model.names == ["KK", "KKp", "KL"]
    assert model.time_grid_ps().size == model.time_ps[2]


def test_from_toml_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("T_K = 20\n[[valley]]\nname = 'KK'\nD_cm2s = 1\n")
    with pytest.raises(ConfigError, match=r"bad\.toml.*valley\[0\]\.D_cm2s"):
        ValleyModel.from_toml(bad)
    with pytest.raises(ConfigError, match=r"missing\.toml: model file not found"):
        ValleyModel.from_toml(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"T_K": -1.0}, r"'T_K': must be > 0"),
        ({"colour": 1}, r"colour: unknown model key \(allowed: T_K, valley"),
        ({"source": {"w0_um": 0.0}}, r"'source\.w0_um': must be > 0"),
        ({"source": {"valley": "XX"}}, r"source\.valley 'XX' is not a valley"),
        ({"time": {"t_ps": [0, 10]}}, r"'time\.t_ps': must be \[start, stop, count\]"),
        ({"render": {"noise": "gaussian"}}, r"'render\.noise': must be one of"),
        (
            {"transition": [{"from": "KKp", "to": "KK", "rate_per_ps": 0.1}]},
            r"transition\[0\].*must be >= E of 'to'.*swap from and to",
        ),
        (
            {"transition": [{"from": "KK", "to": "KKp", "rate_per_ps": -1}]},
            r"'transition\[0\]\.rate_per_ps': must be >= 0",
        ),
    ],
)
def test_bad_values_are_named(patch, message):
    with pytest.raises(ConfigError, match=message):
        ValleyModel.from_dict(two_valley(**patch))


def test_valley_errors_name_the_key():
    d = two_valley()
    d["valley"][1]["M_m0"] = 0.0
    with pytest.raises(ConfigError, match=r"'valley\[1\]\.M_m0': must be > 0"):
        ValleyModel.from_dict(d)
    d = two_valley()
    d["valley"][0]["name"] = "K_K"
    with pytest.raises(ConfigError, match=r"valley\[0\]\.name 'K_K': use letters and digits"):
        ValleyModel.from_dict(d)
    d = two_valley()
    del d["valley"][0]["D_cm2_s"]
    with pytest.raises(ConfigError, match=r"valley\[0\]\.D_cm2_s': is required"):
        ValleyModel.from_dict(d)


def test_detailed_balance_in_rate_matrix(model3):
    # PHYSICS.md §3.1: Γ(v→v')/Γ(v'→v) = (g_v' M_v' / g_v M_v) exp(-(E_v' - E_v)/kT)
    K = model3.rate_matrix()
    kT = KB_MEV_PER_K * 77.0
    gm = {"KK": 0.5, "KKp": 2 * 0.58, "KL": 2 * 0.75}
    E = {"KK": 0.0, "KKp": -51.5, "KL": -30.5}
    names = model3.names
    for a in names:
        for b in names:
            if a == b:
                continue
            i, j = names.index(a), names.index(b)
            expected = gm[b] / gm[a] * math.exp(-(E[b] - E[a]) / kT)
            assert K[j, i] / K[i, j] == pytest.approx(expected, rel=1e-12, abs=0)
    # the given downhill rate is used as is (no phonon energy given)
    assert K[names.index("KKp"), names.index("KK")] == pytest.approx(0.3, rel=1e-15, abs=0)


def test_phonon_assisted_rate_and_light_cone():
    d = two_valley()
    d["transition"][0]["phonon_meV"] = 2.0
    d["valley"][0]["light_cone_meV"] = 0.005
    m = ValleyModel.from_dict(d)
    kT = KB_MEV_PER_K * 20.0
    # Γ0 [n_B(ħΩ) + 1], n_B = 1/(exp(ħΩ/kT) - 1)  (PHYSICS.md §3.1)
    nb = 1.0 / math.expm1(2.0 / kT)
    assert m.rate_matrix()[1, 0] == pytest.approx(0.2 * (nb + 1.0), rel=1e-13, abs=0)
    # γ0 (1 - exp(-E_lc/kT)) (PHYSICS.md §3.1)
    expected = 0.01 * (1.0 - math.exp(-0.005 / kT))
    assert m.radiative_rates_per_ps()[0] == pytest.approx(expected, rel=1e-13, abs=0)


def test_parameter_names_and_with_parameters(model2):
    names = model2.parameter_names()
    for name in (
        "D_KK_cm2_s",
        "E_KKp_meV",
        "krad_KK_per_ps",
        "knr_KKp_per_ps",
        "tau_KK_ps",
        "rate_KK_KKp_per_ps",
        "w0_um",
        "t0_ps",
        "pulse_fwhm_ps",
        "w_psf_um",
        "irf_fwhm_ps",
        "T_K",
    ):
        assert name in names
    new = model2.with_parameters(
        D_KKp_cm2_s=0.7,
        rate_KK_KKp_per_ps=0.4,
        w0_um=0.8,
        T_K=30,
        krad_KK_per_ps=0.02,
        E_KKp_meV=-12.0,
        tau_KK_ps=0.3,
    )
    assert new.valley("KKp").D_cm2_s == 0.7
    assert new.valley("KKp").E_meV == -12.0
    assert new.valley("KK").radiative_rate_per_ps == 0.02
    assert new.valley("KK").tau_ps == 0.3
    assert new.transitions[0].rate_per_ps == 0.4
    assert new.source.w0_um == 0.8 and new.T_K == 30
    assert model2.valley("KKp").D_cm2_s == 0.5  # the original is untouched
    with pytest.raises(ConfigError, match=r"unknown model parameter 'D_XX_cm2_s'; known: D_KK"):
        model2.with_parameters(D_XX_cm2_s=1.0)
    with pytest.raises(ModelError, match=r"valley\[0\]\.D_cm2_s \(valley KK\) must be finite"):
        model2.with_parameters(D_KK_cm2_s=-1.0)


def test_diffusivity_from_the_dT_model():
    physics = pytest.importorskip("fitdiff.physics")
    d = three_valley()
    params = {"xi_eV": 7.0, "rho_g_cm2": 4.46e-7, "s_cm_s": 4.1e5}
    del d["valley"][1]["D_cm2_s"]
    d["valley"][1]["diffusivity"] = params
    m = ValleyModel.from_dict(d)
    # the valley's own mass (0.58 m0) and T go into d_total (PHYSICS.md §3.1)
    expected = float(physics.d_total(77.0, M_m0=0.58, **params))
    assert m.diffusion_cm2_s()[1] == pytest.approx(expected, rel=1e-14, abs=0)
    assert np.isfinite(m.diffusion_cm2_s()).all()
    # a flat D parameter replaces the table
    assert m.with_parameters(D_KKp_cm2_s=0.3).diffusion_cm2_s()[1] == 0.3
