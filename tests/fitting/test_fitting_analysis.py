"""ANALYSIS.toml: validation with key paths, global fits, and the fit/sample stages' RUN files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from fitdiff.analysis import load_analysis, run_fit, run_sample
from fitdiff.cli import main
from fitdiff.errors import ConfigError
from fitdiff.extract import write_table_csv
from fitdiff.testing import linear_widths, write_linear_analysis


def _write(tmp_path, text):
    write_table_csv(linear_widths(1), tmp_path / "widths.csv")
    p = tmp_path / "a.toml"
    p.write_text(text, encoding="utf-8")
    return p


BASE = '[data]\nwidths = "widths.csv"\n[model]\nkind = "linear"\n'


@pytest.mark.parametrize(
    "extra, match",
    [
        ("[fit]\nt_rnage_ps = [0, 1]\n", r"fit\.t_rnage_ps: unknown key"),
        (
            "[parameters.D_cm2_s]\nmin = 5.0\nmax = 1.0\n",
            r"parameters\.D_cm2_s: min \(5.0\) must be < max \(1.0\)",
        ),
        (
            "[parameters.D_cm2_s]\nmin = 0.0\nmax = 5.0\nprior = {kind = 'uniform', min = 0.0, max = 9.0}\n",
            r"parameters\.D_cm2_s\.prior: prior .* lies outside the parameter bounds \[0.0, 5.0\]",
        ),
        (
            "[parameters.D_cm2_s]\nprior = {kind = 'normal', mu = 1.0}\n",
            r"parameters\.D_cm2_s\.prior\.sigma: required",
        ),
        (
            "[parameters.D_cm2s]\nvalue = 1.0\n",
            r"parameters\.D_cm2s: unknown key \(allowed: w0_2_um2, D_cm2_s\)",
        ),
        (
            "[parameters.D_cm2_s]\nexpr = 'nope * 2'\n",
            r"parameters\.D_cm2_s\.expr: cannot evaluate",
        ),
        ("[sample]\nsteps = 10\nburn = 20\n", r"sample\.burn: 20 must be < sample\.steps \(10\)"),
        ("[sample]\nwalkers = 1.5\n", r"sample\.walkers: expected an integer"),
        ("[report]\nformats = ['pdf']\n", r"report\.formats: expected a subset"),
        ("[bogus]\n", r"bogus: unknown section"),
    ],
)
def test_config_errors_name_the_key_path(tmp_path, extra, match):
    with pytest.raises(ConfigError, match=match):
        load_analysis(_write(tmp_path, BASE + extra))


def test_missing_data_file_and_model_kind(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.widths: file not found: .*nothere\.csv"):
        load_analysis(
            _write(tmp_path, '[data]\nwidths = "nothere.csv"\n[model]\nkind = "linear"\n')
        )
    with pytest.raises(ConfigError, match=r"model\.kind: 'quadratic' is not one of"):
        load_analysis(
            _write(tmp_path, '[data]\nwidths = "widths.csv"\n[model]\nkind = "quadratic"\n')
        )
    with pytest.raises(ConfigError, match=r"data: model 'diffusivity' needs one of \['table'\]"):
        load_analysis(
            _write(tmp_path, '[data]\nwidths = "widths.csv"\n[model]\nkind = "diffusivity"\n')
        )


def test_relative_paths_resolve_against_the_toml_folder(tmp_path, monkeypatch):
    p = _write(tmp_path, BASE)
    monkeypatch.chdir("/")
    a = load_analysis(p)
    assert a.config["datasets"][0]["widths"] == str((tmp_path / "widths.csv").resolve())


def test_fit_stage_writes_results_and_best_fit(tmp_path):
    toml = write_linear_analysis(tmp_path / "a")
    result = run_fit(load_analysis(toml), tmp_path / "run")
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert set(res["parameters"]["D_cm2_s"]) >= {"value", "stderr", "unit", "vary", "at_bound"}
    assert res["parameters"]["D_cm2_s"]["unit"] == "cm²/s"
    for key in (
        "chi2",
        "redchi",
        "aic",
        "bic",
        "success",
        "message",
        "ndata",
        "nvarys",
        "config",
        "versions",
        "correlations",
        "model",
    ):
        assert key in res
    # truth 1.5 cm²/s (linear_widths) within 3 σ
    assert (
        abs(res["parameters"]["D_cm2_s"]["value"] - 1.5)
        < 3 * res["parameters"]["D_cm2_s"]["stderr"]
    )
    best = pd.read_csv(tmp_path / "run" / "best_fit.csv")
    # tables carry 10 significant digits (fitdiff.extract.write_table_csv): y − model loses ~3
    np.testing.assert_allclose(
        best["pull"], (best["y"] - best["model"]) / best["y_err"], rtol=0, atol=1e-6
    )
    assert result.ndata == len(best) == 30
    assert json.loads((tmp_path / "run" / "analysis.json").read_text())["model"]["kind"] == "linear"


def test_sample_stage_writes_posterior_and_predictive(tmp_path):
    toml = write_linear_analysis(tmp_path / "a", steps=120, walkers=8)
    post = run_sample(load_analysis(toml), tmp_path / "run")
    doc = json.loads((tmp_path / "run" / "posterior.json").read_text())
    assert set(doc["parameters"]["D_cm2_s"]) == {
        "median",
        "p16",
        "p84",
        "p2_5",
        "p97_5",
        "mean",
        "sd",
        "tau_int",
        "ess",
        "rhat",
        "ess_bulk",
        "ess_tail",
        "prior_width_ratio",
        "unit",  # posterior 68 % width / prior's (fitdiff.fitting.quality)
    }
    assert isinstance(doc["warnings"], list)
    assert doc["steps"] == 120 and doc["walkers"] == 8 and doc["seed"] == 7 and doc["burn"] == 50
    assert doc["converged"] is False and "set steps ≥" in doc["message"]
    pp = pd.read_csv(tmp_path / "run" / "posterior_predictive.csv")
    assert list(pp.columns) == [
        "dataset",
        "observable",
        "t_ps",
        "p2_5",
        "p16",
        "p50",
        "p84",
        "p97_5",
    ]
    assert np.all(pp["p2_5"] <= pp["p50"]) and np.all(pp["p50"] <= pp["p97_5"])
    assert post.chain.shape == (120, 8, 2)


def test_global_temperature_series_shares_xi(tmp_path):
    # Widths at 3 temperatures with D = D_cl(T) of PHYSICS.md §2 (xi = 7 eV, τ_dis = 0.3 ps);
    # [[dataset]] tables give T_K per dataset, w0² per dataset, xi_eV and tau_dis_ps shared.
    from fitdiff.physics import d_classical

    fixed = {"M_m0": 0.5, "rho_g_cm2": 4.46e-7, "s_cm_s": 4.1e5}
    lines = []
    for T in (20.0, 80.0, 200.0):
        D = float(d_classical(np.array([T]), xi_eV=7.0, tau_dis_ps=0.3, **fixed)[0])
        write_table_csv(linear_widths(int(T), D_cm2_s=D, err_um2=0.005), tmp_path / f"w{T:.0f}.csv")
        lines.append(f'[[dataset]]\nlabel = "T{T:.0f}"\nwidths = "w{T:.0f}.csv"\nT_K = {T}\n')
    text = (
        "\n".join(lines)
        + """
