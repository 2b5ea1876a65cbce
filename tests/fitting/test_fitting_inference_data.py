"""RUN/posterior.nc: ArviZ InferenceData from fitdiff sample, and the diagnostics beside τ_int."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from scipy import stats

from fitdiff.cli import main
from fitdiff.testing import write_linear_analysis


def _arviz():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # ArviZ 0.2x announces its 1.0
        import arviz

    return arviz


@pytest.fixture(scope="module")
def sampled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("idata")
    toml = write_linear_analysis(tmp / "a", steps=400, walkers=8)
    run = tmp / "run"
    assert main(["sample", str(toml), "-o", str(run), "-q"]) == 0
    return run


def test_posterior_nc_has_the_groups_and_posterior_json_medians(sampled):
    az = _arviz()
    idata = az.from_netcdf(sampled / "posterior.nc")
    assert {"posterior", "sample_stats", "observed_data", "posterior_predictive"} <= set(
        idata.groups()
    )
    doc = json.loads((sampled / "posterior.json").read_text())
    for name, row in doc["parameters"].items():
        # the same samples (after burn and thin): medians agree to rounding
        assert float(idata.posterior[name].median()) == pytest.approx(
            row["median"], rel=1e-12, abs=1e-15
        )
    # 8 walkers × (400 − 50 burn) draws; lp is the log-posterior of each
    assert idata.posterior.sizes["chain"] == 8 and idata.posterior.sizes["draw"] == 350
    assert idata.sample_stats["lp"].shape == (8, 350)
    # observed data: the widths table that was fitted (fitting_sim.linear_widths, 30 points)
    assert idata.observed_data["data"].shape == (30,)
    pp = idata.posterior_predictive["data"]
    assert pp.sizes["chain"] == 8 and pp.shape[-1] == 30


def test_posterior_json_has_arviz_diagnostics_and_prior_width_ratio(sampled):
    az = _arviz()
    doc = json.loads((sampled / "posterior.json").read_text())
    idata = az.from_netcdf(sampled / "posterior.nc")
    D = doc["parameters"]["D_cm2_s"]
    # ArviZ itself on the stored posterior gives the same R-hat and ESS
    assert D["rhat"] == pytest.approx(float(az.rhat(idata)["D_cm2_s"]), rel=1e-9)
    assert D["ess_bulk"] == pytest.approx(float(az.ess(idata)["D_cm2_s"]), rel=1e-9)
    assert D["ess_tail"] == pytest.approx(float(az.ess(idata, method="tail")["D_cm2_s"]), rel=1e-9)
    assert D["tau_int"] > 0
    # D has a uniform prior on [0, 20]: its central 68.27 % spans 0.6827 × 20 (fitdiff.fitting.
    # quality); the posterior's p84 − p16 over it; the data pin D to ~0.06 cm²/s
    prior_68 = (stats.norm.cdf(1) - stats.norm.cdf(-1)) * 20.0
    lo, hi = np.percentile(idata.posterior["D_cm2_s"].values, 100 * stats.norm.cdf([-1, 1]))
    assert D["prior_width_ratio"] == pytest.approx((hi - lo) / prior_68, rel=1e-9)
    assert D["prior_width_ratio"] < 0.05
    # w0_2_um2 has no prior and the model's bounds [0, inf): improper, so no ratio
    assert doc["parameters"]["w0_2_um2"]["prior_width_ratio"] is None
