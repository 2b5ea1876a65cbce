"""Bayesian evidence (fitdiff evidence): the closed form of a linear-Gaussian model, priors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fitdiff.analysis import load_analysis
from fitdiff.cli import main
from fitdiff.errors import ConfigError
from fitdiff.evidence_stage import run_evidence
from fitdiff.extract import write_table_csv
from fitdiff.testing import linear_widths

# Priors of the closed-form check: Gaussian on both parameters of w² = w0² + 4 D t.
MU = np.array([1.0, 1.5])  # w0_2_um2 (µm²), D_cm2_s (cm²/s)
SIGMA = np.array([0.1, 0.3])

LINEAR_GAUSSIAN = f"""
[data]
widths = "widths.csv"

[model]
kind = "linear"

[parameters.w0_2_um2]
min = -inf   # the model's bound w0² ≥ 0 would truncate the Gaussian prior
prior = {{ kind = "normal", mu = {MU[0]}, sigma = {SIGMA[0]} }}

[parameters.D_cm2_s]
prior = {{ kind = "normal", mu = {MU[1]}, sigma = {SIGMA[1]} }}

[evidence]
n_live = 400   # lnZ_err ≈ sqrt(H / n_live) ≈ 0.1 nats: the 0.3 criterion is 3 σ
dlogz = 0.05
seed = 11
bound = "single"  # one Gaussian mode: one ellipsoid, far less overhead than "multi"
"""


def closed_form_lnZ(t_ps, y, s):
    """ln Z of y = A θ + ε, ε ~ N(0, Σ = diag s²), prior θ ~ N(μ, Λ = diag σ²).

    Derivation: y is a linear function of two independent Gaussians (θ and ε), so its
    marginal (the evidence, ∫ N(y; Aθ, Σ) N(θ; μ, Λ) dθ) is Gaussian with mean A μ and
    covariance C = Σ + A Λ Aᵀ:

        ln Z = −½ (y − Aμ)ᵀ C⁻¹ (y − Aμ) − ½ ln det(2π C).

    A = [1, 4 t · 1e-4]: w² = w0² + 4 D t with 1 cm²/s = 1e-4 µm²/ps (PHYSICS.md §0).
    Both parameters are unbounded in the analysis, so the priors are the full Gaussians.
    """
    A = np.column_stack([np.ones_like(t_ps), 4e-4 * t_ps])
    C = np.diag(s**2) + A @ np.diag(SIGMA**2) @ A.T
    r = y - A @ MU
    _, logdet = np.linalg.slogdet(2.0 * np.pi * C)
    return float(-0.5 * r @ np.linalg.solve(C, r) - 0.5 * logdet)


@pytest.fixture
def linear_gaussian(tmp_path):
    widths = linear_widths(3)
    write_table_csv(widths, tmp_path / "widths.csv")
    (tmp_path / "a.toml").write_text(LINEAR_GAUSSIAN, encoding="utf-8")
    return tmp_path / "a.toml", widths


def test_evidence_matches_the_closed_form(linear_gaussian, tmp_path, capsys):
    toml, widths = linear_gaussian
    run = tmp_path / "run"
    assert main(["evidence", str(toml), "-o", str(run)]) == 0
    assert "ln Z = " in capsys.readouterr().out
    ev = json.loads((run / "evidence.json").read_text())
    expected = closed_form_lnZ(
        widths["t_ps"].to_numpy(), widths["w2_um2"].to_numpy(), widths["w2_err_um2"].to_numpy()
    )
    # the criterion: within 3 lnZ_err and within 0.3 nats
    assert abs(ev["lnZ"] - expected) < 3.0 * ev["lnZ_err"]
    assert abs(ev["lnZ"] - expected) < 0.3
    assert ev["engine"] == "dynesty" and ev["n_live"] == 400 and ev["n_eff"] > 100
    assert ev["k"] == 2 and ev["ndata"] == len(widths)
    assert ev["run_time_s"] > 0
    assert not (run / "evidence.ckpt").exists()  # removed once evidence.json is written
    # posterior summaries in posterior.json's shape; D's posterior: the conjugate Gaussian
    # (the same linear algebra, Λ⁻¹ + Aᵀ Σ⁻¹ A)⁻¹ gives its mean and sd
    t, s = widths["t_ps"].to_numpy(), widths["w2_err_um2"].to_numpy()
    A = np.column_stack([np.ones_like(t), 4e-4 * t])
    cov = np.linalg.inv(np.diag(1 / SIGMA**2) + A.T @ (A / s[:, None] ** 2))
    mean = cov @ (MU / SIGMA**2 + A.T @ (widths["w2_um2"].to_numpy() / s**2))
    D = ev["parameters"]["D_cm2_s"]
    assert set(D) >= {"median", "p16", "p84", "p2_5", "p97_5", "mean", "sd", "unit"}
    assert D["mean"] == pytest.approx(mean[1], abs=0.2 * np.sqrt(cov[1, 1]))
    assert D["sd"] == pytest.approx(np.sqrt(cov[1, 1]), rel=0.15)
    # posterior ≈ prior diagnostic: posterior sd / prior sd
    assert D["prior_width_ratio"] == pytest.approx(np.sqrt(cov[1, 1]) / SIGMA[1], rel=0.15)


def test_improper_prior_is_a_config_error_naming_the_parameter(linear_gaussian, tmp_path, capsys):
    toml, _ = linear_gaussian
    # D_cm2_s of the linear model is unbounded: without a prior it is uniform on (-inf, inf)
    text = toml.read_text().replace(
        'prior = { kind = "normal", mu = 1.5, sigma = 0.3 }', "value = 1.5"
    )
    toml.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"parameters\.D_cm2_s: the evidence needs a proper"):
        run_evidence(load_analysis(toml), tmp_path / "run")
    assert main(["evidence", str(toml), "-o", str(tmp_path / "run2"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "parameters.D_cm2_s" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "extra, match",
    [
        ("n_walkers = 3", r"evidence\.n_walkers: unknown key"),
        ("n_live = 5", r"evidence\.n_live: 5 outside the allowed range"),
        ("dlogz = -1.0", r"evidence\.dlogz"),
        ('bound = "balls"', r"evidence\.bound: 'balls' is not one of"),
    ],
)
def test_evidence_section_is_validated(linear_gaussian, extra, match):
    toml, _ = linear_gaussian
    text = "\n".join(
        line for line in toml.read_text().splitlines() if not line.startswith(extra.split()[0])
    )
    toml.write_text(text.replace("seed = 11", f"seed = 11\n{extra}"))
    with pytest.raises(ConfigError, match=match):
        load_analysis(toml)


def _objective():
    from fitdiff.fitting import LinearModel, Normal, Objective, WidthsData, make_parameters

    model = LinearModel()
    params = make_parameters(model, w0_2_um2=1.0, D_cm2_s=1.5)
    params["w0_2_um2"].min = -np.inf
    priors = {"w0_2_um2": Normal(MU[0], SIGMA[0]), "D_cm2_s": Normal(MU[1], SIGMA[1])}
    return Objective(model, WidthsData.from_frame(linear_widths(3)), params, priors)


def test_interrupted_run_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    from fitdiff.fitting import evidence as ev_module

    objective = _objective()
    settings = dict(n_live=40, dlogz=1.0, seed=4, bound="single")
    whole = ev_module.evidence(objective, **settings)

    ckpt = tmp_path / "evidence.ckpt"
    monkeypatch.setattr(ev_module, "CHECKPOINT_SECONDS", 0.0)  # checkpoint every iteration
    calls = {"n": 0}
    original = ev_module.LogLikelihood.__call__

    def interrupting(self, theta):
        calls["n"] += 1
        if calls["n"] == 300:
            raise KeyboardInterrupt
        return original(self, theta)

    monkeypatch.setattr(ev_module.LogLikelihood, "__call__", interrupting)
    with pytest.raises(ev_module.EvidenceInterrupted) as info:
        ev_module.evidence(objective, checkpoint_path=ckpt, **settings)
    assert info.value.checkpoint == ckpt and ckpt.exists()
    monkeypatch.setattr(ev_module.LogLikelihood, "__call__", original)
    resumed = ev_module.evidence(objective, checkpoint_path=ckpt, **settings)
    assert resumed.resumed and resumed.message.startswith("resumed checkpoint at iteration")
    # the checkpoint holds dynesty's random state: the resumed run is the uninterrupted one
    assert resumed.lnZ == pytest.approx(whole.lnZ, abs=1e-9)
    assert resumed.n_iter == whole.n_iter

    # other settings do not resume another run's checkpoint
    other = ev_module.evidence(objective, checkpoint_path=ckpt, **{**settings, "seed": 5})
    assert not other.resumed and "changed" in other.message
