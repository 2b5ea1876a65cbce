"""Figure of a precision forecast: σ_D/D of both routes against the contrast-to-noise ratio."""

from __future__ import annotations

import math

from matplotlib.figure import Figure

from .figures import new_figure

_STYLE = {"image": ("image-level fit", "-"), "widths": ("two-stage (widths → line)", "--")}


def forecast_figure(curve: dict, planned: dict) -> Figure:
    """σ_D/D (Cramér–Rao bound) of each route against CNR, the plan and its target marked.

    Parameters
    ----------
    curve : dict
        ``{"cnr": [...], "image": [...], "widths": [...]}`` from
        :func:`fitdiff.fitting.forecast.curve`.
    planned : dict
        The forecast of the planned experiment (:func:`fitdiff.fitting.forecast.forecast`).
    """
    fig = new_figure(5.0, 3.6)
    ax = fig.add_subplot()
    for route, (label, ls) in _STYLE.items():
        ax.plot(curve["cnr"], curve[route], ls, label=label)
    ax.plot([planned["cnr"]], [planned["rel_sigma_D_image"]], "o", color="k", label="planned")
    target = planned.get("relative_precision")
    if target is not None:
        ax.axhline(target, color="0.5", lw=0.8, label=f"target ±{target:g}")
        needed = planned.get("cnr_needed_image", math.nan)
        if math.isfinite(needed):
            ax.axvline(needed, color="0.5", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("CNR (peak / noise SD at t = 0)")
    ax.set_ylabel("σ_D / D (Cramér–Rao)")
    ax.legend(fontsize="small")
    return fig
