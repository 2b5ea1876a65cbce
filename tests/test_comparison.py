"""``fitdiff compare``: AIC, BIC, ln Z and Bayes factors of finished runs, Jeffreys' grades."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from fitdiff.cli import main
from fitdiff.errors import FitError
from fitdiff.extract import write_table_csv
from fitdiff.fitting.compare import evidence_table, jeffreys_grade
from fitdiff.testing import linear_widths

ANALYSIS = """
[data]
widths = "widths.csv"

[model]
kind = "linear"

[parameters.w0_2_um2]
min = 0.0
max = 5.0

[parameters.D_cm2_s]
{D}

[report]
title = "{title}"

[evidence]
n_live = 60
bound = "single"
seed = 3
"""


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Runs of two models on one widths table (truth D = 1.5 cm²/s, fitting_sim)."""
    tmp = tmp_path_factory.mktemp("compare")
    write_table_csv(linear_widths(3), tmp / "widths.csv")
    models = {
        "free": ("value = 1.0\nmin = 0.0\nmax = 20.0", "D free"),
        "fixed": ("value = 1.3\nvary = false", "D fixed at 1.3 cm²/s"),
    }
    runs = {}
    for name, (D, title) in models.items():
        toml = tmp / f"{name}.toml"
        toml.write_text(ANALYSIS.format(D=D, title=title), encoding="utf-8")
        runs[name] = tmp / name
        assert main(["fit", str(toml), "-o", str(runs[name])]) == 0
        assert main(["evidence", str(toml), "-o", str(runs[name]), "-q"]) == 0
    return tmp, runs


def test_compare_prints_and_writes_the_table(two_runs, capsys):
    tmp, runs = two_runs
    capsys.readouterr()
    out = tmp / "table.csv"
    assert main(["compare", str(runs["fixed"]), str(runs["free"]), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Jeffreys" in printed and "ln Z" in printed and f"wrote {out}" in printed
    table = pd.read_csv(out, index_col="run")
    fit = {n: json.loads((r / "results.json").read_text()) for n, r in runs.items()}
    ev = {n: json.loads((r / "evidence.json").read_text()) for n, r in runs.items()}
    # the free-D model wins: first row, ln B = 0, graded "best"
    assert list(table.index) == ["free", "fixed"]
    assert table.loc["free", "jeffreys"] == "best" and table.loc["free", "ln_B"] == 0.0
    for name in runs:
        row = table.loc[name]
        assert row["k"] == fit[name]["nvarys"] == ev[name]["k"]
        assert row["chi2"] == pytest.approx(fit[name]["chi2"], rel=1e-5)  # CSV keeps 6 digits
        assert row["bic"] == pytest.approx(fit[name]["bic"], rel=1e-5)
        assert row["lnZ"] == pytest.approx(ev[name]["lnZ"], rel=1e-5)
    assert table.loc["free", "model"] == "D free"
    ln_b = ev["fixed"]["lnZ"] - ev["free"]["lnZ"]
    assert table.loc["fixed", "ln_B"] == pytest.approx(ln_b, rel=1e-5)
    err = math.hypot(ev["fixed"]["lnZ_err"], ev["free"]["lnZ_err"])
    assert table.loc["fixed", "ln_B_err"] == pytest.approx(err, rel=1e-5)
    # D = 1.3 is ~3 σ from the data's D (fitting_sim: 1.5 ± 0.06): ln B far beyond ln 100
    assert ln_b < -math.log(100.0)
    assert table.loc["fixed", "jeffreys"] == "decisive"
    # the Markdown form has the same rows
    md = tmp / "table.md"
    assert main(["compare", str(runs["fixed"]), str(runs["free"]), "-o", str(md)]) == 0
    text = md.read_text()
    assert "| run | model | k |" in text and "| fixed | D fixed at 1.3 cm²/s | 1 |" in text


def test_compare_errors(two_runs, tmp_path, capsys):
    _, runs = two_runs
    assert main(["compare", str(runs["free"]), str(tmp_path), "-o", str(tmp_path / "t.csv")]) == 2
    assert "neither results.json nor evidence.json" in capsys.readouterr().err
    bad = tmp_path / "t.txt"
    assert main(["compare", str(runs["free"]), "-o", str(bad)]) == 2
    assert ".csv or .md" in capsys.readouterr().err


@pytest.mark.parametrize(
    "ln_b, words",
    # Jeffreys (1961) App. B as tabulated by Kass & Raftery (1995): B = 10^(1/2) (ln 1.15), 10
    # (ln 2.30), 100 (ln 4.61)
    [
        (0.5, "not worth more than a bare mention"),
        (1.2, "substantial"),
        (3.0, "strong"),
        (4.7, "decisive"),
    ],
)
def test_jeffreys_grades(ln_b, words):
    assert jeffreys_grade(ln_b) == words


def test_evidence_table_refuses_different_data():
    with pytest.raises(FitError, match="different numbers of points"):
        evidence_table({"a": {"ndata": 10, "lnZ": 1.0}, "b": {"ndata": 12, "lnZ": 2.0}})
    # without ln Z the table still ranks by BIC and leaves the Bayes factor empty
    t = evidence_table({"a": {"ndata": 10, "bic": 5.0}, "b": {"ndata": 10, "bic": 3.0}})
    assert list(t.index) == ["b", "a"] and t["ln_B"].isna().all()
    assert t.loc["a", "delta_bic"] == pytest.approx(2.0, abs=0)


@pytest.mark.slow
def test_temperature_series_bayes_factor_agrees_with_bic(tmp_path):
    """The shipped temperature series (analyses/temperature_series): ln B(weak localisation :
    classical) has the sign of −ΔBIC (Schwarz: ln B ≈ −ΔBIC/2 for large N)."""
    from fitdiff.analysis import load_analysis, load_tables, run_fit
    from fitdiff.comparison import compare_runs
    from fitdiff.evidence_stage import run_evidence

    folder = Path(__file__).resolve().parents[1] / "analyses" / "temperature_series"
    analyses = {m: load_analysis(folder / f"{m}.toml") for m in ("quantum", "classical")}
    tables = load_tables(analyses["quantum"])  # same images and [extract] in both files
    for name, a in analyses.items():
        run_fit(a, tmp_path / name, tables=tables)
        # lnZ_err ~ sqrt(H / n_live) ~ 0.7 nats against an ln B of ~ 120. Fewer live points
        # cost more, not less: with 25, dynesty's bootstrapped ellipsoid grows so large that
        # uniform draws inside it are mostly rejected: 470 s for this test with 25, 88 s of
        # CPU with 100 (28k likelihood calls per model)
        run_evidence(a, tmp_path / name, tables=tables, n_live=100)
    table = compare_runs([tmp_path / "quantum", tmp_path / "classical"])
    assert list(table.index) == ["quantum", "classical"]
    ln_b = -table.loc["classical", "ln_B"]  # ln Z(quantum) − ln Z(classical)
    delta_bic = table.loc["classical", "bic"] - table.loc["quantum", "bic"]
    assert ln_b > 5 * table.loc["classical", "ln_B_err"] and delta_bic > 0
    # Schwarz's approximation within 10 %: both models have k = 6 and the same priors' widths
    assert ln_b == pytest.approx(delta_bic / 2.0, rel=0.1)
