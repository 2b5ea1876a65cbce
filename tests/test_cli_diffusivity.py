"""``fitdiff diffusivity``: the table, temperature lists and ranges, exit code 2 on bad input."""

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from fitdiff import physics
from fitdiff.cli import main


def test_prints_table_with_reference_row(capsys):
    assert main(["diffusivity", "--T-K", "4,20,100"]) == 0
    out = capsys.readouterr().out
    assert out.split()[: len(physics.COLUMNS)] == list(physics.COLUMNS)
    # PHYSICS.md §2, 100 K row: dD = -0.546 cm^2/s (printed to 5 significant digits)
    assert "-0.5459" in out


def test_writes_csv(tmp_path, capsys):
    out = tmp_path / "dT.csv"
    assert (
        main(
            [
                "diffusivity",
                "--T-K",
                "4,20,100,300",
                "--tau-dis-ps",
                "1",
                "--method",
                "cooperon",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert "wrote 4 rows" in capsys.readouterr().out
    table = pd.read_csv(out)
    assert tuple(table.columns) == physics.COLUMNS
    # the CSV holds what the library computes for the same arguments (10 significant digits)
    expected = physics.diffusivity([4, 20, 100, 300], tau_dis_ps=1.0, method="cooperon")
    np.testing.assert_allclose(table.D_cm2_s, expected.D_cm2_s, rtol=1e-9, atol=0)
    assert table.valid.tolist() == [False, False, True, True]


def test_range_start_stop_Nn_is_a_count(tmp_path):
    out = tmp_path / "dT.csv"
    assert main(["diffusivity", "--T-K", "4:300:5n", "-o", str(out)]) == 0
    # issue 12 item 16: start:stop:Nn is N values, both ends included: 4, 78, 152, 226, 300
    np.testing.assert_allclose(pd.read_csv(out).T_K, [4, 78, 152, 226, 300], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # issue 12 item 16: start:stop:step reads as a physicist writes it (step 50 K; 300 is
        # not on the grid 4 + 50 k, so it is not included)
        ("4:300:50", [4, 54, 104, 154, 204, 254]),
        # a stop on the grid is included, also after 0.1-steps' round-off
        ("10:300:10", np.arange(10, 301, 10)),
        ("0.1:0.5:0.1", [0.1, 0.2, 0.3, 0.4, 0.5]),
        ("5:5:1", [5]),
    ],
)
def test_range_start_stop_step(text, expected):
    from fitdiff.commands._args import float_list

    np.testing.assert_allclose(float_list(text), expected, rtol=1e-12, atol=1e-12)


def test_T_K_help_says_step_and_count(capsys):
    with pytest.raises(SystemExit):
        main(["diffusivity", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "start:stop:step" in text and "start:stop:Nn" in text


def test_method_classical_is_delta_D_zero(tmp_path):
    # issue 12 item 15: --method accepts "classical" as fits do; delta_D = 0, D = D_classical
    out = tmp_path / "dT.csv"
    assert main(["diffusivity", "--T-K", "20,100", "--method", "classical", "-o", str(out)]) == 0
    table = pd.read_csv(out)
    np.testing.assert_allclose(table.delta_D_cm2_s, 0.0, rtol=0, atol=0)
    # fitdiff.physics.d_classical is the independent closed form (seed 000 eq. 4)
    p = physics.resolve_parameters()
    expected = physics.d_classical(
        np.array([20.0, 100.0]),
        xi_eV=p["xi_eV"],
        M_m0=p["M_m0"],
        rho_g_cm2=p["rho_g_cm2"],
        s_cm_s=p["s_cm_s"],
        tau_dis_ps=p["tau_dis_ps"],
    )
    np.testing.assert_allclose(table.D_cm2_s, expected, rtol=1e-9, atol=0)


def test_material_and_overrides(tmp_path):
    out = tmp_path / "dT.csv"
    assert (
        main(["diffusivity", "--material", "WSe2", "--M-m0", "0.8", "--T-K", "50", "-o", str(out)])
        == 0
    )
    expected = physics.diffusivity(50.0, material="WSe2", M_m0=0.8)
    assert pd.read_csv(out).D_cm2_s.iloc[0] == pytest.approx(expected.D_cm2_s.iloc[0], rel=1e-9)


# argparse reads "-4e-7" after a flag as an option (only plain negatives like -1 count as
# numbers), so negative scientific values are written --flag=-4e-7, as a user must.
@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--T-K", "4,0"], r"--T-K: temperatures must be > 0 K \(allowed \(0, inf\)\); got 0"),
        (["--T-K=-5:10:3"], r"--T-K: temperatures must be > 0 K"),
        (["--T-K", "4:x"], r"argument --T-K: expected a,b,c; start:stop:step"),
        (["--T-K", "4:300:0"], r"argument --T-K: range '4:300:0': the step must be > 0"),
        (["--T-K", "300:4:5"], r"argument --T-K: range '300:4:5': need finite start <= stop"),
        (["--T-K", "4", "--M-m0", "0"], r"--M-m0 = 0 is outside the allowed range \(0, inf\)"),
        (["--T-K", "4", "--M-m0", "-1"], r"--M-m0 = -1 is outside the allowed range"),
        (["--T-K", "4", "--rho-g-cm2=-4e-7"], r"--rho-g-cm2 = -4e-07 is outside the allowed range"),
        (
            ["--T-K", "4", "--material", "Foo"],
            r"unknown material 'Foo'; known materials: typical-tmdc",
        ),
        (["--T-K", "4", "--bogus", "3"], r"unrecognized arguments: --bogus 3"),
        (["--T-K", "4", "--method", "exact"], r"argument --method: invalid choice: 'exact'"),
        ([], r"the following arguments are required: --T-K"),
    ],
)
def test_bad_input_exits_2_with_message(argv, match, capsys):
    try:
        status = main(["diffusivity", *argv])
    except SystemExit as exc:  # argparse usage errors exit from inside parse_args
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1  # one line, no traceback
    assert "Traceback" not in err
    assert re.search(match, err), err


def test_subprocess_exit_codes(tmp_path):
    ok = subprocess.run(
        [sys.executable, "-m", "fitdiff.cli", "diffusivity", "--T-K", "100"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "fitdiff.cli", "diffusivity", "--T-K", "100", "--M-m0", "-1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "--M-m0 = -1 is outside the allowed range" in bad.stderr
    assert "Traceback" not in bad.stderr
