"""One objective, two engines: residuals, log-likelihood and log-posterior agree (PHYSICS.md §4)."""

from __future__ import annotations

import math

import lmfit
import numpy as np
import pytest
from scipy import optimize, stats

from fitdiff.errors import FitError
from fitdiff.fitting import (
    GlobalObjective,
    LinearModel,
    Normal,
    Objective,
    WidthsData,
    least_squares,
    make_parameters,
)
from fitdiff.testing import linear_widths


def _objective(seed=0, priors=None, ln_f=False, cov=None, **kw):
    df = linear_widths(seed, **kw)
    data = WidthsData.from_frame(df, cov=cov)
    model = LinearModel()
    params = make_parameters(model, D_cm2_s=1.0)
    if ln_f:
        params.add("ln_f", value=-2.0, min=-10.0, max=1.0)
    return Objective(model, data, params, priors, ln_f="ln_f" if ln_f else None)


THETAS = [np.array([1.0, 1.5]), np.array([0.9, 1.2]), np.array([1.2, 2.5])]


@pytest.mark.parametrize("ln_f", [False, True])
def test_half_sum_of_squares_is_minus_logpost_plus_constant(ln_f):
    # PHYSICS.md §4 / module docstring: ½ Σ r² = −log-posterior + const for every theta.
    obj = _objective(priors={"D_cm2_s": Normal(1.4, 0.2)}, ln_f=ln_f)
    thetas = [np.append(t, -1.5) for t in THETAS] if ln_f else THETAS
    c = [0.5 * np.sum(obj.residuals(t) ** 2) + obj.logpost(t) for t in thetas]
    np.testing.assert_allclose(c, c[0], rtol=0, atol=1e-9)


def test_loglike_matches_scipy_normal_and_multivariate_normal():
    # Independent program: scipy.stats.norm / multivariate_normal log-densities.
    obj = _objective()
    d = obj.terms[0].data
    theta = THETAS[1]
    model = theta[0] + 4 * theta[1] * 1e-4 * d.x
    expect = np.sum(stats.norm(model, d.y_err).logpdf(d.y))
    assert obj.loglike(theta) == pytest.approx(expect, rel=1e-12)

    n = len(d)
    idx = np.arange(n)
    cov = 0.02**2 * (0.5 ** np.abs(idx[:, None] - idx[None, :]))  # AR(1) correlated w² points
    obj_c = _objective(cov=cov)
    expect_c = stats.multivariate_normal(model, cov).logpdf(obj_c.terms[0].data.y)
    assert obj_c.loglike(theta) == pytest.approx(expect_c, rel=1e-10)
    c = [0.5 * np.sum(obj_c.residuals(t) ** 2) + obj_c.loglike(t) for t in THETAS]
    np.testing.assert_allclose(c, c[0], rtol=0, atol=1e-9)


def test_noise_inflation_matches_emcee_docs_likelihood():
    # emcee "fitting a model to data" tutorial: s² = σ² + f² model², ln L = −½ Σ[r²/s² + ln(2π s²)].
    obj = _objective(ln_f=True)
    d = obj.terms[0].data
    theta = np.array([1.0, 1.5, -1.0])
    m = 1.0 + 4 * 1.5e-4 * d.x
    s2 = d.y_err**2 + math.exp(-2.0) * m**2
    expect = -0.5 * np.sum((d.y - m) ** 2 / s2 + np.log(2 * np.pi * s2))
    assert obj.loglike(theta) == pytest.approx(expect, rel=1e-12)


def test_normal_prior_moves_least_squares_exactly_as_the_posterior_mode():
    # Linear Gaussian model: the posterior mode solves (AᵀWA + P) θ = AᵀWy + P μ (normal
    # equations with a Gaussian prior, an analytic result); lmfit with prior residuals and
    # scipy.optimize.minimize of −logpost must both land on it.
    prior = Normal(1.2, 0.05)
    obj = _objective(priors={"D_cm2_s": prior})
    d = obj.terms[0].data
    A = np.column_stack([np.ones_like(d.x), 4e-4 * d.x])
    W = np.diag(1 / d.y_err**2)
    P = np.diag([0.0, 1 / prior.sigma**2])
    mode = np.linalg.solve(A.T @ W @ A + P, A.T @ W @ d.y + P @ np.array([0.0, prior.mu]))

    fit = least_squares(obj)
    np.testing.assert_allclose(fit.theta, mode, rtol=1e-6, atol=0)
    opt = optimize.minimize(
        lambda t: -obj.logpost(t),
        fit.theta + [0.01, 0.02],
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000},
    )
    np.testing.assert_allclose(opt.x, mode, rtol=1e-5, atol=0)
    # Without the prior the optimum is elsewhere (the prior really moved it).
    free = least_squares(_objective())
    assert abs(free.theta[1] - mode[1]) > 3 * fit.stderr("D_cm2_s")
    # The stderr is the posterior's: sqrt of the diagonal of (AᵀWA + P)⁻¹.
    np.testing.assert_allclose(
        [fit.stderr(n) for n in fit.names],
        np.sqrt(np.diag(np.linalg.inv(A.T @ W @ A + P))),
        rtol=1e-4,
    )


