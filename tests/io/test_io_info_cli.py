"""``fitdiff info FILE [--json]``."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from fitdiff.cli import main


def test_info_json_keys_and_axes(realdata, capsys):
    path = realdata / "hamamatsu_img" / "operate_mode.img"
    assert main(["info", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"format", "shape", "dtype", "axes", "metadata"}
    assert out["format"] == "hamamatsu-img" and out["shape"] == [512, 672]
    assert out["dtype"] == "uint32"
    t, wl = out["axes"]
    assert (t["name"], t["unit"], t["size"], t["uniform"]) == ("t", "ps", 512, False)
    # PROVENANCE §1: last time 16.009396 us; first wavelength 472.252 nm
    assert t["last"] == pytest.approx(16.009396e6, rel=1e-6, abs=0)
    assert wl["first"] == pytest.approx(472.252, rel=1e-6, abs=0)
    assert out["metadata"]["date"] == "2023-01-20"


def test_info_text_with_overrides(realdata, capsys):
    path = realdata / "tiff_imagej" / "test_loading_image_saved_with_imageJ_no_scale.tif"
    assert main(["info", str(path), "--x-um-per-px", "0.5", "--t-ps-per-px", "2"]) == 0
    out = capsys.readouterr().out
    assert "imagej-tiff" in out
    # 68 px at 0.5 µm/px -> 0 .. 33.5 µm; 68 rows at 2 ps -> 0 .. 134 ps
    assert re.search(r"axis x\s+68 x um\s+0 \.\. 33\.5 \(uniform\)", out)
    assert re.search(r"axis t\s+68 x ps\s+0 \.\. 134 \(uniform\)", out)


def test_info_bad_file_exits_2(tmp_path, capsys):
    path = tmp_path / "junk.bin"
    path.write_bytes(b"\x00\x01\x02" * 50)
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert "junk.bin: unknown file format" in err and "Traceback" not in err


def test_info_subprocess_exit_codes(realdata, tmp_path):
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "fitdiff.cli",
            "info",
            "--json",
            str(realdata / "andor_sif" / "measurement.sif"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["axes"][1]["name"] == "wavelength"
    empty = tmp_path / "empty.img"
    empty.write_bytes(b"")
    bad = subprocess.run(
        [sys.executable, "-m", "fitdiff.cli", "info", str(empty)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "empty.img: is empty" in bad.stderr and "Traceback" not in bad.stderr
