"""End to end: the real pipeline over a campaign of tiny synthetic streaks, one corrupt.

The streaks follow seed 000's D(T) (PHYSICS.md §2 reference parameters), so the campaign's
``[global]`` D(T) fit must recover ξ = 7 eV; each measurement's linear fit must recover its D.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import batch_harness as harness
import numpy as np
import pandas as pd
import pytest

from fitdiff.batch import load_campaign, run_campaign
from fitdiff.cli import main
from fitdiff.physics import d_total
from fitdiff.testing import SEED000, write_corrupt, write_streak

pytestmark = pytest.mark.slow

TEMPERATURES_K = (30, 100, 250)

BASE = """
[extract]
method = "gauss"
[model]
kind = "linear"
[parameters.D_cm2_s]
value = 1.0
min = 0.0
max = 50.0
[report]
figures = false
"""

GLOBAL = """
[model]
kind = "diffusivity"
method = "log"
[parameters.xi_eV]
value = 5.0
min = 1.0
max = 20.0
[parameters.M_m0]
value = 0.5
vary = false
[parameters.rho_g_cm2]
value = 4.46e-7
vary = false
[parameters.s_cm_s]
value = 4.1e5
vary = false
[report]
figures = false
"""

CAMPAIGN = """
[campaign]
analysis = "base.toml"
measurements = ["data/*.tif"]
name_pattern = 'T(?P<T_K>\\d+)K'
[global]
analysis = "dT.toml"
"""


def truth_D_cm2_s() -> dict[str, float]:
    """D of each streak: seed 000's classical + weak-localisation D(T) (PHYSICS.md §2)."""
    d = d_total(np.array(TEMPERATURES_K, dtype=float), **SEED000)
    return {f"data/T{T:03d}K.tif": float(v) for T, v in zip(TEMPERATURES_K, d, strict=True)}


