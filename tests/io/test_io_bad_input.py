"""Broken files of every kind raise LoadError naming the file, quickly and without big allocations."""

from __future__ import annotations

import struct
import time
import tracemalloc

import numpy as np
import pytest

import fitdiff
from fitdiff.errors import LoadError
from fitdiff.io import Measurement


def _img_bytes(tmp_path) -> bytes:
    m = Measurement(
        counts=np.arange(12, dtype=np.uint16).reshape(3, 4),
        dims=("t", "x"),
        coords={"t": [0.0, 1.0, 3.0], "x": [0.0, 1.0, 2.0, 3.0]},
        units={"t": "ps", "x": "um"},
    )
    return fitdiff.save(m, tmp_path / "ok.img").read_bytes()


def test_missing_file(tmp_path):
    with pytest.raises(LoadError, match=r"nope\.img: cannot be opened"):
        fitdiff.load(tmp_path / "nope.img")


def test_directory(tmp_path):
    with pytest.raises(LoadError, match=r"is a directory"):
        fitdiff.load(tmp_path)


def test_empty_file(tmp_path):
    (tmp_path / "e.tif").write_bytes(b"")
    with pytest.raises(LoadError, match=r"e\.tif: is empty"):
        fitdiff.load(tmp_path / "e.tif")


def test_unknown_format_is_named_by_content_not_extension(tmp_path):
    path = tmp_path / "looks.img"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(LoadError, match=r"looks\.img: unknown file format.*supported"):
        fitdiff.load(path)


def test_truncated_img(tmp_path):
    raw = _img_bytes(tmp_path)
    path = tmp_path / "cut.img"
    path.write_bytes(raw[: len(raw) - 10])  # cut into the time table (last 12 bytes)
    with pytest.raises(LoadError, match=r"cut\.img: \[Scaling\] .* lies outside the file"):
        fitdiff.load(path)
    path.write_bytes(raw[:100])  # cut into the pixels
    with pytest.raises(LoadError, match=r"cut\.img: truncated: header declares 3x4 uint16"):
        fitdiff.load(path)


def test_absurd_img_header_fails_fast_without_allocating(tmp_path):
    raw = bytearray(_img_bytes(tmp_path))
    struct.pack_into("<hh", raw, 4, 32000, 32000)  # width, height
    path = tmp_path / "huge.img"
    path.write_bytes(bytes(raw))
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(LoadError, match=r"huge\.img: truncated: header declares 32000x32000"):
        fitdiff.load(path)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 1.0  # issue 3: "within a second"
    assert peak < 1_000_000  # far below the 2 GB the header claims (bytes)


def test_img_wrong_file_type(tmp_path):
    raw = bytearray(_img_bytes(tmp_path))
    struct.pack_into("<h", raw, 12, 2)  # keep sniffable
    raw[0:2] = b"IX"
    path = tmp_path / "magic.img"
    path.write_bytes(bytes(raw))
    with pytest.raises(LoadError, match=r"magic\.img: unknown file format"):
        fitdiff.load(path)


def test_scaling_table_count_mismatch(tmp_path):
    raw = _img_bytes(tmp_path).replace(b',0003"', b',0004"')
    path = tmp_path / "count.img"
    path.write_bytes(raw)
    with pytest.raises(
        LoadError, match=r"ScalingYScalingFile has 4 values but the image axis has 3"
    ):
        fitdiff.load(path)


def test_truncated_sif_does_not_hang(realdata, tmp_path):
    raw = (realdata / "andor_sif" / "raman1.sif").read_bytes()
    path = tmp_path / "cut.sif"
    path.write_bytes(raw[:1500])  # inside the header: sif-parser alone would loop forever
    start = time.perf_counter()
    with pytest.raises(LoadError, match=r"cut\.sif: truncated: the SIF header ends"):
        fitdiff.load(path)
    assert time.perf_counter() - start < 1.0
    path.write_bytes(raw[:3000])  # header complete, data cut
    with pytest.raises(LoadError, match=r"cut\.sif: truncated: header declares 1 frames of 1x1024"):
        fitdiff.load(path)


def test_truncated_tiff(realdata, tmp_path):
    raw = (realdata / "tiff_imagej" / "test_loading_image_saved_with_imageJ.tif").read_bytes()
    path = tmp_path / "cut.tif"
    path.write_bytes(raw[:5000])
    with pytest.raises(LoadError, match=r"cut\.tif"):
        fitdiff.load(path)


def test_hamamatsu_tiff_table_outside_file(realdata, tmp_path):
    raw = (realdata / "hamamatsu_tiff" / "test_hamamatsu_streak_SCAN.tif").read_bytes()
    path = tmp_path / "short.tif"
    path.write_bytes(raw[:690000])  # the time table starts at byte 690884 (PROVENANCE §2)
    with pytest.raises(LoadError, match=r"short\.tif: \[Scaling\] ScalingYScalingFile table"):
        fitdiff.load(path)


def test_truncated_ptu(realdata, tmp_path):
    raw = (realdata / "picoquant_ptu" / "ptu_stack_FLIM_z1.ptu").read_bytes()
    path = tmp_path / "cut.ptu"
    path.write_bytes(raw[:200])
    with pytest.raises(LoadError, match=r"cut\.ptu: PTU file cannot be decoded"):
        fitdiff.load(path)
