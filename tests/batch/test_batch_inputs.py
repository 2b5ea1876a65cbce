"""A campaign rerun redoes exactly the measurements whose run inputs changed (issue 11, defect 3).

The skip decision is the pipeline's: its stage keys derive from :func:`fitdiff.inputs.run_inputs`,
which hashes every file the analysis references. Before issue 11 the campaign kept its own
completion marker keyed on the template, the measurement file and the overrides only, so a
changed covariance was served stale ("skipped", old error bar).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fitdiff.batch import load_campaign, run_campaign
from fitdiff.inputs import digest, run_inputs_of
from fitdiff.testing import write_streak

#: Rows of a write_streak image (41 time rows, all fitted by the linear model).
N_ROWS = 41


def _cov(path: Path, sigma_um2: float) -> None:
    # independent rows of equal error: the least-squares stderr scales with sigma
    # (σ_D ∝ σ for a weighted linear fit with a fixed covariance, no rescaling by χ²)
    np.save(path, sigma_um2**2 * np.eye(N_ROWS))


@pytest.fixture
def campaign_path(tmp_path: Path) -> Path:
    (tmp_path / "base.toml").write_text(
        '[data]\ncovariance = "cov.npy"\n[extract]\nmethod = "gauss"\n'
        '[model]\nkind = "linear"\n[report]\nfigures = false\n',
        encoding="utf-8",
    )
    _cov(tmp_path / "cov.npy", 0.05)
    _cov(tmp_path / "cov_m3.npy", 0.05)
    (tmp_path / "data").mkdir()
    for i, d in enumerate((2.0, 2.5, 3.0), start=1):
        write_streak(tmp_path / "data" / f"m{i}.tif", d, seed=i)
    # m3 reads its own covariance: a change of cov.npy must not redo it
    (tmp_path / "campaign.toml").write_text(
        "[campaign]\nanalysis = 'base.toml'\nmeasurements = ['data/*.tif']\n"
        f"[override.'m3.tif'.data]\ncovariance = '{(tmp_path / 'cov_m3.npy').as_posix()}'\n",
        encoding="utf-8",
    )
    return tmp_path / "campaign.toml"


def _rows(result):
    return result.summary.set_index("measurement")


@pytest.mark.slow  # five campaign runs of three tiny streaks
def test_changed_covariance_redoes_exactly_the_measurements_that_read_it(campaign_path):
    root = campaign_path.parent
    out = root / "out"
    first = _rows(run_campaign(campaign_path, out, "local"))
    assert set(first["status"]) == {"ok"}
    # batch.json beside the outputs records the digest of the measurement's run inputs
    spec = load_campaign(campaign_path).measurements[0]
    record = json.loads((out / "runs" / spec.name / "batch.json").read_text(encoding="utf-8"))
    inputs = run_inputs_of(root / "base.toml", spec.overrides)
    assert record["inputs_sha256"] == digest(inputs, "report")

    # nothing changed: nothing redone, same numbers
    again = _rows(run_campaign(campaign_path, out, "local"))
    assert set(again["status"]) == {"reused"}
    np.testing.assert_array_equal(again["D_err_cm2_s"], first["D_err_cm2_s"])

    # the same bytes written again (a new modification time): still nothing redone
    _cov(root / "cov.npy", 0.05)
    assert set(_rows(run_campaign(campaign_path, out, "local"))["status"]) == {"reused"}

    # twice the error per row: the two measurements reading cov.npy are redone
    _cov(root / "cov.npy", 0.10)
    after = _rows(run_campaign(campaign_path, out, "local"))
    assert dict(after["status"]) == {
        "data/m1.tif": "ok",
        "data/m2.tif": "ok",
        "data/m3.tif": "reused",
    }
    for m in ("data/m1.tif", "data/m2.tif"):
        # σ_D ∝ σ (comment of _cov): exactly twice the old error bar, same D
        np.testing.assert_allclose(
            after.loc[m, "D_err_cm2_s"], 2.0 * first.loc[m, "D_err_cm2_s"], rtol=1e-9, atol=0
        )
        np.testing.assert_allclose(
            after.loc[m, "D_cm2_s"], first.loc[m, "D_cm2_s"], rtol=1e-9, atol=0
        )
    assert after.loc["data/m3.tif", "D_err_cm2_s"] == first.loc["data/m3.tif", "D_err_cm2_s"]
    # what the summary says is what the run directory holds
    name = {s.measurement: s.name for s in load_campaign(campaign_path).measurements}
    stored = json.loads((out / "runs" / name["data/m1.tif"] / "results.json").read_text())
    assert stored["parameters"]["D_cm2_s"]["stderr"] == after.loc["data/m1.tif", "D_err_cm2_s"]

    # m3's own covariance changed: only m3 is redone
    _cov(root / "cov_m3.npy", 0.10)
    last = _rows(run_campaign(campaign_path, out, "local"))
    assert dict(last["status"]) == {
        "data/m1.tif": "reused",
        "data/m2.tif": "reused",
        "data/m3.tif": "ok",
    }
    np.testing.assert_allclose(
        last.loc["data/m3.tif", "D_err_cm2_s"],
        2.0 * first.loc["data/m3.tif", "D_err_cm2_s"],
        rtol=1e-9,
        atol=0,
    )
