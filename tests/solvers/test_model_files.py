"""Every shipped model file states its valley degeneracies and its w0 convention.

PHYSICS.md §3.5: "Valley degeneracies g enter the equilibrium weights (g M e^{−E/kT}) ... State g
explicitly in every model file", and the spot convention (w0 of the density or of the field)
changes w²(0): "Say which one is used". The model files are the MODEL.toml files of
``data/examples/models/`` and of ``analyses/`` (every TOML there with a ``[[valley]]`` table).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _model_files() -> list[Path]:
    files = sorted((ROOT / "data" / "examples" / "models").glob("*.toml"))
    files += sorted(p for p in (ROOT / "analyses").rglob("*.toml") if "[[valley]]" in p.read_text())
    return files


def test_there_are_model_files():
    # the examples' six models and the analyses' valley and Boltzmann models
    assert len(_model_files()) >= 15


@pytest.mark.parametrize("path", _model_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_model_file_states_g_and_w0_convention(path):
    text = path.read_text()
    d = tomllib.loads(text)
    for i, v in enumerate(d["valley"]):
        assert "g" in v, f"{path.name}: valley[{i}] ({v.get('name')}) does not state g"
    # the w0_um line carries a comment saying what w0 is (density or field, <r²>)
    line = re.search(r"^w0_um\s*=.*$", text, flags=re.M)
    assert line is not None, f"{path.name}: no [source] w0_um"
    assert "#" in line.group(0) and re.search(r"densit|field|<r\^2>", line.group(0)), line.group(0)
