"""``fitdiff plan``: the Cramér–Rao forecast and its command line."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from fitdiff.cli import main
from fitdiff.extract.noise import NoiseModel
from fitdiff.fitting.forecast import (
    Experiment,
    forecast,
    image_bound,
    peak_for_cnr,
    widths_bound,
)

W0_DICE = 1.0 / (2.0 * math.sqrt(math.log(2.0)))  # FWHM 1 µm of exp(−x²/w0²)

PLAN = """
[experiment]
D_cm2_s = 0.1
w0_um = {w0}
lifetime_ps = 1000
cnr = {cnr}
background_counts = 0
noise = {{gain = 0, read_noise = 50}}
x_um = [-2.5, 2.5, 100]
t_ps = [0, 1000, 10]
[target]
relative_precision = 0.2
"""


@pytest.mark.parametrize("cnr, expected", [(5, 2.68), (20, 0.67), (50, 0.27), (100, 0.13)])
def test_dice_bound_matches_the_issue_table(cnr, expected):
    # the issue "honest D" table, column "Cramér–Rao bound SD (free background)", DICE's model
    # (two decimals given there; 2.673 against 2.68 at CNR 5 is 0.3 %, so rel 1 %)
    x, t = np.linspace(-2.5, 2.5, 100), np.linspace(0, 1000, 10)
    exp = Experiment(0.1, W0_DICE, 1000, 1000, 0, NoiseModel(0, 1000 / cnr), x, t)
    assert image_bound(exp)["sigma_D_cm2_s"] / 0.1 == pytest.approx(expected, rel=0.01, abs=0.006)


def test_two_stage_bound_equals_image_bound_when_slices_are_free():
    # with A, c free per slice and a symmetric window, the per-slice w² estimates are sufficient
    # for (w0², D): the Schur complement of the image information equals the line's information
    x, t = np.linspace(-3, 3, 80), np.linspace(0, 500, 12)
    exp = Experiment(1.0, 0.8, 300, 500, 2, NoiseModel(), x, t)
    a, b = image_bound(exp), widths_bound(exp)
    assert a["sigma_D_cm2_s"] == pytest.approx(b["sigma_D_cm2_s"], rel=0.02)
    assert a["sigma_w0_um"] == pytest.approx(b["sigma_w0_um"], rel=0.02)


def test_peak_for_cnr_inverts_cnr():
    nm = NoiseModel(gain=2.0, read_noise=10.0)
    peak = peak_for_cnr(30.0, 5.0, nm)
    # CNR = peak / sqrt(2 (peak + 5) + 100)
    assert peak / math.sqrt(2 * (peak + 5) + 100) == pytest.approx(30.0, rel=1e-9)


def test_target_and_probability():
    x, t = np.linspace(-2.5, 2.5, 100), np.linspace(0, 1000, 10)
    exp = Experiment(0.1, W0_DICE, 1000, 1000, 0, NoiseModel(0, 50), x, t)
    out = forecast(exp, 0.2)
    # white noise: σ_D/D = 0.668 at CNR 20 scales as 1/CNR, so 0.2 needs CNR 20·0.668/0.2
    assert out["cnr_needed_image"] == pytest.approx(20 * out["rel_sigma_D_image"] / 0.2, rel=1e-4)
    # P(|Z| < 0.2/0.668) for a normal Z
    assert out["p_within_image"] == pytest.approx(math.erf(0.2 / out["rel_sigma_D_image"] / 2**0.5))


def test_plan_cli_json_and_figure(tmp_path, capsys):
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN.format(w0=W0_DICE, cnr=20))
    fig = tmp_path / "plan.png"
    assert main(["plan", str(plan), "--json", "--figure", str(fig)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["cnr"] == pytest.approx(20.0)
    assert out["sigma_D_cm2_s_image"] / 0.1 == pytest.approx(0.67, abs=0.006)  # issue table
    assert "sigma_D_cm2_s_widths" in out
    assert fig.read_bytes()[:4] == b"\x89PNG"
    assert main(["plan", str(plan)]) == 0
    assert "σ_D" in capsys.readouterr().out


@pytest.mark.parametrize(
    "edit, match",
    [
        (("cnr = 20", "cnr = 20\npeak_counts = 5"), "exactly one of peak_counts and cnr"),
        (("lifetime_ps = 1000", "lifetime_ps = -3"), "lifetime_ps = -3; allowed > 0"),
        (("t_ps = [0, 1000, 10]", "t_ps = [0, 1000]"), r"t_ps = \[0, 1000\]; allowed"),
        (("background_counts = 0", "bg = 0"), r"unknown key\(s\) \['bg'\]"),
    ],
)
def test_plan_cli_bad_input(tmp_path, capsys, edit, match):
    plan = tmp_path / "plan.toml"
    plan.write_text(PLAN.format(w0=W0_DICE, cnr=20).replace(*edit))
    assert main(["plan", str(plan)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    import re

    assert re.search(match, err)
