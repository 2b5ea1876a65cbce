"""The compiled shortcuts of the stack path against their numpy references.

Every expected value is the numpy reference computed in the test: ``profile_moments``
(``backend="numpy"``) for the one-pass frame moments, ``gauss_covariance`` without ``grid``
(numpy (J^T W J)^-1) for the compiled Fisher information, the whole-frame kernel
``fit_gauss2d`` for its box-restricted twin, and the numpy batch for the start choice.
"""

from __future__ import annotations

import numpy as np
import pytest

from fitdiff.extract import extract_widths
from fitdiff.extract.fisher import gauss_covariance
from fitdiff.extract.moments import edge_pixels, profile_moments
from fitdiff.extract.noise import NoiseModel
from fitdiff.io.measurement import Measurement
from fitdiff.testing import rotated_stack

numba = pytest.importorskip("numba")

NOISES = [NoiseModel(), NoiseModel(gain=2.0, read_noise=3.0, excess=2.0)]


def _grid(ny=37, nx=52):
    y = np.arange(ny) * 0.3 - 4.0  # a non-square window, off-centre, unequal steps
    x = np.arange(nx) * 0.25 + 3.0
    yy, xx = np.meshgrid(y, x, indexing="ij")
    return (y, x), [yy.ravel(), xx.ravel()], yy, xx


@pytest.mark.parametrize("noise", NOISES)
@pytest.mark.parametrize("offset", [0.0, 0.5])
def test_one_pass_frame_moments_match_numpy(noise, offset, monkeypatch):
    from fitdiff.extract.stack_moments import stack_moments

    monkeypatch.setenv("FITDIFF_NUMBA", "1")
    grid, coords, yy, xx = _grid()
    rng = np.random.default_rng(1)
    mu = 50 * np.exp(-((yy - 1) ** 2 / 3 + (xx - 9) ** 2 / 2)) + 2.0
    data = rng.poisson(np.broadcast_to(mu, (5, *yy.shape))).reshape(5, -1) - 0.5
    fast = stack_moments(grid, data, False, np.broadcast_to(offset, data.shape), noise, 0.1)
    slow = profile_moments(
        coords, data, noise.variance(data + offset), edge_pixels(coords, 0.1), backend="numpy"
    )
    for key, value in slow.items():
        # the cross sums about the window's middle lose ~(W/σ)² ε (stack_numba.py)
        np.testing.assert_allclose(fast[key], value, rtol=1e-10, atol=1e-12, err_msg=key)
    np.testing.assert_array_equal(fast["peak"], data.max(axis=1))


def test_one_pass_moments_decline_masked_or_varying_offsets(monkeypatch):
    from fitdiff.extract.stack_moments import stack_moments

    monkeypatch.setenv("FITDIFF_NUMBA", "1")
    grid, _, yy, _ = _grid()
    data = np.ones((2, yy.size))
    assert stack_moments(grid, data, True, np.zeros_like(data), NoiseModel(), 0.1) is None
    ramp = np.broadcast_to(np.arange(yy.size, dtype=float), data.shape)
    assert stack_moments(grid, data, False, ramp, NoiseModel(), 0.1) is None


@pytest.mark.parametrize("noise", NOISES)
@pytest.mark.parametrize("isotropic", [True, False])
def test_compiled_fisher_information_matches_numpy(noise, isotropic, monkeypatch):
    grid, coords, yy, _ = _grid(40, 48)
    rng = np.random.default_rng(0)
    b = 6
    cols = [rng.uniform(5, 50, b), rng.uniform(-3, 3, b), rng.uniform(4, 12, b)]
    cols += [rng.uniform(0.1, 2, b)] * (1 if isotropic else 2) + [rng.uniform(0, 2, b)]
    p = np.column_stack(cols)
    p[2, 3] = -1.0  # not admissible: NaN on both paths
    valid = rng.random((b, yy.size)) > 0.05
    off = rng.uniform(0, 1, (b, 1))
    monkeypatch.setenv("FITDIFF_NUMBA", "0")
    slow = gauss_covariance(coords, p, noise, offset=off, valid=valid, isotropic=isotropic)
    monkeypatch.setenv("FITDIFF_NUMBA", "1")
    fast = gauss_covariance(
        coords, p, noise, offset=off, valid=valid, isotropic=isotropic, grid=grid
    )
    assert np.isnan(fast[2]).all() and np.isnan(slow[2]).all()
    # the compiled pass drops the Gaussian below exp(-25) of its peak (box2d_numba.LOG_CUT):
    # ~1e-10 of any sum, up to ~1e-7 on covariances that nearly cancel; the numba/numpy
    # tolerance of the fits (test_stack2d.py) is 1e-6
    np.testing.assert_allclose(fast, slow, rtol=1e-6, atol=0)


