"""One notion of a run's inputs: stage keys, the chain's identity and standalone commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fitdiff.analysis import load_analysis
from fitdiff.cli import main
from fitdiff.extract import write_table_csv
from fitdiff.inputs import PARTS, digest, part, run_inputs, run_inputs_of
from fitdiff.pipeline import run
from fitdiff.testing import linear_widths

#: A linear-model analysis on a widths table (no image: no extraction, so runs are quick).
ANALYSIS = """\
[data]
widths = "widths.csv"
covariance = "cov.npy"

[model]
kind = "linear"

[parameters.D_cm2_s]
min = 0.0
max = 20.0

[parameters.w0_2_um2]
min = 0.0
max = 5.0

[fit]
t_range_ps = [0.0, 500.0]

[sample]
{sample}
[report]
figures = false
"""


def _project(folder: Path, **sample) -> Path:
    """Widths table (linear_widths: 30 rows, σ = 0.02 µm²), its diagonal covariance, TOML.

    ``sample`` sets [sample] keys over walkers = 8, seed = 5, steps = 300 (burn: default).
    """
    sample = "\n".join(
        f"{k} = {v}" for k, v in {"walkers": 8, "seed": 5, "steps": 300, **sample}.items()
    )
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "widths.csv").exists():
        write_table_csv(linear_widths(2), folder / "widths.csv")
        np.save(folder / "cov.npy", np.diag(np.full(30, 0.02**2)))
    toml = folder / "analysis.toml"
    toml.write_text(ANALYSIS.format(sample=sample), encoding="utf-8")
    return toml


def _digests(toml: Path) -> dict[str, str]:
    record = run_inputs(load_analysis(toml))
    return {name: digest(record, name) for name in PARTS}


def test_each_part_changes_exactly_when_what_it_reads_changes(tmp_path):
    toml = _project(tmp_path)
    base = _digests(toml)
    assert run_inputs_of(toml) == run_inputs(load_analysis(toml))

    # More steps, another burn, thin or workers: the chain is the same chain.
    for sample in ({"steps": 600}, {"burn": 10}, {"thin": 3}):
        changed = _digests(_project(tmp_path, **sample))
        assert changed["chain"] == base["chain"], sample
        assert changed["sample"] != base["sample"], sample
        assert changed["fit"] == base["fit"], sample
    changed = _digests(_project(tmp_path, workers=2))
    assert changed["chain"] == base["chain"] and changed["sample"] == base["sample"]
    assert changed["report"] == base["report"]
    # Walkers or seed: another chain.
    for sample in ({"walkers": 10}, {"seed": 6}):
        assert _digests(_project(tmp_path, **sample))["chain"] != base["chain"], sample

    # One changed byte of the covariance: everything from the fit on, nothing before.
    _project(tmp_path)
    cov = np.load(tmp_path / "cov.npy")
    cov[0, 0] *= 1.5
    np.save(tmp_path / "cov.npy", cov)
    changed = _digests(toml)
    assert [n for n in PARTS if changed[n] != base[n]] == [
        "fit",
        "chain",
        "sample",
        "evidence",
        "report",
    ]

    # The widths table: everything.
    write_table_csv(linear_widths(3), tmp_path / "widths.csv")
    again = _digests(toml)
    assert all(again[n] != changed[n] for n in PARTS)


def test_the_evidence_part_reads_evidence_settings_not_sample_settings(tmp_path):
    toml = _project(tmp_path)
    base = _digests(toml)
    assert _digests(_project(tmp_path, seed=6))["evidence"] == base["evidence"]
    toml = _project(tmp_path)  # back to the base file
    toml.write_text(toml.read_text() + "\n[evidence]\nn_live = 50\n", encoding="utf-8")
    changed = _digests(toml)
    assert changed["evidence"] != base["evidence"] and changed["fit"] == base["fit"]
    assert changed["chain"] == base["chain"] and changed["report"] != base["report"]


def test_extract_settings_do_not_touch_the_fit_of_a_widths_table(tmp_path):
    toml = _project(tmp_path)
    base = _digests(toml)
    toml.write_text(toml.read_text() + "\n[extract]\nbin_t = 2\n", encoding="utf-8")
    changed = _digests(toml)
    assert changed["fit"] == base["fit"] and changed["chain"] == base["chain"]
    assert changed["extract"] != base["extract"]


def test_an_expression_enters_by_its_text(tmp_path):
    toml = _project(tmp_path)
    text = toml.read_text().replace("max = 5.0\n", 'max = 5.0\nexpr = "0.2 * D_cm2_s"\n')
    toml.write_text(text)
    analysis = load_analysis(toml)
    record = run_inputs(analysis)
    assert part(record, "chain")["parameters"]["w0_2_um2"]["expr"] == "0.2 * D_cm2_s"
    analysis.parameters["D_cm2_s"].value = 3.0  # evaluating changes the expression's value
    analysis.parameters.update_constraints()
    assert run_inputs(analysis) == record


def test_extending_steps_resumes_the_chain_and_thin_or_workers_never_restart_it(tmp_path):
    # Regression: with burn following steps, 300 -> 600 steps reported "new chain",
    # resumed_from 0; changing workers or thin did too.
    toml = _project(tmp_path, steps=300)
    run_dir = tmp_path / "RUN"
    run(toml, run_dir, quiet=True)
    first = json.loads((run_dir / "posterior.json").read_text())
    assert first["steps"] == 300 and first["burn"] == 75 and first["resumed_from"] == 0

    _project(tmp_path, steps=600)
    longer = run(toml, run_dir, quiet=True)
    assert longer.ran == ["sample", "report"]
    post = json.loads((run_dir / "posterior.json").read_text())
    assert post["steps"] == 600 and post["burn"] == 150 and post["resumed_from"] == 300
    assert post["message"].startswith("resumed stored chain from step 300")

    _project(tmp_path, steps=600, thin=2, workers=2)
    thinned = run(toml, run_dir, quiet=True)
    assert thinned.ran == ["sample", "report"]
    post = json.loads((run_dir / "posterior.json").read_text())
    assert post["steps"] == 600 and post["thin"] == 2 and post["resumed_from"] == 600

    _project(tmp_path, steps=600, seed=9)
    reseeded = run(toml, run_dir, quiet=True)
    assert reseeded.ran == ["sample", "report"]
    post = json.loads((run_dir / "posterior.json").read_text())
    assert post["resumed_from"] == 0 and post["message"].startswith("model, data")


def test_sample_command_300_then_600_steps_resumes_from_300(tmp_path, capsys):
    toml = _project(tmp_path, steps=300)
    assert main(["sample", str(toml), "-o", str(tmp_path / "RUN")]) == 0
    assert "new chain" in capsys.readouterr().out
    _project(tmp_path, steps=600)
    assert main(["sample", str(toml), "-o", str(tmp_path / "RUN")]) == 0
    out = capsys.readouterr().out
    assert "steps = 600, burn = 150" in out
    assert "resumed stored chain from step 300" in out
    post = json.loads((tmp_path / "RUN" / "posterior.json").read_text())
    assert post["steps"] == 600 and post["resumed_from"] == 300


def test_fit_then_run_reuses_the_fit_and_sample_then_run_reuses_the_chain(tmp_path, capsys):
    # Regression: the standalone commands left no stage records, so `fitdiff run` after them
    # redid everything (reused: none); and they printed "wrote RUN//results.json".
    toml = _project(tmp_path)
    run_dir = tmp_path / "RUN"
    assert main(["fit", str(toml), "-o", f"{run_dir}/"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {run_dir / 'results.json'}\n" in out and "//" not in out
    assert main(["sample", str(toml), "-o", f"{run_dir}/"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {run_dir / 'posterior.json'}\n" in out and "//" not in out
    summary = run(toml, run_dir, quiet=True)
    assert summary.reused == ["fit", "sample"]
    assert summary.ran == ["load", "extract", "transient", "report"]


def test_a_failed_standalone_fit_leaves_no_record(tmp_path):
    toml = _project(tmp_path)
    run_dir = tmp_path / "RUN"
    assert main(["fit", str(toml), "-o", str(run_dir)]) == 0
    assert (run_dir / "stages" / "fit.json").is_file()
    np.save(tmp_path / "cov.npy", -np.eye(30))  # refused at load: nothing runs
    assert main(["fit", str(toml), "-o", str(run_dir)]) == 2
    summary_key = json.loads((run_dir / "stages" / "fit.json").read_text())["key"]
    np.save(tmp_path / "cov.npy", np.diag(np.full(30, 0.02**2)))
    assert run(toml, run_dir, quiet=True).status("fit") == "reused"
    assert json.loads((run_dir / "stages" / "fit.json").read_text())["key"] == summary_key


@pytest.mark.parametrize("kind", ["widths", "covariance"])
def test_run_inputs_name_every_file_with_its_content_hash(tmp_path, kind):
    toml = _project(tmp_path)
    record = run_inputs(load_analysis(toml))
    (entry,) = [f for f in record["files"] if f["kind"] == kind]
    assert entry["dataset"] == "data" and Path(entry["path"]).parent == tmp_path
    import hashlib  # the independent hash of the file's bytes

    assert entry["sha256"] == hashlib.sha256(Path(entry["path"]).read_bytes()).hexdigest()
