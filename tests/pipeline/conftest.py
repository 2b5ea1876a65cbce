"""Fixtures of the pipeline tests: an analysis on a private copy of one example streak file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pipeline_harness import EXAMPLES, write_analysis


@pytest.fixture
def project(tmp_path) -> Path:
    """A folder with a private copy of ``streak_100K.img`` (as ``streak.img``) and an analysis."""
    shutil.copy(EXAMPLES / "streak_100K.img", tmp_path / "streak.img")
    write_analysis(tmp_path)
    return tmp_path
