"""D(T) validity flags of a valley model carried into its fit (PHYSICS.md §3.5: a D(T) used
inside a valley model carries its validity flags; an invalid valley is reported, never
silently used): ``results.json`` warnings, ``posterior.json`` warnings and the report banner."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from fitdiff.fitting import (
    GlobalObjective,
    KineticsData,
    Objective,
    WidthsData,
    least_squares,
    make_parameters,
)
from fitdiff.testing import TWO_VALLEYS, valley_curves

pytest.importorskip("fitdiff.physics")

#: seed 000 Fig. 2 parameters (PHYSICS.md §2 reference values).
SEED000 = {"xi_eV": 7.0, "rho_g_cm2": 4.46e-7, "s_cm_s": 4.1e5}


def _table_model(**diffusivity) -> dict:
    """TWO_VALLEYS (50 K) with the dark valley's D from the D(T) model of PHYSICS.md §2."""
    d = copy.deepcopy(TWO_VALLEYS)
    del d["valley"][1]["D_cm2_s"]
    d["valley"][1]["diffusivity"] = {**SEED000, **diffusivity}
    return d


def test_flags_and_sentences_of_a_valley_model():
    from fitdiff.solvers import ValleyModel

    # no disorder: k_BTτ/ħ = D_cl/(ħ/M) = 3.370/2.315 = 1.46 at every T (PHYSICS.md §2
    # reference values); τ_φ/τ = 3.5 at 50 K and |δD|/D_cl = ln(3.5)/(2π·1.46) = 0.14: valid
    ok = ValleyModel.from_dict(_table_model())
    f = ok.diffusivity_flags()["KKp"]
    assert f["kBT_tau_over_hbar"] == pytest.approx(3.3697 / 2.3154, rel=1e-3)
    assert f["delta_D_over_D_classical"] == pytest.approx(
        math.log(f["tau_phi_over_tau"]) / (2 * math.pi * f["kBT_tau_over_hbar"]), rel=1e-9
    )
    assert f["valid"] and ok.diffusivity_warnings() == []
    # τ_dis = 0.02 ps: τ ≈ 0.018 ps, k_BTτ/ħ ≈ 0.12 < 1 (seed 000 eq. 2) and the log correction
    # exceeds D_cl: both flagged, with their numbers
    bad = ValleyModel.from_dict(_table_model(tau_dis_ps=0.02))
    f = bad.diffusivity_flags()["KKp"]
    assert not f["valid"] and f["kBT_tau_over_hbar"] < 1 and f["delta_D_over_D_classical"] > 0.5
    texts = bad.diffusivity_warnings()
    assert len(texts) == 2
    assert texts[0].startswith("valley KKp: D(T) at T = 50 K outside its validity")
    assert f"kBT tau/hbar = {f['kBT_tau_over_hbar']:.3g}, needs > 1" in texts[0]
    assert "weak-localisation correction |dD|/D_cl" in texts[1]
    # method = "classical" leaves the correction out: only the k_BTτ/ħ flag remains
    cl = ValleyModel.from_dict(_table_model(tau_dis_ps=0.02, method="classical"))
    assert [t.split(" (")[0] for t in cl.diffusivity_warnings()] == [
        "valley KKp: D(T) at T = 50 K outside its validity"
    ]


def _objective(model_dict):
    from fitdiff.fitting.valleys import ValleysModel
    from fitdiff.solvers import ValleyModel

    widths, pl = valley_curves(model_dict, np.linspace(-10.0, 300.0, 60), 3)
    model = ValleysModel(ValleyModel.from_dict(model_dict))
    params = make_parameters(model, D_KK_cm2_s=0.8, pl_scale=8e5)
    for name in ("D_KK_cm2_s", "pl_scale", "T_K"):
        params[name].set(vary=True)
    params["T_K"].set(min=30.0, max=80.0)
    objs = [
        Objective(model, WidthsData.from_frame(widths, label="w"), params),
        Objective(model, KineticsData.from_frame(pl, label="pl"), params),
    ]
    return GlobalObjective(objs)


def test_fit_records_the_flags_in_results_and_report():
    from fitdiff.report.rundir import RunData
    from fitdiff.report.sections import banner_notes

    # classical D (seed-001 comparisons, PHYSICS.md §3.5) with strong disorder: k_BTτ/ħ < 1
    d = _table_model(tau_dis_ps=0.02, method="classical")
    fit = least_squares(_objective(d))
    flagged = [w for w in fit.warnings if w.startswith("valley model: valley KKp")]
    # the sentence once although two datasets share the model, at the fitted T
    assert len(flagged) == 1
    T_fit = fit.params["T_K"].value
    assert f"at T = {T_fit:g} K" in flagged[0]
    record = fit.to_dict()
    assert all(w in record["warnings"] for w in flagged)
    notes = [n.text for n in banner_notes(RunData(run_dir=None, results=record), None)]
    assert any(flagged[0] in text for text in notes)
    # a valid table gives no such warning
    ok = least_squares(_objective(_table_model()))
    assert not [w for w in ok.warnings if w.startswith("valley model:")]


def test_posterior_records_the_flags(tmp_path):
    from fitdiff.fitting import sample

    d = _table_model(tau_dis_ps=0.02, method="classical")
    post = sample(
        _objective(d), backend_path=tmp_path / "c.h5", walkers=8, steps=12, burn=2, seed=1
    )
    flagged = [w for w in post.warnings if w.startswith("valley model: valley KKp")]
    assert len(flagged) == 1 and "outside its validity" in flagged[0]
    assert flagged[0] in post.to_dict()["warnings"]


def test_image_level_model_passes_the_flags_on():
    from fitdiff.fitting.image import ImageModel
    from fitdiff.fitting.valleys import ValleysModel
    from fitdiff.solvers import ValleyModel

    inner = ValleysModel(ValleyModel.from_dict(_table_model(tau_dis_ps=0.02, method="classical")))
    image = ImageModel(inner)
    values = {p.name: p.default for p in image.parameter_table()}
    texts = image.validity_warnings(values)
    assert len(texts) == 1 and texts == inner.validity_warnings(values)
