"""Build a synthetic RUN directory the way the fit/sample stages will write it.

Widths follow w²(t) = w0² + 4Dt (PHYSICS.md §1) with Gaussian noise; the least-squares fit is
done with scipy.optimize.curve_fit (independent of fitdiff's fitting layer) and the chain with
a real emcee HDFBackend, so every number the report shows can be checked against those
independent programs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import emcee
import numpy as np
import pandas as pd
from scipy.optimize import curve_fit

UM2_PS_PER_CM2_S = 1e-4  # PHYSICS.md §0: 1 cm²/s = 1e-4 µm²/ps
TRUE_W0_2_UM2 = 1.0
TRUE_D_CM2_S = 5.0
SEED = 20240607


def _w2(t_ps, w0_2_um2, D_cm2_s):
    return w0_2_um2 + 4.0 * D_cm2_s * UM2_PS_PER_CM2_S * t_ps


def _write_table(path: Path, df: pd.DataFrame, attrs: dict | None = None) -> None:
    header = "".join(f"# {k}: {json.dumps(v)}\n" for k, v in (attrs or {}).items())
    path.write_text(header + df.to_csv(index=False), encoding="utf-8")


def make_run(run_dir: Path, *, steps: int = 300, with_chain: bool = True) -> dict:
    """Write a complete linear-model RUN directory; return the numbers it was built from."""
    rng = np.random.default_rng(SEED)
    run_dir.mkdir(parents=True, exist_ok=True)
    t = np.linspace(0.0, 500.0, 26)
    err = np.full_like(t, 0.02)
    w2 = _w2(t, TRUE_W0_2_UM2, TRUE_D_CM2_S) + rng.normal(0.0, err)
    widths = pd.DataFrame(
        {
            "t_ps": t,
            "sigma2_um2": w2 / 2,
            "sigma2_err_um2": err / 2,
            "w2_um2": w2,
            "w2_err_um2": err,
            "center_um": 0.1 * np.ones_like(t),
            "amplitude": 100.0,
            "background": 1.0,
            "intensity": 1e4 * np.exp(-t / 150.0),
            "intensity_err": 100.0 * np.exp(-t / 300.0),
            "kurtosis_excess": 0.0,
            "ok": True,
            "reason": "",
        }
    )
    _write_table(run_dir / "widths.csv", widths, {"settings": {"method": "gauss"}})
    D_local = 0.25 * np.gradient(w2, t) / UM2_PS_PER_CM2_S
    _write_table(
        run_dir / "transient.csv", pd.DataFrame({"t_ps": t, "D_cm2_s": D_local, "D_err_cm2_s": 1.0})
    )

    popt, pcov = curve_fit(_w2, t, w2, p0=[1.0, 1.0], sigma=err, absolute_sigma=True)
    perr = np.sqrt(np.diag(pcov))
    model = _w2(t, *popt)
    pulls = (w2 - model) / err
    chi2 = float(np.sum(pulls**2))
    n, k = len(t), 2
    results = {
        "model": "linear",
        "parameters": {
            "w0_2_um2": {
                "value": popt[0],
                "stderr": perr[0],
                "unit": "um2",
                "vary": True,
                "at_bound": False,
            },
            "D_cm2_s": {
                "value": popt[1],
                "stderr": perr[1],
                "unit": "cm2_s",
                "vary": True,
                "at_bound": False,
            },
            "t0_ps": {"value": 0.0, "stderr": None, "unit": "ps", "vary": False, "at_bound": False},
        },
        "chi2": chi2,
        "redchi": chi2 / (n - k),
        "aic": n * np.log(chi2 / n) + 2 * k,
        "bic": n * np.log(chi2 / n) + k * np.log(n),
        "success": True,
        "message": "Fit succeeded.",
        "ndata": n,
        "nvarys": k,
        "versions": {"lmfit": "1.3.2"},
    }
    (run_dir / "results.json").write_text(json.dumps(results), encoding="utf-8")
    _write_table(
        run_dir / "best_fit.csv",
        pd.DataFrame(
            {
                "dataset": "widths",
                "t_ps": t,
                "y": w2,
                "y_err": err,
                "model": model,
                "pull": pulls,
                "D_model_cm2_s": popt[1],
            }
        ),
    )

    data = tmp_input = run_dir.parent / "streak_input.img"
    tmp_input.write_bytes(b"synthetic input bytes")
    sha = hashlib.sha256(data.read_bytes()).hexdigest()
    (run_dir / "provenance.json").write_text(
        json.dumps(
            {
                # The shape fitdiff.pipeline writes (fitdiff.inputs.file_records).
                "inputs": [
                    {"path": str(tmp_input), "sha256": sha, "dataset": "data", "kind": "file"}
                ],
                "versions": {
                    "fitdiff": "0.1.0",
                    "numpy": np.__version__,
                    "emcee": emcee.__version__,
                },
                "seed": SEED,
                "date": "2024-06-07T12:00:00",
                "stages": {"extract": 1.25, "fit": 0.5},
            }
        ),
        encoding="utf-8",
    )
    (run_dir / "analysis.json").write_text(
        json.dumps(
            {
                # The shape fitdiff.analysis writes (the resolved configuration).
                "datasets": [
                    {
                        "label": "data",
                        "file": str(tmp_input),
                        "calibration": {"t_ps_per_px": 2.0},
                        "values": {},
                        "parameters": {},
                    }
                ],
                "model": {"kind": "linear", "noise_inflation": False},
                "sample": {"walkers": 16, "steps": steps, "seed": SEED},
            }
        ),
        encoding="utf-8",
    )
    out = {
        "t": t,
        "w2": w2,
        "err": err,
        "popt": popt,
        "perr": perr,
        "chi2": chi2,
        "input": tmp_input,
        "sha256": sha,
    }
    if not with_chain:
        return out

    def log_prob(theta):
        return -0.5 * np.sum(((w2 - _w2(t, *theta)) / err) ** 2)

    walkers, burn = 16, 50
    backend = emcee.backends.HDFBackend(str(run_dir / "chain.h5"))
    backend.reset(walkers, 2)
    p0 = popt + 1e-3 * rng.standard_normal((walkers, 2)) * perr
    sampler = emcee.EnsembleSampler(walkers, 2, log_prob, backend=backend)
    sampler.random_state = np.random.RandomState(SEED).get_state()  # emcee 3.1 seeds this way
    sampler.run_mcmc(p0, steps, progress=False)
    flat = sampler.get_chain(discard=burn, flat=True)
    tau = emcee.autocorr.integrated_time(sampler.get_chain(discard=burn), tol=0)
    params = {}
    for i, (name, unit) in enumerate((("w0_2_um2", "um2"), ("D_cm2_s", "cm2_s"))):
        q = np.percentile(flat[:, i], [2.5, 16, 50, 84, 97.5])
        params[name] = {
            "median": q[2],
            "p16": q[1],
            "p84": q[3],
            "p2_5": q[0],
            "p97_5": q[4],
            "mean": flat[:, i].mean(),
            "sd": flat[:, i].std(),
            "tau_int": tau[i],
            "ess": flat.shape[0] / tau[i],
            "unit": unit,
        }
    converged = bool(steps - burn > 50 * tau.max())
    (run_dir / "posterior.json").write_text(
        json.dumps(
            {
                "parameters": params,
                "acceptance_fraction": float(np.mean(sampler.acceptance_fraction)),
                "converged": converged,
                "steps": steps,
                "burn": burn,
                "thin": 1,
                "walkers": walkers,
                "seed": SEED,
                "message": f"chain is {(steps - burn) / tau.max():.1f} tau long; run >= 50 tau",
            }
        ),
        encoding="utf-8",
    )
    pred = np.array([_w2(t, *theta) for theta in flat[::10]])
    q = np.percentile(pred, [2.5, 16, 50, 84, 97.5], axis=0)
    _write_table(
        run_dir / "posterior_predictive.csv",
        pd.DataFrame(
            {
                "dataset": "widths",
                "t_ps": t,
                "p2_5": q[0],
                "p16": q[1],
                "p50": q[2],
                "p84": q[3],
                "p97_5": q[4],
            }
        ),
    )
    out.update(
        flat=flat, tau=tau, converged=converged, params=params, burn=burn, chain=sampler.get_chain()
    )
    return out
