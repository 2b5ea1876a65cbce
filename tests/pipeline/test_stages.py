"""The stage engine: content-hashed reuse, --force, failures that name the stage."""

from __future__ import annotations

import json

import pytest

from fitdiff.errors import ConfigError, FitdiffError
from fitdiff.pipeline import StageError, StageRunner, hash_settings, sha256_file


def _writer(run_dir, name, text, calls):
    """Return a stage function that writes ``text`` to ``run_dir/name`` and counts its calls."""

    def func():
        calls.append(name)
        (run_dir / name).write_text(text)
        return [name]

    return func


def test_rerun_reuses_and_force_redoes(tmp_path):
    calls = []
    runner = StageRunner(tmp_path)
    first = runner.run("extract", {"window": 7}, _writer(tmp_path, "a.txt", "one", calls))
    again = StageRunner(tmp_path).run(
        "extract", {"window": 7}, _writer(tmp_path, "a.txt", "one", calls)
    )
    forced = StageRunner(tmp_path, force=True).run(
        "extract", {"window": 7}, _writer(tmp_path, "a.txt", "one", calls)
    )
    assert (first.status, again.status, forced.status) == ("ran", "reused", "ran")
    assert calls == ["a.txt", "a.txt"]
    assert first.key == again.key == forced.key
    record = json.loads((tmp_path / "stages" / "extract.json").read_text())
    # The recorded digest is that of the file itself (hashlib over the same bytes).
    assert record["outputs"] == {"a.txt": sha256_file(tmp_path / "a.txt")}


def test_changed_settings_or_edited_output_rerun(tmp_path):
    calls = []
    StageRunner(tmp_path).run("fit", {"steps": 10}, _writer(tmp_path, "r.json", "{}", calls))
    changed = StageRunner(tmp_path).run(
        "fit", {"steps": 20}, _writer(tmp_path, "r.json", "{}", calls)
    )
    (tmp_path / "r.json").write_text("edited by hand")
    edited = StageRunner(tmp_path).run(
        "fit", {"steps": 20}, _writer(tmp_path, "r.json", "{}", calls)
    )
    assert (changed.status, edited.status) == ("ran", "ran")
    assert len(calls) == 3


def test_force_by_stage_name(tmp_path):
    calls = []
    StageRunner(tmp_path).run("load", {}, _writer(tmp_path, "l", "x", calls))
    StageRunner(tmp_path).run("fit", {}, _writer(tmp_path, "f", "x", calls))
    runner = StageRunner(tmp_path, force={"fit"})
    assert runner.run("load", {}, _writer(tmp_path, "l", "x", calls)).status == "reused"
    assert runner.run("fit", {}, _writer(tmp_path, "f", "x", calls)).status == "ran"


def test_failure_names_stage_and_keeps_finished_stages(tmp_path):
    calls = []
    StageRunner(tmp_path).run("load", {}, _writer(tmp_path, "m.json", "ok", calls))
    StageRunner(tmp_path).run("fit", {"a": 1}, _writer(tmp_path, "r.json", "old", calls))

    def broken():
        (tmp_path / "r.json").write_text("half")
        raise ConfigError("parameters.D_cm2_s.min must be < max (got 2 >= 1)")

    with pytest.raises(StageError, match=r"^fit stage: parameters\.D_cm2_s\.min") as info:
        StageRunner(tmp_path).run("fit", {"a": 2}, broken)
    assert info.value.stage == "fit"
    assert isinstance(info.value, ValueError)  # bad input stays a ValueError
    assert isinstance(info.value.__cause__, ConfigError)
    assert (tmp_path / "stages" / "load.json").is_file()
    assert not (tmp_path / "stages" / "fit.json").exists()
    # The finished load stage is reused; the failed fit stage is redone.
    runner = StageRunner(tmp_path)
    assert runner.run("load", {}, _writer(tmp_path, "m.json", "ok", calls)).status == "reused"
    assert runner.run("fit", {"a": 2}, _writer(tmp_path, "r.json", "new", calls)).status == "ran"


def test_internal_errors_are_not_wrapped(tmp_path):
    def buggy():
        raise ZeroDivisionError("a bug")

    with pytest.raises(ZeroDivisionError) as info:
        StageRunner(tmp_path).run("transient", {}, buggy)
    assert not isinstance(info.value, FitdiffError)
    assert "transient stage" in "".join(getattr(info.value, "__notes__", []))


def test_hash_settings_is_order_independent():
    # Canonical JSON with sorted keys: the same mapping in another order has the same hash.
    assert hash_settings({"a": 1, "b": [1.5, None]}) == hash_settings({"b": [1.5, None], "a": 1})
    assert hash_settings({"a": 1}) != hash_settings({"a": 2})
