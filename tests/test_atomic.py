"""Atomic writes leave either the old file or the complete new one."""

import json

import numpy as np
import pytest

from fitdiff import atomic


def test_write_json_replaces_and_cleans(tmp_path):
    target = tmp_path / "out.json"
    atomic.write_json(target, {"a": np.float64(1.5), "b": float("nan"), "c": np.arange(2)})
    assert json.loads(target.read_text()) == {"a": 1.5, "b": None, "c": [0, 1]}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_failure_keeps_old_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("writer died")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
