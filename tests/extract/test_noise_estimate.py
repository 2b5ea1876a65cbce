"""``fitdiff info --noise``: noise SD and CNR from edge pixels and the flat high-frequency power."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fitdiff.extract.noise_estimate import edge_sd, estimate_noise, high_frequency_sd
from fitdiff.testing import dice_streak


def test_parseval_normalisation_on_white_noise():
    # pure white noise of SD 3: E|X_k|² = N σ² for every k, so the estimate is 3 (not 3/√2 or
    # 3·√2, the factor-2 slip in variance of a one-sided spectrum). 400 lines × ~33 coefficients
    # → SE of σ ~ 1/sqrt(2·13000) ≈ 0.6 %.
    rng = np.random.default_rng(2)
    lines = rng.normal(10.0, 3.0, (400, 128))
    assert high_frequency_sd(lines) == pytest.approx(3.0, rel=0.03)
    assert edge_sd(lines)[0] == pytest.approx(3.0, rel=0.03)


def test_dice_cnr_recovered():
    # DICE's model with CNR 20 (noise SD 50 on a 1000-count peak), 100 frames so both
    # estimators average enough pixels; the peak comes from a 3×3-smoothed maximum, biased up
    # by < 1 noise SD / 3 at this CNR (1.7 %)
    m = dice_streak(20, 7, t_ps=(0.0, 1000.0, 100))
    est = estimate_noise(m)
    assert est["sd_highfreq"] == pytest.approx(50.0, rel=0.03)
    assert est["sd_edge"] == pytest.approx(50.0, rel=0.04)
    assert est["cnr_highfreq"] == pytest.approx(20.0, rel=0.05)


def test_info_noise_cli(tmp_path, capsys):
    from fitdiff.cli import main
    from fitdiff.io import save

    m = dice_streak(20, 7, t_ps=(0.0, 1000.0, 100))
    m.counts = np.round(m.counts + 500.0)  # a camera offset keeps the counts positive integers
    path = tmp_path / "s.tif"
    save(m, path)
    assert main(["info", str(path), "--noise", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # rounding to integers adds 1/12 count² of variance: negligible against 2500
    assert out["noise"]["sd_highfreq"] == pytest.approx(50.0, rel=0.03)
    assert out["noise"]["background"] == pytest.approx(500.0, abs=5.0)
