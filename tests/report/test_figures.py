"""Figure builders: what is drawn matches the tables they are given."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fitdiff.io import Measurement
from fitdiff.report.figures import dataset_kind, raw_image_figure, transient_figure, valleys_figure
from fitdiff.report.posterior_figures import corner_figure, flat_samples, traces_figure


def _lines_by_label(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def test_valley_D_is_a_quarter_of_the_width_slope():
    # PHYSICS.md §1: D = ¼ dw²/dt; w² = 1 µm² + 4·(2 cm²/s · 1e-4 µm²/ps/(cm²/s))·t is linear,
    # so the finite-difference D is exactly 2 cm²/s at every t.
    t = np.linspace(0.0, 200.0, 21)
    rows = pd.DataFrame(
        {
            "t_ps": t,
            "w2_KK_um2": 1.0 + 4 * 2.0e-4 * t,
            "n_KK": np.exp(-t / 80),
            "w2_KKp_um2": 1.0 - 4 * 0.5e-4 * t,
            "n_KKp": 1.0,
        }
    )
    fig = valleys_figure(rows)
    ax_w, ax_d, ax_n = fig.axes
    d = _lines_by_label(ax_d)
    np.testing.assert_allclose(d["KK"].get_ydata(), 2.0, rtol=1e-9, atol=0)
    np.testing.assert_allclose(d["KKp"].get_ydata(), -0.5, rtol=1e-9, atol=0)
    assert ax_d.get_ylabel() == "D_v(t) (cm²/s)"
    assert ax_n.get_yscale() == "log"


def test_raw_streak_overlay_is_centre_plus_minus_sigma():
    t = np.array([0.0, 10.0, 20.0])
    x = np.linspace(-3, 3, 31)
    m = Measurement(
        np.ones((3, 31)), ("t", "x"), {"t": t, "x": x}, {"t": "ps", "x": "um"}, format="synthetic"
    )
    widths = pd.DataFrame(
        {
            "t_ps": t,
            "center_um": [0.1, 0.2, 0.3],
            "sigma2_um2": [1.0, 4.0, 9.0],
            "ok": [True, True, False],
        }
    )
    fig = raw_image_figure(m, widths)
    ax = fig.axes[0]
    lines = _lines_by_label(ax)
    # σ = sqrt(σ²) = 1, 2 on the ok rows; the not-ok row is left out
    np.testing.assert_allclose(
        lines["centre ± σ (σ² = w²/2)"].get_xdata(), [-0.9, -1.8], rtol=0, atol=1e-12
    )
    assert ax.get_xlabel() == "x (µm)" and ax.get_ylabel() == "t (ps)"


def test_raw_stack_shows_frames():
    t = np.arange(6) * 5.0
    m = Measurement(
        np.random.default_rng(1).random((6, 8, 9)),
        ("t", "y", "x"),
        {"t": t},
        {"t": "ps"},
        format="synthetic",
    )
    fig = raw_image_figure(m, None, n_frames=3)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["t = 0 ps", "t = 10 ps", "t = 25 ps"]  # linspace(0, 5, 3) rounded


def test_raw_image_refuses_one_dimensional_data():
    m = Measurement(np.ones(5), ("t",), {}, {}, format="synthetic")
    with pytest.raises(ValueError, match=r"cannot draw a measurement with dims \('t',\)"):
        raw_image_figure(m)


def test_transient_figure_draws_model_D():
    tr = pd.DataFrame({"t_ps": [0.0, 1.0, 2.0], "D_cm2_s": [1.0, 2.0, 3.0], "D_err_cm2_s": 0.1})
    rows = pd.DataFrame({"t_ps": [2.0, 0.0, 1.0], "D_model_cm2_s": [2.5, 0.5, 1.5]})
    ax = transient_figure(tr, rows).axes[0]
    line = _lines_by_label(ax)["model D(t)"]
    np.testing.assert_allclose(line.get_xdata(), [0.0, 1.0, 2.0], rtol=0, atol=0)
    np.testing.assert_allclose(line.get_ydata(), [0.5, 1.5, 2.5], rtol=0, atol=0)


@pytest.mark.parametrize(
    ("name", "columns", "kind"),
    [
        ("widths", {}, "widths"),
        ("pl_kinetics", {}, "kinetics"),
        ("D", {"T_K": [10.0]}, "diffusivity"),
        ("w2_300K", {}, "widths"),
        ("mystery", {}, "other"),
    ],
)
def test_dataset_kind(name, columns, kind):
    assert dataset_kind(name, pd.DataFrame(columns or {"t_ps": [0.0]})) == kind


def test_flat_samples_discards_burn_and_thins():
    chain = np.arange(10 * 2 * 1, dtype=float).reshape(10, 2, 1)
    flat = flat_samples(chain, burn=4, thin=3)
    # steps 4, 7 of both walkers: values 2*step + walker
    np.testing.assert_array_equal(flat[:, 0], [8.0, 9.0, 14.0, 15.0])


def test_corner_and_traces_have_one_panel_per_parameter():
    rng = np.random.default_rng(3)
    chain = rng.normal(size=(50, 8, 3))
    chain[:, :, 2] = 1.0  # a parameter without spread must not break corner
    labels = ["a (ps)", "b (µm)", "c"]
    fig = corner_figure(flat_samples(chain), labels, truths=[0.0, np.nan, 1.0])
    assert len(fig.axes) == 9
    assert fig.axes[6].get_xlabel() == "a (ps)"
    traces = traces_figure(chain, labels, burn=10)
    assert [ax.get_ylabel() for ax in traces.axes] == labels
