"""The seed-001 reproduction on the reduced (thermalised-valley) rung, kept for comparison.

    python analyses/seed001_negative_diffusion/make_reduced_figures.py      # ~10 s

Reads ws2_300K.toml, ws2_077K.toml, ws2_020K.toml (parameters and their sources are
documented in those files and in README.md) and writes, next to this script:
reduced_fig2_pl_maps.png, reduced_fig3_widths_D.png and reduced_summary.json.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from fitdiff.atomic import atomic_path, write_json  # noqa: E402
from fitdiff.solvers import ValleyModel, solve_moments, solve_spatial  # noqa: E402

HERE = Path(__file__).resolve().parent
CASES = (("300 K", "ws2_300K.toml"), ("77 K", "ws2_077K.toml"), ("20 K", "ws2_020K.toml"))
COLORS = {"KK": "tab:red", "KKp": "tab:blue", "KL": "tab:green"}
LABELS = {"KK": "KK (bright)", "KKp": "KK'", "KL": "KΛ"}


def summarise(model: ValleyModel, sol) -> dict:
    """Numbers quoted in README.md: D per valley, the KK minimum and its negative window."""
    t = sol.t_ps
    late = t > 1.0  # skip the pulse itself
    out = {
        "T_K": model.T_K,
        "D_model_cm2_s": dict(zip(model.names, model.diffusion_cm2_s().tolist(), strict=True)),
    }
    for i, name in enumerate(model.names):
        d = sol.D_cm2_s[i]
        j = int(np.nanargmin(np.where(late, d, np.inf)))
        neg = t[late & (d < 0)]
        out[name] = {
            "D_min_cm2_s": float(d[j]),
            "t_min_ps": float(t[j]),
            "negative_window_ps": [float(neg[0]), float(neg[-1])] if neg.size else None,
            "D_at_200ps_cm2_s": float(d[-1]),
            "fraction_at_200ps": float(sol.n[i, -1] / sol.n[:, -1].sum()),
            "w2_at_200ps_um2": float(sol.w2_um2[i, -1]),
        }
    return out


def main() -> None:
    models = [(label, ValleyModel.from_toml(HERE / f)) for label, f in CASES]
    t = models[0][1].time_grid_ps()
    x = np.linspace(0.0, 1.5, 151)

    # Fig. 2: PL(x, t) through the spot centre, normalised to the centre at each time
    fig2, axes2 = plt.subplots(1, 3, figsize=(11, 3.6), sharey=True, constrained_layout=True)
    t_map = np.linspace(0.5, 200.0, 400)
    for ax, (label, model) in zip(axes2, models, strict=True):
        pl = solve_spatial(model, t_map, x).pl
        norm = pl / pl[:, :1]
        full = np.concatenate([norm[:, :0:-1], norm], axis=1)
        xs = np.concatenate([-x[:0:-1], x])
        im = ax.pcolormesh(xs, t_map, full, shading="auto", cmap="magma", vmin=0, vmax=1)
        # the half-maximum contour makes the 20 K narrowing visible by eye
        ax.contour(xs, t_map, full, levels=[0.5], colors="w", linewidths=0.8)
        ax.set_title(f"{label}")
        ax.set_xlabel("x (µm)")
    axes2[0].set_ylabel("t (ps)")
    fig2.colorbar(im, ax=axes2, label="PL(x, t) / PL(0, t)")
    with atomic_path(HERE / "reduced_fig2_pl_maps.png") as tmp:
        fig2.savefig(tmp, dpi=120)

    # Fig. 3: w_v² and D_v(t) per valley, PL dashed
    fig3, axes3 = plt.subplots(2, 3, figsize=(12, 6.5), sharex=True, constrained_layout=True)
    summary = {}
    for col, (label, model) in enumerate(models):
        sol = solve_moments(model, t, instrument=False)
        summary[label] = summarise(model, sol)
        keep = t > 0.5
        for i, name in enumerate(model.names):
            axes3[0, col].plot(t[keep], sol.w2_um2[i, keep], color=COLORS[name], label=LABELS[name])
            axes3[1, col].plot(t[keep], sol.D_cm2_s[i, keep], color=COLORS[name])
        axes3[0, col].plot(t[keep], sol.w2_pl_um2[keep], "k--", label="PL")
        axes3[1, col].plot(t[keep], sol.D_pl_cm2_s[keep], "k--")
        axes3[1, col].axhline(0.0, color="0.6", lw=0.8)
        axes3[0, col].set_title(label)
        axes3[1, col].set_xlabel("t (ps)")
        axes3[1, col].set_ylim(-5.0, 3.0)
    axes3[0, 0].set_ylabel("w² (µm²)")
    axes3[1, 0].set_ylabel("D(t) = ¼ dw²/dt (cm²/s)")
    axes3[0, 0].legend(fontsize=8)
    with atomic_path(HERE / "reduced_fig3_widths_D.png") as tmp:
        fig3.savefig(tmp, dpi=120)
    write_json(HERE / "reduced_summary.json", summary)


if __name__ == "__main__":
    main()
