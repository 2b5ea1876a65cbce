"""``fitdiff simulate``: CSV curves, rendered files with truth, errors as exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fitdiff.cli import main
from fitdiff.solvers import ValleyModel, solve_moments

EXAMPLE = Path(__file__).resolve().parents[2] / "analyses" / "simulate_example.toml"

SMALL = """
T_K = 20.0
[[valley]]
name = "KK"
D_cm2_s = 5.0
radiative_rate_per_ps = 0.01
[[valley]]
name = "KKp"
E_meV = -10.0
D_cm2_s = 0.5
[[transition]]
from = "KK"
to = "KKp"
rate_per_ps = 0.2
[source]
w0_um = 0.5
pulse_fwhm_ps = 0.5
t0_ps = 2.0
[time]
t_ps = [0.0, 60.0, 31]
[instrument]
irf_fwhm_ps = 2.0
[render]
x_um = [-4.0, 4.0, 41]
seed = 5
"""


@pytest.fixture
def model_file(tmp_path) -> Path:
    path = tmp_path / "model.toml"
    path.write_text(SMALL)
    return path


def test_csv_curves_are_the_moment_solution(model_file, tmp_path, capsys):
    out = tmp_path / "curves.csv"
    assert main(["simulate", str(model_file), "-o", str(out)]) == 0
    assert "31 times x 2 valleys" in capsys.readouterr().err
    from fitdiff.extract import read_table_csv

    df = read_table_csv(out)
    assert list(df.columns) == [
        "t_ps",
        "n_KK",
        "w2_KK_um2",
        "D_KK_cm2_s",
        "n_KKp",
        "w2_KKp_um2",
        "D_KKp_cm2_s",
        "pl",
        "w2_pl_um2",
        "D_pl_cm2_s",
    ]
    model = ValleyModel.from_toml(model_file)
    ref = solve_moments(model, np.linspace(0.0, 60.0, 31))
    # the CSV writer keeps 10 significant digits
    np.testing.assert_allclose(df["w2_pl_um2"], ref.w2_pl_um2, rtol=1e-9, atol=0)
    assert df.attrs["solver"] == "moments" and df.attrs["instrument"] is True


def test_csv_from_the_spatial_solver_agrees(model_file, tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(["simulate", str(model_file), "-o", str(a), "--intrinsic"]) == 0
    assert (
        main(["simulate", str(model_file), "-o", str(b), "--solver", "spatial", "--intrinsic"]) == 0
    )
    from fitdiff.extract import read_table_csv

    da, db = read_table_csv(a), read_table_csv(b)
    late = da["t_ps"] > 5
    # Hankel profiles vs exact moments (test_spatial.py: 1e-6); here the coarser CSV r grid
    np.testing.assert_allclose(db["w2_KK_um2"][late], da["w2_KK_um2"][late], rtol=1e-5, atol=0)


@pytest.mark.parametrize("suffix", [".tif", ".img"])
def test_rendered_measurement_and_truth(model_file, tmp_path, suffix):
    io = pytest.importorskip("fitdiff.io")
    if not hasattr(io, "save"):
        pytest.skip("fitdiff.io.save not available")
    out = tmp_path / f"streak{suffix}"
    assert main(["simulate", str(model_file), "-o", str(out), "--seed", "11"]) == 0
    m = io.load(out)
    assert m.counts.shape == (31, 41)
    np.testing.assert_allclose(m.coords["t"], np.linspace(0, 60, 31), rtol=0, atol=1e-5)
    truth = json.loads(Path(f"{out}.truth.json").read_text())
    assert truth["seed"] == 11 and truth["kind"] == "streak"
    assert ValleyModel.from_dict(truth["model"]) == ValleyModel.from_toml(model_file)
    ref = solve_moments(ValleyModel.from_toml(model_file), np.linspace(0.0, 60.0, 31))
    np.testing.assert_allclose(truth["curves"]["w2_pl_um2"], ref.w2_pl_um2, rtol=1e-12, atol=0)
    assert "w2_KK_um2" in truth["curves_intrinsic"]


def test_example_model_renders(tmp_path):
    out = tmp_path / "example.csv"
    assert main(["simulate", str(EXAMPLE), "-o", str(out)]) == 0


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (SMALL, ["-o", "x.xyz"], r"unknown suffix '\.xyz'; use \.csv, \.tif, \.tiff or \.img"),
        (
            SMALL.replace("w0_um", "w0_nm"),
            ["-o", "x.csv"],
            r"source\.w0_nm: unknown model key \(allowed: valley, w0_um",
        ),
        (SMALL.replace("T_K = 20.0", "T_K = -3.0"), ["-o", "x.csv"], r"'T_K': must be > 0"),
        (
            SMALL.replace("[time]\nt_ps = [0.0, 60.0, 31]\n", ""),
            ["-o", "x.csv"],
            r"no \[time\] t_ps",
        ),
        (
            SMALL.replace("D_cm2_s = 0.5", "D_cm2_s = 0.5\nannihilation_cm2_s = 0.1"),
            ["-o", "x.csv", "--solver", "moments"],
            r"annihilation.*use --solver spatial",
        ),
    ],
)
def test_bad_input_exits_2_with_a_message(tmp_path, capsys, content, args, message):
    path = tmp_path / "bad.toml"
    path.write_text(content)
    args = [a if not a.startswith("x.") else str(tmp_path / a) for a in args]
    assert main(["simulate", str(path), *args]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    import re

    assert re.search(message, err), err


def test_subprocess_exit_codes(model_file, tmp_path):
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "fitdiff.cli",
            "simulate",
            str(model_file),
            "-o",
            str(tmp_path / "c.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "fitdiff.cli",
            "simulate",
            str(tmp_path / "nope.toml"),
            "-o",
            str(tmp_path / "c.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2
    assert "nope.toml: model file not found" in bad.stderr
