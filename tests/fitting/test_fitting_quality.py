"""Fit-quality verdicts (issue 12 item 5): χ² p-value, posterior ≈ prior, parameters at a bound."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fitdiff.fitting import (
    LinearModel,
    Normal,
    Objective,
    WidthsData,
    least_squares,
    make_parameters,
)
from fitdiff.fitting.quality import (
    PRIOR_WIDTH_RATIO_MAX,
    chi2_warning,
    prior_interval,
    prior_width_ratios,
)
from fitdiff.fitting.sampling import sample
from fitdiff.testing import linear_widths


def test_chi2_p_value_threshold_two_dof():
    # For 2 degrees of freedom the χ² survival function is exp(−χ²/2) (closed form), so
    # p = 1e-3 at χ² = 2 ln 1000 = 13.8155.
    edge = 2 * math.log(1000)
    assert chi2_warning(edge + 0.2, ndata=3, nvarys=1) is not None
    assert chi2_warning(edge - 0.2, ndata=3, nvarys=1) is None
    text = chi2_warning(86 * 233.0, ndata=88, nvarys=2)
    assert "reduced χ² = 233" in text and "86 degrees of freedom" in text
    # too small: χ²/ν = 0.2 over 86 dof has cdf far below 1e-3 (scipy.stats.chi2.cdf ~ 1e-22)
    assert "too large" in chi2_warning(0.2 * 86, ndata=88, nvarys=2)
    assert chi2_warning(86.0, ndata=88, nvarys=2) is None


def test_prior_intervals():
    # uniform on [0, 10]: 15.87 % and 84.13 % quantiles are 1.587 and 8.413
    lo, hi = prior_interval(None, 0.0, 10.0)
    assert (lo, hi) == pytest.approx((1.5865525, 8.4134475), abs=1e-6)
    # a normal prior inside wide bounds: mu ± sigma (Φ(±1))
    lo, hi = prior_interval(Normal(mu=2.0, sigma=0.5), -100.0, 100.0)
    assert (lo, hi) == pytest.approx((1.5, 2.5), abs=1e-9)
    # no prior and no bounds: improper, infinite width
    assert prior_interval(None, -math.inf, math.inf) == (-math.inf, math.inf)


def test_ratio_is_one_for_prior_samples_and_small_for_data_dominated():
    rng = np.random.default_rng(5)
    samples = np.column_stack([rng.uniform(0, 10, 200_000), rng.normal(5.0, 0.05, 200_000)])
    ratios = prior_width_ratios(samples, ["a", "b"], {}, np.array([0, 0.0]), np.array([10, 10.0]))
    # prior samples: posterior interval = prior interval (sampling error ~0.3 % at 2e5 draws)
    assert ratios["a"] == pytest.approx(1.0, abs=0.01)
    # N(5, 0.05) in a uniform [0, 10] prior: 2·0.05 / (0.6827·10) = 0.01465
    assert ratios["b"] == pytest.approx(0.1 / (0.682689492 * 10), rel=0.02)


def test_fit_and_posterior_carry_the_warnings():
    # Error bars 10x too small: χ²/ν ≈ 100 -> a χ² warning. w0² gets a prior far narrower
    # than the data constrain it (prior-dominated: ratio ≈ 1); D a wide range the data narrow
    # (data-dominated: ratio << 1).
    df = linear_widths(7, err_um2=0.02)
    df["w2_err_um2"] = 0.002
    model = LinearModel()
    params = make_parameters(model, D_cm2_s=1.0)
    params["D_cm2_s"].set(min=0.0, max=100.0)
    params["w0_2_um2"].set(min=0.0, max=5.0)
    priors = {"w0_2_um2": Normal(mu=1.0, sigma=1e-4)}
    obj = Objective(model, WidthsData.from_frame(df), params, priors)
    fit = least_squares(obj)
    assert any("reduced χ²" in w for w in fit.warnings)
    assert fit.to_dict()["warnings"] == fit.warnings
    post = sample(obj, backend_path=None, walkers=8, steps=600, burn=200, seed=1, start=fit)
    record = post.to_dict()
    ratios = {n: record["parameters"][n]["prior_width_ratio"] for n in ("D_cm2_s", "w0_2_um2")}
    assert ratios["D_cm2_s"] < 0.05
    assert ratios["w0_2_um2"] >= PRIOR_WIDTH_RATIO_MAX
    assert any(w.startswith("w0_2_um2: posterior ≈ prior") for w in record["warnings"])
    assert not any(w.startswith("D_cm2_s:") for w in record["warnings"])