@pytest.mark.parametrize("shape", [0, 1, 2])
def test_box_restricted_fit_equals_whole_frame_fit(shape):
    from fitdiff.extract import box2d_numba as box
    from fitdiff.extract import lm2d_numba as k
    from fitdiff.extract.lm_numba import uniform_step

    # a small spot (σ ~ 0.5 µm) in a wide window (16 µm): most pixels are outside the box
    m, _ = rotated_stack(4, nt=5, n=64, sigma0=(0.3, 0.2, 0.05), D_um2_ps=(1e-4, 5e-5, 2e-5))
    y, x = m.coords["y"], m.coords["x"]
    data = m.counts.reshape(5, -1).astype(float)
    valid = np.ones(data.shape, dtype=bool)
    valid[:, 500:520] = False
    p0 = np.array([[300.0, 0.0, 0.0, 0.3, 0.3, 0.0, 2.0]] * 5)
    p0 = p0[:, [0, 1, 2, 3, 6]] if shape == 0 else p0[:, [0, 1, 2, 3, 4, 6]] if shape == 1 else p0
    args = (y, x, uniform_step(x), data, valid)
    tail = (p0, shape, 1.5, 4.0, 0.0225, 60, 1e-2)
    whole = k.fit_gauss2d(*args, np.full((1, data.shape[1]), 0.5), *tail)
    box = box.fit_gauss2d_box(
        y, x, uniform_step(x), data, np.arange(5), valid, np.full(5, 0.5), *tail
    )
    assert whole[3].all() and box[3].all()
    np.testing.assert_allclose(box[0], whole[0], rtol=1e-8, atol=0)
    np.testing.assert_allclose(box[2], whole[2], rtol=1e-10, atol=0)  # χ²
    # covariances in units of the errors (near-zero cross terms have no relative scale)
    sd = np.sqrt(np.diagonal(whole[1], axis1=1, axis2=2))
    scale = sd[:, :, None] * sd[:, None, :]
    np.testing.assert_allclose(box[1] / scale, whole[1] / scale, rtol=0, atol=1e-7)


def test_sparse_photon_frames_start_from_the_moment_width(monkeypatch):
    # a wide faint spot, ~1500 photons over 64 × 64 pixels at 0.002 counts/pixel background:
    # the brightest pixel is a fluctuation several times the peak, so the peak-based start is
    # too narrow; the moment start fits better and both paths choose it alike
    rng = np.random.default_rng(5)
    n, h = 64, 0.5
    y = x = (np.arange(n) - n / 2) * h
    yy, xx = np.meshgrid(y, x, indexing="ij")
    s2 = 16.0  # µm², σ = 4 µm = 8 pixels
    mean = 1500 * h * h * np.exp(-(yy**2 + xx**2) / (2 * s2)) / (2 * np.pi * s2) + 0.002
    counts = rng.poisson(np.broadcast_to(mean, (4, n, n))).astype(np.uint16)
    m = Measurement(
        counts,
        ("t", "y", "x"),
        {"t": np.arange(4.0) * 100, "y": y, "x": x},
        {"t": "ps", "y": "um", "x": "um"},
    )
    monkeypatch.setenv("FITDIFF_NUMBA", "1")
    fast = extract_widths(m)
    monkeypatch.setenv("FITDIFF_NUMBA", "0")
    slow = extract_widths(m)
    np.testing.assert_array_equal(fast["reason"].to_numpy(), slow["reason"].to_numpy())
    assert fast["ok"].all()
    for col in ("sigma2_um2", "sigma2_err_um2", "intensity", "redchi"):
        np.testing.assert_allclose(fast[col], slow[col], rtol=1e-6, err_msg=col)
    # the width is the spot's: within 4 standard errors of the truth (generating σ² = 16 µm²)
    assert (np.abs(fast["sigma2_um2"] - s2) < 4 * fast["sigma2_err_um2"]).all()


def test_rotated_fill_matches_the_direct_exponential():
    from fitdiff.extract import box2d_numba as box

    # tilted Gaussians of every size and centre (some outside the window) on a uniform grid,
    # each filled over the previous one: inside the box the products of per-row exps and the
    # frame's q table equal exp(-½ rᵀ Σ⁻¹ r) to rounding (~k ε for k pixels from the anchor);
    # outside it the fill is 0 and the Gaussian below exp(-LOG_CUT)
    ny, nx, h = 96, 128, 0.145
    y = np.arange(ny) * h - 7.0
    x = np.arange(nx) * h - 9.0
    yy, xx = np.meshgrid(y, x, indexing="ij")
    rng = np.random.default_rng(3)
    g = np.zeros(ny * nx)
    ja, jb = np.zeros(ny, np.int64), np.zeros(ny, np.int64)
    q = np.empty(nx + 1)
    for _ in range(100):
        syy, sxx = rng.uniform(0.005, 40.0, 2)
        sxy = rng.uniform(-0.95, 0.95) * np.sqrt(syy * sxx)
        f = np.array([1.0, rng.uniform(-12, 12), rng.uniform(-14, 14), syy, sxx, sxy, 0.0])
        box.fill_box(y, x, h, f, g, ja, jb, q)
        ux, uy = xx - f[2], yy - f[1]
        direct = np.exp(
            -0.5 * (syy * ux**2 - 2 * sxy * ux * uy + sxx * uy**2) / (syy * sxx - sxy**2)
        )
        inside = np.zeros((ny, nx), bool)
        for i in range(ny):
            inside[i, ja[i] : jb[i]] = True
        inside = inside.ravel()
        assert (g[~inside] == 0).all()
        assert (direct.ravel()[~inside] < np.exp(-box.LOG_CUT + 0.1)).all()
        np.testing.assert_allclose(g[inside], direct.ravel()[inside], rtol=2e-13, atol=0)
