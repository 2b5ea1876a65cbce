"""Text tables: CSV/TSV matrices with and without axes, named two-column curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import fitdiff
from fitdiff.errors import LoadError

DATA = Path(__file__).resolve().parents[1] / "data"


def test_streak_table_with_axes_and_units():
    m = fitdiff.load(DATA / "streak_table.csv")
    assert m.format == "text" and m.dims == ("t", "x")
    # the fixture's axis column is in ns (0, 0.1, 0.3) -> ps; the axis row is in µm
    np.testing.assert_allclose(m.coords["t"], [0.0, 100.0, 300.0], rtol=1e-12, atol=0)
    np.testing.assert_allclose(m.coords["x"], [-1.0, -0.5, 0.0, 0.5, 1.0], rtol=0, atol=0)
    np.testing.assert_array_equal(m.counts[1], [0, 3, 7, 3, 0])
    assert not m.is_uniform("t")


def test_raw_matrix_is_px(tmp_path):
    path = tmp_path / "raw.tsv"
    path.write_text("1\t2\t3\n4\t5\t6\n")
    m = fitdiff.load(path)
    assert m.units == {"t": "px", "x": "px"}
    np.testing.assert_array_equal(m.counts, [[1, 2, 3], [4, 5, 6]])


def test_axes_without_units_warn_and_stay_px(tmp_path):
    path = tmp_path / "noaxisunit.csv"
    path.write_text(",10,20,30\n0,1,2,3\n5,4,5,6\n")
    with pytest.warns(UserWarning, match=r"carry no unit.*t_unit"):
        m = fitdiff.load(path)
    assert m.units == {"t": "px", "x": "px"}
    assert m.meta["t_axis_raw"] == [0.0, 5.0]
    # the override then calibrates it
    with pytest.warns(UserWarning):
        m2 = fitdiff.load(path, t_axis_ps=[0.0, 5.0], x_um_per_px=2.0)
    np.testing.assert_array_equal(m2.coords["t"], [0.0, 5.0])


def test_named_time_curve_in_ns(tmp_path):
    path = tmp_path / "decay.csv"
    path.write_text("time (ns),counts\n0,10\n0.5,5\n1.0,2\n")
    m = fitdiff.load(path)
    assert m.dims == ("t",)
    np.testing.assert_allclose(m.coords["t"], [0.0, 500.0, 1000.0], rtol=1e-12, atol=0)


def test_descending_wavelength_is_flipped(tmp_path):
    path = tmp_path / "spec.csv"
    path.write_text("wavelength,counts\n502,3\n501,2\n500,1\n")
    m = fitdiff.load(path)
    np.testing.assert_array_equal(m.coords["wavelength"], [500.0, 501.0, 502.0])
    np.testing.assert_array_equal(m.counts, [1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("hello\nworld\n", r"no table of numbers"),
        ("1,2,3\n4,5\n", r"different numbers of columns"),
        ("energy,counts\n1,2\n3,4\n", r"first column 'energy' is not a known axis"),
    ],
)
def test_bad_text(tmp_path, content, match):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(LoadError, match=match):
        fitdiff.load(path)
