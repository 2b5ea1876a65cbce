"""What is free (issue 12 items 3 and 4): a parameter written into [parameters] is free unless
it says vary = false or has an expr; the PL amplitude of a valleys fit is free when PL is fitted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_fitting_analysis import MODEL_TOML
from test_fitting_recovery import _valley_data

from fitdiff.analysis import load_analysis, run_fit
from fitdiff.extract import write_table_csv
from fitdiff.physics import diffusivity


def _dT_table(path):
    # seed 000 D(T) with disorder tau_dis = 0.5 ps (fitdiff.physics, log method) + 1 % noise
    T = np.array([20.0, 40.0, 70.0, 100.0, 150.0, 200.0, 300.0])
    D = diffusivity(T, method="log", tau_dis_ps=0.5)["D_cm2_s"].to_numpy()
    rng = np.random.default_rng(4)
    err = 0.01 * D
    pd.DataFrame(
        {"T_K": T, "D_cm2_s": D + err * rng.standard_normal(T.size), "D_err_cm2_s": err}
    ).to_csv(path, index=False)


@pytest.mark.parametrize(
    ("extra", "free"),
    [
        ("", True),  # written with value/min/max: free
        ("vary = false\n", False),
        ("vary = true\n", True),
    ],
)
def test_written_parameter_is_free_unless_vary_false(tmp_path, extra, free):
    _dT_table(tmp_path / "dT.csv")
    (tmp_path / "a.toml").write_text(
        f"""
[data]
table = "dT.csv"
[model]
kind = "diffusivity"
method = "log"
[parameters.tau_dis_ps]
value = 1.0
min = 0.01
max = 10.0
{extra}""",
        encoding="utf-8",
    )
    fit = run_fit(load_analysis(tmp_path / "a.toml"), tmp_path / "run")
    assert ("tau_dis_ps" in fit.names) is free
    # not mentioned: keeps the model default (xi_eV free, M_m0 fixed)
    assert "xi_eV" in fit.names and "M_m0" not in fit.names
    if free:
        # the truth of _dT_table, recovered within 4 standard errors
        assert abs(fit.params["tau_dis_ps"].value - 0.5) < 4 * fit.stderr("tau_dis_ps")
        assert fit.redchi < 3


def test_expr_is_not_free(tmp_path):
    _dT_table(tmp_path / "dT.csv")
    (tmp_path / "a.toml").write_text(
        """
[data]
table = "dT.csv"
[model]
kind = "diffusivity"
[parameters.tau_dis_ps]
expr = "xi_eV / 14"
""",
        encoding="utf-8",
    )
    fit = run_fit(load_analysis(tmp_path / "a.toml"), tmp_path / "run")
    assert "tau_dis_ps" not in fit.names


def _valleys(tmp_path, with_pl: bool, written: str = ""):
    widths, pl = _valley_data(5)
    write_table_csv(widths, tmp_path / "w.csv")
    write_table_csv(pl, tmp_path / "pl.csv")
    (tmp_path / "model.toml").write_text(MODEL_TOML, encoding="utf-8")
    data = 'widths = "w.csv"\n' + ('pl = "pl.csv"\n' if with_pl else "")
    (tmp_path / "a.toml").write_text(
        f"""
[data]
{data}
[model]
kind = "valleys"
model = "model.toml"
[parameters.D_KK_cm2_s]
value = 1.0
[parameters.D_KKp_cm2_s]
value = 2.0
{written}""",
        encoding="utf-8",
    )
    return run_fit(load_analysis(tmp_path / "a.toml"), tmp_path / "run")


def test_pl_amplitude_is_free_when_pl_is_fitted(tmp_path):
    # _valley_data scales the model PL to counts by 1e6: a fixed pl_scale = 1 gave χ²/ν ~ 5e3
    fit = _valleys(tmp_path, with_pl=True)
    assert "pl_scale" in fit.names
    assert abs(fit.params["pl_scale"].value - 1e6) < 4 * fit.stderr("pl_scale")
    # valley D values written with a value only are free (item 3) and recover the truth
    for name, truth in (("D_KK_cm2_s", 0.5), ("D_KKp_cm2_s", 3.0)):
        assert abs(fit.params[name].value - truth) < 4 * fit.stderr(name), name
    assert fit.redchi < 2


def test_pl_amplitude_stays_fixed_without_pl_data(tmp_path):
    fit = _valleys(tmp_path, with_pl=False)
    assert "pl_scale" not in fit.names
