"""Priors: log-density and least-squares residual agree (r²/2 = −log p + const)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from fitdiff.errors import ConfigError
from fitdiff.fitting import LogUniform, Normal, TruncatedNormal, Uniform, prior_from_dict


@pytest.mark.parametrize(
    "prior, xs",
    [
        (Normal(1.0, 0.3), [0.2, 1.0, 1.9]),
        (TruncatedNormal(1.0, 0.3, 0.0, 2.0), [0.2, 1.0, 1.9]),
        (LogUniform(0.1, 10.0), [0.1, 1.0, 7.0]),
    ],
)
def test_residual_squared_is_minus_logpdf_plus_constant(prior, xs):
    # Definition of "priors as residuals" (module docstring): r²/2 + logpdf is constant.
    c = [0.5 * prior.residual(x) ** 2 + prior.logpdf(x) for x in xs]
    np.testing.assert_allclose(c, c[0], rtol=0, atol=1e-12)


def test_logpdfs_match_scipy():
    # Independent program: scipy.stats densities.
    assert Normal(1.0, 0.3).logpdf(1.4) == pytest.approx(
        stats.norm(1.0, 0.3).logpdf(1.4), rel=1e-12
    )
    assert Uniform(0.0, 4.0).logpdf(1.0) == pytest.approx(math.log(0.25), rel=1e-12)
    assert LogUniform(0.1, 10.0).logpdf(2.0) == pytest.approx(
        stats.loguniform(0.1, 10.0).logpdf(2.0), rel=1e-12
    )
    assert Uniform(0.0, 4.0).logpdf(5.0) == -math.inf
    assert TruncatedNormal(1.0, 0.3, 0.0, 2.0).logpdf(-0.1) == -math.inf


@pytest.mark.parametrize(
    "spec, match",
    [
        ({"kind": "cauchy"}, r"parameters\.D\.prior\.kind: 'cauchy' is not one of"),
        ({"kind": "normal", "mu": 1.0}, r"parameters\.D\.prior\.sigma: required"),
        ({"kind": "normal", "mu": 1.0, "sigma": -1.0}, r"prior\.sigma: must be > 0"),
        ({"kind": "uniform", "min": 2.0, "max": 1.0}, r"min \(2.0\) must be < max \(1.0\)"),
        (
            {"kind": "log_uniform", "min": 0.0, "max": 1.0},
            r"prior\.min: a log_uniform prior needs min > 0",
        ),
        ({"kind": "normal", "mu": 1.0, "sigma": 1.0, "width": 2}, r"prior\.width: unknown key"),
    ],
)
def test_bad_prior_specs_name_the_key(spec, match):
    with pytest.raises(ConfigError, match=match):
        prior_from_dict(spec, "parameters.D.prior")