def test_least_squares_matches_curve_fit():
    # Independent program: scipy.optimize.curve_fit with absolute_sigma=True.
    obj = _objective(seed=5)
    d = obj.terms[0].data
    popt, pcov = optimize.curve_fit(
        lambda t, a, D: a + 4e-4 * D * t, d.x, d.y, p0=[1, 1], sigma=d.y_err, absolute_sigma=True
    )
    fit = least_squares(obj)
    np.testing.assert_allclose(fit.theta, popt, rtol=1e-6)
    np.testing.assert_allclose(
        [fit.stderr(n) for n in fit.names], np.sqrt(np.diag(pcov)), rtol=1e-4
    )
    # AIC = −2 ln L + 2k (known errors), BIC = −2 ln L + k ln N.
    assert fit.aic == pytest.approx(-2 * obj.loglike(fit.theta) + 4, rel=1e-12)
    assert fit.bic == pytest.approx(-2 * obj.loglike(fit.theta) + 2 * math.log(30), rel=1e-12)
    assert fit.success


def test_bound_warning_and_logprior_outside_bounds():
    obj = _objective()
    obj.parameters["D_cm2_s"].set(max=1.0)  # truth 1.5 lies above: the fit hits the bound
    obj = Objective(obj.terms[0].model, obj.terms[0].data, obj.parameters)
    fit = least_squares(obj)
    assert fit.at_bound == ["D_cm2_s"]
    assert any("sits on its bound" in w for w in fit.warnings)
    assert obj.logpost(np.array([1.0, 1.1])) == -math.inf


def test_global_objective_shares_D_and_keeps_w0_per_dataset():
    # A fluence series sharing D (issue 6): two datasets with different w0², one D = 1.5.
    objs = []
    for seed, w0 in [(1, 0.8), (2, 1.3)]:
        df = linear_widths(seed, w0_2_um2=w0)
        model = LinearModel()
        objs.append(
            Objective(
                model,
                WidthsData.from_frame(df, label=f"f{seed}"),
                make_parameters(model, w0_2_um2=1.0),
            )
        )
    g = GlobalObjective(objs, shared=["D_cm2_s"])
    assert g.names == ["w0_2_um2__f1", "D_cm2_s", "w0_2_um2__f2"]
    fit = least_squares(g)
    # 3σ criterion for the truth (the generating values above).
    for name, truth in [("D_cm2_s", 1.5), ("w0_2_um2__f1", 0.8), ("w0_2_um2__f2", 1.3)]:
        assert abs(fit.params[name].value - truth) < 3 * fit.stderr(name)
    # Σ of the single objectives' log-likelihoods equals the global one (same data, same theta).
    theta = fit.theta
    v = g.values(theta)
    single = sum(
        o.loglike(np.array([v[f"w0_2_um2__f{k}"], v["D_cm2_s"]]))
        for k, o in zip((1, 2), objs, strict=True)
    )
    assert g.loglike(theta) == pytest.approx(single, rel=1e-12)


def test_expression_ties_parameters():
    model = LinearModel()
    df = linear_widths(3)
    params = make_parameters(model)
    params.add("D_half", value=0.7, min=0)
    params["D_cm2_s"].set(expr="2 * D_half")
    obj = Objective(model, WidthsData.from_frame(df), params)
    assert obj.names == ["w0_2_um2", "D_half"]
    fit = least_squares(obj)
    assert fit.params["D_cm2_s"].value == pytest.approx(2 * fit.params["D_half"].value, rel=1e-12)
    assert abs(fit.params["D_half"].value - 0.75) < 3 * fit.stderr("D_half")  # truth 1.5 / 2


def test_prior_on_fixed_parameter_is_refused():
    model = LinearModel()
    params = make_parameters(model)
    params["D_cm2_s"].set(vary=False)
    with pytest.raises(FitError, match=r"prior on 'D_cm2_s': only free parameters"):
        Objective(model, WidthsData.from_frame(linear_widths(0)), params, {"D_cm2_s": Normal(1, 1)})


def test_missing_parameter_is_named():
    model = LinearModel()
    with pytest.raises(FitError, match=r"parameters \['D_cm2_s'\] needed by model 'linear'"):
        p = lmfit.Parameters()
        p.add("w0_2_um2", value=1.0)
        Objective(model, WidthsData.from_frame(linear_widths(0)), p)


def _expr_objective():
    """Linear model with D_cm2_s tied to a free D_half by an expression."""
    model = LinearModel()
    params = make_parameters(model)
    params.add("D_half", value=0.7, min=0.0, max=10.0)
    params["D_cm2_s"].set(expr="2 * D_half")
    return Objective(model, WidthsData.from_frame(linear_widths(3)), params)


def test_logpost_with_an_expression_is_the_same_in_a_thread_pool_as_serial():
    # Regression: values() used to write theta into the shared lmfit record, so threads saw
    # each other's values (176 of 4000 log-posteriors differed). Every value must equal the
    # serial one exactly (same code, same floats).
    import sys
    from concurrent.futures import ThreadPoolExecutor

    obj = _expr_objective()
    rng = np.random.default_rng(5)
    thetas = np.column_stack([rng.uniform(0.9, 1.1, 2000), rng.uniform(0.5, 1.0, 2000)])
    serial = [obj.logpost(th) for th in thetas]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up
    try:
        with ThreadPoolExecutor(4) as pool:
            threaded = list(pool.map(obj.logpost, thetas))
    finally:
        sys.setswitchinterval(old)
    np.testing.assert_array_equal(np.array(threaded), np.array(serial))


def test_fingerprint_holds_the_expression_text_not_its_current_value():
    # Regression: the fingerprint held the expression parameter's current value, which every
    # evaluation changed, so a chain with an expr parameter never resumed.
    obj = _expr_objective()
    before = obj.fingerprint()
    obj.logpost(np.array([1.0, 0.9]))
    obj.residuals(np.array([1.1, 0.4]))
    assert obj.fingerprint() == before
    other = _expr_objective()
    other.parameters["D_cm2_s"].set(expr="3 * D_half")
    assert other.fingerprint() != before
