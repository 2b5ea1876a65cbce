"""Regenerate every file of ``data/examples/`` deterministically (fixed seeds).

Run from anywhere:  python data/examples/make_examples.py

What it writes (the truths are documented in ``data/examples/README.md``):

* ``models/streak_<T>K.toml`` and ``streak_<T>K.img`` (+ ``.img.truth.json``): a temperature
  series of synthetic streak-camera measurements in HPD-TA ``.img`` format, made with
  ``fitdiff simulate`` from a two-valley bright/dark model whose diffusion coefficient is the
  D(T) of seed 000 (PHYSICS.md §2) at that temperature;
* ``models/stack_200K.toml`` and ``stack_200K.tif`` (+ ``.truth.json``): a synthetic (t, y, x)
  PL image stack rendered by :func:`fitdiff.solvers.render_stack`, saved as an ImageJ
  hyperstack TIFF (pixel size in the resolution tags, ``finterval`` in ps);
* ``dT_table.csv``: a D(T) table (``T_K, D_cm2_s, D_err_cm2_s``) drawn from
  :func:`fitdiff.physics.diffusivity` with 3 % Gaussian errors;
* ``truth.json``: the true D of every measurement and where it comes from.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
MODELS = HERE / "models"

#: Temperatures of the streak series, K. Below ~75 K the bright valley empties into the dark
#: one within picoseconds (30.5 meV below), and the late PL is too faint for a width.
SERIES_T_K = (75.0, 100.0, 150.0, 200.0, 300.0)
#: Noise seeds of the series, one per file (any fixed integers).
SERIES_SEEDS = (1075, 1100, 1150, 1200, 1300)

#: D(T) parameters: seed 000 Fig. 2 (PHYSICS.md §2 reference values). Both valleys get
#: D = d_total(T) written into the model as ``D_cm2_s`` (a ``[valley.diffusivity]`` table would
#: become D_eff = k_BT/[M(1/τ + Γ_out)] per valley, PHYSICS.md §3.5, and break the exact truth).
D_T_SOURCE = {"xi_eV": 7.0, "rho_g_cm2": 4.46e-7, "s_cm_s": 4.1e5}
#: Exciton mass of both valleys, m0 (seed 000 Fig. 2). Equal masses and equal D(T) in both
#: valleys make w²(t) exactly linear (intervalley jumps then do not change the width), so the
#: linear global fit of the series has an exact truth.
M_M0 = 0.5

#: The two-valley model template (MODEL.toml schema of ``fitdiff simulate``).
#: KL (K-Lambda, momentum-dark) lies 30.5 meV below the bright KK valley (seed 001, text above
#: its eq. 1). The rates, spot, instrument and counts are illustrative choices, not sourced.
MODEL_TEMPLATE = """\
# Two-valley bright/dark model of one example measurement (data/examples/README.md).
# Written by data/examples/make_examples.py; edit that script, not this file.
T_K = {T_K}

[[valley]]
name = "KK"                        # bright valley
E_meV = 0.0
M_m0 = {M}
g = 1                              # degeneracy (equilibrium weight g M e^(-E/kT)): one valley of each kind here, not WS2's KK:KL = 2:6 counting
radiative_rate_per_ps = 0.01       # illustrative (100 ps radiative time)
# D given directly: seed 000's D(T) at T_K (fitdiff.physics.d_total, xi = {xi} eV, rho = {rho}
# g/cm2, s = {s} cm/s, log method), the same in both valleys so that w2(t) is exactly linear.
# A [valley.diffusivity] table would instead give each valley D_eff = kBT/[M(1/tau + Gamma_out)]
# (PHYSICS.md 3.5), different in KK and KL.
D_cm2_s = {D!r}

[[valley]]
name = "KL"                        # momentum-dark K-Lambda valley, 30.5 meV below KK (seed 001)
E_meV = -30.5
M_m0 = {M}
g = 1
nonradiative_rate_per_ps = 0.001   # illustrative (1 ns dark lifetime)
D_cm2_s = {D!r}

[[transition]]
from = "KK"
to = "KL"
rate_per_ps = 0.5                  # illustrative downhill rate; uphill by detailed balance

[source]
valley = "KK"
w0_um = 0.7                        # density exp(-r^2/w0^2) at creation: w0^2 = <r^2> (PHYSICS.md 3.1), FWHM = 2 w0 sqrt(ln 2)
t0_ps = 20.0
pulse_fwhm_ps = 2.0

[instrument]
w_psf_um = 0.3
irf_fwhm_ps = 5.0

[time]
t_ps = [{t_start}, {t_stop}, {nt}]

