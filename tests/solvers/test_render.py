"""Rendering: synthetic streaks and stacks carry the model's PL width."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fitdiff.errors import ModelError
from fitdiff.solvers import render_stack, render_streak, solve_moments

T = np.linspace(0.0, 150.0, 31)
X = np.linspace(-6.0, 6.0, 121)


def _instrumented(model):
    return model.with_parameters(irf_fwhm_ps=3.0, w_psf_um=0.3)


def test_noise_free_streak_second_moment_is_the_model_width(model3):
    m = _instrumented(model3)
    st = dataclasses.replace(m.render, noise="none", background=0.0)
    meas = render_streak(m, T, X, settings=st)
    assert meas.dims == ("t", "x") and meas.units == {"t": "ps", "x": "um"}
    img = meas.counts.astype(float)
    var = (img * X**2).sum(axis=1) / img.sum(axis=1) - (
        (img * X).sum(axis=1) / img.sum(axis=1)
    ) ** 2
    # wide slit: the projection's variance is exactly w²/2 for any radial profile (PHYSICS.md §1)
    expected = solve_moments(m, T).w2_pl_um2
    np.testing.assert_allclose(2 * var[1:], expected[1:], rtol=1e-4, atol=0)


@pytest.mark.slow
def test_rendered_streak_through_extract_returns_the_model_width(model3):
    extract = pytest.importorskip("fitdiff.extract")
    # at 300 K the bright valley keeps a few per cent of the excitons, so every frame has
    # signal (at 77 K the PL falls 1e4-fold and late frames are empty)
    m = _instrumented(model3).with_parameters(T_K=300.0)
    st = dataclasses.replace(m.render, noise="poisson", peak_counts=3000.0, background=5.0, seed=7)
    meas = render_streak(m, T, X, settings=st)
    df = extract.extract_widths(meas)
    ok = df["ok"].to_numpy(bool) & (df["t_ps"].to_numpy() > 4.0)
    assert ok.sum() >= 25
    model_w2 = solve_moments(m, df["t_ps"].to_numpy()).w2_pl_um2
    pull = (df["w2_um2"].to_numpy() - model_w2)[ok] / df["w2_err_um2"].to_numpy()[ok]
    # Poisson errors dominate the Gaussian-fit bias of the valley mixture (< 3e-4 relative,
    # seen noise-free), so the pulls are standard normal: χ²/N near 1 and no outliers
    assert np.mean(pull**2) < 2.0
    assert np.max(np.abs(pull)) < 4.0


def test_noise_is_seeded(model2):
    a = render_streak(model2, T, X, seed=3)
    b = render_streak(model2, T, X, seed=3)
    c = render_streak(model2, T, X, seed=4)
    np.testing.assert_array_equal(a.counts, b.counts)
    assert not np.array_equal(a.counts, c.counts)
    assert a.counts.dtype == np.uint16


def test_narrow_slit_is_the_cut(model2):
    st = dataclasses.replace(model2.render, noise="none", background=0.0)
    wide = render_streak(model2, T, X, slit_um=np.inf, settings=st)
    cut = render_streak(model2, T, X, slit_um=0.0, settings=st)
    slim = render_streak(model2, T, X, slit_um=0.05, settings=st)
    # a 50 nm slit is the cut to within the profile's curvature across it (relative 1e-3)
    np.testing.assert_allclose(slim.counts, cut.counts, rtol=0, atol=1e-3 * 1000.0)

    # for the two-valley mixture the cut weights narrow components more (PHYSICS.md §1)
    def var(img):
        img = img.astype(float)
        return (img * X**2).sum(axis=1) / img.sum(axis=1)

    assert var(cut.counts)[-1] < var(wide.counts)[-1]


def test_stack_carries_the_model_width(model3):
    m = _instrumented(model3)
    st = dataclasses.replace(m.render, noise="none", background=0.0)
    x = np.linspace(-5.0, 5.0, 201)
    t = np.array([10.0, 60.0])
    meas = render_stack(m, t, x, settings=st)
    assert meas.dims == ("t", "y", "x") and meas.counts.shape == (2, 201, 201)
    img = meas.counts.astype(float)
    r2 = x[None, :] ** 2 + x[:, None] ** 2
    w2 = (img * r2).sum(axis=(1, 2)) / img.sum(axis=(1, 2))
    # pixel-centre sampling of a smooth profile on a 0.05 µm grid (midpoint rule, ~1e-4)
    np.testing.assert_allclose(w2, solve_moments(m, t).w2_pl_um2, rtol=1e-3, atol=0)


def test_dark_model_cannot_render(model2):
    dark = model2.with_parameters(krad_KK_per_ps=0.0)
    with pytest.raises(ModelError, match=r"no PL \(no bright valley"):
        render_streak(dark, T, X)
