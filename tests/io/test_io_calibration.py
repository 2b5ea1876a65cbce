"""Calibration overrides: they set axes, convert px axes, and warn when they contradict the file."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import fitdiff
from fitdiff.errors import ConfigError
from fitdiff.io import Measurement, apply_calibration


def _image():
    return Measurement(counts=np.zeros((4, 5), np.uint16), dims=("y", "x"), coords={}, units={})


def test_pixel_sizes_and_offsets():
    m = apply_calibration(_image(), x_um_per_px=0.5, x0_um=-1.0, t_ps_per_px=2.0, t_first_ps=10.0)
    # a plain (y, x) image: the rows become the streak's time axis
    assert m.dims == ("t", "x")
    np.testing.assert_allclose(m.coords["x"], [-1.0, -0.5, 0.0, 0.5, 1.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(m.coords["t"], [10.0, 12.0, 14.0, 16.0], rtol=0, atol=1e-12)
    assert m.units == {"t": "ps", "x": "um"}
    assert m.meta["calibration_overrides"]["x_um_per_px"] == 0.5


def test_non_uniform_time_axis_and_frames():
    stack = Measurement(
        counts=np.zeros((3, 2, 2)), dims=("frame", "y", "x"), coords={}, units={"frame": "index"}
    )
    m = apply_calibration(stack, t_axis_ps=[0.0, 1.0, 5.0], y_um_per_px=0.2)
    assert m.dims == ("t", "y", "x")
    np.testing.assert_array_equal(m.coords["t"], [0.0, 1.0, 5.0])
    assert not m.is_uniform("t")
    m2 = apply_calibration(stack, t_ps_per_frame=100.0)
    np.testing.assert_allclose(m2.coords["t"], [0.0, 100.0, 200.0], rtol=0, atol=0)


def test_override_contradicting_the_file_warns_and_wins(realdata):
    path = realdata / "hamamatsu_tiff" / "test_hamamatsu_streak_SCAN.tif"
    with pytest.warns(UserWarning, match=r"SCAN\.tif: time calibration overrides.*t calibration"):
        m = fitdiff.load(path, t_ps_per_px=1.0)
    np.testing.assert_allclose(m.coords["t"][:3], [0.0, 1.0, 2.0], rtol=0, atol=0)


def test_override_agreeing_with_file_is_silent():
    m = Measurement(
        counts=np.zeros((3, 2)), dims=("t", "x"), coords={"t": [0.0, 2.0, 4.0]}, units={"t": "ps"}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = apply_calibration(m, t_ps_per_px=2.0)
    np.testing.assert_array_equal(out.coords["t"], [0.0, 2.0, 4.0])


def test_px_wavelength_axis_becomes_x():
    m = Measurement(
        counts=np.zeros((2, 3)), dims=("t", "wavelength"), coords={}, units={"wavelength": "px"}
    )
    out = apply_calibration(m, x_um_per_px=1.5)
    assert out.dims == ("t", "x")
    np.testing.assert_allclose(out.coords["x"], [0.0, 1.5, 3.0], rtol=0, atol=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"x_um_per_px": -1.0}, r"x_um_per_px=-1\.0 must be a finite number > 0"),
        ({"t_ps_per_px": float("nan")}, r"t_ps_per_px=nan must be a finite number > 0"),
        ({"t_axis_ps": [1.0, 2.0]}, r"t_axis_ps has 2 values; the t axis has 4"),
        ({"t_ps_per_px": 1.0, "t_axis_ps": [0, 1, 2, 3]}, r"only one of t_ps_per_px"),
        ({"t_ps_per_frame": 1.0}, r"no frame axis"),
        ({"x0_um": 3.0}, r"x0_um needs x_um_per_px"),
    ],
)
def test_bad_overrides(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        apply_calibration(_image(), **kwargs)
