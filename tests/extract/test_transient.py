"""transient_diffusion and linear_diffusion against analytic w²(t) and numpy.polyfit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fitdiff.errors import ExtractionError
from fitdiff.extract import linear_diffusion, transient_diffusion


def table(t, w2, err, ok=None):
    return pd.DataFrame(
        {
            "t_ps": t,
            "w2_um2": w2,
            "w2_err_um2": err,
            "ok": np.ones(len(t), bool) if ok is None else ok,
        }
    )


def test_straight_line_gives_exact_D():
    # w² = 2 + 4 D t with D = 3 cm²/s = 3e-4 µm²/ps (PHYSICS.md §0, §1): every estimator returns
    # exactly 3 on noiseless data
    t = np.linspace(0, 500, 51)
    w = table(t, 2.0 + 4 * 3e-4 * t, np.full(51, 0.01))
    for method in ("local", "savgol"):
        d = transient_diffusion(w, window=7, method=method)
        np.testing.assert_allclose(d["D_cm2_s"], 3.0, rtol=1e-9, atol=0)
        assert len(d) == 51 - 6
        np.testing.assert_allclose(d["t_ps"].iloc[0], t[3], rtol=0, atol=1e-12)
        assert d.attrs["settings"]["window"] == 7
    lin = linear_diffusion(w)
    np.testing.assert_allclose([lin.D_cm2_s, lin.w0_2_um2], [3.0, 2.0], rtol=1e-9, atol=0)


def test_errors_match_polyfit_covariance():
    # independent program: numpy.polyfit with weights 1/err and cov="unscaled" gives the
    # weighted-least-squares slope and its error; D = slope/4 in µm²/ps, /1e-4 to cm²/s
    rng = np.random.default_rng(1)
    t = np.linspace(0, 300, 31)
    err = rng.uniform(0.02, 0.08, 31)
    w2 = 1.0 + 4e-3 * t + rng.normal(0, err)
    w = table(t, w2, err)
    d = transient_diffusion(w, window=9)
    coef, cov = np.polyfit(t[:9], w2[:9], 1, w=1 / err[:9], cov="unscaled")
    np.testing.assert_allclose(d["D_cm2_s"].iloc[0], coef[0] / 4 / 1e-4, rtol=1e-9, atol=0)
    np.testing.assert_allclose(
        d["D_err_cm2_s"].iloc[0], np.sqrt(cov[0, 0]) / 4 / 1e-4, rtol=1e-9, atol=0
    )
    lin = linear_diffusion(w, t_range_ps=(50, 250))
    sel = (t >= 50) & (t <= 250)
    coef, cov = np.polyfit(t[sel], w2[sel], 1, w=1 / err[sel], cov="unscaled")
    np.testing.assert_allclose(lin.D_cm2_s, coef[0] / 4e-4, rtol=1e-9, atol=0)
    np.testing.assert_allclose(lin.D_err_cm2_s, np.sqrt(cov[0, 0]) / 4e-4, rtol=1e-9, atol=0)
    np.testing.assert_allclose(lin.w0_2_err_um2, np.sqrt(cov[1, 1]), rtol=1e-9, atol=0)
    assert lin.ndata == int(sel.sum()) and lin.to_dict()["t_range_ps"] == [50.0, 250.0]


def test_negative_diffusion_and_pull():
    # a shrinking cloud (seed 001: negative transient D) with Gaussian noise of known SD:
    # D = -1 cm²/s recovered, and (D - truth)/D_err has SD ~ 1 over independent windows
    rng = np.random.default_rng(2)
    t = np.linspace(0, 1000, 701)
    err = np.full(t.size, 0.02)
    w = table(t, 3.0 - 4e-4 * t + rng.normal(0, err), err)
    d = transient_diffusion(w, window=7)
    independent = d.iloc[::7]  # windows that share no points
    z = (independent["D_cm2_s"] + 1.0) / independent["D_err_cm2_s"]
    assert 0.8 < z.std() < 1.25
    assert abs(linear_diffusion(w).D_cm2_s + 1.0) < 3 * linear_diffusion(w).D_err_cm2_s


def test_not_ok_rows_are_skipped_and_bad_input_named():
    t = np.arange(20.0)
    ok = np.ones(20, bool)
    ok[5] = False
    w = table(t, np.where(ok, 1 + 4e-4 * t, 99.0), np.full(20, 0.1), ok)
    d = transient_diffusion(w, window=3)
    np.testing.assert_allclose(d["D_cm2_s"], 1.0, rtol=1e-9, atol=0)
    assert 5.0 not in d["t_ps"].to_numpy()
    with pytest.raises(ExtractionError, match="window = 4; allowed an odd integer >= 3"):
        transient_diffusion(w, window=4)
    with pytest.raises(ExtractionError, match="method = 'spline'"):
        transient_diffusion(w, method="spline")
    with pytest.raises(ExtractionError, match="savgol' needs uniformly spaced"):
        transient_diffusion(w, method="savgol")
    with pytest.raises(ExtractionError, match="only 19 ok width points; window = 21"):
        transient_diffusion(w, window=21)
    with pytest.raises(ExtractionError, match=r"needs >= 3 ok points in t_range_ps = \(0, 1\)"):
        linear_diffusion(w, t_range_ps=(0, 1))
    with pytest.raises(ExtractionError, match=r"lacks column\(s\) \['w2_err_um2'\]"):
        linear_diffusion(w.drop(columns="w2_err_um2"))
