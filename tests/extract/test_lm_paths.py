"""The compiled (numba) and numpy paths of the batched Gaussian fit are one estimator.

The reference for every number here is the numpy batch (``backend="numpy"``), itself checked
against scipy.optimize.curve_fit in test_widths.py; the compiled path must reproduce it to
rounding (σ² to 1e-6 relative is the contract; the two differ by ~1e-13 in practice).
"""

from __future__ import annotations

import numpy as np
import pytest

from fitdiff.errors import ExtractionError, MissingExtraError
from fitdiff.extract import extract_widths, lm
from fitdiff.extract.gauss import gaussian_model
from fitdiff.extract.lm import batched_lm
from fitdiff.extract.moments import profile_moments
from fitdiff.extract.noise import NoiseModel
from fitdiff.extract.widths import gauss_start
from fitdiff.testing import streak

numba = pytest.importorskip("numba")
from fitdiff.extract import lm_numba  # noqa: E402  (only importable with numba)


def _problem(seed, x=None, noise=None, bad_column=None, offset=0.0):
    """Rows of a synthetic streak with their moment starts, as extract_widths builds them."""
    noise = noise or NoiseModel()
    m, _ = streak(seed, nt=60, nx=96, photons=3e3, bg=1.0)
    data = m.counts.astype(float) - offset
    x = m.coords["x"] if x is None else x
    valid = np.ones(data.shape, dtype=bool)
    if bad_column is not None:
        valid[:, bad_column] = False
        data[:, bad_column] = 0.0
    mom = profile_moments([x], data, noise.variance(np.maximum(data + offset, 0)), None)
    p0 = gauss_start([x], data, ~valid, mom)
    return x, data, valid, p0


def _both(x, data, valid, p0, noise=None, offset=0.0):
    noise = noise or NoiseModel()
    model = gaussian_model([x])
    slow = batched_lm(model, p0, data, valid, noise.variance, offset, backend="numpy")
    fast = batched_lm(model, p0, data, valid, noise, offset, backend="numba")
    return slow, fast


def _assert_same(slow, fast):
    assert (slow.backend, fast.backend) == ("numpy", "numba")
    np.testing.assert_array_equal(fast.converged, slow.converged)
    np.testing.assert_array_equal(fast.niter, slow.niter)
    np.testing.assert_allclose(fast.p[:, 2], slow.p[:, 2], rtol=1e-6, atol=0)
    np.testing.assert_allclose(fast.p, slow.p, rtol=1e-6, atol=1e-9)
    # covariances only where a fit converged: a signal-free row has a near-singular J^T W J
    # (variances ~1e15) whose inverse differs at 1e-3 between any two summation orders
    var_s = np.diagonal(slow.cov, axis1=1, axis2=2)[slow.converged]
    var_f = np.diagonal(fast.cov, axis1=1, axis2=2)[slow.converged]
    np.testing.assert_allclose(var_f, var_s, rtol=1e-6, atol=0, equal_nan=True)
    np.testing.assert_allclose(fast.chi2, slow.chi2, rtol=1e-9, atol=0)
    np.testing.assert_array_equal(fast.nfree, slow.nfree)


@pytest.mark.slow  # compiles the kernel on a cold numba cache (~10 s); later runs load it
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_paths_agree_on_poisson_streak(seed):
    x, data, valid, p0 = _problem(seed)
    slow, fast = _both(x, data, valid, p0)
    assert slow.converged.sum() > 40  # the comparison covers real fits, not only failures
    _assert_same(slow, fast)


def test_paths_agree_with_camera_noise_mask_and_offset():
    # gain, read noise and EM excess enter the weights; a masked column has weight zero; the
    # offset is what the noise model adds back to the model counts
    noise = NoiseModel(gain=2.0, read_noise=3.0, excess=2.0)
    x, data, valid, p0 = _problem(3, noise=noise, bad_column=40, offset=0.5)
    _assert_same(*_both(x, data, valid, p0, noise=noise, offset=0.5))


def test_paths_agree_on_non_uniform_axis():
    # a calibrated axis with curvature takes the exact-exp branch of the kernel
    x0 = np.linspace(-8.0, 8.0, 96)
    x = x0 + 0.004 * x0**2
    assert lm_numba.uniform_step(x) == 0.0
    _, data, valid, p0 = _problem(4, x=x)
    _assert_same(*_both(x, data, valid, p0))


def test_paths_agree_on_degenerate_rows():
    # row 0: negative start width (not fitted), row 1: only 4 usable pixels (= parameters),
    # row 2: no signal at all; the numpy batch defines what each of these returns
    x, data, valid, p0 = _problem(5)
    p0 = p0[:6].copy()
    data, valid = data[:6].copy(), valid[:6].copy()
    p0[0, 2] = -1.0
    valid[1, 4:] = False
    data[2] = 0.0
    slow, fast = _both(x, data, valid, p0)
    assert not slow.converged[:2].any() and (slow.niter[:2] == 0).all()
    _assert_same(slow, fast)


@pytest.mark.parametrize("s2", [0.02, 1.0, 400.0])
@pytest.mark.parametrize("centre", [0.13, -7.9, 30.0])
def test_gaussian_recurrence_matches_exp(s2, centre):
    # analytic: exp(-(x - x0)²/(2 s)) with numpy's exp; narrow (underflowing tails), wide, and a
    # centre beyond the window all stay at rounding level (BLOCK² ε ≈ 1e-12)
    x = np.linspace(-8.0, 8.0, 1001)
    g = np.empty_like(x)
    lm_numba._fill_gauss(x, lm_numba.uniform_step(x), centre, s2, g)
    np.testing.assert_allclose(g, np.exp(-((x - centre) ** 2) / (2 * s2)), rtol=1e-11, atol=1e-300)


