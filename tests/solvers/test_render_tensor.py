"""Anisotropic stacks: a single diffusive valley with a tensor D (``D_cm2_s = [Dxx, Dyy, Dxy]``)."""

from __future__ import annotations

import numpy as np
import pytest

from fitdiff.errors import ConfigError, ModelError
from fitdiff.solvers import ValleyModel, render_stack, render_streak, solve_moments


def _model(D, **extra):
    d = {
        "T_K": 300.0,
        "valley": [{"name": "X", "D_cm2_s": D, "radiative_rate_per_ps": 0.01}],
        "source": {"valley": "X", "w0_um": 0.8, "t0_ps": 10.0, "pulse_fwhm_ps": 2.0},
        "instrument": {"w_psf_um": 0.3, "irf_fwhm_ps": 5.0},
        "time": {"t_ps": [0.0, 300.0, 7]},
        "render": {"kind": "stack", "x_um": [-5.0, 5.0, 41], "noise": "none"},
    }
    d.update(extra)
    return ValleyModel.from_dict(d)


def test_isotropic_tensor_renders_like_the_radial_solver():
    # Dxx = Dyy = D, Dxy = 0 is the isotropic valley: the real-space Green's-function quadrature
    # and the Hankel solver (an independent route, PHYSICS.md §3.4) give the same frames
    iso = render_stack(_model(2.0)).counts
    ten = render_stack(_model([2.0, 2.0, 0.0])).counts
    np.testing.assert_allclose(ten, iso, rtol=0, atol=2e-3 * iso.max())


def test_tensor_frames_have_the_covariance_sigma0_plus_2Dt():
    # Σ(τ) = ½(w0² + w_psf²) I + 2 D τ, here without pulse and IRF so every frame is one Gaussian
    m = _model(
        [3.0, 1.0, 1.0],
        source={"valley": "X", "w0_um": 0.8, "t0_ps": 0.0},
        instrument={"w_psf_um": 0.3},
        render={"kind": "stack", "x_um": [-8.0, 8.0, 161], "noise": "none", "background": 0.0},
    )
    img = render_stack(m)
    x, y = img.coords["x"], img.coords["y"]
    yy, xx = np.meshgrid(y, x, indexing="ij")
    for frame, t in zip(img.counts, img.coords["t"], strict=True):
        w = frame / frame.sum()
        sxx = (w * xx * xx).sum()
        syy = (w * yy * yy).sum()
        sxy = (w * xx * yy).sum()
        s0 = 0.5 * (0.8**2 + 0.3**2)
        np.testing.assert_allclose(
            [sxx, syy, sxy], [s0 + 6e-4 * t, s0 + 2e-4 * t, 2e-4 * t], rtol=1e-3, atol=1e-4
        )


def test_moment_curves_use_half_the_trace():
    # the radial moment solver sees D = ½ tr D, so its w² = w0² + 2 tr(D) t is that of the tensor
    ten = solve_moments(_model([3.0, 1.0, 0.5]), np.array([100.0]), instrument=False)
    iso = solve_moments(_model(2.0), np.array([100.0]), instrument=False)
    np.testing.assert_allclose(ten.w2_pl_um2, iso.w2_pl_um2, rtol=1e-12, atol=0)


def test_round_trip_keeps_the_tensor():
    m = _model([3.0, 1.0, 1.0])
    assert m.to_dict()["valley"][0]["D_cm2_s"] == [3.0, 1.0, 1.0]
    assert ValleyModel.from_dict(m.to_dict()).valleys[0].D_tensor_cm2_s == (3.0, 1.0, 1.0)


def test_tensor_errors_are_named():
    with pytest.raises(ConfigError, match=r"valley\[0\]\.D_cm2_s.*not a diffusion tensor"):
        _model([1.0, 1.0, 2.0])
    with pytest.raises(ConfigError, match=r"valley\[0\]\.D_cm2_s'?: must be a number or \[Dxx"):
        _model([1.0, 1.0])
    two = {
        "valley": [
            {"name": "X", "D_cm2_s": [1.0, 2.0, 0.0], "radiative_rate_per_ps": 0.01},
            {"name": "Y", "D_cm2_s": 1.0},
        ]
    }
    # from a model file an unphysical model is a ConfigError (a ModelError subclass or not)
    with pytest.raises(ConfigError, match="single diffusive valley.*several valleys"):
        _model(None, **two)
    with pytest.raises(ModelError, match="rendered as a stack only"):
        render_streak(_model([2.0, 1.0, 0.0]))
