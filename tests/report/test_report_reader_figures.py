"""Figures a referee accepts (issue 12 items 2, 5, 6, 7, 9, 17)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import LogNorm

from fitdiff import physics
from fitdiff.io import Measurement
from fitdiff.report import write_report
from fitdiff.report.curves import GRID_POINTS, dT_curve
from fitdiff.report.figures import (
    fit_figure,
    global_fit_figure,
    raw_image_figure,
)
from fitdiff.report.format import parameter_axis_label
from fitdiff.report.posterior_figures import corner_figure
from fitdiff.report.rundir import RunData


def test_one_sampled_parameter_gives_a_histogram_with_intervals():
    # item 2: corner.corner raises TypeError on one parameter; a 1-D posterior is a histogram
    rng = np.random.default_rng(2)
    samples = rng.normal(7.0, 0.01, (4000, 1))
    fig = corner_figure(samples, ["ξ (eV)"], [7.001])
    (ax,) = fig.axes
    assert ax.get_xlabel() == "ξ (eV)"
    # median and 68 % half-widths, errors to 2 significant digits (0.0099 -> 4 decimals)
    assert ax.get_title().startswith("ξ = 7.0000 +0.0") and ax.get_title().endswith(" eV")
    labels = ax.get_legend_handles_labels()[1]
    assert set(labels) == {"best fit", "95 % interval", "68 % interval", "median"}
    # the median line sits at the sample median (numpy percentile of the same samples)
    median_line = next(line for line in ax.get_lines() if line.get_label() == "median").get_xdata()[
        0
    ]
    assert median_line == pytest.approx(np.median(samples), rel=0, abs=1e-12)


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("D_cm2_s", "D (cm²/s)"),
        ("w0_2_um2", "w₀² (µm²)"),
        ("xi_eV", "ξ (eV)"),
        ("w0_2_um2__T75K", "w₀² [T75K] (µm²)"),
        ("D_KK_cm2_s", "D_KK (cm²/s)"),
        ("tau_dis_ps", "τ_dis (ps)"),
    ],
)
def test_parameter_labels_are_symbols_with_units_once(name, label):
    # item 17: symbols with units, not code names with the unit twice
    assert parameter_axis_label(name) == label


def _streak():
    t = np.linspace(0.0, 900.0, 10)
    x = np.linspace(-3.0, 3.0, 31)
    profile = np.exp(-(x**2) / 2.0)
    decay = np.exp(-t / 200.0)[:, None] * 1e4
    return Measurement(
        decay * profile[None, :], ("t", "x"), {"t": t, "x": x}, {"t": "ps", "x": "um"}
    )


def test_raw_streak_default_is_row_normalised_with_log_option():
    # item 17: every time row divided by its maximum, so late rows stay visible
    m = _streak()
    m.counts[0] = 5.0  # a flat pre-pulse row: no peak above its background
    fig = raw_image_figure(m)
    mesh = fig.axes[0].collections[0]
    values = np.ma.filled(mesh.get_array(), np.nan).reshape(10, 31)
    # rows with a peak (even at 900 ps, 1e4·exp(−4.5) = 111 counts, 75 above a median of 36)
    # are scaled to 1; the flat row (peak − median = 0 < 5 Poisson SDs) is blank
    np.testing.assert_allclose(np.nanmax(values[1:], axis=1), 1.0, rtol=1e-12, atol=0)
    assert np.isnan(values[0]).all()
    assert fig.axes[1].get_ylabel() == "counts / row maximum"
    log = raw_image_figure(_streak(), scale="log")
    assert isinstance(log.axes[0].collections[0].norm, LogNorm)
    with pytest.raises(ValueError, match="allowed row, log, linear"):
        raw_image_figure(_streak(), scale="sqrt")


def _overlap(fig, ax) -> bool:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    a, b = ax.get_window_extent(renderer), ax.get_legend().get_window_extent(renderer)
    return a.overlaps(b)


def _rows(D, w0=0.5, T=None):
    t = np.linspace(40.0, 900.0, 20)
    y = w0 + 4 * D * 1e-4 * t
    rows = pd.DataFrame({"t_ps": t, "y": y, "y_err": 0.01, "model": y, "pull": 0.0})
    return rows


def test_legend_is_off_the_data():
    fig = fit_figure(_rows(2.0), "widths")
    assert not _overlap(fig, fig.axes[0])


def test_global_fit_one_colour_and_label_per_dataset():
    # item 7: "75 K", "100 K", ... each in its own colour, legend outside the axes
    datasets = [("T75K", _rows(2.6)), ("T100K", _rows(2.8)), ("T150K", _rows(3.0))]
    labels = {"T75K": "75 K", "T100K": "100 K", "T150K": "150 K"}
    fig = global_fit_figure(datasets, "widths", labels=labels)
    ax = fig.axes[0]
    handles, texts = ax.get_legend_handles_labels()
    assert texts == ["75 K", "100 K", "150 K"]
    colours = {h.lines[0].get_color() for h in handles}  # errorbar containers: data markers
    assert len(colours) == 3
    assert not _overlap(fig, ax)


def _dT_run(tmp_path: Path, with_table_input=True) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    T = np.array([20.0, 50.0, 100.0, 200.0, 300.0])
    p = physics.resolve_parameters()
    D = physics.diffusivity(T, method="log")["D_cm2_s"].to_numpy()
    table = pd.DataFrame({"T_K": T, "D_cm2_s": D, "D_err_cm2_s": 0.05})
    table.to_csv(run / "dT.csv", index=False)
    best = pd.DataFrame(
        {
            "dataset": "data",
            "observable": "D_cm2_s",
            "T_K": T,
            "y": D,
            "y_err": 0.05,
            "model": D,
            "pull": 0.0,
        }
    )
    best.to_csv(run / "best_fit.csv", index=False)
    params = {
        k: {"value": v, "stderr": None, "unit": "", "vary": k == "xi_eV"}
        for k, v in p.items()
        if k in ("xi_eV", "M_m0", "rho_g_cm2", "s_cm_s", "tau_dis_ps", "tau_r_ps")
    }
    params = {
        k: {**v, "value": (v["value"] if np.isfinite(v["value"]) else None)}
        for k, v in params.items()
    }
    results = {
        "parameters": params,
        "chi2": 3.0,
        "redchi": 0.75,
        "ndata": 5,
        "nvarys": 1,
        "success": True,
        "message": "ok",
        "warnings": ["reduced χ² = 233 (χ² = 932 for 4 degrees of freedom, p = 1e-200 < 0.001)"],
    }
    (run / "results.json").write_text(json.dumps(results), encoding="utf-8")
    data = {"label": "data", "table": str(run / "dT.csv")} if with_table_input else {}
    analysis = {"datasets": [data], "model": {"kind": "diffusivity", "method": "log"}}
    (run / "analysis.json").write_text(json.dumps(analysis), encoding="utf-8")
    (run / "provenance.json").write_text(
        json.dumps({"inputs": [{"path": str(run / "dT.csv")}]}), encoding="utf-8"
    )
    return run


def test_dT_model_on_a_fine_grid(tmp_path):
    # item 9: the model curve is D(T) evaluated on GRID_POINTS temperatures, equal to
    # fitdiff.physics.diffusivity there (the closed form of PHYSICS.md §2)
    from fitdiff.report.rundir import read_run

    run = read_run(_dT_run(tmp_path))
    curve = dT_curve(run, np.array([20.0, 300.0]))
    assert len(curve) == GRID_POINTS
    expected = physics.diffusivity(curve["T_K"].to_numpy(), method="log")["D_cm2_s"]
    np.testing.assert_allclose(curve["D_cm2_s"], expected, rtol=1e-10, atol=0)
    assert isinstance(run, RunData)


def test_table_run_no_raw_image_and_red_warning_banner(tmp_path):
    # item 6: a D(T) table is not an image; item 5: results.json warnings are red banner lines
    run = _dT_run(tmp_path)
    written = write_report(run)
    assert "figures/raw_image.png" not in written
    assert "figures/DT_data.png" in written
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "Raw image" not in html
    assert 'class="banner note error">Warning: reduced χ² = 233' in html
