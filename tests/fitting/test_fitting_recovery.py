"""Recovery on simulated data for every model (fixed seeds; truth within 3 σ of the fit)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fitdiff.fitting import (
    BallisticModel,
    DiffusivityData,
    DiffusivityModel,
    GlobalObjective,
    KineticsData,
    LinearModel,
    Objective,
    WidthsData,
    compare_models,
    least_squares,
    make_parameters,
)
from fitdiff.testing import TWO_VALLEYS, linear_widths, valley_curves


def _within_3_sigma(fit, truth: dict):
    for name, value in truth.items():
        err = fit.stderr(name)
        assert np.isfinite(err) and err > 0, name
        assert abs(fit.params[name].value - value) < 3 * err, (name, fit.params[name].value, err)


def test_linear_recovers_D_and_w0():
    # Truth: the generating values of linear_widths (D = 1.5 cm²/s, w0² = 1 µm²).
    model = LinearModel()
    fit = least_squares(
        Objective(model, WidthsData.from_frame(linear_widths(11)), make_parameters(model))
    )
    _within_3_sigma(fit, {"D_cm2_s": 1.5, "w0_2_um2": 1.0})
    assert fit.redchi == pytest.approx(1.0, abs=0.6)  # χ²/ν of 28 dof is 1 ± 0.27 (1 σ)


def test_ballistic_recovers_D_tau_and_w0():
    # PHYSICS.md §3.2: w² = w0² + 4D[t − τ(1 − e^{−t/τ})]; truth D = 5 cm²/s, τ = 1 ps.
    rng = np.random.default_rng(7)
    t = np.linspace(0.0, 10.0, 60)
    truth = {"w0_2_um2": 0.5, "D_cm2_s": 5.0, "tau_ps": 1.0}
    D = truth["D_cm2_s"] * 1e-4
    w2 = truth["w0_2_um2"] + 4 * D * (t - truth["tau_ps"] * (1 - np.exp(-t / truth["tau_ps"])))
    err = np.full(t.size, 3e-4)
    df = pd.DataFrame(
        {"t_ps": t, "w2_um2": w2 + err * rng.standard_normal(t.size), "w2_err_um2": err}
    )
    model = BallisticModel()
    params = make_parameters(model, D_cm2_s=3.0, tau_ps=0.5, w0_2_um2=0.45)
    _within_3_sigma(least_squares(Objective(model, WidthsData.from_frame(df), params)), truth)


def _dT_table(seed, method="log", **truth):
    from fitdiff.physics import d_total

    rng = np.random.default_rng(seed)
    T = np.linspace(10.0, 300.0, 25)
    fixed = {"M_m0": 0.5, "rho_g_cm2": 4.46e-7, "s_cm_s": 4.1e5, "tau_r_ps": np.inf}
    D = d_total(T, **fixed, **truth, method=method)
    err = 0.02 * np.abs(D)
    return pd.DataFrame(
        {"T_K": T, "D_cm2_s": D + err * rng.standard_normal(T.size), "D_err_cm2_s": err}
    )


def test_diffusivity_recovers_xi_and_tau_dis_and_aic_prefers_weak_localization():
    # Truth (seed 000 Fig. 2 parameters, PHYSICS.md §2, plus disorder τ_dis = 0.5 ps).
    truth = {"xi_eV": 7.0, "tau_dis_ps": 0.5}
    data = DiffusivityData.from_frame(_dT_table(3, **truth))
    fits = {}
    for method in ("classical", "log"):
        model = DiffusivityModel(method)
        params = make_parameters(model, xi_eV=6.0, tau_dis_ps=0.8)
        params["tau_dis_ps"].set(vary=True, min=0.01, max=100.0)
        fits[method] = least_squares(Objective(model, data, params))
    _within_3_sigma(fits["log"], truth)
    table = compare_models(fits)
    # Data made with the weak-localization correction: the classical-only model must lose.
    assert table.index[0] == "log"
    assert table.loc["classical", "delta_aic"] > 10.0
    np.testing.assert_allclose(table["aic_weight"].sum(), 1.0, rtol=1e-12)


def _valley_data(seed):
    """w²_PL(t) and PL(t) of TWO_VALLEYS with noise; PL scaled to counts by 1e6."""
    return valley_curves(TWO_VALLEYS, np.linspace(-10.0, 300.0, 80), seed)


def test_valleys_two_valley_joint_fit_recovers_D_bright_D_dark_and_downhill_rate():
    # Truth: TWO_VALLEYS (D_KK = 0.5, D_KKp = 3.0 cm²/s, rate 0.05 /ps) and the 1e6 PL scale.
    from fitdiff.fitting.valleys import ValleysModel
    from fitdiff.solvers import ValleyModel

    widths, pl = _valley_data(21)
    model = ValleysModel(ValleyModel.from_dict(TWO_VALLEYS))
    params = make_parameters(
        model, D_KK_cm2_s=1.0, D_KKp_cm2_s=2.0, rate_KK_KKp_per_ps=0.03, pl_scale=8e5
    )
    for name in ("D_KK_cm2_s", "D_KKp_cm2_s", "rate_KK_KKp_per_ps", "pl_scale"):
        params[name].set(vary=True)
    params["rate_KK_KKp_per_ps"].set(min=1e-4, max=1.0)
    objs = [
        Objective(model, WidthsData.from_frame(widths, label="w"), params),
        Objective(model, KineticsData.from_frame(pl, label="pl"), params),
    ]
    fit = least_squares(GlobalObjective(objs))
    _within_3_sigma(
        fit, {"D_KK_cm2_s": 0.5, "D_KKp_cm2_s": 3.0, "rate_KK_KKp_per_ps": 0.05, "pl_scale": 1e6}
    )