[render]
kind = "{kind}"
x_um = [{x_start}, {x_stop}, {nx}]
peak_counts = {peak}
background = 5.0
noise = "poisson"
seed = {seed}
"""


def model_text(
    T_K: float, *, kind: str, seed: int, peak: float, time=(0.0, 995.0, 200), x_um=(-5.0, 5.0, 101)
) -> str:
    """Return the MODEL.toml text of the example model.

    Parameters
    ----------
    T_K : float
        Temperature, K.
    kind : {"streak", "stack"}
        What ``fitdiff simulate`` renders.
    seed : int
        Poisson-noise seed.
    peak : float
        Expected counts at the brightest pixel.
    time : (float, float, int)
        Row/frame times (start ps, stop ps, count).
    x_um : (float, float, int)
        Pixel centres (start µm, stop µm, count).
    """
    return MODEL_TEMPLATE.format(
        T_K=T_K,
        M=M_M0,
        D=true_D_cm2_s(T_K),
        xi=D_T_SOURCE["xi_eV"],
        rho=D_T_SOURCE["rho_g_cm2"],
        s=D_T_SOURCE["s_cm_s"],
        kind=kind,
        seed=seed,
        peak=peak,
        t_start=time[0],
        t_stop=time[1],
        nt=time[2],
        x_start=x_um[0],
        x_stop=x_um[1],
        nx=x_um[2],
    )


def true_D_cm2_s(T_K: float) -> float:
    """The true D of both valleys at ``T_K`` (K), cm²/s: fitdiff.physics.d_total, log method."""
    from fitdiff.physics import d_total

    return float(np.asarray(d_total(np.array([T_K]), M_m0=M_M0, **D_T_SOURCE, method="log"))[0])


def make_series() -> list[dict]:
    """Write the streak temperature series through ``fitdiff simulate``; return the truths."""
    from fitdiff.cli import main

    truths = []
    for T_K, seed in zip(SERIES_T_K, SERIES_SEEDS, strict=False):
        name = f"streak_{T_K:g}K"
        model = MODELS / f"{name}.toml"
        model.write_text(model_text(T_K, kind="streak", seed=seed, peak=20000.0))
        status = main(["simulate", str(model), "-o", str(HERE / f"{name}.img")])
        if status != 0:
            raise SystemExit(f"fitdiff simulate failed for {model} (exit {status})")
        truths.append(
            {
                "file": f"{name}.img",
                "model": f"models/{name}.toml",
                "T_K": T_K,
                "seed": seed,
                "D_cm2_s": true_D_cm2_s(T_K),
            }
        )
    return truths


def make_stack() -> dict:
    """Render the (t, y, x) stack and save it as an ImageJ hyperstack TIFF; return its truth."""
    import tifffile

    from fitdiff.solvers import ValleyModel, render_stack, solve_moments

    T_K, seed = 200.0, 2200
    model_path = MODELS / "stack_200K.toml"
    # A short, coarse grid keeps the stack small: 26 frames of 41 x 41 pixels.
    model_path.write_text(
        model_text(
            T_K, kind="stack", seed=seed, peak=5000.0, time=(0.0, 500.0, 26), x_um=(-4.0, 4.0, 41)
        )
    )
    model = ValleyModel.from_toml(model_path)
    t = model.time_grid_ps()
    m = render_stack(model, t)
    dx = float(m.coords["x"][1] - m.coords["x"][0])
    dt = float(t[1] - t[0])
    # ImageJ hyperstack: pixel size as resolution (pixels per µm), frame interval in ps, and
    # the origin in pixels so x = y = 0 is the spot centre.
    tifffile.imwrite(
        HERE / "stack_200K.tif",
        np.ascontiguousarray(m.counts.astype(np.uint16)),
        imagej=True,
        resolution=(1.0 / dx, 1.0 / dx),
        metadata={
            "axes": "TYX",
            "unit": "um",
            "finterval": dt,
            "tunit": "ps",
            "xorigin": -float(m.coords["x"][0]) / dx,
            "yorigin": -float(m.coords["y"][0]) / dx,
        },
    )
    truth = {
        "model": model.to_dict(),
        "model_file": "models/stack_200K.toml",
        "seed": seed,
        "dims": list(m.dims),
        "frame_ps": dt,
        "pixel_um": dx,
        "D_cm2_s": true_D_cm2_s(T_K),
        "curves": solve_moments(model, t, instrument=True).to_frame().to_dict("list"),
    }
    (HERE / "stack_200K.tif.truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    return {
        "file": "stack_200K.tif",
        "model": "models/stack_200K.toml",
        "T_K": T_K,
        "seed": seed,
        "D_cm2_s": true_D_cm2_s(T_K),
    }


def make_dT_table() -> dict:
    """Write ``dT_table.csv``: D(T) of seed 000 with 3 % Gaussian errors (seed 7)."""
    import pandas as pd

    from fitdiff.extract import write_table_csv
    from fitdiff.physics import diffusivity

    T = np.array([30.0, 50.0, 75.0, 100.0, 150.0, 200.0, 250.0, 300.0])
    truth = diffusivity(T, material="typical-tmdc", method="log")["D_cm2_s"].to_numpy()
    err = 0.03 * truth
    rng = np.random.default_rng(7)
    df = pd.DataFrame(
        {"T_K": T, "D_cm2_s": truth + err * rng.standard_normal(T.size), "D_err_cm2_s": err}
    )
    df.attrs["truth"] = {
        "material": "typical-tmdc",
        "method": "log",
        "seed": 7,
        "relative_error": 0.03,
        "D_true_cm2_s": truth.tolist(),
    }
    write_table_csv(df, HERE / "dT_table.csv")
    return {"file": "dT_table.csv", "material": "typical-tmdc", "method": "log", "seed": 7}


def main() -> int:
    """Write every example file; return the exit status."""
    MODELS.mkdir(parents=True, exist_ok=True)
    truth = {
        "series": make_series(),
        "stack": make_stack(),
        "dT_table": make_dT_table(),
        "D_T_parameters": {**D_T_SOURCE, "M_m0": M_M0, "method": "log"},
        "note": "D_cm2_s = fitdiff.physics.d_total(T_K) with the seed 000 Fig. 2 parameters",
    }
    (HERE / "truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    print(f"wrote the streak series, the stack and the D(T) table to {HERE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
