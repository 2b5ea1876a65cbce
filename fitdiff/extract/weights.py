"""Model-based errors of w²(t): the weights of every fit of a widths table.

A slice's own w² error comes from its own fit and moves with its own noise: a slice that
fluctuated narrow also gets a smaller error, so 1/err² weights pull a w²(t) line down (D low by
13 % at CNR 20 on DICE's model). Here each slice's error is the Cramér–Rao error of its Gaussian
fit evaluated at a *model* width w²_model(t) (a smooth fit of the table, iterated with it) and
the slice's fitted intensity, centre and background, with the camera noise model the extractor
used (:mod:`fitdiff.extract.fisher`). The pixel grid and the noise model travel in the table's
``attrs["settings"]`` (``grid_um``, ``noise``, ``shape``), so this works on a table read back
from CSV.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .fisher import gauss_params, predicted_errors
from .noise import NoiseModel


def has_grid(widths: pd.DataFrame) -> bool:
    """True when the table carries what :func:`model_w2_errors` needs."""
    s = widths.attrs.get("settings", {})
    return (
        isinstance(s.get("grid_um"), dict)
        and isinstance(s.get("noise"), dict)
        and s.get("method", "gauss") == "gauss"
        and {"intensity", "center_um", "background"} <= set(widths.columns)
    )


def grid_setting(values: np.ndarray) -> list[float]:
    """Compact JSON form of one pixel-centre axis: ``[first, last, count]`` when uniform (the
    usual case; a table's attrs are deep-copied by pandas on every column access, so a long
    list there is slow), else every value."""
    v = np.asarray(values, float)
    if v.size > 1 and np.allclose(v, np.linspace(v[0], v[-1], v.size), rtol=0, atol=1e-9):
        return [float(v[0]), float(v[-1]), int(v.size)]
    return [float(x) for x in v]


def _axis(spec) -> np.ndarray:
    if len(spec) == 3 and float(spec[2]).is_integer() and spec[2] >= 5:
        return np.linspace(spec[0], spec[1], int(spec[2]))
    return np.asarray(spec, float)


class SliceErrors:
    """Predicted w² errors of the rows of one widths table at any model w² (built once).

    The slice's intensity and background enter through smooth fits over the ``use`` rows, not
    through the slice's own values: a slice fitted wide also captures more intensity (and
    less background), so its own intensity would again tie its weight to its own width
    fluctuation (D 10 % high at CNR 20 on DICE's model with own intensities). log I(t) is a
    quadratic in t (exact for an exponential decay; the weights only need its trend), the
    background a straight line, the centre the median.

    Parameters
    ----------
    widths : DataFrame
        A Gaussian-fit table of :func:`~fitdiff.extract.extract_widths` (see :func:`has_grid`).
    use : ndarray of bool, optional
        Rows that define the smooth intensity, background and centre (default: ``ok`` rows,
        else all rows with a positive intensity).
    settings : dict, optional
        The table's settings when they are not (yet) in ``widths.attrs["settings"]``.
    """

    def __init__(
        self, widths: pd.DataFrame, use: np.ndarray | None = None, settings: dict | None = None
    ):
        s = widths.attrs["settings"] if settings is None else settings
        grid = s["grid_um"]
        axes = [_axis(grid[a]) for a in ("y", "x") if a in grid]
        self.coords = [g.ravel() for g in np.meshgrid(*axes, indexing="ij")]
        self.grid = tuple(axes) if len(axes) == 2 else None
        self.noise = NoiseModel(**s["noise"])
        k = len(self.coords)
        self.iso = k == 1 or s.get("shape", "isotropic") == "isotropic"
        col = {c: widths[c].to_numpy(float) for c in widths.columns if c != "reason"}
        self.intensity = col["intensity"]
        self.centres = [col["center_um"]] if k == 1 else [col["center_y_um"], col["center_um"]]
        # the variance sees the raw level: the fitted constant plus whatever was subtracted,
        # which the table's background column already holds
        self.background = col["background"]
        self.sigma_yx = None if self.iso else (col["sigma2_y_um2"], col["sigma2_x_um2"])
        t = col["t_ps"]
        if use is None:
            use = col["ok"].astype(bool) if "ok" in col else np.ones(len(t), bool)
        use = np.asarray(use, bool) & np.isfinite(self.intensity) & (self.intensity > 0)
        use &= np.isfinite(self.background)
        for c in self.centres:
            use &= np.isfinite(c)
        self.base = np.ones(len(t), bool)
        if use.sum() >= 2:
            span = max(float(np.ptp(t[use])), 1e-300)
            tt = (t - t[use].mean()) / span  # conditioning of the polynomial fits
            deg = min(2, int(use.sum()) - 1)
            coef = np.polyfit(tt[use], np.log(self.intensity[use]), deg)
            self.intensity = np.exp(np.polyval(coef, tt))
            coef = np.polyfit(tt[use], self.background[use], min(1, int(use.sum()) - 1))
            self.background = np.polyval(coef, tt)
            self.centres = [np.full(len(t), np.median(c[use])) for c in self.centres]
        else:
            self.base = use

    def __call__(self, w2_model: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Predicted w² error (µm²) of every row at ``w2_model`` (µm²); NaN where impossible
        (and outside ``rows``, a bool mask, when given: each row's error is its own)."""
        w2_model = np.asarray(w2_model, float)
        good = self.base & np.isfinite(w2_model) & (w2_model > 0)
        if rows is not None:
            good &= rows
        out = np.full(w2_model.shape, np.nan)
        if not good.any():
            return out
        if self.iso:
            sigma2 = w2_model[good] / 2.0
        else:
            # an ellipse keeps its fitted aspect ratio, scaled to the model's w² = σy² + σx²
            sy, sx = (v[good] for v in self.sigma_yx)
            scale = w2_model[good] / (sy + sx)
            sigma2 = [sy * scale, sx * scale]
        centres = [c[good] for c in self.centres]
        p = gauss_params(
            self.coords,
            self.intensity[good],
            sigma2,
            centres,
            np.zeros(int(good.sum())),
            grid=self.grid,
        )
        off = self.background[good][:, None]
        err = predicted_errors(
            self.coords, p, self.noise, offset=off, isotropic=self.iso, grid=self.grid
        )
        out[good] = err["w2_err"]
        return out


def model_w2_errors(widths: pd.DataFrame, w2_model: np.ndarray) -> np.ndarray:
    """Cramér–Rao error of w² (µm²) of every row at the model width ``w2_model`` (µm²).

    Parameters
    ----------
    widths : DataFrame
        A Gaussian-fit table of :func:`~fitdiff.extract.extract_widths` (needs
        ``attrs["settings"]["grid_um"]`` and ``["noise"]``; see :func:`has_grid`).
    w2_model : ndarray
        Model w² per row (µm²); rows where it or the fitted intensity is not positive get NaN.
    """
    return SliceErrors(widths)(w2_model)


def iterate_weights(
    widths: pd.DataFrame,
    use: np.ndarray,
    fit: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    *,
    n_iter: int = 4,
    rtol: float = 1e-9,
    settings: dict | None = None,
) -> np.ndarray:
    """Fit w²(t) with model-based errors, re-evaluating the errors at the fitted model.

    Parameters
    ----------
    widths : DataFrame
        The table (with grid, see :func:`has_grid`).
    use : ndarray of bool
        Rows that take part.
    fit : callable (t, w2, err) -> w2_model on all rows' t
        The w²(t) fit (weighted by 1/err²) returning the model at every row's time.
    n_iter : int
        Passes after the first, at most; the errors change by < 1e-3 relative after ~3 on the
        DICE model because they depend on w² only through the profile shape. The passes stop
        earlier once the model w² moves by less than ``rtol`` (relative) on every used row.
    rtol : float
        That change; 1e-9 leaves the errors where further passes would put them to ~1e-9
        (the used rows keep the errors of the last pass, at the model before that change).
    settings : dict, optional
        The table's settings when they are not (yet) in ``widths.attrs["settings"]`` (pandas
        deep-copies ``attrs`` on every column access).

    Returns
    -------
    ndarray
        Model-based w² error of every row (µm²) at the final model.
    """
    t = widths["t_ps"].to_numpy(float)
    w2 = widths["w2_um2"].to_numpy(float)
    predict = SliceErrors(widths, use, settings)
    # start: every used row at the median width, so no row's own fluctuation enters
    w2_model = np.full(len(widths), np.nanmedian(w2[use]))
    for _ in range(n_iter + 1):
        # the fit reads the used rows only: the others' errors wait for the final model
        err = predict(w2_model, use)
        ok = use & np.isfinite(err) & (err > 0)
        if ok.sum() < 3:
            return predict(w2_model)
        new = fit(t[ok], w2[ok], err[ok])(t)
        with np.errstate(invalid="ignore", divide="ignore"):
            moved = np.abs(new[ok] - w2_model[ok]) > rtol * np.abs(new[ok])
        w2_model = new
        if not moved.any():
            # the used rows' errors at a model that moved < rtol are final (to ~rtol): only
            # the other rows are left to evaluate
            rest = predict(w2_model, ~use)
            return np.where(use, err, rest)
    return predict(w2_model)


def polynomial_fit(degree: int):
    """A weighted polynomial w²(t) smoother for :func:`iterate_weights` (numpy.polyfit)."""

    def fit(t, y, e):
        deg = min(degree, len(t) - 2)
        coef = np.polyfit(t, y, deg, w=1.0 / e)
        return lambda tt: np.polyval(coef, tt)

    return fit
