"""Helpers of the pipeline tests: example paths, truths, and a small analysis file writer."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "data" / "examples"

#: A small analysis of the quick-start kind: short chain so a full run takes a few seconds.
ANALYSIS = """\
[data]
file = "{file}"

[extract]
t_range_ps = [40.0, 900.0]
bin_t = 2

[transient]
window = 9

[model]
kind = "linear"

[parameters.D_cm2_s]
value = 1.0
min = 0.0
max = 20.0

[parameters.w0_2_um2]
value = 0.5
min = 0.0
max = 5.0

[fit]
t_range_ps = [40.0, 900.0]
{sample}
[report]
title = "pipeline test"
"""

SAMPLE = """
[sample]
walkers = 8
steps = 300
burn = 100
seed = {seed}

[evidence]
n_live = 50
bound = "single"
seed = 5
"""


def write_analysis(
    folder: Path,
    *,
    file: str = "streak.img",
    sample_seed: int | None = 11,
    name: str = "analysis.toml",
) -> Path:
    """Write an analysis file into ``folder``; ``sample_seed=None`` leaves out ``[sample]`` and ``[evidence]``."""
    sample = "" if sample_seed is None else SAMPLE.format(seed=sample_seed)
    path = folder / name
    path.write_text(ANALYSIS.format(file=file, sample=sample), encoding="utf-8")
    return path


def example_truth(name: str) -> dict:
    """The truth record of an example file (data/examples/truth.json)."""
    truth = json.loads((EXAMPLES / "truth.json").read_text())
    return next(s for s in truth["series"] if s["file"] == name)