[model]
kind = "linear"
diffusivity = "classical"
[parameters.w0_2_um2]
shared = false
[parameters.xi_eV]
value = 6.0
min = 1.0
max = 20.0
[parameters.tau_dis_ps]
value = 1.0
min = 0.01
max = 10.0
vary = true
"""
    )
    (tmp_path / "g.toml").write_text(text, encoding="utf-8")
    a = load_analysis(tmp_path / "g.toml")
    assert a.mappings["T80"] == {
        "w0_2_um2": "w0_2_um2__T80",
        "T_K": "T_K__T80",
        "xi_eV": "xi_eV",
        "M_m0": "M_m0",
        "rho_g_cm2": "rho_g_cm2",
        "s_cm_s": "s_cm_s",
        "tau_dis_ps": "tau_dis_ps",
        "tau_r_ps": "tau_r_ps",
    }
    assert a.parameters["T_K__T200"].value == 200.0 and not a.parameters["T_K__T200"].vary
    fit = run_fit(a, tmp_path / "run")
    for name, truth in (("xi_eV", 7.0), ("tau_dis_ps", 0.3)):  # the generating values above
        assert abs(fit.params[name].value - truth) < 3 * fit.stderr(name)
    assert fit.ndata == 90


def test_cli_fit_prints_and_exit_codes(tmp_path, capsys):
    toml = write_linear_analysis(tmp_path / "a")
    assert main(["fit", str(toml), "-o", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "D_cm2_s = " in out and "cm²/s" in out
    bad = _write(
        tmp_path / "b" if (tmp_path / "b").mkdir() is None else tmp_path, BASE + "[fit]\nfoo = 1\n"
    )
    assert main(["fit", str(bad), "-o", str(tmp_path / "run2")]) == 2
    assert "fit.foo: unknown key" in capsys.readouterr().err
    proc = subprocess.run(
        [sys.executable, "-m", "fitdiff.cli", "sample", str(bad), "-o", str(tmp_path / "run3")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "fit.foo: unknown key" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_sample_steps_override(tmp_path, capsys):
    toml = write_linear_analysis(tmp_path / "a", steps=400, walkers=8)
    assert main(["sample", str(toml), "-o", str(tmp_path / "run"), "--steps", "80"]) == 0
    out = capsys.readouterr().out
    assert "steps = 80" in out and "not converged" in out
    assert json.loads((tmp_path / "run" / "posterior.json").read_text())["steps"] == 80


MODEL_TOML = """
T_K = 50.0
[[valley]]
name = "KK"
E_meV = 0.0
D_cm2_s = 0.5
radiative_rate_per_ps = 0.05
[[valley]]
name = "KKp"
E_meV = -30.0
D_cm2_s = 3.0
nonradiative_rate_per_ps = 0.002
[[transition]]
from = "KK"
to = "KKp"
rate_per_ps = 0.05
[source]
valley = "KK"
w0_um = 0.6
[instrument]
irf_fwhm_ps = 5.0
"""


def test_valleys_analysis_fits_widths_and_pl_jointly(tmp_path):
    # MODEL_TOML is fitdiff.testing.TWO_VALLEYS; its values are the truth.
    from test_fitting_recovery import _valley_data

    widths, pl = _valley_data(5)
    write_table_csv(widths, tmp_path / "w.csv")
    write_table_csv(pl, tmp_path / "pl.csv")
    (tmp_path / "model.toml").write_text(MODEL_TOML, encoding="utf-8")
    (tmp_path / "a.toml").write_text(
        """
