"""Every forward model on a stack of parameter sets against ``predict`` one set at a time.

Reference: each model's own ``predict`` (tested against PHYSICS.md formulas and the solvers in
test_fitting_objective.py and tests/solvers); ``predict_many`` must agree row by row to 1e-12
relative and give NaN rows exactly for the sets ``predict`` refuses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fitdiff.errors import ModelError
from fitdiff.fitting import DiffusivityData, KineticsData, WidthsData
from fitdiff.fitting.data import Dataset
from fitdiff.fitting.models import BallisticModel, DiffusivityModel, ForwardModel, LinearModel
from fitdiff.fitting.valleys import ValleysModel
from fitdiff.solvers import ValleyModel
from fitdiff.testing import three_valley, two_valley

RTOL = 1e-12


def _widths(t) -> Dataset:
    t = np.asarray(t, float)
    frame = pd.DataFrame({"t_ps": t, "w2_um2": 1.0 + t, "w2_err_um2": np.full(t.size, 0.1)})
    return WidthsData.from_frame(frame, label="w")


def _table(T) -> Dataset:
    T = np.asarray(T, float)
    frame = pd.DataFrame({"T_K": T, "D_cm2_s": np.ones(T.size), "D_err_cm2_s": np.ones(T.size)})
    return DiffusivityData.from_frame(frame, label="dT")


def _compare(model: ForwardModel, values: dict, data: Dataset) -> np.ndarray:
    stack = model.predict_many(values, data)
    P = stack.shape[0]
    assert stack.shape == (P, len(data.x))
    for p in range(P):
        row = {k: (float(v[p]) if np.ndim(v) else v) for k, v in values.items()}
        try:
            ref = np.asarray(model.predict(row, data), float)
        except ValueError:
            assert np.isnan(stack[p]).all()
            continue
        if not np.isfinite(ref).all():
            assert not np.isfinite(stack[p]).all()
            continue
        np.testing.assert_allclose(stack[p], ref, rtol=RTOL, atol=0)
    return stack


def _defaults(model) -> dict:
    return {p.name: p.default for p in model.parameter_table()}


def test_linear():
    m = LinearModel()
    values = {**_defaults(m), "D_cm2_s": np.array([0.5, 1.0, -0.2]), "w0_2_um2": 0.3}
    _compare(m, values, _widths(np.linspace(0, 100, 30)))


@pytest.mark.parametrize("method", ["classical", "log", "cooperon"])
def test_linear_with_d_of_t(method):
    m = LinearModel(diffusivity=method)
    values = {**_defaults(m), "T_K": np.array([10.0, 77.0, 300.0]), "xi_eV": [5.0, 7.0, 9.0]}
    _compare(m, values, _widths(np.linspace(0, 100, 30)))


def test_ballistic_refuses_tau_zero_rows():
    m = BallisticModel()
    values = {**_defaults(m), "tau_ps": np.array([0.5, 0.0, 2.0, -1.0]), "D_cm2_s": 2.0}
    stack = _compare(m, values, _widths(np.linspace(-5, 50, 40)))
    assert np.isnan(stack[[1, 3]]).all() and np.isfinite(stack[[0, 2]]).all()


@pytest.mark.parametrize("method", ["classical", "log", "cooperon"])
def test_diffusivity(method):
    m = DiffusivityModel(method)
    values = {**_defaults(m), "xi_eV": np.array([5.0, 7.0]), "tau_dis_ps": [np.inf, 3.0]}
    _compare(m, values, _table(np.linspace(5.0, 300.0, 12)))


@pytest.mark.parametrize("case", ["three", "two"])
def test_valleys_widths_and_pl(case):
    base = ValleyModel.from_dict(three_valley() if case == "three" else two_valley())
    base = base.with_parameters(irf_fwhm_ps=2.0, w_psf_um=0.2)
    model = ValleysModel(base)
    values = _defaults(model)
    v0 = base.valleys[0].name
    values[f"D_{v0}_cm2_s"] = np.array([1.0, 2.0, -1.0, 4.0])
    values["w0_um"] = np.array([0.5, 0.6, 0.5, 0.7])
    values["pl_scale"] = np.array([1.0, 2.0, 3.0, 4.0])
    t = np.linspace(-5.0, 200.0, 60)
    w = _compare(model, values, _widths(t))
    frame = pd.DataFrame({"t_ps": t, "intensity": np.ones(t.size), "intensity_err": 1.0})

    pl = _compare(model, values, KineticsData.from_frame(frame, label="pl"))
    assert np.isnan(w[2]).all() and np.isnan(pl[2]).all()


def test_default_predict_many_loops_and_blanks_refused_sets():
    class Square(ForwardModel):
        kind = "square"
        datasets = ("widths",)

        def parameter_table(self):
            return []

        def predict(self, values, dataset):
            if values["a"] < 0:
                raise ModelError("a must be >= 0")
            return values["a"] * dataset.x**2

    stack = _compare(Square(), {"a": np.array([1.0, -1.0, 2.0])}, _widths([1.0, 2.0]))
    np.testing.assert_array_equal(stack[0], [1.0, 4.0])  # a x² at a = 1
