"""A campaign of anisotropic stacks fitted with ``[model] kind = "tensor"`` through the pipeline.

Each stack is rendered by fitdiff's simulator from a single valley with a tensor D (the truth);
the per-measurement summary must carry the tensor and its derived principal values.
"""

from __future__ import annotations

import pytest

from fitdiff.batch import run_campaign
from fitdiff.fitting.tensor import principal
from fitdiff.io import save
from fitdiff.solvers import ValleyModel, render_stack

pytestmark = pytest.mark.slow

TRUE = {"A.tif": (3.0, 1.0, 1.0), "B.tif": (1.0, 2.5, -0.6)}

BASE = """
[extract]
t0_ps = 0.0
[model]
kind = "tensor"
[parameters.sigma2_0_xx_um2]
value = 0.4
[parameters.sigma2_0_yy_um2]
value = 0.4
[report]
figures = false
"""

CAMPAIGN = """
[campaign]
analysis = "base.toml"
measurements = ["data/*.tif"]
"""


def _stack(D, seed):
    return render_stack(
        ValleyModel.from_dict(
            {
                "T_K": 300.0,
                "valley": [{"name": "X", "D_cm2_s": list(D), "radiative_rate_per_ps": 0.01}],
                "source": {"valley": "X", "w0_um": 0.8, "t0_ps": 0.0},
                "time": {"t_ps": [0.0, 400.0, 9]},
                "render": {
                    "kind": "stack",
                    "x_um": [-5.0, 5.0, 41],
                    "peak_counts": 3000.0,
                    "background": 2.0,
                    "noise": "poisson",
                    "seed": seed,
                },
            }
        )
    )


def test_tensor_campaign_recovers_each_tensor(tmp_path):
    (tmp_path / "data").mkdir()
    for seed, (name, D) in enumerate(TRUE.items()):
        save(_stack(D, seed), tmp_path / "data" / name)
    (tmp_path / "base.toml").write_text(BASE, encoding="utf-8")
    (tmp_path / "campaign.toml").write_text(CAMPAIGN, encoding="utf-8")
    result = run_campaign(tmp_path / "campaign.toml", tmp_path / "out", "local")
    summary = result.summary.set_index("measurement")
    assert (summary["status"] == "ok").all(), summary["error"].tolist()
    for name, D in TRUE.items():
        row = summary.loc[next(m for m in summary.index if m.endswith(name))]
        for comp, true in zip(("Dxx", "Dyy", "Dxy"), D, strict=True):
            value, err = row[f"{comp}_cm2_s"], row[f"{comp}_err_cm2_s"]
            assert abs(value - true) < 3 * err, (name, comp, value, err)
        major = principal(*D)[0]
        assert abs(row["D_major_cm2_s"] - major) < 3 * row["D_major_err_cm2_s"]
