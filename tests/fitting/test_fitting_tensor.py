"""The diffusion tensor model Σ(t) = Σ0 + 2Dt (fitdiff.fitting.tensor) on simulated stacks.

Truths are the generating values of ``fitdiff.testing.tensor_widths`` (Poisson stacks of a tilted
Gaussian, extracted with shape = "rotated"); the principal values and angle of a 2 × 2
symmetric matrix are checked against numpy.linalg.eigh, an independent route.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from fitdiff.analysis import analysis_from_dict, run_fit
from fitdiff.errors import ConfigError
from fitdiff.fitting import Objective, Term, least_squares, make_parameters
from fitdiff.fitting.tensor import TensorData, TensorModel, derived_from_samples, principal
from fitdiff.testing import tensor_widths

# fast axis at 25.1°: ½ atan2(2 · 0.6, 2.0 − 0.8)
TRUE_D = (2.0, 0.8, 0.6)


def _fit(df):
    model = TensorModel()
    data = TensorData.from_frame(df)
    params = make_parameters(
        model, sigma2_0_xx_um2=0.5, sigma2_0_yy_um2=0.5, Dxx_cm2_s=1.0, Dyy_cm2_s=1.0
    )
    mapping = {n: n for n in model.parameter_names()}
    obj = Objective.from_terms([Term(model, data, mapping)], params)
    return least_squares(obj), obj


def test_principal_values_match_eigh():
    for dxx, dyy, dxy in [(2.0, 0.8, 0.6), (1.0, 3.0, -0.4), (1.0, 1.0, 0.0), (0.5, 0.2, 0.3)]:
        major, minor, angle = principal(dxx, dyy, dxy)
        vals, vecs = np.linalg.eigh([[dxx, dxy], [dxy, dyy]])
        np.testing.assert_allclose([major, minor], vals[::-1], rtol=1e-12, atol=1e-14)
        if major == minor:
            continue  # an isotropic tensor has no axis
        v = vecs[:, 1]  # major eigenvector; its direction modulo 180°
        ang = np.degrees(np.arctan2(v[1], v[0]))
        assert abs((angle - ang + 90) % 180 - 90) < 1e-9


def test_data_stack_component_major_with_slice_covariance():
    df = tensor_widths(0)
    d = TensorData.from_frame(df)
    n = int(df["ok"].sum())
    assert len(d) == 3 * n and list(d.component[::n]) == ["xx", "yy", "xy"]
    i = 2
    np.testing.assert_allclose(d.cov[i, n + i], df["cov_sigma2_xx_yy_um4"][df["ok"]].iloc[i])
    np.testing.assert_allclose(
        d.cov[n + i, 2 * n + i], df["cov_sigma2_yy_xy_um4"][df["ok"]].iloc[i]
    )
    assert d.cov[i, n + i + 1] == 0.0  # slices are independent


def test_recovers_the_tensor_within_3_sigma():
    res, _ = _fit(tensor_widths(1))
    for name, true in zip(("Dxx_cm2_s", "Dyy_cm2_s", "Dxy_cm2_s"), TRUE_D, strict=True):
        assert abs(res.params[name].value - true) < 3 * res.stderr(name), name


def test_isotropic_special_case_is_the_linear_model():
    # Dxx = Dyy = D, Dxy = 0: tr Σ(t) = w0² + 4Dt, the linear model of PHYSICS.md §1
    from fitdiff.fitting.models import LinearModel

    d = TensorData([0.0, 0.0, 0.0, 100.0, 100.0, 100.0], [1] * 6, [1] * 6, ["xx", "yy", "xy"] * 2)
    v = {
        "sigma2_0_xx_um2": 0.5,
        "sigma2_0_yy_um2": 0.5,
        "sigma2_0_xy_um2": 0.0,
        "Dxx_cm2_s": 2.0,
        "Dyy_cm2_s": 2.0,
        "Dxy_cm2_s": 0.0,
    }
    pred = TensorModel().predict(v, d)
    tr = pred[d.component == "xx"] + pred[d.component == "yy"]

    class W:
        x = np.array([0.0, 100.0])

    lin = LinearModel().predict({"w0_2_um2": 1.0, "D_cm2_s": 2.0}, W)
    np.testing.assert_allclose(np.sort(tr), lin, rtol=1e-12, atol=0)


@pytest.mark.slow
def test_pulls_over_120_stacks():
    pulls = {n: [] for n in ("Dxx_cm2_s", "Dyy_cm2_s", "Dxy_cm2_s")}
    for seed in range(100, 220):
        res, _ = _fit(tensor_widths(seed))
        for name, true in zip(pulls, TRUE_D, strict=True):
            pulls[name].append((res.params[name].value - true) / res.stderr(name))
    for name, p in pulls.items():
        sd = np.std(p, ddof=1)
        assert 0.85 <= sd <= 1.2, (name, sd)
        assert abs(np.mean(p)) < 0.3, (name, np.mean(p))


def test_analysis_wiring_defaults_to_rotated_and_writes_derived(tmp_path):
    raw = {"model": {"kind": "tensor"}, "data": {"widths": "w.csv"}}
    df = tensor_widths(2)
    df.to_csv(tmp_path / "w.csv", index=False)
    a = analysis_from_dict(raw, base_dir=tmp_path)
    assert a.config["extract"]["shape"] == "rotated"
    run_fit(a, tmp_path / "run", widths=df)
    out = json.loads((tmp_path / "run" / "results.json").read_text())
    derived = out["derived"]
    assert set(derived) == {"D_major_cm2_s", "D_minor_cm2_s", "angle_deg"}
    major, minor, angle = principal(*TRUE_D)
    for key, true in (("D_major_cm2_s", major), ("D_minor_cm2_s", minor), ("angle_deg", angle)):
        assert abs(derived[key]["value"] - true) < 3 * derived[key]["stderr"], key
    bad = {**raw, "extract": {"shape": "elliptical"}}
    with pytest.raises(ConfigError, match=r"extract\.shape: 'elliptical'; .*'tensor' needs"):
        analysis_from_dict(bad, base_dir=tmp_path)


def test_posterior_summaries_of_derived_quantities_unwrap_the_angle():
    # samples of a tensor whose fast axis is along y (θ = ±90°): a naive percentile of the
    # angle would split them into two clouds near -90 and +90; unwrapped they sit near 90
    rng = np.random.default_rng(3)
    dxy = rng.normal(0.0, 0.05, 4000)
    samples = np.column_stack([np.full(4000, 1.0), np.full(4000, 3.0), dxy])
    out = derived_from_samples(TensorModel(), samples)
    angle = out["angle_deg"]
    assert abs(abs(angle["median"]) - 90.0) < 0.5
    # first order: θ ≈ 90° - Dxy / (Dyy - Dxx) rad, so its SD is 0.05 / 2 rad = 1.43°
    np.testing.assert_allclose(angle["sd"], np.degrees(0.05 / 2), rtol=0.1, atol=0)
    np.testing.assert_allclose(out["D_major_cm2_s"]["median"], 3.0, rtol=0, atol=0.01)
