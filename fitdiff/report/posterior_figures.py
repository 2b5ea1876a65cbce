"""Figures of an emcee chain: the corner plot (``corner`` package), or a histogram with its
intervals when one parameter is sampled, and walker traces."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .figures import DATA_COLOR, MODEL_COLOR, new_figure
from .format import axis_label


def flat_samples(samples: np.ndarray, burn: int = 0, thin: int = 1) -> np.ndarray:
    """Return the post-burn-in, thinned samples flattened to (n, parameters).

    Parameters
    ----------
    samples : numpy.ndarray
        Chain of shape (steps, walkers, parameters).
    burn, thin : int
        Steps discarded at the start and the thinning step (as ``posterior.json`` states).
    """
    kept = samples[max(int(burn), 0) :: max(int(thin), 1)]
    if kept.shape[0] == 0:
        kept = samples  # a burn-in longer than the chain: show everything rather than nothing
    return kept.reshape(-1, samples.shape[2])


def interval_title(label: str, values: np.ndarray) -> str:
    """``"D = 2.820 +0.0097/−0.0093 cm²/s"``: median and 68 % half-widths, the errors to two
    significant digits and the median to the same decimals (``label`` is ``symbol (unit)``)."""
    p16, p50, p84 = np.percentile(np.asarray(values, float), [16, 50, 84])
    symbol, _, unit = label.partition(" (")
    unit = unit[:-1] if unit.endswith(")") else unit
    lo, hi = p50 - p16, p84 - p50
    spread = min(lo, hi) if min(lo, hi) > 0 else max(lo, hi)
    scale = max(abs(p50), spread)
    if spread > 0 and 1e-3 <= scale < 1e5:
        d = max(1 - int(np.floor(np.log10(spread))), 0)
        text = f"{p50:.{d}f} +{hi:.{d}f}/−{lo:.{d}f}"
    else:
        text = f"{p50:.4g} +{hi:.2g}/−{lo:.2g}"
    return f"{symbol} = {text} {unit}".rstrip()


def corner_figure(
    samples: np.ndarray, labels: list[str], truths: list[float] | None = None
) -> Figure:
    """Corner plot of the flattened samples with 16/50/84 % quantiles marked.

    Parameters
    ----------
    samples : numpy.ndarray
        Shape (n, parameters), from :func:`flat_samples`.
    labels : list of str
        Axis label of each parameter, with its unit.
    truths : list of float, optional
        Best-fit values drawn as lines (NaN where a parameter has none).
    """
    import corner

    k = samples.shape[1]
    if k == 1:
        # corner.corner cannot draw one parameter (it raises TypeError on its 1x1 grid).
        return histogram_figure(samples[:, 0], labels[0], None if truths is None else truths[0])
    size = min(max(2.4 * k, 5.5), 16.0)
    fig = new_figure(size, size)
    fig.set_layout_engine(None)  # corner sets its own subplot spacing
    # corner refuses parameters without spread; give such a column a tiny explicit range.
    ranges = []
    for col in samples.T:
        lo, hi = float(np.min(col)), float(np.max(col))
        ranges.append(
            (lo, hi)
            if hi > lo
            else (lo - 0.5 * abs(lo or 1.0) * 1e-6, hi + 0.5 * abs(hi or 1.0) * 1e-6)
        )
    corner.corner(
        samples,
        fig=fig,
        labels=labels,
        range=ranges,
        quantiles=[0.16, 0.5, 0.84],
        show_titles=False,  # corner's titles give the errors 4 digits; ours two (below)
        truths=truths,
        truth_color=MODEL_COLOR,
        color=DATA_COLOR,
        label_kwargs={"fontsize": 9},
        max_n_ticks=3,
        labelpad=0.08,
    )
    # Titles sit above each diagonal panel: small enough that neighbours do not overlap.
    axes = np.asarray(fig.axes).reshape(k, k)
    for i in range(k):
        axes[i, i].set_title(interval_title(labels[i], samples[:, i]), fontsize=8 if k <= 3 else 7)
    return fig


def histogram_figure(values: np.ndarray, label: str, truth: float | None = None) -> Figure:
    """The 1-D posterior of one parameter: histogram, median, 68 % and 95 % intervals.

    Parameters
    ----------
    values : numpy.ndarray
        Flat samples of the parameter (its unit is in ``label``).
    label : str
        ``symbol (unit)`` of the parameter.
    truth : float, optional
        Best-fit value, drawn as a red line (NaN or None: not drawn).
    """
    values = np.asarray(values, dtype=float)
    p2_5, p16, p50, p84, p97_5 = np.percentile(values, [2.5, 16, 50, 84, 97.5])
    fig = new_figure(5.2, 3.6)
    ax = fig.subplots()
    span = p97_5 - p2_5
    bins = 50 if span > 0 else 1
    ax.hist(values, bins=bins, density=span > 0, color=DATA_COLOR, alpha=0.55, lw=0)
    ax.axvspan(p2_5, p97_5, color=DATA_COLOR, alpha=0.08, lw=0, label="95 % interval")
    ax.axvspan(p16, p84, color=DATA_COLOR, alpha=0.18, lw=0, label="68 % interval")
    ax.axvline(p50, color=DATA_COLOR, lw=1.5, label="median")
    if truth is not None and np.isfinite(truth):
        ax.axvline(truth, color=MODEL_COLOR, lw=1.2, ls="--", label="best fit")
    ax.set_xlabel(label)
    ax.set_ylabel("posterior density" if span > 0 else "samples")
    ax.set_title(interval_title(label, values), fontsize=10)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, frameon=False)
    return fig


def traces_figure(
    samples: np.ndarray, labels: list[str], burn: int = 0, max_walkers: int = 64
) -> Figure:
    """Walker traces, one panel per parameter, with the burn-in marked.

    Parameters
    ----------
    samples : numpy.ndarray
        Chain of shape (steps, walkers, parameters), burn-in included.
    labels : list of str
        Label of each parameter, with its unit.
    burn : int
        Steps discarded as burn-in (shaded).
    max_walkers : int
        At most this many walkers are drawn, so the figure stays light.
    """
    steps, walkers, k = samples.shape
    fig = new_figure(6.4, 1.25 * k + 0.9)
    axes = np.atleast_1d(fig.subplots(k, 1, sharex=True))
    step = np.arange(steps)
    shown = samples[:, : min(walkers, max_walkers), :]
    for i, ax in enumerate(axes):
        ax.plot(step, shown[:, :, i], color="k", alpha=max(0.05, min(0.4, 8.0 / walkers)), lw=0.6)
        if burn > 0:
            ax.axvspan(0, min(burn, steps - 1), color=MODEL_COLOR, alpha=0.08, lw=0)
        ax.set_ylabel(labels[i], fontsize=8)
    axes[-1].set_xlabel(axis_label("step", ""))
    title = "Walker traces"
    if burn > 0:
        title += f" (shaded: {burn} burn-in steps)"
    axes[0].set_title(title)
    return fig
