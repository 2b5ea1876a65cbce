"""Transient D(t) = ¼ dw²/dt from a widths table, and the straight-line D over a range."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import savgol_coeffs

from ..errors import ExtractionError
from ..units import UM2_PS_PER_CM2_S
from .weights import has_grid, iterate_weights

METHODS = ("local", "savgol")


def _usable(widths: pd.DataFrame, t_range_ps) -> pd.DataFrame:
    missing = {"t_ps", "w2_um2", "w2_err_um2"} - set(widths.columns)
    if missing:
        raise ExtractionError(f"widths table lacks column(s) {sorted(missing)}")
    good = np.isfinite(widths["w2_um2"]) & (widths["w2_err_um2"] > 0)
    if "ok" in widths.columns:
        good &= widths["ok"].astype(bool)
    if t_range_ps is not None:
        lo, hi = t_range_ps
        if not lo < hi:
            raise ExtractionError(f"t_range_ps = {t_range_ps!r}: need A < B")
        good &= (widths["t_ps"] >= lo) & (widths["t_ps"] <= hi)
    return widths.loc[good].sort_values("t_ps")


def transient_diffusion(
    widths: pd.DataFrame,
    *,
    window: int = 7,
    t_range_ps: tuple[float, float] | None = None,
    method: str = "local",
    polyorder: int = 2,
) -> pd.DataFrame:
    """Transient diffusion coefficient D(t) = ¼ dw²/dt (PHYSICS.md §1), slice by slice.

    Parameters
    ----------
    widths : DataFrame
        A table from :func:`~fitdiff.extract.extract_widths` (``t_ps`` in ps, ``w2_um2`` and
        ``w2_err_um2`` in µm²); only ``ok`` rows are used.
    window : int
        Odd number of consecutive ok points per estimate.
    t_range_ps : (float, float), optional
        Use only points in this time range (ps).
    method : {"local", "savgol"}
        "local": weighted straight line (weights 1/w2_err²) through each window, the slope's
        error from the weighted least-squares covariance. "savgol": the Savitzky-Golay first
        derivative (order ``polyorder``, needs uniform t), error from its coefficients.
    polyorder : int
        Polynomial order of "savgol".

    Returns
    -------
    DataFrame
        ``t_ps`` (window centre), ``D_cm2_s``, ``D_err_cm2_s`` (cm²/s); attrs ``settings``
        (window, method, t_range_ps). The first and last window//2 points have no estimate
        and are omitted. Neighbouring estimates share points, so they are correlated.
    """
    if method not in METHODS:
        raise ExtractionError(f"method = {method!r}; allowed {METHODS}")
    if int(window) != window or window < 3 or window % 2 == 0:
        raise ExtractionError(f"window = {window!r}; allowed an odd integer >= 3")
    use = _usable(widths, t_range_ps)
    if len(use) < window:
        raise ExtractionError(f"only {len(use)} ok width points; window = {window} needs more")
    t = use["t_ps"].to_numpy(float)
    y = use["w2_um2"].to_numpy(float)
    e = use["w2_err_um2"].to_numpy(float)
    half = window // 2
    if method == "local":
        tw, yw = sliding_window_view(t, window), sliding_window_view(y, window)
        ww = sliding_window_view(1.0 / e**2, window)
        sw = ww.sum(1)
        tbar = (ww * tw).sum(1) / sw
        dt = tw - tbar[:, None]
        stt = (ww * dt * dt).sum(1)
        slope = (ww * dt * yw).sum(1) / stt
        slope_err = 1.0 / np.sqrt(stt)
    else:
        steps = np.diff(t)
        if not np.allclose(steps, steps[0], rtol=1e-6, atol=0):
            raise ExtractionError("method='savgol' needs uniformly spaced ok points; use 'local'")
        if not 1 <= polyorder < window:
            raise ExtractionError(f"polyorder = {polyorder}; allowed 1 <= polyorder < window")
        c = savgol_coeffs(window, polyorder, deriv=1, delta=steps[0], use="dot")
        yw = sliding_window_view(y, window)
        slope = yw @ c
        slope_err = np.sqrt(sliding_window_view(e**2, window) @ (c * c))
    to_cm2_s = 0.25 / UM2_PS_PER_CM2_S
    out = pd.DataFrame(
        {
            "t_ps": t[half : len(t) - half],
            "D_cm2_s": slope * to_cm2_s,
            "D_err_cm2_s": slope_err * to_cm2_s,
        }
    )
    out.attrs["settings"] = {
        "window": int(window),
        "method": method,
        "polyorder": int(polyorder) if method == "savgol" else None,
        "t_range_ps": None if t_range_ps is None else [float(v) for v in t_range_ps],
    }
    return out


@dataclass
class LinearDiffusion:
    """Straight-line fit w²(t) = w0² + 4 D t over ``t_range_ps``.

    Attributes: ``D_cm2_s``, ``D_err_cm2_s`` (cm²/s), ``w0_2_um2``, ``w0_2_err_um2`` (µm², the
    intercept at t = 0), ``redchi`` (χ²/(n-2); errors are *not* scaled by it), ``ndata``,
    ``t_range_ps`` (the range used, ps), ``weights`` ("model": errors from the noise model at
    the fitted line, iterated; "model-table": the table's ``w2_err_model_um2``; "own": the
    slices' own errors, for tables that carry neither).
    """

    D_cm2_s: float
    D_err_cm2_s: float
    w0_2_um2: float
    w0_2_err_um2: float
    redchi: float
    ndata: int
    t_range_ps: list[float]
    weights: str = "model"

    def to_dict(self) -> dict:
        """JSON-able dict of all fields."""
        return asdict(self)


def linear_diffusion(
    widths: pd.DataFrame, t_range_ps: tuple[float, float] | None = None
) -> LinearDiffusion:
    """Weighted straight-line fit of w²(t), w0² as nuisance, with model-based weights.

    The weights are 1/err² with err the error the noise model predicts for each slice at the
    fitted line (:mod:`fitdiff.extract.weights`, iterated with the fit), never the slice's own
    error, which is correlated with its own w² fluctuation and biases D low. Tables without
    the pixel grid and noise model (hand-made ones) use their ``w2_err_model_um2`` column when
    present, else their own errors (``weights`` says which).

    Parameters
    ----------
    widths : DataFrame
        Widths table (``t_ps`` ps, ``w2_um2``, ``w2_err_um2`` µm²); ok rows only.
    t_range_ps : (float, float), optional
        Time range in ps (default: all ok rows).
    """
    use = _usable(widths, t_range_ps)
    if len(use) < 3:
        cnr = widths.attrs.get("settings", {}).get("cnr_estimate")
        hint = (f" The data have CNR ~ {cnr:.3g} (peak / noise SD);" if cnr is not None else "") + (
            ' at low signal fit the image itself ([fit] level = "image" in ANALYSIS.toml), '
            "which needs no per-slice widths"
        )
        raise ExtractionError(
            f"linear_diffusion needs >= 3 ok points in t_range_ps = {t_range_ps}; found "
            f"{len(use)}.{hint}"
        )
    t = use["t_ps"].to_numpy(float)
    y = use["w2_um2"].to_numpy(float)
    e, weights = _line_errors(use)
    design = np.column_stack([np.ones_like(t), t]) / e[:, None]
    coef, *_ = np.linalg.lstsq(design, y / e, rcond=None)
    cov = np.linalg.inv(design.T @ design)
    chi2 = float(np.sum(((y - coef[0] - coef[1] * t) / e) ** 2))
    to_cm2_s = 0.25 / UM2_PS_PER_CM2_S
    return LinearDiffusion(
        D_cm2_s=float(coef[1] * to_cm2_s),
        D_err_cm2_s=float(np.sqrt(cov[1, 1]) * to_cm2_s),
        w0_2_um2=float(coef[0]),
        w0_2_err_um2=float(np.sqrt(cov[0, 0])),
        redchi=chi2 / (len(t) - 2),
        ndata=len(t),
        t_range_ps=[float(t.min()), float(t.max())],
        weights=weights,
    )


def _line(t, y, e):
    coef = np.polyfit(t, y, 1, w=1.0 / e)
    return lambda tt: np.polyval(coef, tt)


def _line_errors(use: pd.DataFrame) -> tuple[np.ndarray, str]:
    """Errors to weight the line with, and which kind they are (see LinearDiffusion)."""
    if has_grid(use):
        use = use.reset_index(drop=True)
        err = iterate_weights(use, np.ones(len(use), bool), _line)
        if np.all(np.isfinite(err) & (err > 0)):
            return err, "model"
    if "w2_err_model_um2" in use.columns:
        err = use["w2_err_model_um2"].to_numpy(float)
        if np.all(np.isfinite(err) & (err > 0)):
            return err, "model-table"
    return use["w2_err_um2"].to_numpy(float), "own"
