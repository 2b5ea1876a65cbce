"""One command-line style (issue 12): -o/--out, -q, warnings without source lines, old
spellings that still work, and load errors that say what to do."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fitdiff
from fitdiff.cli import main
from fitdiff.errors import ExtractionError, FitdiffDeprecationWarning, LoadError
from fitdiff.io.measurement import Measurement

REPO = Path(__file__).resolve().parents[1]
STREAK = REPO / "data" / "examples" / "streak_100K.img"


def test_info_refuses_json(capsys):
    # item 8: a .truth.json is text, but it is not a measurement
    path = STREAK.with_name("streak_100K.img.truth.json")
    with pytest.raises(LoadError, match=r"streak_100K\.img\.truth\.json: is a JSON document"):
        fitdiff.load(path)
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert "is a JSON document, not a measurement" in err and "Traceback" not in err


def _plain_tiff(tmp_path) -> Path:
    rng = np.random.default_rng(12)
    m = Measurement(
        counts=rng.poisson(50, (20, 31)).astype(np.uint16),
        dims=("y", "x"),
        coords={"y": np.arange(20.0), "x": np.arange(31.0) * 0.2},
        units={"y": "um", "x": "um"},
    )
    return fitdiff.io.save(m, tmp_path / "plain.tif")


def test_tiff_without_time_axis_names_the_flag(tmp_path, capsys):
    # item 12: the error names --t-ps-per-px, as the x-calibration error names --x-um-per-px
    tif = _plain_tiff(tmp_path)
    with pytest.raises(ExtractionError, match=r"no time axis.*--t-ps-per-px / t_ps_per_px"):
        fitdiff.extract_widths(fitdiff.load(tif))
    assert main(["extract", str(tif), "-o", str(tmp_path / "w.csv")]) == 2
    assert "--t-ps-per-px" in capsys.readouterr().err
    # ... and the flag it names makes the file usable
    assert main(["info", str(tif), "--t-ps-per-px", "5", "--json"]) == 0
    axes = json.loads(capsys.readouterr().out)["axes"]
    assert [a["name"] for a in axes] == ["t", "x"]


def test_warning_is_one_line_naming_the_command(tmp_path, capsys):
    # item 10: "fitdiff <command>: warning: <message>", no source path or code line
    out = tmp_path / "w.csv"
    argv = ["extract", str(STREAK), "-o", str(out), "--t-first-ps", "3", "--t-range-ps", "40:300"]
    assert main(argv) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("fitdiff extract: warning: ")
    assert "overrides the file's own t calibration" in err[0]
    assert ".py" not in err[0] and "UserWarning" not in err[0]


@pytest.mark.parametrize(
    ("argv", "out_name"),
    [
        (["extract", str(STREAK), "--t-range-ps", "40:200"], "w.csv"),
        (["diffusivity", "--T-K", "100"], "dT.csv"),
    ],
)
def test_out_everywhere_and_output_deprecated(tmp_path, capsys, argv, out_name):
    # item 15: -o/--out on every command; --output still works with a deprecation warning
    new, old = tmp_path / f"new_{out_name}", tmp_path / f"old_{out_name}"
    assert main([*argv, "--out", str(new), "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # -q: nothing on success
    assert main([*argv, "--output", str(old), "-q"]) == 0
    err = capsys.readouterr().err
    assert f"fitdiff {argv[0]}: warning: --output is deprecated; use -o/--out" in err
    pd.testing.assert_frame_equal(pd.read_csv(new, comment="#"), pd.read_csv(old, comment="#"))


def test_transient_out_and_quiet(tmp_path, capsys):
    widths, dt = tmp_path / "w.csv", tmp_path / "dt.csv"
    assert main(["extract", str(STREAK), "-o", str(widths), "--t-range-ps", "40:400", "-q"]) == 0
    assert main(["transient", str(widths), "--out", str(dt), "-q"]) == 0
    assert capsys.readouterr().out == ""
    assert list(pd.read_csv(dt, comment="#").columns[:3]) == ["t_ps", "D_cm2_s", "D_err_cm2_s"]


def test_missing_out_is_a_usage_error(capsys):
    assert main(["extract", str(STREAK)]) == 2
    assert "the following argument is required: -o/--out" in capsys.readouterr().err


def test_every_command_that_prints_progress_has_quiet():
    from fitdiff.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    # info, compare and plan print their result (a description, a table, a forecast), not
    # progress; every other command reports what it did
    for name, p in sub.choices.items():
        if name in ("info", "compare", "plan"):
            continue
        flags = {s for a in p._actions for s in a.option_strings}
        assert {"-q", "--quiet"} <= flags, name
        assert {"-o", "--out"} <= flags or name in ("report",), name


def test_sample_and_evidence_are_silent_with_quiet(tmp_path, capsys):
    # README: every command that reports progress is silent with -q but for errors and
    # warnings (fit already was; sample and evidence printed their summaries)
    analysis = str(REPO / "analyses" / "quickstart" / "analysis.toml")
    run = str(tmp_path / "run")
    assert main(["sample", analysis, "-o", run, "--steps", "600", "-q"]) == 0
    assert main(["evidence", analysis, "-o", run, "--n-live", "20", "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    # 600 steps of 16 walkers is not 50 τ_int here: the one warning still shows
    assert "fitdiff sample: warning: new chain; not converged" in captured.err
    assert (tmp_path / "run" / "posterior.json").is_file()
    assert (tmp_path / "run" / "evidence.json").is_file()


def test_time_names_one_meaning_each(tmp_path):
    # item 15: t_first_ps = first row (load), time_zero_ps = subtracted (extract); the old
    # t0_ps spellings still work and warn
    new = fitdiff.load(STREAK, t_first_ps=7.0)
    with pytest.warns(FitdiffDeprecationWarning, match="use t_first_ps"):
        old = fitdiff.load(STREAK, t0_ps=7.0)
    np.testing.assert_array_equal(new.coords["t"], old.coords["t"])
    # the file's own axis starts at 0 ps with 5 ps rows (data/examples/README.md)
    assert new.coords["t"][0] == pytest.approx(7.0, rel=0, abs=1e-9)
    m = fitdiff.load(STREAK)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = fitdiff.extract_widths(m, time_zero_ps=20.0, t_range_ps=(40, 200))
    with pytest.warns(FitdiffDeprecationWarning, match="use time_zero_ps"):
        b = fitdiff.extract_widths(m, t0_ps=20.0, t_range_ps=(40, 200))
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs["settings"]["time_zero_ps"] == 20.0


def test_fit_quality_warning_on_stderr_and_in_results(tmp_path, capsys):
    # item 5: error bars 10x too small give χ²/ν ≈ 100: a warning line on stderr (fit and
    # run), recorded in results.json, and a red banner line in the report
    from fitdiff.extract import write_table_csv

    rng = np.random.default_rng(12)
    t = np.linspace(0.0, 500.0, 40)
    w2 = 1.0 + 4 * 1.5e-4 * t + rng.normal(0.0, 0.02, t.size)  # PHYSICS.md §1, D = 1.5 cm²/s
    table = pd.DataFrame({"t_ps": t, "w2_um2": w2, "w2_err_um2": 0.002, "ok": True})
    write_table_csv(table, tmp_path / "w.csv")
    (tmp_path / "a.toml").write_text(
        '[data]\nwidths = "w.csv"\n[model]\nkind = "linear"\n', encoding="utf-8"
    )
    assert main(["fit", str(tmp_path / "a.toml"), "-o", str(tmp_path / "fit"), "-q"]) == 0
    err = capsys.readouterr().err
    assert "fitdiff fit: warning: reduced χ² = " in err
    assert main(["run", str(tmp_path / "a.toml"), "-o", str(tmp_path / "run"), "-q"]) == 0
    err = capsys.readouterr().err
    assert "fitdiff run: warning: reduced χ² = " in err
    results = json.loads((tmp_path / "run" / "results.json").read_text(encoding="utf-8"))
    assert any(w.startswith("reduced χ² = ") for w in results["warnings"])
    html = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert 'class="banner note error">Warning: reduced χ² = ' in html
