"""Classical vs quantum-corrected D(T): run both global fits and compare them.

    python analyses/temperature_series/compare.py [--runs runs/temperature_series] [--force]

Runs ``classical.toml`` and ``quantum.toml`` with :func:`fitdiff.pipeline.run` (each RUN
directory gets its full report), then writes next to this script:

* ``comparison.csv`` and ``comparison.md`` - k, χ², AIC, BIC, ln Z ± error (nested sampling,
  the ``[evidence]`` stage), the Bayes factor against the better model and its Jeffreys grade
  (:func:`fitdiff.comparison.compare_runs`, as ``fitdiff compare`` prints it), with the fitted
  deformation potential;
* ``D_of_T.png`` - the per-temperature D of each measurement (a straight-line fit of its own
  w²(t), :func:`fitdiff.linear_diffusion`) with both fitted D(T) curves, the true curve of the
  example data and the ħ/M floor of seed 000.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MODELS = {"classical": "classical.toml", "quantum": "quantum.toml"}


def per_dataset_D(run_dir: Path, fit_range_ps) -> list[dict]:
    """Straight-line D of each measurement's own widths (the points of the D(T) figure)."""
    from fitdiff.extract import linear_diffusion, read_table_csv

    analysis = json.loads((run_dir / "analysis.json").read_text())
    widths = read_table_csv(run_dir / "widths.csv")
    rows = []
    for d in analysis["datasets"]:
        part = widths[widths["dataset"] == d["label"]].drop(columns="dataset")
        fit = linear_diffusion(part, t_range_ps=tuple(fit_range_ps))
        rows.append(
            {
                "label": d["label"],
                "T_K": d["values"]["T_K"],
                "D_cm2_s": fit.D_cm2_s,
                "D_err_cm2_s": fit.D_err_cm2_s,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs",
        default=str(REPO / "runs" / "temperature_series"),
        help="where the two RUN directories go",
    )
    parser.add_argument("--force", action="store_true", help="redo every stage")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fitdiff import physics
    from fitdiff.comparison import compare_runs, format_table, write_table
    from fitdiff.pipeline import run
    from fitdiff.units import hbar_over_mass_cm2_s

    runs = Path(args.runs)
    results = {}
    for name, toml in MODELS.items():
        summary = run(HERE / toml, runs / name, force=args.force)
        results[name] = json.loads((summary.run_dir / "results.json").read_text())
        print(f"{name}: report {summary.report_html}", file=sys.stderr)

    table = compare_runs([runs / name for name in MODELS], labels=list(MODELS))
    write_table(table, HERE / "comparison.md")
    table["xi_eV"] = [results[n]["parameters"]["xi_eV"]["value"] for n in table.index]
    table["xi_err_eV"] = [results[n]["parameters"]["xi_eV"]["stderr"] for n in table.index]
    write_table(table, HERE / "comparison.csv")
    print(format_table(table), file=sys.stderr)

    config = json.loads((runs / "quantum" / "analysis.json").read_text())
    points = per_dataset_D(runs / "quantum", config["fit"]["t_range_ps"])
    fixed = {k: config["parameters"][k]["value"] for k in ("M_m0", "rho_g_cm2", "s_cm_s")}
    T = np.linspace(50.0, 320.0, 200)
    truth = json.loads((REPO / "data" / "examples" / "truth.json").read_text())["D_T_parameters"]

    fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    ax.errorbar(
        [p["T_K"] for p in points],
        [p["D_cm2_s"] for p in points],
        yerr=[p["D_err_cm2_s"] for p in points],
        fmt="o",
        color="k",
        label="per-measurement D (linear fit of w²)",
    )
    xi = {n: results[n]["parameters"]["xi_eV"]["value"] for n in results}
    ax.plot(
        T,
        physics.d_classical(T, xi_eV=xi["classical"], **fixed),
        "C0-",
        label=f"classical global fit (ξ = {xi['classical']:.3f} eV)",
    )
    ax.plot(
        T,
        physics.d_total(T, xi_eV=xi["quantum"], **fixed, method="log"),
        "C3-",
        label=f"quantum-corrected global fit (ξ = {xi['quantum']:.3f} eV)",
    )
    ax.plot(
        T,
        physics.d_total(
            T,
            xi_eV=truth["xi_eV"],
            M_m0=truth["M_m0"],
            rho_g_cm2=truth["rho_g_cm2"],
            s_cm_s=truth["s_cm_s"],
            method="log",
        ),
        "k:",
        label="truth of the example data",
    )
    floor = hbar_over_mass_cm2_s(fixed["M_m0"])
    ax.axhline(floor, color="0.5", ls="--", label=f"ħ/M = {floor:.3f} cm²/s")
    ax.set_xlabel("T (K)")
    ax.set_ylabel("D (cm²/s)")
    ax.set_ylim(floor - 0.2, None)
    ax.legend(fontsize=8)
    fig.savefig(HERE / "D_of_T.png", dpi=120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
