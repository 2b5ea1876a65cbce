"""save -> load round trips (TIFF exact, .img to float32 precision) and writer refusals."""

from __future__ import annotations

import numpy as np
import pytest

import fitdiff
from fitdiff.errors import ConfigError
from fitdiff.io import Measurement


def _streak(dtype=np.uint16, h_dim="x", h_unit="um"):
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 1000, size=(40, 30)).astype(dtype)
    # non-uniform time axis (like the HPD-TA tables) whose values float32 holds exactly
    t = np.cumsum(np.linspace(1.0, 2.0, 40)).astype(np.float32).astype(float)
    h = (np.arange(30) * 0.25 - 3.0) if h_unit != "px" else np.arange(30.0)
    return Measurement(
        counts=counts,
        dims=("t", h_dim),
        coords={"t": t, h_dim: h},
        units={"t": "ps", h_dim: h_unit},
        meta={"date": "2024-08-08"},
    )


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.float32, np.int32])
def test_tiff_round_trip_exact(tmp_path, dtype):
    m = _streak(dtype)
    path = fitdiff.save(m, tmp_path / "s.tif")
    back = fitdiff.load(path)
    assert back.dims == m.dims and back.counts.dtype == m.counts.dtype
    np.testing.assert_array_equal(back.counts, m.counts)
    for d in m.dims:
        np.testing.assert_array_equal(back.coords[d], m.coords[d])  # JSON floats are exact
    assert back.units == m.units
    assert back.meta["date"] == "2024-08-08"


def test_tiff_round_trip_stack_with_float64_axes(tmp_path):
    rng = np.random.default_rng(2)
    m = Measurement(
        counts=rng.random((5, 6, 7)),
        dims=("t", "y", "x"),
        coords={
            "t": np.array([0.0, 1.1, 2.5, 7.3, 20.0]) / 3,
            "y": np.arange(6) * 0.1,
            "x": np.arange(7) / 3,
        },
        units={"t": "ps", "y": "um", "x": "um"},
    )
    back = fitdiff.load(fitdiff.save(m, tmp_path / "stack.tiff"))
    np.testing.assert_array_equal(back.counts, m.counts)
    for d in m.dims:
        np.testing.assert_array_equal(back.coords[d], m.coords[d])


def test_tiff_resolution_tags_for_other_readers(tmp_path):
    import tifffile

    path = fitdiff.save(_streak(), tmp_path / "s.tif")
    with tifffile.TiffFile(path) as tif:
        num, den = tif.pages.first.tags["XResolution"].value
    # 0.25 µm/px = 40000 px/cm, the written pixel size
    assert num / den == pytest.approx(4e4, rel=1e-6, abs=0)


@pytest.mark.parametrize(
    ("dtype", "h_dim", "h_unit"),
    [
        (np.uint8, "x", "um"),
        (np.uint16, "wavelength", "nm"),
        (np.uint32, "x", "px"),
    ],
)
def test_img_round_trip(tmp_path, dtype, h_dim, h_unit):
    m = _streak(dtype, h_dim, h_unit)
    back = fitdiff.load(fitdiff.save(m, tmp_path / "s.img"))
    assert back.format == "hamamatsu-img"
    assert back.dims == m.dims and back.units == m.units
    assert back.counts.dtype == m.counts.dtype
    np.testing.assert_array_equal(back.counts, m.counts)
    # float32 tables: exact for these float32-representable values
    for d in m.dims:
        np.testing.assert_allclose(back.coords[d], m.coords[d], rtol=1e-7, atol=0)
    assert back.meta["date"] == "2024-08-08"


def test_img_round_trip_of_real_file(tmp_path, realdata):
    m = fitdiff.load(realdata / "hamamatsu_img" / "operate_mode.img")
    back = fitdiff.load(fitdiff.save(m, tmp_path / "copy.img"))
    np.testing.assert_array_equal(back.counts, m.counts)
    # the file's tables were float32 in µs; ps values round-trip through float32 to 1e-7
    np.testing.assert_allclose(back.coords["t"], m.coords["t"], rtol=1e-7, atol=1e-3)
    np.testing.assert_allclose(back.coords["wavelength"], m.coords["wavelength"], rtol=1e-7, atol=0)


def test_img_writer_refuses_float_counts(tmp_path):
    m = _streak(np.float64)
    with pytest.raises(ConfigError, match=r"uint8, uint16 or uint32.*float64"):
        fitdiff.save(m, tmp_path / "s.img")
    assert not (tmp_path / "s.img").exists()


def test_img_writer_refuses_stacks(tmp_path):
    m = Measurement(
        counts=np.zeros((2, 3, 4), np.uint16), dims=("t", "y", "x"), coords={}, units={}
    )
    with pytest.raises(ConfigError, match=r"one streak image.*\('t', 'y', 'x'\)"):
        fitdiff.save(m, tmp_path / "s.img")


def test_save_unknown_suffix(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot save as '\.png'.*\.tif, \.tiff, \.img"):
        fitdiff.save(_streak(), tmp_path / "s.png")


def test_img_without_date_gets_none(tmp_path):
    m = _streak()
    m.meta.clear()
    back = fitdiff.load(fitdiff.save(m, tmp_path / "nodate.img"))
    assert "date" not in back.meta and "time" not in back.meta
