"""Figures of the data and the fitted model: raw image, w²(t), D(t), PL(t), valleys, D(T) and
the ellipses of a diffusion tensor.

Each function takes tables (pandas) or a :class:`~fitdiff.io.Measurement` and returns a
:class:`matplotlib.figure.Figure` drawn on an explicit Agg canvas: the report never touches
pyplot's global state or the user's chosen backend.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..units import UM2_PS_PER_CM2_S
from .format import axis_label

#: Matplotlib settings of every report figure (readable when printed at half a page width).
STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "svg.hashsalt": "fitdiff-report",
    "svg.fonttype": "path",
}

DATA_COLOR = "#1f4e79"
MODEL_COLOR = "#c0392b"
CLASSICAL_COLOR = "#2e86c1"

#: How each kind of dataset in ``best_fit.csv`` is labelled and drawn.
KINDS = {
    "widths": {
        "x": "t_ps",
        "xlabel": axis_label("t", "ps"),
        "ylabel": axis_label("w²", "um2"),
        "logy": False,
        "title": "Squared width w²(t)",
    },
    "kinetics": {
        "x": "t_ps",
        "xlabel": axis_label("t", "ps"),
        "ylabel": "PL intensity (counts)",
        "logy": True,
        "title": "PL kinetics",
    },
    "diffusivity": {
        "x": "T_K",
        "xlabel": axis_label("T", "K"),
        "ylabel": axis_label("D", "cm2_s"),
        "logy": False,
        "title": "Diffusion coefficient D(T)",
    },
    "other": {
        "x": "t_ps",
        "xlabel": axis_label("t", "ps"),
        "ylabel": "y",
        "logy": False,
        "title": "Dataset",
    },
}

_VALLEY_W2 = re.compile(r"^w2_(?P<v>.+)_um2$")
_VALLEY_N = re.compile(r"^n_(?P<v>.+)$")
_VALLEY_D = re.compile(r"^D_(?P<v>.+)_cm2_s$")


def legend_outside(ax, **kwargs) -> None:
    """A legend to the right of the axes, never on the data (constrained layout makes room)."""
    ax.legend(
        loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False, **kwargs
    )


#: One colour per dataset of a global fit (colour-blind-safe Okabe-Ito order, then tab10).
DATASET_COLORS = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#F0E442",
    "#8c564b",
    "#7f7f7f",
)


def dataset_color(i: int) -> str:
    """Colour of the ``i``-th dataset (cycles after ten)."""
    return DATASET_COLORS[i % len(DATASET_COLORS)]


def new_figure(width_in: float, height_in: float) -> Figure:
    """Return an empty figure with a constrained layout on its own Agg canvas."""
    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


#: ``observable`` column of ``best_fit.csv`` (the fitting layer's ``y_name``) → dataset kind.
OBSERVABLE_KINDS = {
    "w2_um2": "widths",
    "sigma2_um2": "widths",
    "intensity": "kinetics",
    "D_cm2_s": "diffusivity",
    "sigma2_tensor_um2": "tensor",
}


def dataset_kind(name: str, rows: pd.DataFrame) -> str:
    """Classify one ``best_fit.csv`` dataset as ``widths``, ``kinetics``, ``diffusivity`` or ``other``.

    The fitting layer writes an ``observable`` column (``w2_um2``, ``intensity``, ``D_cm2_s``),
    which decides. Without it (``docs/interfaces.md`` does not list it), the abscissa ``T_K``
    means D(T), and otherwise the words of the dataset name do.
    """
    if "observable" in rows:
        observed = rows["observable"].dropna().astype(str).unique()
        if len(observed) == 1 and observed[0] in OBSERVABLE_KINDS:
            return OBSERVABLE_KINDS[observed[0]]
    if "T_K" in rows and rows["T_K"].notna().any():
        return "diffusivity"
    key = str(name).lower()
    if any(word in key for word in ("kinetic", "pl", "intensity")):
        return "kinetics"
    if any(word in key for word in ("width", "w2", "sigma2")):
        return "widths"
    if "diffus" in key:
        return "diffusivity"
    return "other"


def _xcol(rows: pd.DataFrame, preferred: str) -> str:
    for col in (preferred, "t_ps", "T_K"):
        if col in rows and rows[col].notna().any():
            return col
    raise KeyError(f"no abscissa column ({preferred}, t_ps or T_K) in the table")


def _pulls(rows: pd.DataFrame) -> np.ndarray:
    if "pull" in rows:
        return rows["pull"].to_numpy(float)
    if "y_err" in rows:
        return ((rows["y"] - rows["model"]) / rows["y_err"]).to_numpy(float)
    return np.full(len(rows), np.nan)


def fit_figure(
    rows: pd.DataFrame,
    kind: str,
    *,
    band: pd.DataFrame | None = None,
    title: str | None = None,
    extras: list[tuple[np.ndarray, np.ndarray, str]] | None = None,
    floor: tuple[float, str] | None = None,
    model_curve: tuple[np.ndarray, np.ndarray] | None = None,
) -> Figure:
    """Data with error bars, the best-fit model, the posterior band, and the pulls below.

    Parameters
    ----------
    rows : pandas.DataFrame
        One dataset of ``best_fit.csv``: abscissa (``t_ps`` in ps or ``T_K`` in K), ``y``,
        ``y_err``, ``model`` in the dataset's unit (µm² for widths, cm²/s for D(T)), ``pull``.
    kind : str
        A key of :data:`KINDS` (sets labels and the log axis of PL kinetics).
    band : pandas.DataFrame, optional
        ``posterior_predictive.csv`` rows of this dataset (``p2_5 ... p97_5``).
    title : str, optional
        Overrides the kind's title.
    extras : list of (x, y, label), optional
        Further model curves on the same axes (e.g. the classical D(T)).
    floor : (value, label), optional
        A horizontal reference line (e.g. ħ/M in cm²/s).
    model_curve : (x, y), optional
        The best-fit model on a fine grid of the abscissa; drawn instead of the model at the
        data points.
    """
    spec = KINDS[kind]
    xcol = _xcol(rows, spec["x"])
    rows = rows.sort_values(xcol)
    x = rows[xcol].to_numpy(float)
    fig = new_figure(7.4, 5.2)
    ax, axp = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    if band is not None and len(band):
        bx = _xcol(band, xcol)
        band = band.sort_values(bx)
        ax.fill_between(
            band[bx],
            band["p2_5"],
            band["p97_5"],
            color=MODEL_COLOR,
            alpha=0.12,
            lw=0,
            label="posterior 95 %",
        )
        ax.fill_between(
            band[bx],
            band["p16"],
            band["p84"],
            color=MODEL_COLOR,
            alpha=0.25,
            lw=0,
            label="posterior 68 %",
        )
    yerr = rows["y_err"].to_numpy(float) if "y_err" in rows else None
    ax.errorbar(
        x,
        rows["y"],
        yerr=yerr,
        fmt="o",
        ms=3.5,
        color=DATA_COLOR,
        ecolor=DATA_COLOR,
        elinewidth=0.8,
        capsize=1.5,
        label="data",
    )
    if model_curve is not None:
        # The model on a fine grid: no kinks between data points (issue 12 item 9).
        ax.plot(model_curve[0], model_curve[1], "-", color=MODEL_COLOR, lw=1.6, label="best fit")
    else:
        ax.plot(x, rows["model"], "-", color=MODEL_COLOR, lw=1.6, label="best fit")
    for ex, ey, label in extras or []:
        ax.plot(ex, ey, "--", color=CLASSICAL_COLOR, lw=1.4, label=label)
    if floor is not None:
        ax.axhline(floor[0], color="0.3", ls=":", lw=1.2, label=floor[1])
    if spec["logy"]:
        ax.set_yscale("log")
    ax.set_ylabel(spec["ylabel"])
    ax.set_title(title or spec["title"])
    legend_outside(ax)
    pulls = _pulls(rows)
    axp.axhspan(-1, 1, color="0.85", lw=0)
    axp.axhline(0, color="0.3", lw=0.8)
    axp.plot(x, pulls, "o", ms=3, color=DATA_COLOR)
    axp.set_ylabel("pull (σ)")
    axp.set_xlabel(spec["xlabel"])
    return fig


def data_figure(
    x: np.ndarray,
    y: np.ndarray,
    yerr: np.ndarray | None,
    *,
    xlabel: str,
    ylabel: str,
    title: str,
    logy: bool = False,
    group: np.ndarray | None = None,
    labels: dict[str, str] | None = None,
) -> Figure:
    """Data alone (no fit in the RUN directory), e.g. w²(t) from ``widths.csv``.

    ``group`` (one dataset name per point, a global fit's ``dataset`` column) draws each
    dataset in its own colour under its own legend entry (``labels``: name → text).
    """
    fig = new_figure(7.4, 4.0)
    ax = fig.subplots()
    x, y = np.asarray(x, float), np.asarray(y, float)
    yerr = None if yerr is None else np.asarray(yerr, float)
    group = None if group is None else np.asarray(group).astype(str)
    if logy:
        keep = y > 0  # a log axis cannot show empty or background-subtracted negative slices
        x, y = x[keep], y[keep]
        yerr = None if yerr is None else yerr[keep]
        group = None if group is None else group[keep]
        ax.set_yscale("log")
    names = [None] if group is None else list(dict.fromkeys(group))
    for i, name in enumerate(names):
        sel = slice(None) if name is None else group == name
        ax.errorbar(
            x[sel],
            y[sel],
            yerr=None if yerr is None else yerr[sel],
            fmt="o",
            ms=3.0 if name is not None else 3.5,
            color=DATA_COLOR if name is None else dataset_color(i),
            elinewidth=0.8,
            capsize=1.5,
            label="data" if name is None else (labels or {}).get(name, name),
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    legend_outside(ax)
    return fig


def global_fit_figure(
    datasets: list[tuple[str, pd.DataFrame]],
    kind: str,
    *,
    labels: dict[str, str] | None = None,
    bands: dict[str, pd.DataFrame] | None = None,
    title: str | None = None,
) -> Figure:
    """Every dataset of a global fit on one axes: one colour and legend entry per dataset
    (data, best fit, posterior 68 % band), with the pulls below in the same colours.

    Parameters
    ----------
    datasets : list of (name, rows)
        ``best_fit.csv`` rows per dataset (abscissa, ``y``, ``y_err``, ``model``, ``pull``).
    kind : str
        A key of :data:`KINDS`.
    labels : dict, optional
        Dataset name → legend text (e.g. ``"T75K"`` → ``"75 K"``).
    bands : dict, optional
        Dataset name → its ``posterior_predictive.csv`` rows.
    """
    spec = KINDS[kind]
    fig = new_figure(7.4, 5.6)
    ax, axp = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    axp.axhspan(-1, 1, color="0.85", lw=0)
    axp.axhline(0, color="0.3", lw=0.8)
    for i, (name, rows) in enumerate(datasets):
        color = dataset_color(i)
        xcol = _xcol(rows, spec["x"])
        rows = rows.sort_values(xcol)
        x = rows[xcol].to_numpy(float)
        band = (bands or {}).get(name)
        if band is not None and len(band):
            bx = _xcol(band, xcol)
            band = band.sort_values(bx)
            ax.fill_between(band[bx], band["p16"], band["p84"], color=color, alpha=0.25, lw=0)
        yerr = rows["y_err"].to_numpy(float) if "y_err" in rows else None
        ax.errorbar(
            x,
            rows["y"],
            yerr=yerr,
            fmt="o",
            ms=2.5,
            color=color,
            elinewidth=0.6,
            capsize=0,
            alpha=0.8,
            label=(labels or {}).get(name, name),
        )
        ax.plot(x, rows["model"], "-", color=color, lw=1.4)
        axp.plot(x, _pulls(rows), "o", ms=2.5, color=color)
    if spec["logy"]:
        ax.set_yscale("log")
    ax.set_ylabel(spec["ylabel"])
    ax.set_title(title or f"{spec['title']}: all datasets (lines: global best fit)")
    legend_outside(ax, title="dataset")
    axp.set_ylabel("pull (σ)")
    axp.set_xlabel(spec["xlabel"])
    return fig


def dT_panel_figure(
    points: pd.DataFrame,
    curve: pd.DataFrame,
    *,
    title: str = "D(T): per-measurement D and the fitted model",
) -> Figure:
    """D(T) of a temperature series: each measurement's D, the model on a fine T grid and
    its posterior band.

    Parameters
    ----------
    points : pandas.DataFrame
        ``T_K``, ``D_cm2_s``, ``D_err_cm2_s`` (cm²/s) and ``label``, one row per measurement.
    curve : pandas.DataFrame
        ``T_K`` (a fine grid), ``D_cm2_s`` (best fit) and optionally ``p2_5, p16, p84,
        p97_5`` (posterior percentiles of D(T), cm²/s).
    """
    fig = new_figure(7.4, 4.4)
    ax = fig.subplots()
    if {"p2_5", "p97_5"} <= set(curve.columns):
        ax.fill_between(
            curve["T_K"],
            curve["p2_5"],
            curve["p97_5"],
            color=MODEL_COLOR,
            alpha=0.12,
            lw=0,
            label="posterior 95 %",
        )
    if {"p16", "p84"} <= set(curve.columns):
        ax.fill_between(
            curve["T_K"],
            curve["p16"],
            curve["p84"],
            color=MODEL_COLOR,
            alpha=0.25,
            lw=0,
            label="posterior 68 %",
        )
    ax.plot(curve["T_K"], curve["D_cm2_s"], "-", color=MODEL_COLOR, lw=1.6, label="model D(T)")
    for i, row in enumerate(points.itertuples(index=False)):
        ax.errorbar(
            [row.T_K],
            [row.D_cm2_s],
            yerr=[row.D_err_cm2_s],
            fmt="o",
            ms=5,
            color=dataset_color(i),
            capsize=2,
            label=str(row.label),
        )
    ax.set_xlabel(axis_label("T", "K"))
    ax.set_ylabel(axis_label("D", "cm2_s"))
    ax.set_title(title)
    legend_outside(ax)
    return fig


def transient_figure(
    transient: pd.DataFrame,
    model_rows: pd.DataFrame | None = None,
    D_linear_cm2_s: float | None = None,
    labels: dict[str, str] | None = None,
) -> Figure:
    """Transient D(t) = ¼ dw²/dt with errors, and the model's D(t) when the fit provides it.

    A ``dataset`` column (a global fit) gives one colour and legend entry per dataset, named
    by ``labels`` (dataset → e.g. ``"75 K"``).

    Parameters
    ----------
    transient : pandas.DataFrame
        ``transient.csv``: ``t_ps`` (ps), ``D_cm2_s``, ``D_err_cm2_s`` (cm²/s).
    model_rows : pandas.DataFrame, optional
        The widths dataset of ``best_fit.csv`` with a ``D_model_cm2_s`` column.
    D_linear_cm2_s : float, optional
        A constant fitted D (cm²/s) drawn as a line when no model D(t) column exists.
    """
    fig = new_figure(7.4, 4.0)
    ax = fig.subplots()
    ax.axhline(0, color="0.3", lw=0.8)
    groups = (
        list(transient.groupby("dataset", sort=False))
        if "dataset" in transient and transient["dataset"].nunique() > 1
        else [(None, transient)]
    )
    for i, (name, rows) in enumerate(groups):
        err = rows["D_err_cm2_s"] if "D_err_cm2_s" in rows else None
        ax.errorbar(
            rows["t_ps"],
            rows["D_cm2_s"],
            yerr=err,
            fmt="o",
            ms=3.0 if name is not None else 3.5,
            color=DATA_COLOR if name is None else dataset_color(i),
            elinewidth=0.8,
            capsize=1.5,
            label="data (local slope)" if name is None else (labels or {}).get(name, str(name)),
        )
    if model_rows is not None and "D_model_cm2_s" in model_rows:
        rows = model_rows.sort_values(_xcol(model_rows, "t_ps"))
        ax.plot(
            rows["t_ps"], rows["D_model_cm2_s"], "-", color=MODEL_COLOR, lw=1.6, label="model D(t)"
        )
    elif D_linear_cm2_s is not None and np.isfinite(D_linear_cm2_s):
        ax.axhline(D_linear_cm2_s, color=MODEL_COLOR, lw=1.6, label="fitted D (linear)")
    ax.set_xlabel(axis_label("t", "ps"))
    ax.set_ylabel(axis_label("D(t)", "cm2_s"))
    ax.set_title("Transient diffusion coefficient D(t) = ¼ dw²/dt")
    legend_outside(ax)
    return fig


_COMPONENTS = ("xx", "yy", "xy")
_COMPONENT_COLORS = ("#1f4e79", "#b9770e", "#1e8449")


def _ellipse(ax, sxx, syy, sxy, centre=(0.0, 0.0), **kw):
    """Draw the 1σ ellipse {r: rᵀ Σ⁻¹ r = 1} of a covariance (x, y order), µm."""
    vals, vecs = np.linalg.eigh([[sxx, sxy], [sxy, syy]])
    phi = np.linspace(0, 2 * np.pi, 121)
    pts = vecs @ (np.sqrt(np.maximum(vals, 0.0))[:, None] * np.vstack([np.cos(phi), np.sin(phi)]))
    return ax.plot(centre[0] + pts[0], centre[1] + pts[1], **kw)


def tensor_figure(rows: pd.DataFrame, derived: dict | None = None, n_ellipses: int = 4) -> Figure:
    """Σ(t) components with the fit (left) and the 1σ ellipses of data and model (right).

    Parameters
    ----------
    rows : pandas.DataFrame
        A tensor dataset of ``best_fit.csv``: ``t_ps``, ``y``, ``y_err``, ``model`` (µm²) and
        ``component_index`` (0 = xx, 1 = yy, 2 = xy).
    derived : dict, optional
        ``results.json["derived"]``: D_major_cm2_s, D_minor_cm2_s, angle_deg (value, stderr);
        the fitted tensor's principal axes are drawn and quoted from it.
    n_ellipses : int
        Number of times (spread over the data) at which ellipses are drawn.
    """
    comp = rows["component_index"].to_numpy(int)
    fig = new_figure(10.0, 4.6)
    ax, axe = fig.subplots(1, 2, width_ratios=[1.2, 1])
    for k, (name, color) in enumerate(zip(_COMPONENTS, _COMPONENT_COLORS, strict=True)):
        r = rows[comp == k].sort_values("t_ps")
        ax.errorbar(
            r["t_ps"],
            r["y"],
            yerr=r["y_err"],
            fmt="o",
            ms=3,
            color=color,
            elinewidth=0.8,
            label=f"Σ{name} data",
        )
        ax.plot(r["t_ps"], r["model"], "-", color=color, lw=1.4)
    ax.plot([], [], "-", color="0.3", label="Σ0 + 2Dt fit")
    ax.set_xlabel(axis_label("t", "ps"))
    ax.set_ylabel(axis_label("Σ", "um2"))
    ax.set_title("Covariance components Σ(t)")
    ax.legend(loc="best")
    t = np.sort(rows.loc[comp == 0, "t_ps"].to_numpy(float))
    picks = np.unique(np.linspace(0, t.size - 1, min(n_ellipses, t.size)).round().astype(int))
    cmap = [str(c) for c in np.linspace(0.75, 0.0, picks.size)]
    for shade, i in zip(cmap, picks, strict=True):
        at = rows[np.isclose(rows["t_ps"].to_numpy(float), t[i])]
        by = {int(c): row for c, row in zip(at["component_index"], at.itertuples(), strict=True)}
        if set(by) != {0, 1, 2}:
            continue
        data = [by[k].y for k in range(3)]
        model = [by[k].model for k in range(3)]
        _ellipse(axe, *data, color=shade, lw=1.6, label=f"data t = {t[i]:.0f} ps")
        _ellipse(axe, *model, color=MODEL_COLOR, lw=1.0, ls="--")
    axe.plot([], [], "--", color=MODEL_COLOR, label="fitted Σ(t)")
    if derived and all(k in derived for k in ("D_major_cm2_s", "D_minor_cm2_s", "angle_deg")):
        th = np.radians(derived["angle_deg"]["value"])
        reach = 0.9 * max(abs(v) for v in axe.get_xlim() + axe.get_ylim())
        axe.plot(
            [-reach * np.cos(th), reach * np.cos(th)],
            [-reach * np.sin(th), reach * np.sin(th)],
            ":",
            color="0.2",
            lw=1.2,
            label="fast axis of D",
        )

        def fmt(key):
            v, e = derived[key]["value"], derived[key]["stderr"]
            return f"{v:.3g}" if e is None else f"{v:.3g} ± {e:.2g}"

        axe.set_title(
            f"D_major {fmt('D_major_cm2_s')}, D_minor {fmt('D_minor_cm2_s')} cm²/s, "
            f"θ {fmt('angle_deg')}°",
            fontsize=9,
        )
    else:
        axe.set_title("1σ ellipses of Σ(t)")
    axe.set_aspect("equal", adjustable="datalim")
    axe.set_xlabel(axis_label("x", "um"))
    axe.set_ylabel(axis_label("y", "um"))
    axe.legend(loc="upper left", fontsize=8)
    return fig


def valley_columns(rows: pd.DataFrame) -> dict[str, dict[str, str]]:
    """Per-valley model columns of a ``best_fit.csv`` dataset: ``{valley: {"w2"|"n"|"D": column}}``."""
    valleys: dict[str, dict[str, str]] = {}
    for col in rows.columns:
        for key, pattern in (("w2", _VALLEY_W2), ("n", _VALLEY_N), ("D", _VALLEY_D)):
            match = pattern.match(col)
            # D_model_cm2_s is the PL-weighted model D(t), not a valley.
            if match and match["v"] != "model" and rows[col].notna().any():
                valleys.setdefault(match["v"], {})[key] = col
    return {v: cols for v, cols in valleys.items() if "w2" in cols or "n" in cols}


def valleys_figure(rows: pd.DataFrame) -> Figure:
    """Per-valley w_v²(t), D_v(t) and populations n_v(t) of a multivalley fit.

    Where ``best_fit.csv`` has no ``D_<valley>_cm2_s`` column, D_v = ¼ dw_v²/dt is taken by
    finite differences of the model curve (PHYSICS.md §1), which is smooth, so the
    differences carry no noise; µm²/ps are converted to cm²/s with ``UM2_PS_PER_CM2_S``.
    """
    rows = rows.sort_values("t_ps")
    t = rows["t_ps"].to_numpy(float)
    cols = valley_columns(rows)
    fig = new_figure(6.4, 7.2)
    ax_w, ax_d, ax_n = fig.subplots(3, 1, sharex=True)
    for valley, c in cols.items():
        if "w2" in c:
            w2 = rows[c["w2"]].to_numpy(float)
            (line,) = ax_w.plot(t, w2, lw=1.5, label=valley)
            if "D" in c:
                d = rows[c["D"]].to_numpy(float)
            else:
                d = 0.25 * np.gradient(w2, t, edge_order=2) / UM2_PS_PER_CM2_S
            ax_d.plot(t, d, lw=1.5, color=line.get_color(), label=valley)
        if "n" in c:
            n = rows[c["n"]].to_numpy(float)
            ax_n.plot(t, np.where(n > 0, n, np.nan), lw=1.5, label=valley)
    ax_d.axhline(0, color="0.3", lw=0.8)
    ax_w.set_ylabel(axis_label("w_v²", "um2"))
    ax_d.set_ylabel(axis_label("D_v(t)", "cm2_s"))
    ax_n.set_ylabel("population n_v (rel.)")
    ax_n.set_yscale("log")
    ax_n.set_xlabel(axis_label("t", "ps"))
    ax_w.set_title("Per-valley model: widths, transient D and populations")
    if ax_w.get_lines() or ax_n.get_lines():
        legend_outside(ax_w if ax_w.get_lines() else ax_n, title="valley")
    return fig


def _binned(values: np.ndarray, coords: np.ndarray, max_px: int, axis: int):
    """Average blocks of pixels along ``axis`` so at most ``max_px`` remain (display only)."""
    factor = int(np.ceil(values.shape[axis] / max_px))
    if factor <= 1:
        return values, coords
    n = values.shape[axis] // factor * factor
    values = np.take(values, np.arange(n), axis=axis)
    shape = list(values.shape)
    shape[axis : axis + 1] = [n // factor, factor]
    return values.reshape(shape).mean(axis=axis + 1), coords[:n].reshape(-1, factor).mean(axis=1)


#: Colour scales of the raw streak: ``row`` divides each time row by its maximum, so the
#: spreading stays visible after the PL has decayed; ``log`` shows counts on a log scale;
#: ``linear`` the counts as they are.
RAW_SCALES = ("row", "log", "linear")
#: In ``row`` scale a row is blank unless its peak stands this many Poisson standard
#: deviations above the row's median (background): rows without signal would be noise scaled
#: to 1.
ROW_MIN_CONTRAST = 5.0


def _scaled(img: np.ndarray, scale: str):
    """``(values, norm, colour-bar label)`` of a (t, x) image for :data:`RAW_SCALES`."""
    from matplotlib.colors import LogNorm

    if scale == "row":
        with np.errstate(invalid="ignore", divide="ignore"):
            peak = np.nanmax(img, axis=1, keepdims=True)
            # Rows without signal (before the pulse) would become noise scaled to 1: blank
            # unless the peak stands ROW_MIN_CONTRAST Poisson SDs above the row's background.
            base = np.nanmedian(img, axis=1, keepdims=True)
            signal = peak - base > ROW_MIN_CONTRAST * np.sqrt(np.maximum(np.abs(base), 1.0))
            values = np.where(signal, img / peak, np.nan)
        return values, None, "counts / row maximum"
    if scale == "log":
        positive = img[np.isfinite(img) & (img > 0)]
        if positive.size == 0:
            return img, None, "counts"
        vmin = max(float(np.percentile(positive, 1)), float(positive.max()) * 1e-4)
        return np.where(img > 0, img, np.nan), LogNorm(vmin, float(positive.max())), "counts"
    if scale == "linear":
        return img, None, "counts"
    raise ValueError(f"raw image scale {scale!r}; allowed {', '.join(RAW_SCALES)}")


def raw_image_figure(
    measurement,
    widths: pd.DataFrame | None = None,
    *,
    max_px: int = 400,
    n_frames: int = 4,
    scale: str = "row",
) -> Figure:
    """The raw image with the extracted centre ± width overlaid.

    Parameters
    ----------
    measurement : fitdiff.io.Measurement
        A streak image (``dims`` containing ``t`` and ``x`` or ``wavelength``) or a stack
        (``t, y, x``). Images larger than ``max_px`` per axis are block-averaged for display.
    widths : pandas.DataFrame, optional
        The widths table: ``t_ps``, ``center_um`` and ``sigma2_um2`` (µm, µm²) for a streak,
        where σ is the standard deviation of the line profile (σ² = w²/2, PHYSICS.md §1);
        for a stack ``center_x_um``, ``center_y_um`` and ``w2_um2`` give a circle of radius w.
    n_frames : int
        Frames of a stack shown, evenly spaced in time.
    scale : {"row", "log", "linear"}
        Colour scale of a streak (:data:`RAW_SCALES`); default ``row`` (each time row divided
        by its maximum; rows whose peak does not stand ``ROW_MIN_CONTRAST`` Poisson SDs above their median are
        blank).
    """
    if scale not in RAW_SCALES:
        raise ValueError(f"raw image scale {scale!r}; allowed {', '.join(RAW_SCALES)}")
    m = measurement
    counts = np.asarray(m.counts, dtype=float)
    if m.mask is not None:
        counts = np.where(m.mask, np.nan, counts)
    ok = None
    if widths is not None and "ok" in widths:
        ok = widths[widths["ok"].astype(bool)]
    elif widths is not None:
        ok = widths
    if len(m.dims) == 2:
        other = next(d for d in m.dims if d != "t") if "t" in m.dims else m.dims[1]
        tdim = "t" if "t" in m.dims else m.dims[0]
        img = np.moveaxis(counts, (m.axis(tdim), m.axis(other)), (0, 1))
        t, x = m.coords[tdim], m.coords[other]
        img, t = _binned(img, t, max_px, 0)
        img, x = _binned(img, x, max_px, 1)
        fig = new_figure(6.4, 5.4)
        ax = fig.subplots()
        shown, norm, cbar_label = _scaled(img, scale if "t" in m.dims else "linear")
        mesh = ax.pcolormesh(
            x, t, shown, shading="nearest", cmap="viridis", norm=norm, rasterized=True
        )
        fig.colorbar(mesh, ax=ax, label=cbar_label)
        if ok is not None and other == "x" and {"center_um", "sigma2_um2"} <= set(ok.columns):
            sigma = np.sqrt(ok["sigma2_um2"].clip(lower=0))
            ax.plot(ok["center_um"], ok["t_ps"], color="white", lw=1.2, label="centre")
            ax.plot(
                ok["center_um"] - sigma,
                ok["t_ps"],
                color="#ff7f0e",
                lw=1.0,
                ls="--",
                label="centre ± σ (σ² = w²/2)",
            )
            ax.plot(ok["center_um"] + sigma, ok["t_ps"], color="#ff7f0e", lw=1.0, ls="--")
            # Below the axes, off the image.
            ax.legend(
                loc="upper center",
                bbox_to_anchor=(0.5, -0.13),
                ncols=2,
                facecolor="0.35",  # the white centre line needs a dark background
                labelcolor="white",
            )
        ax.set_xlabel(axis_label(other, m.units.get(other, "px")))
        ax.set_ylabel(axis_label(tdim, m.units.get(tdim, "px")))
        what = {"row": ", each row / its maximum", "log": ", log scale"}.get(scale, "")
        ax.set_title(f"Raw image ({m.format}{what if 't' in m.dims else ''})")
        return fig
    if len(m.dims) == 3 and {"y", "x"} <= set(m.dims):
        tdim = next(d for d in m.dims if d not in ("y", "x"))
        stack = np.moveaxis(counts, (m.axis(tdim), m.axis("y"), m.axis("x")), (0, 1, 2))
        t, y, x = m.coords[tdim], m.coords["y"], m.coords["x"]
        picks = np.unique(np.linspace(0, len(t) - 1, min(n_frames, len(t))).round().astype(int))
        fig = new_figure(3.0 * len(picks) + 0.8, 3.4)
        axes = np.atleast_1d(fig.subplots(1, len(picks), sharey=True))
        vmax = np.nanmax(stack[picks])
        for ax, i in zip(axes, picks, strict=True):
            mesh = ax.pcolormesh(
                x,
                y,
                stack[i],
                shading="nearest",
                cmap="viridis",
                vmin=np.nanmin(stack[picks]),
                vmax=vmax,
                rasterized=True,
            )
            ax.set_title(f"{tdim} = {t[i]:.4g} {m.units.get(tdim, '')}".strip())
            ax.set_xlabel(axis_label("x", m.units.get("x", "px")))
            ax.set_aspect("equal")
            needed = {"center_x_um", "center_y_um", "w2_um2"}
            if ok is not None and needed <= set(ok.columns) and len(ok):
                row = ok.iloc[int(np.argmin(np.abs(ok["t_ps"].to_numpy(float) - t[i])))]
                phi = np.linspace(0, 2 * np.pi, 100)
                r = np.sqrt(max(row["w2_um2"], 0.0))
                ax.plot(
                    row["center_x_um"] + r * np.cos(phi),
                    row["center_y_um"] + r * np.sin(phi),
                    color="white",
                    lw=1.0,
                    ls="--",
                )
        axes[0].set_ylabel(axis_label("y", m.units.get("y", "px")))
        fig.colorbar(mesh, ax=list(axes), label="counts")
        fig.suptitle(f"Raw frames ({m.format}); dashed: radius w around the centre")
        return fig
    raise ValueError(f"cannot draw a measurement with dims {m.dims}")


def image_fit_figure(arrays: dict, k: int = 0, *, max_px: int = 400) -> Figure:
    """Data, model and normalised residual of an image-level fit (``RUN/image_fit.npz``).

    Parameters
    ----------
    arrays : dict
        ``data_k``, ``model_k``, ``residual_k`` ((T, X) or (T, Y, X) counts; residuals in noise
        SDs, Poisson deviance or (data − model)/sqrt(v)), ``t_ps_k``, ``x_um_k``.
    k : int
        Which dataset (term) of the fit.
    """
    data, model, resid = arrays[f"data_{k}"], arrays[f"model_{k}"], arrays[f"residual_{k}"]
    t, x = arrays[f"t_ps_{k}"], arrays[f"x_um_{k}"]
    title_t = "t"
    if data.ndim == 3:  # a stack: the frame where the model peaks, cut through its centre row
        i = int(np.argmax(model.reshape(len(t), -1).max(axis=1)))
        data, model, resid = data[i], model[i], resid[i]
        t = np.arange(data.shape[0], dtype=float)
        title_t = f"y pixel (frame at t = {arrays[f't_ps_{k}'][i]:g} ps)"
    fig = new_figure(11.0, 3.8)
    axes = fig.subplots(1, 3, sharey=True)
    vmin, vmax = np.nanmin(model), np.nanmax(model)
    lim = 4.0
    panels = (
        (data, "data (counts)", "viridis", vmin, vmax),
        (model, "model (counts)", "viridis", vmin, vmax),
        (resid, "residual (noise SDs)", "RdBu_r", -lim, lim),
    )
    for ax, (img, label, cmap, lo, hi) in zip(axes, panels, strict=True):
        img_b, tt = _binned(img, t, max_px, 0)
        img_b, xx = _binned(img_b, x, max_px, 1)
        mesh = ax.pcolormesh(
            xx, tt, img_b, shading="nearest", cmap=cmap, vmin=lo, vmax=hi, rasterized=True
        )
        fig.colorbar(mesh, ax=ax, label=label)
        ax.set_xlabel(axis_label("x", "um"))
    axes[0].set_ylabel(axis_label("t", "ps") if title_t == "t" else title_t)
    fig.suptitle("Image-level fit: data, model (A(t), c(t) profiled), residual")
    return fig
