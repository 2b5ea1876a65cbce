"""Regenerate seed 000's Figs. 2(a,b) and 3(a,b) from fitdiff's public API.

Run from anywhere:  python analyses/seed000_weak_localization/make_figures.py
Writes fig2.png, fig3.png and the tables fig2.csv, fig3.csv beside this script.

Fig. 2: acoustic phonons only (seed 000 Fig. 2 parameters, preset ``typical-tmdc``).
Fig. 3: the same plus static disorder, tau_dis = 1 ps.
Panels (a): tau_eps, tau_phi, tau and hbar/(kB T) on log axes; (b): D_classical and D + dD
(seed eqs. 4 and 9, the "log" method, solid) with the hbar/M floor, the Cooperon-method D as a
dashed extension, and an inset with dD(T). T > 100 K is shaded as in the seed (optical and
zone-edge phonons, not in the model).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import constants  # noqa: E402

from fitdiff.atomic import atomic_path  # noqa: E402
from fitdiff.physics import diffusivity, load_material  # noqa: E402

HERE = Path(__file__).resolve().parent
MATERIAL = "typical-tmdc"
T_K = np.geomspace(1.0, 300.0, 200)
SHADE_FROM_K = 100.0  # seed Figs. 2-3: optical/zone-edge phonons matter above ~100 K


def table(tau_dis_ps: float):
    """D(T) by the log method, with the Cooperon result and hbar/(kB T) added as columns."""
    log = diffusivity(T_K, material=MATERIAL, method="log", tau_dis_ps=tau_dis_ps)
    coop = diffusivity(T_K, material=MATERIAL, method="cooperon", tau_dis_ps=tau_dis_ps)
    out = log.copy()
    out["delta_D_cooperon_cm2_s"] = coop["delta_D_cm2_s"]
    out["D_cooperon_cm2_s"] = coop["D_cm2_s"]
    out["hbar_over_kBT_ps"] = constants.hbar / (constants.k * T_K) * 1e12
    return out


def figure(df, title: str, path: Path, inset_at: list[float]) -> None:
    """Draw panels (a) and (b) of one seed figure and save it atomically."""
    hbar_over_M = constants.hbar / (load_material(MATERIAL)["M_m0"] * constants.m_e) / 1e-4
    fig, (ax_t, ax_d) = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
    T = df["T_K"]

    ax_t.loglog(T, df["tau_eps_ps"], label=r"$\tau_\varepsilon=\tau_0/2$")
    ax_t.loglog(T, df["tau_phi_ps"], label=r"$\tau_\phi$ (eq. 9)")
    ax_t.loglog(T, df["tau_ps"], label=r"$\tau$")
    ax_t.loglog(T, df["hbar_over_kBT_ps"], "k:", label=r"$\hbar/k_BT$")
    ax_t.set(xlabel="T (K)", ylabel="time (ps)", title=f"(a) {title}")
    ax_t.legend(fontsize=8)

    ax_d.plot(T, df["D_classical_cm2_s"], "b--", label=r"$D$ (classical, eq. 4)")
    ax_d.plot(T, df["D_cm2_s"], "r-", label=r"$D+\delta D$ (log, eq. 9)")
    ax_d.plot(T, df["D_cooperon_cm2_s"], "r--", lw=1, label=r"$D+\delta D$ (Cooperon)")
    bad = df["kBT_tau_over_hbar"] <= 1
    if bad.any():  # seed eq. (2) fails: the theory is outside its regime there (footnote [57])
        ax_d.axvspan(
            T.min(),
            T[bad].max(),
            hatch="//",
            fill=False,
            color="0.8",
            lw=0,
            label=r"$k_BT\tau/\hbar<1$",
        )
    ax_d.axhline(hbar_over_M, color="k", ls=":", label=r"$\hbar/M$")
    ax_d.set(xscale="log", xlabel="T (K)", ylabel=r"D (cm$^2$/s)", title=f"(b) {title}")
    ax_d.set_ylim(0, 1.15 * df["D_classical_cm2_s"].max())
    ax_d.legend(fontsize=8, loc="lower right")
    inset = ax_d.inset_axes(inset_at)
    inset.plot(T, df["delta_D_cm2_s"], "r-")
    inset.plot(T, df["delta_D_cooperon_cm2_s"], "r--", lw=1)
    inset.set_xscale("log")
    inset.set_title(r"$\delta D$ (cm$^2$/s)", fontsize=8)
    inset.tick_params(labelsize=7)

    for ax in (ax_t, ax_d, inset):
        ax.axvspan(SHADE_FROM_K, T.max(), color="0.85", zorder=0)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=130)
    plt.close(fig)


def main() -> None:
    for name, tau_dis, title, inset_at in (
        ("fig2", np.inf, "acoustic phonons", [0.14, 0.12, 0.36, 0.3]),
        ("fig3", 1.0, r"phonons + disorder, $\tau_{dis}$ = 1 ps", [0.12, 0.64, 0.32, 0.26]),
    ):
        df = table(tau_dis)
        with atomic_path(HERE / f"{name}.csv") as tmp:
            df.to_csv(tmp, index=False, float_format="%.8g")
        figure(df, title, HERE / f"{name}.png", inset_at)
        print(f"wrote {HERE / name}.png and .csv")


if __name__ == "__main__":
    main()
