"""Image-level fits: the camera likelihood in the one Objective, and honest D from the image.

Statistical windows: with n datasets the SE of a mean pull is 1/sqrt(n) and of a pull SD
~1/sqrt(2n); the bounds below are >= 3 SE wide (fixed seeds). The full study (200 datasets per
CNR, both simulators) is benchmarks/bench_honest_d.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from fitdiff.extract.noise import NoiseModel, resolve_noise
from fitdiff.fitting import (
    BallisticModel,
    LinearModel,
    Objective,
    least_squares,
    make_parameters,
)
from fitdiff.fitting.forecast import Experiment, image_bound
from fitdiff.fitting.image import _KERNELS, ImageData, ImageModel
from fitdiff.testing import dice_streak, poisson_streak


def _objective(m, inner=None, likelihood="auto"):
    nm = resolve_noise(None, m.meta)
    data = ImageData.from_arrays(
        m.coords["t"], {"x": m.coords["x"]}, m.counts, nm, likelihood=likelihood
    )
    model = ImageModel(inner or LinearModel())
    params = make_parameters(model, w0_2_um2=0.3, D_cm2_s=0.0, x0_um=0.0)
    params["w0_2_um2"].min = 1e-6
    return Objective(model, data, params)


@pytest.mark.parametrize("maker", [dice_streak, poisson_streak])
def test_loglike_is_the_camera_likelihood(maker):
    # independent program: scipy.stats' Poisson pmf / normal pdf summed over pixels at the
    # model image (A, c profiled) — the objective must equal it exactly, and ½ Σ residuals²
    # must equal −log-likelihood up to a constant (PHYSICS.md §4, DESIGN "one objective")
    obj = _objective(maker(20, 3))
    d = obj.terms[0].data
    consts = []
    for theta in ([0.36, 0.1, 0.0], [0.30, 0.3, 0.05]):
        vals = obj.values(theta)
        mu = obj.terms[0].model.predict(vals, d)
        if d.likelihood == "poisson":
            ref = stats.poisson.logpmf(d.y, mu).sum()
        else:
            ref = stats.norm.logpdf(d.y, mu, np.sqrt(d.noise.variance(mu))).sum()
        assert obj.loglike(theta) == pytest.approx(ref, rel=1e-10)
        consts.append(0.5 * np.sum(obj.residuals(np.array(theta)) ** 2) + obj.loglike(theta))
    assert consts[0] == pytest.approx(consts[1], rel=1e-9, abs=1e-6)


def test_gaussian_model_variance_enters_the_likelihood():
    # analog camera: v = gain·mu + read²; the −½ Σ ln v term rides as one extra residual
    rng = np.random.default_rng(1)
    m = poisson_streak(20, 2)
    m.meta["noise"] = {"gain": 2.0, "read_noise": 3.0}
    m.counts = 2.0 * m.counts + rng.normal(0, 3.0, m.counts.shape)
    obj = _objective(m)
    d = obj.terms[0].data
    assert d.likelihood == "gaussian"
    theta = [0.36, 0.1, 0.0]
    mu = obj.terms[0].model.predict(obj.values(theta), d)
    ref = stats.norm.logpdf(d.y, mu, np.sqrt(2.0 * mu + 9.0)).sum()
    assert obj.loglike(theta) == pytest.approx(ref, rel=1e-10)
    assert obj.residuals(np.array(theta)).size == d.y.size + 1


def test_poisson_refused_for_analog_camera():
    with pytest.raises(Exception, match="likelihood = 'poisson' needs a photon-counting"):
        ImageData.from_arrays(
            np.arange(3.0),
            {"x": np.arange(8.0)},
            np.ones((3, 8)),
            NoiseModel(1, 5),
            likelihood="poisson",
        )


def test_compiled_and_numpy_paths_agree():
    obj = _objective(poisson_streak(20, 4))
    theta = np.array([0.33, 0.2, 0.02])
    r1 = obj.residuals(theta)
    saved = list(_KERNELS)
    _KERNELS[:] = [None]
    try:
        r2 = obj.residuals(theta)
    finally:
        _KERNELS[:] = saved
    np.testing.assert_allclose(r1, r2, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("maker", [poisson_streak, dice_streak])
def test_image_level_d_is_honest_at_cnr_20(maker):
    # issue "honest D": pull SD 0.85–1.2, scatter near the Cramér–Rao bound. 50 datasets: SE of
    # the mean pull 0.14 (window ±0.45), of the pull SD 0.10 (window 0.7–1.3), of the scatter
    # ratio 10 % (window 0.75–1.3).
    pulls, est = [], []
    for seed in range(50):
        m = maker(20, 900 + seed)
        res = least_squares(_objective(m))
        p = res.params["D_cm2_s"]
        pulls.append((p.value - 0.1) / p.stderr)
        est.append(p.value)
    tr = m.meta["truth"]
    nm = resolve_noise(None, m.meta)
    exp = Experiment(
        0.1,
        tr["w0_um"],
        1000.0,
        tr["peak"],
        tr.get("background", 0.0),
        nm,
        m.coords["x"],
        m.coords["t"],
    )
    bound = image_bound(exp)["sigma_D_cm2_s"]
    assert abs(np.mean(pulls)) < 0.45
    assert 0.7 <= np.std(pulls, ddof=1) <= 1.3
    assert 0.75 <= np.std(est, ddof=1) / bound <= 1.3


def test_other_width_models_fit_the_image():
    # the image level takes any w²(t) model; ballistic with τ → 0 is Fickian (PHYSICS.md §3.2)
    m = poisson_streak(50, 8)
    obj = _objective(m, BallisticModel())
    obj.parameters["tau_ps"].set(value=1.0, vary=False)
    obj = Objective(obj.terms[0].model, obj.terms[0].data, obj.parameters)
    res = least_squares(obj)
    assert res.params["D_cm2_s"].value == pytest.approx(0.1, abs=4 * res.params["D_cm2_s"].stderr)


def test_image_model_rejects_non_width_models():
    from fitdiff.fitting import DiffusivityModel

    with pytest.raises(Exception, match="needs a model of w²"):
        ImageModel(DiffusivityModel())


def test_bound_scales_with_white_noise():
    # white noise: the Fisher information scales as 1/σ², so σ_D ∝ 1/CNR exactly
    x, t = np.linspace(-2.5, 2.5, 100), np.linspace(0, 1000, 10)
    a = image_bound(Experiment(0.1, 0.6, 1000, 1000, 0, NoiseModel(0, 50), x, t))
    b = image_bound(Experiment(0.1, 0.6, 1000, 1000, 0, NoiseModel(0, 5), x, t))
    assert a["sigma_D_cm2_s"] / b["sigma_D_cm2_s"] == pytest.approx(10.0, rel=1e-9)
    assert math.isfinite(a["sigma_w0_um"])
