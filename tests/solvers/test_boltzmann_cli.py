"""``fitdiff simulate MODEL.toml --solver boltzmann``: the TOPRUNG.md §9 columns, images, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fitdiff.cli import main
from fitdiff.io import load

ANALYSIS = Path(__file__).resolve().parents[2] / "analyses" / "seed001_negative_diffusion"

SMALL = """
solver = "boltzmann"
T_K = 300.0
[[valley]]
name = "KK"
E_meV = 0.0
M_m0 = 0.6
g = 2
xi_eV = 5.0
bright = true
radiative_rate_per_ps = 3.0
[[valley]]
name = "KKp"
E_meV = -51.5
M_m0 = 0.7
g = 2
xi_eV = 5.0
[[channel]]
from = "KK"
to = "KKp"
n_final = 1
modes = [[16.0, 7.0], [22.0, 7.0]]
[phonons]
rho_kg_m2 = 4.78e-6
s_m_s = 4300.0
[light_cone]
E_X_eV = 2.0
[grid]
dQ_over_ks = 1.0
[source]
w0_um = 0.3
t0_ps = 1.0
pulse_fwhm_ps = 0.2
[instrument]
irf_fwhm_ps = 0.5
w_psf_um = 0.1
[time]
t_ps = [0.0, 20.0, 41]
[render]
x_um = [-2.0, 2.0, 41]
seed = 3
"""


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, comment="#")


def test_csv_columns(tmp_path, capsys):
    model = tmp_path / "m.toml"
    model.write_text(SMALL)
    out = tmp_path / "c.csv"
    # [[channel]] selects the rung without --solver (TOPRUNG.md §9)
    assert main(["simulate", str(model), "-o", str(out)]) == 0
    df = _csv(out)
    expect = ["t_ps"]
    for v in ("KK", "KKp"):
        expect += [f"n_{v}", f"w2_{v}_um2", f"D_{v}_cm2_s"]
    expect += ["pl", "w2_pl_um2", "D_pl_cm2_s", "pl_over_plmax"]
    expect += [f"D_interv_{v}_cm2_s" for v in ("KK", "KKp")]
    expect += [f"kT_tau_over_hbar_{v}" for v in ("KK", "KKp")]
    assert list(df.columns) == expect
    assert df["pl_over_plmax"].max() == pytest.approx(1.0, rel=1e-12)
    # the PSF adds w_psf² = 0.01 µm² to the PL width only (instrument on by default)
    out2 = tmp_path / "i.csv"
    assert (
        main(["simulate", str(model), "-o", str(out2), "--solver", "boltzmann", "--intrinsic"]) == 0
    )
    df2 = _csv(out2)
    assert np.all(df["w2_pl_um2"].iloc[10:] > df2["w2_pl_um2"].iloc[10:])


@pytest.mark.parametrize("suffix", [".tif", ".img"])
def test_image_and_truth(tmp_path, suffix):
    model = tmp_path / "m.toml"
    model.write_text(SMALL)
    out = tmp_path / f"s{suffix}"
    assert main(["simulate", str(model), "-o", str(out)]) == 0
    m = load(out)
    assert m.counts.shape == (41, 41)
    truth = json.loads(Path(f"{out}.truth.json").read_text())
    assert truth["solver"] == "boltzmann" and "pl_over_plmax" in truth["curves"]


def test_bad_model_exits_2(tmp_path, capsys):
    model = tmp_path / "m.toml"
    model.write_text(SMALL.replace("g = 2\nxi_eV = 5.0\n[[channel]]", "xi_eV = 5.0\n[[channel]]"))
    assert main(["simulate", str(model), "-o", str(tmp_path / "c.csv")]) == 2
    err = capsys.readouterr().err
    assert "valley[1].g" in err and "degeneracy" in err and "Traceback" not in err
    model.write_text(SMALL.replace("n_final = 1", "n_final = 1\nbogus = 2"))
    assert main(["simulate", str(model), "-o", str(tmp_path / "c.csv")]) == 2
    assert "channel[0].bogus" in capsys.readouterr().err


def test_analysis_model_files_parse():
    from fitdiff.io.model_file import read_model_file
    from fitdiff.solvers.boltzmann import BoltzmannModel

    for T in ("020", "077", "300"):
        m = BoltzmannModel.from_dict(read_model_file(ANALYSIS / f"boltzmann_{T}K.toml"))
        assert [v.g for v in m.valleys] == [2.0, 6.0, 2.0]
