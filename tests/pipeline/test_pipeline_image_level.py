"""``[fit] level = "image"`` through the analysis file, fit, sample and report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fitdiff.analysis import analysis_from_dict, run_fit
from fitdiff.errors import ConfigError
from fitdiff.io import save
from fitdiff.io.measurement import Measurement
from fitdiff.units import UM2_PS_PER_CM2_S

REPO = Path(__file__).resolve().parents[2]
STREAK = REPO / "data" / "examples" / "streak_100K.img"


def _config(file, **fit):
    return {
        "data": {"file": str(file)},
        "extract": {"t_range_ps": [40.0, 900.0], "bin_t": 2},
        "model": {"kind": "linear"},
        "parameters": {
            "D_cm2_s": {"value": 1.0, "min": 0.0, "max": 20.0},
            "w0_2_um2": {"value": 0.5, "min": 0.01, "max": 5.0},
        },
        "fit": {"t_range_ps": [40.0, 900.0], **fit},
    }


def test_image_level_fit_of_the_example_streak(tmp_path):
    # data/examples/streak_100K.img: truth D = 2.824 cm²/s (its .truth.json, seed-000 D(T))
    a = analysis_from_dict(_config(STREAK, level="image"), base_dir=tmp_path)
    res = run_fit(a, tmp_path)
    d = res.params["D_cm2_s"]
    assert d.value == pytest.approx(2.824, abs=4 * d.stderr)
    out = json.loads((tmp_path / "results.json").read_text())
    assert out["level"] == "image"
    assert {"D_cm2_s", "w0_2_um2", "x0_um"} <= set(out["parameters"])
    with np.load(tmp_path / "image_fit.npz") as z:
        assert z["data_0"].shape == z["model_0"].shape == z["residual_0"].shape
        # residuals in noise SDs of a good fit: SD ~ 1 (χ²/ν ~ 1 over ~10⁴ pixels)
        assert np.nanstd(z["residual_0"]) == pytest.approx(1.0, abs=0.05)


def test_level_is_validated(tmp_path):
    with pytest.raises(ConfigError, match=r"fit.level = 'pixels'; allowed \['widths', 'image'\]"):
        analysis_from_dict(_config(STREAK, level="pixels"), base_dir=tmp_path)
    cfg = _config(STREAK, level="image", likelihood="cauchy")
    with pytest.raises(ConfigError, match="fit.likelihood = 'cauchy'"):
        analysis_from_dict(cfg, base_dir=tmp_path)


def test_image_level_needs_an_image(tmp_path):
    table = tmp_path / "w.csv"
    table.write_text("t_ps,w2_um2,w2_err_um2\n0,1,0.1\n10,1.1,0.1\n20,1.2,0.1\n")
    cfg = _config(STREAK, level="image")
    cfg["data"] = {"widths": str(table)}
    a = analysis_from_dict(cfg, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="needs the image"):
        run_fit(a, tmp_path)


def test_image_level_fit_of_a_stack(tmp_path):
    # a (t, y, x) photon-counting stack of exp(−r²/w²(t)), population e^(−t/τ) (so the peak
    # falls as w0²/w² in 2D), saved as TIFF; D = 1 cm²/s
    rng = np.random.default_rng(11)
    t = np.linspace(0.0, 400.0, 12)
    y = x = np.linspace(-4.0, 4.0, 40)
    w2 = 1.0 + 4 * 1.0 * UM2_PS_PER_CM2_S * t
    r2 = (x[None, :] - 0.2) ** 2 + (y[:, None] + 0.1) ** 2
    mean = (
        300 * np.exp(-t / 500)[:, None, None] / w2[:, None, None] * np.exp(-r2 / w2[:, None, None])
    )
    m = Measurement(
        rng.poisson(mean + 2.0).astype(np.uint16),
        ("t", "y", "x"),
        {"t": t, "y": y, "x": x},
        {"t": "ps", "y": "um", "x": "um"},
        meta={"noise": {"gain": 1.0, "read_noise": 0.0}},
    )
    path = save(m, tmp_path / "stack.tif")
    cfg = _config(path, level="image")
    cfg["extract"] = {}
    cfg["fit"] = {"level": "image"}
    a = analysis_from_dict(cfg, base_dir=tmp_path)
    res = run_fit(a, tmp_path)
    d = res.params["D_cm2_s"]
    assert d.value == pytest.approx(1.0, abs=4 * d.stderr)
    assert res.params["x0_um"].value == pytest.approx(0.2, abs=0.05)
    assert res.params["y0_um"].value == pytest.approx(-0.1, abs=0.05)
