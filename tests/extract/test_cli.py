"""``fitdiff extract`` and ``fitdiff transient`` on a real-format file written by fitdiff.io.save."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from fitdiff.cli import main
from fitdiff.extract import read_table_csv
from fitdiff.testing import streak


@pytest.fixture
def tif(tmp_path):
    from fitdiff.io import save

    m, _ = streak(21)
    path = tmp_path / "streak.tif"
    save(m, path)
    return path


def test_extract_then_transient(tif, tmp_path, capsys):
    widths = tmp_path / "widths.csv"
    assert (
        main(["extract", str(tif), "-o", str(widths), "--time-zero", "rise", "--x-range-um=-7:7"])
        == 0
    )
    assert "200 slices" in capsys.readouterr().out
    df = read_table_csv(widths)
    assert df.attrs["settings"]["method"] == "gauss"
    assert df.attrs["settings"]["time_zero_rule"].startswith("half-rise")
    assert df["ok"].sum() > 150
    trans = tmp_path / "transient.csv"
    assert (
        main(
            ["transient", str(widths), "-o", str(trans), "--t-range-ps", "0:1400", "--window", "9"]
        )
        == 0
    )
    out = capsys.readouterr().out
    d = read_table_csv(trans)
    assert list(d.columns) == ["t_ps", "D_cm2_s", "D_err_cm2_s"]
    lin = d.attrs["linear_fit"]
    # fitdiff.testing.streak renders D = 5 cm²/s
    assert abs(lin["D_cm2_s"] - 5.0) < 3.5 * lin["D_err_cm2_s"]
    assert f"D = {lin['D_cm2_s']:.4g} ±" in out
    # the transient D scatters around the same value with its own errors
    z = (d["D_cm2_s"] - 5.0) / d["D_err_cm2_s"]
    assert abs(np.median(z)) < 1.0


def test_moment_and_calibration_flags(tif, tmp_path, capsys):
    widths = tmp_path / "w.csv"
    # a wrong calibration of 2 µm/px instead of 0.126 µm/px scales σ² by (2/0.126)²
    argv = ["extract", str(tif), "-o", str(widths), "--method", "moment", "--x-um-per-px", "2"]
    assert main(argv) == 0
    # the CLI prints warnings as "fitdiff <command>: warning: <message>" (issue 12 item 10)
    err = capsys.readouterr().err
    assert "fitdiff extract: warning: " in err and "x_um_per_px overrides the file's own" in err
    df = read_table_csv(widths)
    assert df.attrs["settings"]["calibration"] == {"x_um_per_px": 2.0}
    assert df["w2_um2"][df["ok"]].median() > 100


def test_bad_input_exits_2_with_message(tif, tmp_path, capsys):
    assert main(["extract", str(tif), "-o", str(tmp_path / "w.csv"), "--time-zero", "soon"]) == 2
    assert "--time-zero 'soon': allowed 'rise' or a number of ps" in capsys.readouterr().err
    assert main(["extract", str(tif), "-o", str(tmp_path / "w.csv"), "--bin-x", "0"]) == 2
    assert "bin_x = 0" in capsys.readouterr().err
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fitdiff.cli",
            "transient",
            str(tmp_path / "none.csv"),
            "-o",
            str(tmp_path / "t.csv"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "none.csv: cannot read table" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_subprocess_extract_succeeds(tif, tmp_path):
    out = tmp_path / "w.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "fitdiff.cli", "extract", str(tif), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert read_table_csv(out)["ok"].sum() > 150