@pytest.fixture(scope="module")
def campaign_path(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("campaign")
    (root / "base.toml").write_text(BASE, encoding="utf-8")
    (root / "dT.toml").write_text(GLOBAL, encoding="utf-8")
    (root / "data").mkdir()
    for seed, (label, d) in enumerate(truth_D_cm2_s().items()):
        write_streak(root / label, d, seed=seed)
    write_corrupt(root / "data" / "T000K_corrupt.tif")
    (root / "campaign.toml").write_text(CAMPAIGN, encoding="utf-8")
    return root / "campaign.toml"


@pytest.fixture(scope="module")
def on_processes(campaign_path, tmp_path_factory):
    return run_campaign(campaign_path, tmp_path_factory.mktemp("out") / "p", "processes:2")


@pytest.fixture(scope="module")
def on_dask(campaign_path, tmp_path_factory, dask_address):
    # the global fit runs in this process whatever the executor: once (on processes) is enough
    campaign = dataclasses.replace(load_campaign(campaign_path), global_fit=None)
    return run_campaign(campaign, tmp_path_factory.mktemp("out") / "d", dask_address)


def test_summary_corrupt_failed_rest_within_errors(on_processes):
    s = on_processes.summary.set_index("measurement")
    bad = s.loc["data/T000K_corrupt.tif"]
    assert bad["status"] == "failed"
    assert "load stage" in bad["error"] and "T000K_corrupt.tif" in bad["error"]
    for label, d in truth_D_cm2_s().items():
        row = s.loc[label]
        assert row["status"] == "ok"
        # within 3 standard errors of the truth the streak was drawn with
        assert abs(row["D_cm2_s"] - d) < 3 * row["D_err_cm2_s"], (label, row["D_cm2_s"], d)
    assert list(s.loc[list(truth_D_cm2_s()), "T_K"]) == list(TEMPERATURES_K)
    on_disk = pd.read_csv(on_processes.out_dir / "summary.csv")
    assert list(on_disk.columns[:4]) == ["measurement", "status", "error", "T_K"]
    assert {"D_cm2_s", "D_err_cm2_s", "w0_2_um2", "w0_2_err_um2", "run_time_s"} <= set(
        on_disk.columns
    )
    for label in truth_D_cm2_s():
        run_dir = on_processes.out_dir / "runs" / Path(label).stem
        assert (run_dir / "results.json").is_file() and (run_dir / "batch.json").is_file()
    assert not (on_processes.out_dir / "runs" / "T000K_corrupt" / "batch.json").exists()


def test_global_fit_recovers_seed000_xi(on_processes):
    assert on_processes.global_error == ""
    results = json.loads((on_processes.out_dir / "global" / "results.json").read_text())
    xi = results["parameters"]["xi_eV"]
    # the streaks were drawn from D(T) with ξ = 7 eV (seed 000 Fig. 2, PHYSICS.md §2)
    assert abs(xi["value"] - 7.0) < 3 * xi["stderr"], xi


def test_dask_gives_the_same_results(on_processes, on_dask):
    cols = ["measurement", "status", "T_K", "D_cm2_s", "D_err_cm2_s", "w0_2_um2"]
    # the pipeline is deterministic, so the executor must not change a digit
    pd.testing.assert_frame_equal(
        on_processes.summary[cols], on_dask.summary[cols], rtol=1e-12, atol=0
    )
    errors = on_dask.summary.set_index("measurement")["error"]
    assert (
        errors["data/T000K_corrupt.tif"]
        == on_processes.summary.set_index("measurement")["error"]["data/T000K_corrupt.tif"]
    )


def test_rerun_skips_and_deleting_one_output_redoes_only_that_one(
    campaign_path, on_processes, tmp_path
):
    out = tmp_path / "copy"
    shutil.copytree(on_processes.out_dir, out)
    # in-process: skipping does not depend on the executor, and local starts no workers
    rerun = run_campaign(campaign_path, out, "local")
    status = rerun.summary.set_index("measurement")["status"]
    assert status["data/T000K_corrupt.tif"] == "failed"  # failures are always tried again
    assert set(status.drop("data/T000K_corrupt.tif")) == {"reused"}
    # a reused row carries the stored results
    pd.testing.assert_series_equal(
        rerun.summary["D_cm2_s"], on_processes.summary["D_cm2_s"], rtol=0, atol=0
    )
    (out / "runs" / "T100K" / "results.json").unlink()
    again = run_campaign(campaign_path, out, "local")
    status = again.summary.set_index("measurement")["status"]
    assert status["data/T100K.tif"] == "ok"
    assert set(status.drop(["data/T100K.tif", "data/T000K_corrupt.tif"])) == {"reused"}
    assert (out / "runs" / "T100K" / "results.json").is_file()
    log = (out / "batch.log").read_text(encoding="utf-8")
    assert log.count("data/T100K.tif: ok") == 2  # first run and the redo, not the skip


def test_worker_killed_mid_task_is_retried_and_completes(campaign_path, tmp_path):
    root = tmp_path / "kill"
    root.mkdir()
    shutil.copy(campaign_path.parent / "base.toml", root / "base.toml")
    (root / "data").mkdir()
    # one measurement: the kill breaks the whole pool, the rebuilt pool runs it again
    shutil.copy(campaign_path.parent / "data" / "T100K.tif", root / "data" / "T100K_kill.tif")
    (root / "campaign.toml").write_text(
        "[campaign]\nanalysis = 'base.toml'\nmeasurements = ['data/*.tif']\n", encoding="utf-8"
    )
    result = run_campaign(
        root / "campaign.toml", root / "out", "processes:2", task=harness.kill_once_pipeline
    )
    rows = result.summary.set_index("measurement")
    assert list(rows["status"]) == ["ok"]
    assert rows.loc["data/T100K_kill.tif", "attempts"] == 2
    assert (root / "out" / "runs" / "T100K_kill" / harness.KILLED).exists()
    d = truth_D_cm2_s()["data/T100K.tif"]
    # the retried measurement is a complete, correct run: D within 3 errors of its truth
    assert (
        abs(rows.loc["data/T100K_kill.tif", "D_cm2_s"] - d)
        < 3 * rows.loc["data/T100K_kill.tif", "D_err_cm2_s"]
    )


def test_cli_exit_codes(campaign_path, on_processes, tmp_path, capsys):
    out = tmp_path / "cli"
    shutil.copytree(on_processes.out_dir, out)
    # complete runs are reused, the corrupt file fails again: exit 1, named on stderr
    assert main(["batch", str(campaign_path), "-o", str(out)]) == 1
    captured = capsys.readouterr()
    assert "data/T000K_corrupt.tif: load stage" in captured.err
    assert "3 reused, 1 failed" in captured.err
    assert captured.out.strip() == str(out / "summary.csv")
    proc = subprocess.run(
        [sys.executable, "-m", "fitdiff.cli", "batch", str(campaign_path), "-o", str(out), "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
