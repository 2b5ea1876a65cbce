"""Seed 001 on its own model: the Boltzmann rung (TOPRUNG.md), figures like seed Figs. 2, 3, 5a.

    python analyses/seed001_negative_diffusion/make_figures.py      # ~1 min on one loaded core

Reads boltzmann_300K.toml, boltzmann_077K.toml, boltzmann_020K.toml (parameters and their
sources are in those files and README.md) and writes, next to this script:

* fig2_pl_maps.png   - PL(x, t)/PL(0, t) through the spot centre (Gaussian profile with the
                       exact PL second moment), with PL/PL_max beside each map;
* fig3_widths_D.png  - w²_v(t), D_v(t) with the PL width and D_PL, and PL/PL_max (log);
* fig5a_interv.png   - D_KK and its intervalley part D_KK^interv at 20 K (seed Fig. 5a);
* summary.json       - the TOPRUNG.md §8 rows as this code gives them (also a 20 K run at
                       ΔQ = k_s/4 for the grid convergence).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from fitdiff.atomic import atomic_path, write_json  # noqa: E402
from fitdiff.io.model_file import read_model_file  # noqa: E402
from fitdiff.solvers.boltzmann import BoltzmannModel, solve  # noqa: E402

HERE = Path(__file__).resolve().parent
CASES = (
    ("300 K", "boltzmann_300K.toml"),
    ("77 K", "boltzmann_077K.toml"),
    ("20 K", "boltzmann_020K.toml"),
)
COLORS = {"KK": "tab:red", "KKp": "tab:blue", "KL": "tab:green"}
LABELS = {"KK": "KK (bright)", "KKp": "KK'", "KL": "KΛ"}


def _window(t, D, after=1.0):
    """First contiguous interval after ``after`` ps with D < 0, or None."""
    neg = (D < 0) & (t > after)
    if not neg.any():
        return None
    i = j = int(np.argmax(neg))
    while j + 1 < t.size and neg[j + 1]:
        j += 1
    return [float(t[i]), float(t[j])]


def summarise(model: BoltzmannModel, sol) -> dict:
    """The TOPRUNG.md §8 row: D_KK peak and minimum, negative windows, populations, D and w²."""
    t, D = sol.t_ps, sol.D_cm2_s[0]
    late = t > 1.0
    early = (t > 1.0) & (t <= 20.0)
    i = int(np.argmax(np.where(early, D, -np.inf)))
    k = int(np.argmin(np.where(late, D, np.inf)))
    frac = sol.n / sol.n.sum(axis=0)
    return {
        "T_K": model.T_K,
        "unknowns": sol.info["unknowns"],
        "dQ_over_ks": model.dQ_over_ks,
        "D_KK_peak_cm2_s": [float(D[i]), float(t[i])],
        "D_KK_min_cm2_s": [float(D[k]), float(t[k])],
        "negative_D_KK_ps": _window(t, D),
        "negative_D_PL_ps": _window(t, sol.D_pl_cm2_s),
        "n_KK_fraction_at_peak_and_min": [float(frac[0, i]), float(frac[0, k])],
        "PL_over_PLmax_at_min": float(sol.pl_over_plmax[k]),
        "D_at_200ps_cm2_s": dict(zip(sol.valleys, sol.D_cm2_s[:, -1].tolist(), strict=True)),
        "w2_at_200ps_um2": dict(zip(sol.valleys, sol.w2_um2[:, -1].tolist(), strict=True)),
        "kT_tau_over_hbar_at_200ps": dict(
            zip(sol.valleys, sol.kT_tau_over_hbar[:, -1].tolist(), strict=True)
        ),
        "formation_rate_per_ps": sol.info["formation_rate_per_ps"],
    }


def main() -> None:
    models = [(label, BoltzmannModel.from_dict(read_model_file(HERE / f))) for label, f in CASES]
    sols = [(label, m, solve(m, instrument=False)) for label, m in models]
    summary = {label: summarise(m, s) for label, m, s in sols}
    fine = models[2][1].with_parameters()
    fine = BoltzmannModel.from_dict({**fine.to_dict(), "grid": {"dQ_over_ks": 0.25}})
    summary["20 K, dQ = k_s/4"] = summarise(fine, solve(fine, instrument=False))

    # Fig. 2: PL(x, t) through the centre, Gaussian with the exact w²_PL, and PL/PL_max
    x = np.linspace(-1.5, 1.5, 301)
    fig2, axes2 = plt.subplots(
        1, 6, figsize=(14, 4.0), gridspec_kw={"width_ratios": [3, 1] * 3}, constrained_layout=True
    )
    for col, (label, _, s) in enumerate(sols):
        t = s.t_ps
        keep = t > 0.05
        w2 = s.w2_pl_um2[keep]
        img = np.exp(-(x[None, :] ** 2) / w2[:, None])
        ax = axes2[2 * col]
        im = ax.pcolormesh(x, t[keep], img, shading="auto", cmap="magma", vmin=0, vmax=1)
        ax.contour(x, t[keep], img, levels=[0.5], colors="w", linewidths=0.8)
        ax.set_title(label)
        ax.set_xlabel("x (µm)")
        side = axes2[2 * col + 1]
        side.semilogx(s.pl_over_plmax[keep], t[keep], "k")
        side.set_xlim(1e-15, 2)
        side.set_ylim(t[keep][0], t[keep][-1])
        side.set_xlabel("PL/PL_max")
        side.set_yticklabels([])
    axes2[0].set_ylabel("t (ps)")
    fig2.colorbar(im, ax=axes2, label="PL(x, t) / PL(0, t)", shrink=0.8)
    with atomic_path(HERE / "fig2_pl_maps.png") as tmp:
        fig2.savefig(tmp, dpi=110)

    # Fig. 3: w²_v and D_v per valley, the PL width and D_PL dashed, PL/PL_max below
    fig3, axes3 = plt.subplots(3, 3, figsize=(12, 9), sharex=True, constrained_layout=True)
    ylims = {"300 K": (0, 5), "77 K": (-2, 20), "20 K": (-25, 260)}
    for col, (label, _, s) in enumerate(sols):
        t = s.t_ps
        keep = t > 0.05
        for i, name in enumerate(s.valleys):
            axes3[0, col].plot(t[keep], s.w2_um2[i, keep], color=COLORS[name], label=LABELS[name])
            axes3[1, col].plot(t[keep], s.D_cm2_s[i, keep], color=COLORS[name])
        axes3[0, col].plot(t[keep], s.w2_pl_um2[keep], "k--", label="PL (light cone)")
        axes3[1, col].plot(t[keep], s.D_pl_cm2_s[keep], "k--")
        axes3[1, col].axhline(0.0, color="0.6", lw=0.8)
        axes3[1, col].set_ylim(*ylims[label])
        axes3[2, col].semilogy(t[keep], s.pl_over_plmax[keep], "k")
        axes3[2, col].semilogy(
            t[keep],
            s.n[0, keep] / s.n[:, keep].sum(axis=0),
            color="tab:red",
            lw=0.8,
            label="n_KK / n_total",
        )
        axes3[2, col].set_ylim(1e-15, 2)
        axes3[0, col].set_title(label)
        axes3[2, col].set_xlabel("t (ps)")
    axes3[0, 0].set_ylabel("w² (µm²)")
    axes3[1, 0].set_ylabel("D(t) (cm²/s)")
    axes3[2, 0].set_ylabel("PL/PL_max (black)")
    axes3[0, 0].legend(fontsize=8)
    axes3[2, 0].legend(fontsize=8)
    with atomic_path(HERE / "fig3_widths_D.png") as tmp:
        fig3.savefig(tmp, dpi=110)

    # Fig. 5a: D_KK and its intervalley (scattering-induced) part at 20 K
    label, _, s = sols[2]
    t = s.t_ps
    keep = t > 0.05
    fig5, ax5 = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    for ax, lim in zip(ax5, ((0, 200), (20, 120)), strict=True):
        ax.plot(t[keep], s.D_cm2_s[0, keep], color="tab:red", label="D_KK")
        ax.plot(t[keep], s.D_interv_cm2_s[0, keep], color="k", ls="--", label="D_KK^interv")
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_xlim(*lim)
        ax.set_xlabel("t (ps)")
    ax5[1].set_ylim(-30, 30)
    ax5[0].set_ylabel("D (cm²/s), 20 K")
    ax5[0].legend()
    with atomic_path(HERE / "fig5a_interv.png") as tmp:
        fig5.savefig(tmp, dpi=110)
    write_json(HERE / "summary.json", summary)


if __name__ == "__main__":
    main()
