"""The campaign runner with stand-in tasks: isolation, executors, crashed workers, progress.

The tasks of ``batch_harness`` return the D written in each JSON "measurement", so every
expected number below is the one written by the test itself.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import batch_harness as harness
import pandas as pd
import pytest

from fitdiff.batch import load_campaign, run_campaign

TRUTH = {"m1": 1.5, "m2": 2.5, "m3_kill": 3.5, "m4": 4.5}


@pytest.fixture
def campaign_path(tmp_path: Path) -> Path:
    (tmp_path / "base.toml").write_text("[model]\nkind = 'linear'\n", encoding="utf-8")
    data = tmp_path / "data"
    data.mkdir()
    for name, d in TRUTH.items():
        (data / f"{name}.json").write_text(json.dumps({"D_cm2_s": d}), encoding="utf-8")
    (data / "m0_bad.json").write_text(json.dumps({"raise": True}), encoding="utf-8")
    path = tmp_path / "campaign.toml"
    path.write_text(
        "[campaign]\nanalysis = 'base.toml'\nmeasurements = ['data/*.json']\n", encoding="utf-8"
    )
    return path


def _check_rows(summary: pd.DataFrame) -> None:
    assert list(summary.columns[:3]) == ["measurement", "status", "error"]
    rows = summary.set_index("measurement")
    assert rows.loc["data/m0_bad.json", "status"] == "failed"
    assert rows.loc["data/m0_bad.json", "error"] == "RuntimeError: asked to raise by m0_bad.json"
    for name, d in TRUTH.items():
        assert rows.loc[f"data/{name}.json", "status"] == "ok"
        # the stand-in returns the D the fixture wrote
        assert rows.loc[f"data/{name}.json", "D_cm2_s"] == pytest.approx(d, rel=0, abs=0)


def test_local_isolates_a_failure_and_writes_summary_and_log(campaign_path, tmp_path):
    out = tmp_path / "out"
    result = run_campaign(campaign_path, out, "local", task=harness.echo_task)
    _check_rows(result.summary)
    assert (result.count("ok"), result.count("failed")) == (4, 1)
    assert not result.ok
    on_disk = pd.read_csv(out / "summary.csv", keep_default_na=False)
    assert list(on_disk["measurement"]) == list(result.summary["measurement"])
    assert list(on_disk["status"]) == ["failed", "ok", "ok", "ok", "ok"]
    # the in-process executor really ran in this process
    assert set(result.summary["pid"].dropna()) == {os.getpid()}
    text = (out / "batch.log").read_text(encoding="utf-8")
    assert "data/m0_bad.json: failed: RuntimeError: asked to raise" in text
    assert "Traceback" in text
    assert "done in" in text


def test_processes_give_the_local_rows(campaign_path, tmp_path):
    local = run_campaign(campaign_path, tmp_path / "a", "local", task=harness.echo_task)
    pool = run_campaign(campaign_path, tmp_path / "b", "processes:2", task=harness.echo_task)
    _check_rows(pool.summary)
    assert os.getpid() not in set(pool.summary["pid"].dropna())
    cols = ["measurement", "status", "error", "D_cm2_s", "attempts"]
    pd.testing.assert_frame_equal(local.summary[cols], pool.summary[cols], rtol=0, atol=0)


def test_killed_worker_is_retried_and_the_campaign_completes(campaign_path, tmp_path):
    out = tmp_path / "out"
    result = run_campaign(campaign_path, out, "processes:2", task=harness.kill_once_echo)
    _check_rows(result.summary)
    rows = result.summary.set_index("measurement")
    assert rows.loc["data/m3_kill.json", "attempts"] == 2
    assert (out / "runs" / "m3_kill" / harness.KILLED).exists()
    assert "data/m3_kill.json: worker crashed" in (out / "batch.log").read_text(encoding="utf-8")


def test_a_task_that_always_kills_its_worker_fails_after_the_retries(campaign_path, tmp_path):
    c = load_campaign(campaign_path)
    result = run_campaign(c, tmp_path / "out", "processes:2", task=harness.always_kill)
    assert set(result.summary["status"]) == {"failed"}
    # retries = 1 (the default): two attempts each, then failed
    assert set(result.summary["attempts"]) == {2}
    assert result.summary["error"].str.contains("worker crashed on each of 2 attempts").all()


def test_an_executor_instance_that_breaks_fails_its_tasks_without_looping(campaign_path, tmp_path):
    with ProcessPoolExecutor(max_workers=1) as pool:
        result = run_campaign(campaign_path, tmp_path / "out", pool, task=harness.always_kill)
    assert set(result.summary["status"]) == {"failed"}
    assert result.summary["error"].str.contains("the executor cannot be rebuilt").all()


def test_progress_bar_counts(campaign_path, tmp_path, capsys):
    run_campaign(campaign_path, tmp_path / "out", "local", task=harness.echo_task, progress=True)
    err = capsys.readouterr().err
    assert "fitdiff batch" in err
    assert "5/5" in err
    assert "failed=1" in err and "ok=4" in err


def test_dask_gives_the_process_rows(campaign_path, tmp_path, dask_address):
    pool = run_campaign(campaign_path, tmp_path / "a", "processes:2", task=harness.echo_task)
    dask = run_campaign(campaign_path, tmp_path / "b", dask_address, task=harness.echo_task)
    _check_rows(dask.summary)
    cols = ["measurement", "status", "error", "D_cm2_s", "attempts"]
    pd.testing.assert_frame_equal(pool.summary[cols], dask.summary[cols], rtol=0, atol=0)


def test_dask_worker_killed_mid_task_is_replaced(campaign_path, tmp_path, dask_address):
    # dask's nanny restarts the dead worker and the scheduler reruns the task on its own
    result = run_campaign(
        campaign_path, tmp_path / "out", dask_address, task=harness.kill_once_echo
    )
    _check_rows(result.summary)
    assert (tmp_path / "out" / "runs" / "m3_kill" / harness.KILLED).exists()


def test_unreachable_scheduler_is_a_config_error():
    import socket

    from fitdiff.batch import DaskExecutor
    from fitdiff.errors import ConfigError

    pytest.importorskip("distributed")
    # a port that was just free: nothing listens there
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConfigError, match=rf"dask://127\.0\.0\.1:{port}: cannot connect"):
        DaskExecutor(f"tcp://127.0.0.1:{port}", timeout_s=1.0)


def test_summary_sorts_by_values_numerically(tmp_path):
    # issue 12 item 14: 75 K before 100 K (as text, "100" < "75"); ties keep campaign order
    (tmp_path / "base.toml").write_text("[model]\nkind = 'linear'\n", encoding="utf-8")
    data = tmp_path / "data"
    data.mkdir()
    for T in (100, 150, 300, 75):
        (data / f"T{T}K.json").write_text(json.dumps({"D_cm2_s": T / 100}), encoding="utf-8")
    path = tmp_path / "campaign.toml"
    path.write_text(
        "[campaign]\nanalysis = 'base.toml'\nmeasurements = ['data/*.json']\n"
        "name_pattern = 'T(?P<T_K>\\d+)K'\n",
        encoding="utf-8",
    )
    result = run_campaign(path, tmp_path / "out", "local", task=harness.echo_task)
    assert list(result.summary["T_K"]) == [75, 100, 150, 300]
    on_disk = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert list(on_disk["measurement"]) == [f"data/T{T}K.json" for T in (75, 100, 150, 300)]
