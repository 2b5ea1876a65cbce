"""2D frames of a stack: the compiled kernel against the numpy batch, the rotated ellipse, pulls.

The reference of the compiled paths is the numpy batch (``backend="numpy"``), itself the
estimator checked against curve_fit in test_widths.py; expected truths come from the generating
parameters of ``fitdiff.testing.rotated_stack`` (pixel-centre sampling of exp(-½ rᵀΣ⁻¹r), Poisson).
"""

from __future__ import annotations

import numpy as np
import pytest

from fitdiff.errors import ExtractionError
from fitdiff.extract import extract_widths
from fitdiff.extract.gauss import gaussian_model, rotated_model
from fitdiff.extract.lm import batched_lm
from fitdiff.extract.moments import edge_pixels, profile_moments
from fitdiff.extract.noise import NoiseModel
from fitdiff.testing import rotated_stack

numba = pytest.importorskip("numba")


def _frames(seed, sigma0, D, **kw):
    m, truth = rotated_stack(seed, sigma0=sigma0, D_um2_ps=D, **kw)
    y, x = m.coords["y"], m.coords["x"]
    yy, xx = np.meshgrid(y, x, indexing="ij")
    coords = [yy.ravel(), xx.ravel()]
    data = m.counts.reshape(len(m.coords["t"]), -1).astype(float)
    return (y, x), coords, data, truth


