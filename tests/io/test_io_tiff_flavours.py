"""OME-TIFF and ImageJ calibration written by tifffile itself (an independent writer)."""

from __future__ import annotations

import numpy as np
import tifffile

import fitdiff


def test_ome_physical_sizes_and_time_increment(tmp_path):
    path = tmp_path / "stack.ome.tif"
    data = np.arange(3 * 4 * 5, dtype=np.uint16).reshape(3, 4, 5)
    tifffile.imwrite(
        path,
        data,
        metadata={
            "axes": "TYX",
            "PhysicalSizeX": 0.2,
            "PhysicalSizeXUnit": "µm",
            "PhysicalSizeY": 0.3,
            "PhysicalSizeYUnit": "µm",
            "TimeIncrement": 2.0,
            "TimeIncrementUnit": "ns",
        },
        ome=True,
    )
    m = fitdiff.load(path)
    assert m.format == "ome-tiff" and m.dims == ("t", "y", "x")
    np.testing.assert_array_equal(m.counts, data)
    # the written sizes: 0.2 / 0.3 µm per pixel, 2 ns = 2000 ps per frame
    np.testing.assert_allclose(m.coords["x"], np.arange(5) * 0.2, rtol=1e-12, atol=0)
    np.testing.assert_allclose(m.coords["y"], np.arange(4) * 0.3, rtol=1e-12, atol=0)
    np.testing.assert_allclose(m.coords["t"], [0.0, 2000.0, 4000.0], rtol=1e-12, atol=0)


def test_imagej_hyperstack_finterval_and_unit(tmp_path):
    path = tmp_path / "ij.tif"
    data = np.ones((4, 6, 8), dtype=np.float32)
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=(1 / 0.25, 1 / 0.5),
        metadata={"axes": "TYX", "unit": "um", "finterval": 0.5, "tunit": "ns"},
    )
    m = fitdiff.load(path)
    assert m.format == "imagej-tiff" and m.dims == ("t", "y", "x")
    # resolution = pixels per unit: 4 px/µm -> 0.25 µm, 2 px/µm -> 0.5 µm; 0.5 ns per frame
    np.testing.assert_allclose(np.diff(m.coords["x"]), 0.25, rtol=1e-6, atol=0)
    np.testing.assert_allclose(np.diff(m.coords["y"]), 0.5, rtol=1e-6, atol=0)
    np.testing.assert_allclose(m.coords["t"], [0.0, 500.0, 1000.0, 1500.0], rtol=1e-12, atol=0)


def test_plain_tiff_resolution_in_centimetres(tmp_path):
    path = tmp_path / "plain.tif"
    tifffile.imwrite(
        path, np.zeros((3, 4), np.uint8), resolution=(1e4, 1e4), resolutionunit="CENTIMETER"
    )
    m = fitdiff.load(path)
    # 1e4 px/cm = 1 µm per pixel
    np.testing.assert_allclose(m.coords["x"], [0.0, 1.0, 2.0, 3.0], rtol=1e-9, atol=0)
    assert m.units == {"y": "um", "x": "um"}


def test_sniffing_ignores_the_extension(tmp_path, realdata):
    src = realdata / "hamamatsu_img" / "xaxis_other.img"
    disguised = tmp_path / "data.csv"
    disguised.write_bytes(src.read_bytes())
    assert fitdiff.load(disguised).format == "hamamatsu-img"
    assert fitdiff.io.sniff(disguised) == "hamamatsu-img"
