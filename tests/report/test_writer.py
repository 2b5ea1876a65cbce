"""write_report on synthetic RUN directories: files, self-containment, tables, banners."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from run_builder import make_run

import fitdiff.io
from fitdiff.io import Measurement
from fitdiff.report import write_report


@pytest.fixture(scope="module")
def written(full_run):
    run_dir, truth = full_run
    return run_dir, truth, write_report(run_dir)


def test_writes_html_markdown_and_figures(written):
    run_dir, _, paths = written
    assert paths["report.html"] == run_dir / "report.html"
    assert paths["report.md"] == run_dir / "report.md"
    for key in ("w2_widths", "transient_D", "pl", "corner", "traces"):
        for ext, magic in (("png", b"\x89PNG"), ("svg", b"<?xml")):
            path = paths[f"figures/{key}.{ext}"]
            assert path.read_bytes().startswith(magic)


def test_html_is_self_contained(written):
    run_dir, _, _ = written
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", html, flags=re.I)
    assert refs, "the report should embed its figures"
    external = [
        r for r in refs if not (r.startswith("data:image/png;base64,") or r.startswith("#"))
    ]
    assert external == []
    assert "@import" not in html and "url(" not in html
    # every figure is embedded: 5 figures, 5 images
    assert html.count("<img ") == 5


def test_parameter_table_with_units_matches_curve_fit(written):
    run_dir, truth, _ = written
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    # popt/perr from scipy.optimize.curve_fit in conftest.make_run, shown to 2 digits of error
    row = next(line for line in md.splitlines() if line.startswith("| D |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    # issue 12 item 17: the symbol, its unit once, the code name last
    assert cells[1] == "cm²/s" and cells[-1] == "D_cm2_s"
    value, err = (float(x) for x in cells[2].split("±"))
    np.testing.assert_allclose(value, truth["popt"][1], rtol=0, atol=1e-3)
    np.testing.assert_allclose(err, truth["perr"][1], rtol=0.01, atol=0)
    # posterior median from the same emcee chain (numpy percentile in conftest)
    np.testing.assert_allclose(
        float(cells[4]), truth["params"]["D_cm2_s"]["median"], rtol=0, atol=1e-3
    )
    assert "| t₀ | ps | 0 | fixed |" in md


def test_same_tables_in_html_and_markdown(written):
    run_dir, _, _ = written
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    md_cells = {
        c.strip()
        for line in md.splitlines()
        if line.startswith("| ")
        for c in line.strip("|").split("|")
    }
    html_cells = set(re.findall(r"<t[dh][^>]*>([^<]*)</t[dh]>", html))
    import html as html_mod

    html_cells = {html_mod.unescape(c) for c in html_cells}
    assert md_cells - {"---"} <= html_cells


def test_unconverged_run_is_flagged_at_the_top_in_red(written):
    run_dir, truth, _ = written
    assert truth["converged"] is False  # 300 steps of τ ≈ 14 is < 50 τ (PHYSICS.md §4)
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    banner = html.index('class="banner note error"')
    assert banner < html.index("<nav>")
    assert "NOT converged" in html[banner : html.index("<nav>")]
    assert re.search(r"\.note\.error \{[^}]*#c0392b", html)  # the error class is red
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    assert md.splitlines()[2].startswith("> **ERROR:** The posterior is NOT converged")


def test_convergence_and_provenance_tables(written):
    run_dir, truth, _ = written
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "| verdict | NOT converged |" in md
    tau = truth["params"]["D_cm2_s"]["tau_int"]
    row = next(
        line for line in md.splitlines() if line.startswith("| D_cm2_s | ") and line.count("|") == 5
    )
    np.testing.assert_allclose(float(row.split("|")[2]), tau, rtol=5e-3, atol=0)
    assert f"| {truth['input'].name} | {truth['input']} | {truth['sha256']} | matches |" in md
    assert "| extract | 1.25 |" in md
    assert '"t_ps_per_px": 2.0' in md  # the full configuration


def test_changed_input_is_reported(tmp_path):
    truth = make_run(tmp_path / "run", with_chain=False)
    truth["input"].write_bytes(b"edited afterwards")
    write_report(tmp_path / "run")
    md = (tmp_path / "run" / "report.md").read_text(encoding="utf-8")
    assert "DIFFERS (file changed)" in md


def test_partial_run_reports_what_it_has(tmp_path, full_run):
    run_dir, _ = full_run
    shutil.copy(run_dir / "widths.csv", tmp_path / "widths.csv")
    paths = write_report(tmp_path)
    assert sorted(k for k in paths if k.endswith(".png")) == ["figures/pl.png", "figures/w2.png"]
    md = paths["report.md"].read_text(encoding="utf-8")
    assert "Absent from the RUN directory" in md and "results.json" in md
    assert "No provenance.json: the raw image is not shown." in md


def test_convergence_from_chain_when_posterior_json_is_absent(tmp_path, full_run):
    import emcee

    run_dir, _ = full_run
    shutil.copy(run_dir / "chain.h5", tmp_path / "chain.h5")
    write_report(tmp_path)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    # independent: emcee's own backend estimate over the whole chain
    tau = emcee.backends.HDFBackend(str(tmp_path / "chain.h5"), read_only=True).get_autocorr_time(
        tol=0
    )
    row = next(line for line in md.splitlines() if line.startswith("| p1 | "))
    np.testing.assert_allclose(float(row.split("|")[2]), tau[1], rtol=5e-3, atol=0)
    assert "columns could not be matched to parameter names" in md


def test_stale_figures_are_removed(tmp_path, full_run):
    run_dir, _ = full_run
    shutil.copy(run_dir / "widths.csv", tmp_path / "widths.csv")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "corner.png").write_bytes(b"old")
    write_report(tmp_path)
    assert not (tmp_path / "figures" / "corner.png").exists()


def test_model_comparison_table(tmp_path):
    make_run(tmp_path / "run", with_chain=False)
    results_path = tmp_path / "run" / "results.json"
    results = json.loads(results_path.read_text())
    results["comparison"] = [
        {"model": "linear", "chi2": 30.0, "redchi": 1.25, "aic": 10.0, "bic": 12.0, "nvarys": 2},
        {"model": "ballistic", "chi2": 28.0, "redchi": 1.22, "aic": 11.5, "bic": 14.5, "nvarys": 3},
    ]
    results_path.write_text(json.dumps(results))
    write_report(tmp_path / "run")
    md = (tmp_path / "run" / "report.md").read_text(encoding="utf-8")
    # ΔAIC = 11.5 - 10.0, ΔBIC = 14.5 - 12.0 against the lowest
    assert "| ballistic | 28 | 1.22 | 11.5 | 1.5 | 14.5 | 2.5 | 3 |" in md
    assert "| linear | 30 | 1.25 | 10 | 0 | 12 | 0 | 2 |" in md


def _diffusivity_run(run_dir):
    run_dir.mkdir()
    T = np.array([50.0, 100.0, 150.0, 200.0, 250.0, 300.0])
    D_cl = np.full_like(T, 3.370)  # PHYSICS.md §2 reference: D_cl = 3.370 cm²/s at every T
    D = D_cl - 0.5 - 0.001 * T
    pd.DataFrame(
        {
            "dataset": "diffusivity",
            "T_K": T,
            "y": D + 0.01,
            "y_err": 0.05,
            "model": D,
            "pull": 0.2,
            "D_classical_cm2_s": D_cl,
        }
    ).to_csv(run_dir / "best_fit.csv", index=False)
    (run_dir / "results.json").write_text(
        json.dumps(
            {
                "model": "diffusivity",
                "success": True,
                "chi2": 0.24,
                "parameters": {
                    "M_m0": {"value": 0.5, "stderr": 0.01, "unit": "m0", "vary": True},
                    "xi_eV": {"value": 7.0, "stderr": 0.1, "unit": "eV", "vary": True},
                },
            }
        )
    )
    return T


def test_diffusivity_figure_has_classical_curve_and_hbar_over_m_floor(tmp_path, monkeypatch):
    import fitdiff.report.figures as figures_mod

    captured = {}
    original = figures_mod.fit_figure

    def spy(rows, kind, **kw):
        captured[kind] = kw
        return original(rows, kind, **kw)

    monkeypatch.setattr(figures_mod, "fit_figure", spy)
    _diffusivity_run(tmp_path / "run")
    paths = write_report(tmp_path / "run")
    assert "figures/DT_diffusivity.png" in paths
    floor, label = captured["diffusivity"]["floor"]
    # PHYSICS.md §0: hbar/M = 2.3154 cm²/s for M = 0.5 m0
    np.testing.assert_allclose(floor, 2.3154, rtol=1e-4, atol=0)
    assert "ħ/M" in label
    ((x, y, name),) = captured["diffusivity"]["extras"]
    np.testing.assert_allclose(y, 3.370, rtol=0, atol=1e-12)
    assert name == "classical D_cl"


def test_valley_columns_give_a_per_valley_figure(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    t = np.linspace(0, 100, 11)
    pd.DataFrame(
        {
            "dataset": "widths",
            "t_ps": t,
            "y": 1 + 0.002 * t,
            "y_err": 0.01,
            "model": 1 + 0.002 * t,
            "pull": 0.0,
            "w2_KK_um2": 1 + 0.002 * t,
            "w2_KKp_um2": 1 + 0.004 * t,
            "n_KK": np.exp(-t / 50),
            "n_KKp": 0.5,
            "D_model_cm2_s": 5.0,
        }
    ).to_csv(run_dir / "best_fit.csv", index=False)
    paths = write_report(run_dir)
    assert "figures/valleys_widths.png" in paths


def test_raw_image_uses_the_loader_and_calibration(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    make_run(run_dir, with_chain=False)
    calls = {}

    def fake_load(path, **calibration):
        calls["path"], calls["calibration"] = path, calibration
        t = np.arange(0, 520, 20.0)
        x = np.linspace(-5, 5, 64)
        counts = np.exp(-(x[None, :] ** 2) / (2 * (0.7 + t[:, None] / 1000)))
        return Measurement(
            counts,
            ("t", "x"),
            {"t": t, "x": x},
            {"t": "ps", "x": "um"},
            format="synthetic",
            source=path,
        )

    monkeypatch.setattr(fitdiff.io, "load", fake_load, raising=False)
    paths = write_report(run_dir)
    assert "figures/raw_image.png" in paths
    assert calls["calibration"] == {"t_ps_per_px": 2.0}  # analysis.json datasets[0]
    assert calls["path"].name == "streak_input.img"


def test_raw_image_skipped_with_a_note_when_the_input_is_gone(tmp_path):
    truth = make_run(tmp_path / "run", with_chain=False)
    truth["input"].unlink()
    paths = write_report(tmp_path / "run")
    assert "figures/raw_image.png" not in paths
    md = paths["report.md"].read_text(encoding="utf-8")
    assert f"Raw image skipped: the input {truth['input']} is not found from here." in md


@pytest.mark.filterwarnings("ignore:.*x_um_per_px overrides the file's own x calibration")
def test_raw_image_of_a_pipeline_run_uses_the_analysis_calibration(tmp_path, monkeypatch):
    # Regression: the writer read analysis.json["data"], which the pipeline never writes (it
    # writes datasets[i].calibration), so x_um_per_px = 0.05 was ignored and the raw image
    # drawn on the file's own axis. The run is built by the pipeline itself.
    from fitdiff.pipeline import run

    examples = Path(__file__).resolve().parents[2] / "data" / "examples"
    shutil.copy(examples / "streak_100K.img", tmp_path / "streak.img")
    toml = tmp_path / "analysis.toml"
    toml.write_text(
        '[data]\nfile = "streak.img"\ncalibration = { x_um_per_px = 0.05 }\n'
        '[extract]\nbin_t = 4\n[model]\nkind = "linear"\n[report]\ncorner = false\n',
        encoding="utf-8",
    )
    run(toml, tmp_path / "RUN", quiet=True)
    real_load, seen = fitdiff.io.load, []

    def recording_load(path, **calibration):
        m = real_load(path, **calibration)
        seen.append((calibration, m))
        return m

    monkeypatch.setattr(fitdiff.io, "load", recording_load)
    paths = write_report(tmp_path / "RUN")
    assert "figures/raw_image.png" in paths
    ((calibration, m),) = seen
    assert calibration == {"x_um_per_px": 0.05}
    # 0.05 µm per pixel, as set, whatever the file's own header says
    assert float(np.diff(m.coords["x"])[0]) == pytest.approx(0.05, rel=1e-9, abs=0)