@pytest.mark.parametrize("shape", ["isotropic", "elliptical", "rotated"])
def test_compiled_and_numpy_paths_agree(shape):
    grid, coords, data, _ = _frames(1, (1.0, 1.4, 0.3), (2e-4, 1e-4, 5e-5), nt=8, n=32)
    noise = NoiseModel(gain=1.5, read_noise=2.0)  # camera weights enter both paths alike
    valid = np.ones(data.shape, dtype=bool)
    valid[:, 100:110] = False  # a masked run of pixels: weight zero in both
    offset = 0.5
    if shape == "rotated":
        model = rotated_model(coords, grid=grid)
        p0 = np.array([40.0, 0.0, 0.0, 1.5, 1.5, 0.0, 1.0])
    else:
        model = gaussian_model(coords, isotropic=shape == "isotropic", grid=grid)
        p0 = np.array(
            [40.0, 0.0, 0.0, 1.5, 1.0] if shape == "isotropic" else [40, 0, 0, 1.5, 1.5, 1]
        )
    p0 = np.tile(np.asarray(p0, float), (len(data), 1))
    slow = batched_lm(model, p0, data, valid, noise.variance, offset, backend="numpy")
    fast = batched_lm(model, p0, data, valid, noise, offset, backend="numba")
    assert (slow.backend, fast.backend) == ("numpy", "numba")
    assert slow.converged.all()
    np.testing.assert_array_equal(fast.converged, slow.converged)
    np.testing.assert_allclose(fast.p, slow.p, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(fast.cov, slow.cov, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(fast.chi2, slow.chi2, rtol=1e-9, atol=0)


def test_extract_widths_same_table_on_both_paths(monkeypatch):
    m, _ = rotated_stack(2, nt=6, n=32)
    monkeypatch.delenv("FITDIFF_NUMBA", raising=False)
    fast = extract_widths(m, shape="rotated")
    monkeypatch.setenv("FITDIFF_NUMBA", "0")
    slow = extract_widths(m, shape="rotated")
    np.testing.assert_array_equal(fast["reason"].to_numpy(), slow["reason"].to_numpy())
    assert fast["ok"].all()
    cols = [c for c in fast.columns if c not in ("ok", "reason")]
    assert list(fast.columns) == list(slow.columns)
    for col in cols:
        np.testing.assert_allclose(fast[col], slow[col], rtol=1e-6, atol=1e-12, err_msg=col)


def test_moment_kernel_matches_numpy():
    _, coords, data, _ = _frames(3, (1.0, 1.0, 0.2), (1e-4, 1e-4, 0.0), nt=5, n=30)
    var = data + 0.7
    for edges in (edge_pixels(coords, 0.1), None):
        slow = profile_moments(coords, data, var, edges, backend="numpy")
        fast = profile_moments(coords, data, var, edges)
        for key, value in slow.items():
            np.testing.assert_allclose(fast[key], value, rtol=1e-10, atol=1e-12, err_msg=key)


def test_rotated_columns_and_geometry():
    # Σ(t) = Σ0 + 2Dt with D's fast axis at 22.5° (Dxx - Dyy = 2 Dxy): major axis there too
    m, truth = rotated_stack(4, nt=6, n=40, photons=2e5)
    df = extract_widths(m, shape="rotated")
    assert df["ok"].all()
    for c in ("xx", "yy", "xy"):
        assert f"sigma2_{c}_um2" in df and f"sigma2_{c}_err_um2" in df
    sxx, syy, sxy = (df[f"sigma2_{c}_um2"].to_numpy() for c in ("xx", "yy", "xy"))
    np.testing.assert_allclose(df["w2_um2"], sxx + syy, rtol=1e-12, atol=0)  # w² = tr Σ
    np.testing.assert_allclose(df["sigma2_x_um2"], sxx, rtol=0, atol=0)
    # principal values: tr and det are invariant
    major, minor = df["sigma2_major_um2"].to_numpy(), df["sigma2_minor_um2"].to_numpy()
    np.testing.assert_allclose(major + minor, sxx + syy, rtol=1e-12, atol=0)
    np.testing.assert_allclose(major * minor, sxx * syy - sxy**2, rtol=1e-10, atol=0)
    # each component within 4 standard errors of the generating Σ (Poisson noise)
    for k, c in enumerate(("xx", "yy", "xy")):
        pull = (df[f"sigma2_{c}_um2"] - truth[:, k]) / df[f"sigma2_{c}_err_um2"]
        assert np.all(np.abs(pull) < 4), (c, pull.to_numpy())
    # late frames: the angle of Σ approaches that of D, 22.5° (½ atan2(2·1, 3 - 1))
    true_angle = 0.5 * np.degrees(np.arctan2(2 * truth[-1, 2], truth[-1, 0] - truth[-1, 1]))
    assert abs(df["angle_deg"].iloc[-1] - true_angle) < 4 * df["angle_err_deg"].iloc[-1]


def test_unknown_shape_is_named():
    m, _ = rotated_stack(5, nt=2, n=16)
    with pytest.raises(ExtractionError, match=r"shape = 'tilted'; allowed .*'rotated'"):
        extract_widths(m, shape="tilted")


@pytest.mark.parametrize(
    ("shape", "sigma0", "columns"),
    [
        ("rotated", (1.2, 0.8, 0.35), ("xx", "yy", "xy")),
        ("elliptical", (1.2, 0.8, 0.0), ("x", "y")),
        ("isotropic", (1.0, 1.0, 0.0), ("",)),
    ],
)
def test_pulls_have_unit_spread(shape, sigma0, columns):
    # 150 independent Poisson frames of one fixed Σ (D = 0): the spread of (fit - truth)/error
    # must be that of a unit normal, SD 0.85-1.2 for every component (honest errors)
    m, truth = rotated_stack(
        6, nt=150, n=28, sigma0=sigma0, D_um2_ps=(0, 0, 0), photons=3e3, bg=1.0
    )
    df = extract_widths(m, shape=shape)
    assert df["ok"].sum() >= 145
    ok = df["ok"].to_numpy()
    index = {"xx": 0, "yy": 1, "xy": 2, "x": 0, "y": 1}
    for c in columns:
        if c == "":
            est, err, true = df["sigma2_um2"], df["sigma2_err_um2"], truth[:, 0]
        else:
            est, err = df[f"sigma2_{c}_um2"], df[f"sigma2_{c}_err_um2"]
            true = truth[:, index[c]]
        pull = ((est - true) / err).to_numpy()[ok]
        assert 0.85 <= np.std(pull, ddof=1) <= 1.2, (c, np.std(pull, ddof=1))
        assert abs(np.mean(pull)) < 0.3, (c, np.mean(pull))


def test_cli_shape_rotated_writes_the_covariance_columns(tmp_path, capsys):
    from fitdiff.cli import main
    from fitdiff.extract import read_table_csv
    from fitdiff.io import save

    m, _ = rotated_stack(7, nt=6, n=32)  # 3 or 4 frames would be written as RGB planes
    path = save(m, tmp_path / "stack.tif")
    assert main(["extract", str(path), "--shape", "rotated", "-o", str(tmp_path / "w.csv")]) == 0
    df = read_table_csv(tmp_path / "w.csv")
    for col in ("sigma2_xy_um2", "sigma2_xy_err_um2", "sigma2_major_um2", "angle_deg"):
        assert col in df.columns


def test_real_ptu_scan_extracts_alike_on_both_paths(realdata, monkeypatch):
    # the PicoQuant FLIM scan (PROVENANCE.md §4; 256 × 256 × 133, sparse photons), binned 4 × 4
    # so the numpy reference stays quick: the compiled paths must give its table
    import fitdiff

    m = fitdiff.load(realdata / "picoquant_ptu" / "ptu_stack_FLIM_z1.ptu")
    kw = {"bin_x": 4, "bin_y": 4}
    monkeypatch.delenv("FITDIFF_NUMBA", raising=False)
    fast = extract_widths(m, **kw)
    monkeypatch.setenv("FITDIFF_NUMBA", "0")
    slow = extract_widths(m, **kw)
    assert len(fast) == 133 and fast["ok"].sum() > 0
    np.testing.assert_array_equal(fast["reason"].to_numpy(), slow["reason"].to_numpy())
    # on usable frames only: a signal-free frame's fit runs off to σ² ~ 1e19 µm², where two
    # summation orders differ at 1e-1 (flagged "low signal" on both paths alike)
    ok = fast["ok"].to_numpy()
    for col in ("sigma2_um2", "sigma2_err_um2", "intensity", "w2_um2", "redchi"):
        np.testing.assert_allclose(fast[col][ok], slow[col][ok], rtol=1e-6, atol=0)
