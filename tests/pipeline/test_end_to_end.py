"""``fitdiff run`` end to end on the bundled example data: outputs, reuse, --force, failures."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from pipeline_harness import EXAMPLES, example_truth, write_analysis
from scipy.optimize import curve_fit

from fitdiff.cli import main
from fitdiff.extract import read_table_csv
from fitdiff.pipeline import STAGES, StageError, run

#: Every file a run with [sample] writes (docs/interfaces.md, "The RUN directory").
RUN_FILES = (
    "measurements.json",
    "widths.csv",
    "transient.csv",
    "analysis.json",
    "results.json",
    "best_fit.csv",
    "chain.h5",
    "posterior.json",
    "posterior_predictive.csv",
    "posterior.nc",
    "evidence.json",
    "provenance.json",
    "report.html",
    "report.md",
    "figures/raw_image.png",
    "figures/corner.png",
)


def _mtimes(run_dir):
    return {
        p.relative_to(run_dir).as_posix(): p.stat().st_mtime_ns
        for p in run_dir.rglob("*")
        if p.is_file()
    }


@pytest.mark.slow
def test_run_writes_every_file_and_recovers_the_truth(project):
    run_dir = project / "RUN"
    summary = run(project / "analysis.toml", run_dir, quiet=True)
    assert [s.name for s in summary.stages] == list(STAGES)
    assert summary.ran == list(STAGES)
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), name
    for stage in STAGES:
        assert (run_dir / "stages" / f"{stage}.json").is_file(), stage

    # The least-squares D equals an independent weighted straight-line fit of widths.csv
    # (scipy.optimize.curve_fit with absolute sigma) to optimiser precision; the weights are
    # the extractor's model-based errors (w2_err_model_um2), which widths fits use.
    widths = read_table_csv(run_dir / "widths.csv")
    ok = widths[widths["ok"].astype(bool)]
    popt, _ = curve_fit(
        lambda t, w0, slope: w0 + slope * t,
        ok["t_ps"],
        ok["w2_um2"],
        sigma=ok["w2_err_model_um2"],
        absolute_sigma=True,
    )
    results = json.loads((run_dir / "results.json").read_text())
    D = results["parameters"]["D_cm2_s"]
    # slope = 4 D with 1 cm²/s = 1e-4 µm²/ps (PHYSICS.md §1 and §0)
    assert D["value"] == pytest.approx(popt[1] / 4.0 / 1e-4, rel=1e-5, abs=0.0)
    # ... and the truth of the example file (data/examples/truth.json: seed-000 D(T) at 100 K)
    # lies within 4 standard errors.
    truth = example_truth("streak_100K.img")["D_cm2_s"]
    assert abs(D["value"] - truth) < 4.0 * D["stderr"]

    # Provenance: the input's SHA-256 is that of the file (hashlib over its bytes), plus the
    # versions, the sampler seed and a time for every stage.
    prov = json.loads((run_dir / "provenance.json").read_text())
    digest = hashlib.sha256((project / "streak.img").read_bytes()).hexdigest()
    assert prov["inputs"][0]["sha256"] == digest
    assert prov["seed"] == 11
    assert {"fitdiff", "numpy", "scipy", "lmfit", "emcee", "python"} <= set(prov["versions"])
    assert set(prov["stages"]) == set(STAGES)
    assert all(v["seconds"] >= 0.0 for v in prov["stages"].values())

    # The report shows the fitted value table with its unit.
    html = (run_dir / "report.html").read_text()
    assert "D_cm2_s" in html and "cm²/s" in html
    # ... and the run's own ln Z from evidence.json
    ev = json.loads((run_dir / "evidence.json").read_text())
    assert "Bayesian evidence" in html and str(int(ev["lnZ"])) in html


@pytest.mark.slow
def test_rerun_reuses_and_settings_changes_redo_only_what_depends_on_them(project, capsys):
    analysis = project / "analysis.toml"
    run_dir = project / "RUN"
    run(analysis, run_dir, quiet=True)
    before = _mtimes(run_dir)

    again = run(analysis, run_dir, quiet=True)
    assert again.reused == list(STAGES)
    # Nothing a stage wrote was touched (provenance.json and analysis.json are rewritten).
    after = _mtimes(run_dir)
    rewritten = {"provenance.json", "analysis.json"}
    assert {k: v for k, v in after.items() if k not in rewritten} == {
        k: v for k, v in before.items() if k not in rewritten
    }

    # A new sampler seed redoes sample and report only (the evidence has its own seed).
    write_analysis(project, sample_seed=12)
    changed = run(analysis, run_dir, quiet=True)
    assert changed.ran == ["sample", "report"]
    assert changed.reused == ["load", "extract", "transient", "fit", "evidence"]

    # --force (through the CLI) redoes every stage and gives the same least-squares result.
    old = json.loads((run_dir / "results.json").read_text())["parameters"]
    assert main(["run", str(analysis), "-o", str(run_dir), "--force"]) == 0
    err = capsys.readouterr().err
    for stage in STAGES:
        assert f"fitdiff run: {stage:<9} ran" in err
    new = json.loads((run_dir / "results.json").read_text())["parameters"]
    assert new["D_cm2_s"]["value"] == pytest.approx(old["D_cm2_s"]["value"], rel=1e-12, abs=0)


@pytest.mark.slow
def test_corrupted_input_fails_at_the_load_stage_with_exit_2(project):
    analysis = write_analysis(project, sample_seed=None)
    run_dir = project / "RUN"
    first = run(analysis, run_dir, quiet=True)
    assert first.status("sample") == "skipped"
    # Keep the header, scramble the image: the HPD-TA reader must refuse it.
    data = bytearray((project / "streak.img").read_bytes())
    (project / "streak.img").write_bytes(bytes(data[:200]))
    proc = subprocess.run(
        [sys.executable, "-m", "fitdiff.cli", "run", str(analysis), "-o", str(run_dir), "-q"],
        capture_output=True,
        text=True,
        cwd=project,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("fitdiff run: error: load stage: ")
    assert "streak.img" in proc.stderr
    assert "Traceback" not in proc.stderr
    # The failed stage lost its record; the finished ones and their outputs are intact.
    assert not (run_dir / "stages" / "load.json").exists()
    for stage in ("extract", "transient", "fit", "report"):
        assert (run_dir / "stages" / f"{stage}.json").is_file()
    assert (run_dir / "results.json").is_file() and (run_dir / "report.html").is_file()


@pytest.mark.slow
def test_overrides_change_the_input_and_count_in_the_keys(project, tmp_path_factory):
    other = tmp_path_factory.mktemp("other") / "streak_300K.img"
    shutil.copy(EXAMPLES / "streak_300K.img", other)
    analysis = write_analysis(project, sample_seed=None)
    base = run(analysis, project / "A", quiet=True)
    moved = run(analysis, project / "B", quiet=True, overrides={"data": {"file": str(other)}})
    assert base.stages[0].key != moved.stages[0].key
    prov = json.loads((project / "B" / "provenance.json").read_text())
    assert prov["inputs"][0]["path"] == str(other)
    assert prov["overrides"] == {"data": {"file": str(other)}}
    D = json.loads((project / "B" / "results.json").read_text())["parameters"]["D_cm2_s"]
    truth = example_truth("streak_300K.img")["D_cm2_s"]  # data/examples/truth.json
    assert abs(D["value"] - truth) < 4.0 * D["stderr"]


def test_bad_configuration_names_the_config_stage(project, capsys):
    analysis = project / "analysis.toml"
    analysis.write_text(analysis.read_text() + "\n[typo]\nx = 1\n")
    with pytest.raises(StageError, match=r"^config stage: typo: unknown section"):
        run(analysis, project / "RUN", quiet=True)
    assert main(["run", str(analysis), "-o", str(project / "RUN")]) == 2
    assert "config stage: typo: unknown section" in capsys.readouterr().err


def test_unknown_override_key_and_bad_force_are_config_errors(project):
    with pytest.raises(StageError, match=r"^config stage: data\.fiel: unknown key"):
        run(
            project / "analysis.toml",
            project / "RUN",
            quiet=True,
            overrides={"data": {"fiel": "x.img"}},
        )
    with pytest.raises(StageError, match=r"^config stage: force: unknown stage\(s\) \['fitt'\]"):
        run(project / "analysis.toml", project / "RUN", quiet=True, force=["fitt"])


def test_quiet_prints_nothing_and_plain_progress_names_each_stage(project, capsys):
    analysis = write_analysis(project, sample_seed=None)
    # Reports are the slow part; reuse them between the two calls below by running once.
    assert main(["run", str(analysis), "-o", str(project / "RUN"), "--quiet"]) == 0
    out = capsys.readouterr()
    assert out.err == "" and out.out == ""
    assert main(["run", str(analysis), "-o", str(project / "RUN")]) == 0
    out = capsys.readouterr()
    lines = [line for line in out.err.splitlines() if line.startswith("fitdiff run: ")]
    assert [line.split()[2] for line in lines[: len(STAGES)]] == list(STAGES)
    assert "sample    skipped" in out.err
    assert out.out.strip().endswith("report.html")
    assert np.isfinite(json.loads((project / "RUN" / "provenance.json").read_text())["run_time_s"])