[data]
widths = "w.csv"
pl = "pl.csv"
[model]
kind = "valleys"
model = "model.toml"
[parameters.D_KK_cm2_s]
value = 1.0
vary = true
[parameters.D_KKp_cm2_s]
value = 2.0
vary = true
[parameters.rate_KK_KKp_per_ps]
value = 0.03
min = 1e-4
max = 1.0
vary = true
[parameters.pl_scale]
value = 8e5
prior = { kind = "log_uniform", min = 1e3, max = 1e9 }
""",
        encoding="utf-8",
    )
    fit = run_fit(load_analysis(tmp_path / "a.toml"), tmp_path / "run")
    truth = {"D_KK_cm2_s": 0.5, "D_KKp_cm2_s": 3.0, "rate_KK_KKp_per_ps": 0.05, "pl_scale": 1e6}
    for name, value in truth.items():
        assert abs(fit.params[name].value - value) < 3 * fit.stderr(name), name
    best = pd.read_csv(tmp_path / "run" / "best_fit.csv")
    assert set(best["dataset"]) == {"data_widths", "data_pl"}
    assert {"w2_KK_um2", "w2_KKp_um2", "n_KK", "n_KKp", "D_model_cm2_s"} <= set(best.columns)


@pytest.mark.parametrize(
    "cov, match",
    [
        # 30 rows of linear_widths: err 0.02 µm², so variance 4e-4 µm⁴ on the diagonal
        (np.diag(np.full(30, 4e-4)) + np.triu(np.full((30, 30), 1e-5), 1), "not symmetric"),
        (np.diag(np.r_[np.full(29, 4e-4), -1e-4]), "not positive-definite"),
        (np.full((30, 30), 4e-4), "not positive-definite"),  # rank 1: singular
        (np.zeros((30, 29)), "square"),
    ],
)
def test_a_covariance_that_is_not_symmetric_positive_definite_is_refused_at_load(
    tmp_path, capsys, cov, match
):
    # Regression: such a matrix escaped as numpy's LinAlgError (a traceback, exit 1) once the
    # fit started. It is a ConfigError naming the key and the file, and the CLI exits 2.
    np.save(tmp_path / "cov.npy", cov)
    toml = _write(tmp_path, BASE.replace("[model]", 'covariance = "cov.npy"\n[model]'))
    with pytest.raises(ConfigError, match=rf"data\.covariance: covariance .*cov\.npy .*{match}"):
        load_analysis(toml)
    assert main(["fit", str(toml), "-o", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "cov.npy" in err and match in err and "Traceback" not in err


def test_a_symmetric_positive_definite_covariance_is_accepted(tmp_path):
    # Diagonal covariance equal to the table's own errors: the fit equals the one without it
    # (PHYSICS.md §4: the Cholesky-whitened residuals reduce to (y - m)/σ).
    np.save(tmp_path / "cov.npy", np.diag(np.full(30, 0.02**2)))
    toml = _write(tmp_path, BASE.replace("[model]", 'covariance = "cov.npy"\n[model]'))
    with_cov = run_fit(load_analysis(toml), tmp_path / "r1")
    without = run_fit(load_analysis(_write(tmp_path, BASE)), tmp_path / "r2")
    assert with_cov.params["D_cm2_s"].value == pytest.approx(
        without.params["D_cm2_s"].value, rel=1e-8, abs=0
    )