def test_uniform_step():
    x = np.linspace(-3.0, 5.0, 81)  # spacing 0.1 µm by construction
    assert lm_numba.uniform_step(x) == pytest.approx(0.1, rel=1e-12, abs=0)
    x[40] += 1e-6
    assert lm_numba.uniform_step(x) == 0.0
    assert lm_numba.uniform_step(x[::-1]) == 0.0  # descending axes use the exact branch


def test_extract_widths_same_table_on_both_paths(monkeypatch):
    m, _ = streak(6, nt=80, nx=96)
    monkeypatch.delenv("FITDIFF_NUMBA", raising=False)
    fast = extract_widths(m)
    monkeypatch.setenv("FITDIFF_NUMBA", "0")
    slow = extract_widths(m)
    np.testing.assert_array_equal(fast["reason"].to_numpy(), slow["reason"].to_numpy())
    assert fast["ok"].sum() > 40
    for col in ("sigma2_um2", "sigma2_err_um2", "intensity", "redchi"):
        np.testing.assert_allclose(fast[col], slow[col], rtol=1e-6, atol=0, equal_nan=True)


def test_auto_chooses_path(monkeypatch):
    monkeypatch.delenv("FITDIFF_NUMBA", raising=False)
    x, data, valid, p0 = _problem(7)
    gm = gaussian_model([x])
    nm = NoiseModel()
    assert batched_lm(gm, p0, data, valid, nm.variance).backend == "numba"
    # any other variance callable, float32, or a 2D model fall back to the numpy batch

    def variance(mu):
        return np.maximum(mu, 0.01)

    assert batched_lm(gm, p0, data, valid, variance).backend == "numpy"
    assert batched_lm(gm, p0, data, valid, nm, dtype=np.float32).backend == "numpy"
    monkeypatch.setenv("FITDIFF_NUMBA", "0")  # the user's switch
    assert batched_lm(gm, p0, data, valid, nm).backend == "numpy"


def test_backend_errors_are_named(monkeypatch):
    monkeypatch.delenv("FITDIFF_NUMBA", raising=False)
    x, data, valid, p0 = _problem(8)
    gm = gaussian_model([x])
    with pytest.raises(ExtractionError, match=r"backend = 'cuda'; allowed \('auto'"):
        batched_lm(gm, p0, data, valid, NoiseModel(), backend="cuda")
    two_d = gaussian_model([x, x])  # flattened pixels without their (y, x) grid: no kernel
    with pytest.raises(ExtractionError, match="the model has no compiled kernel"):
        batched_lm(two_d, np.zeros((1, 5)), data[:1], valid[:1], NoiseModel(), backend="numba")

    def variance(mu):
        return np.maximum(mu, 0.01)

    with pytest.raises(ExtractionError, match="variance is not a NoiseModel"):
        batched_lm(gm, p0, data, valid, variance, backend="numba")
    monkeypatch.setattr(lm, "_KERNELS", [None])  # as if numba were not installed
    assert not lm.numba_available()
    assert batched_lm(gm, p0, data, valid, NoiseModel()).backend == "numpy"
    with pytest.raises(MissingExtraError, match=r"pip install 'fitdiff\[fast\]'"):
        batched_lm(gm, p0, data, valid, NoiseModel(), backend="numba")


def test_paths_agree_with_an_offset_that_varies_along_the_row():
    # a dark frame subtracted pixel by pixel: the offset is not one number per row, so the
    # kernel visits every pixel (fit_gauss1d); one number per row takes the box kernel
    noise = NoiseModel(gain=2.0, read_noise=3.0, excess=2.0)
    x, data, valid, p0 = _problem(9, noise=noise)
    offset = np.broadcast_to(0.2 + 0.01 * np.arange(x.size), data.shape)
    assert lm.row_offsets(offset, data.shape) is None
    _assert_same(*_both(x, data - offset, valid, p0, noise=noise, offset=offset))


def test_box_kernel_agrees_on_faint_rows_that_collapse():
    # a faint streak (~30 photons per row on 1 count/pixel) whose brightest pixel is noise:
    # the start is ~10x too narrow and several fits collapse onto one pixel, where the box
    # (exp(-25) of the peak) is a few pixels wide; the numpy batch sums every pixel
    m, _ = streak(10, nt=40, nx=400, photons=30.0, bg=1.0)
    x = m.coords["x"]
    data = m.counts.astype(float)
    valid = np.ones(data.shape, dtype=bool)
    noise = NoiseModel()
    mom = profile_moments([x], data, noise.variance(data), None)
    p0 = gauss_start([x], data, ~valid, mom)
    slow, fast = _both(x, data, valid, p0)
    box = 2 * np.sqrt(2 * lm_numba.LOG_CUT * np.abs(slow.p[:, 2]))  # µm, the box's width
    assert (box < np.ptp(x) / 4).sum() >= 3  # narrow boxes are part of the comparison
    np.testing.assert_array_equal(fast.niter, slow.niter)
    np.testing.assert_array_equal(fast.converged, slow.converged)
    # a collapsed fit sits on a flat χ² ridge: compared in its own standard errors
    se = np.sqrt(np.abs(np.diagonal(slow.cov, axis1=1, axis2=2)))
    ok = np.isfinite(se).all(axis=1)
    assert np.all(np.abs(fast.p - slow.p)[ok] <= 1e-3 * se[ok])
    np.testing.assert_allclose(fast.chi2, slow.chi2, rtol=1e-6, atol=0)
