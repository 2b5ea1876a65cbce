"""``extract_widths``: a Measurement to the w²(t), PL(t) table, every slice at once."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..errors import ExtractionError, FitdiffDeprecationWarning
from ..io.measurement import Measurement
from . import compiled, lm
from . import preprocess as pp
from .fisher import distinct, pixel_area, predicted_errors
from .gauss import gaussian_model, rotated_model
from .lm import batched_lm
from .moments import edge_pixels, fill_masked, profile_moments, streak_moments
from .noise import resolve_noise
from .stack_moments import stack_moments
from .stack_start import stack_start
from .weights import grid_setting, iterate_weights, polynomial_fit

METHODS = ("gauss", "moment")
#: numpy seconds per pixel of a whole Gaussian extraction (every stage of the call), per kind
#: of image, in the units of :data:`compiled.LOAD_SECONDS`: the one rent-or-buy decision of a
#: call (:func:`compiled.load_if_paying`) weighs it. Streak: on a 1024 × 1024 Poisson streak
#: (benchmarks/bench_extract.py --cold-only, one run) the numpy path took 2.15 s warm and
#: loading numba 0.74 s, so a call costs 2.9 loads per 1.05e6 pixels; streaks above ~360k
#: pixels load numba up front. Stack: the numpy fit's cost per pixel
#: (:data:`fitdiff.extract.lm.NUMPY_SECONDS_PER_PIXEL`), the rule the stack path applied at
#: its first stage.
GAUSS_NUMPY_SECONDS_PER_PIXEL = {"streak": 2.8e-6, "stack": lm.NUMPY_SECONDS_PER_PIXEL}
SHAPES = ("isotropic", "elliptical", "rotated")


def extract_widths(
    m: Measurement,
    method: str = "gauss",
    *,
    t_range_ps: tuple[float, float] | None = None,
    x_range_um: tuple[float, float] | None = None,
    y_range_um: tuple[float, float] | None = None,
    bin_t: int = 1,
    bin_x: int = 1,
    bin_y: int = 1,
    background="fit",
    background_t_range_ps: tuple[float, float] | None = None,
    noise=None,
    time_zero_ps: float | str | None = None,
    saturation: float | None = None,
    hot_pixel_sigma: float | None = None,
    shape: str = "isotropic",
    min_snr: float = 5.0,
    edge_fraction: float = 0.1,
    max_iter: int = 60,
    t0_ps: float | str | None = None,
) -> pd.DataFrame:
    """Squared width, centre, intensity and kurtosis of every time slice of ``m``.

    Parameters
    ----------
    m : Measurement
        A streak image (dims "t", "x", any order) or a stack ("t", "y", "x"); t in ps, x/y in µm.
    method : {"gauss", "moment"}
        Weighted Gaussian + constant fit (batched Levenberg-Marquardt, errors from the
        covariance) or the background-subtracted second moment over the window.
    t_range_ps, x_range_um, y_range_um : (float, float), optional
        Keep slices/pixels inside these bounds (ps after the time-zero shift; µm).
    bin_t, bin_x, bin_y : int
        Sum this many neighbouring slices/pixels (sums keep Poisson statistics).
    background : "fit", "none", "pre-pulse", float or ndarray
        "fit": a constant per slice (fitted by "gauss"; the mean of the outer ``edge_fraction``
        of the window for "moment"). "pre-pulse": subtract the mean frame over
        ``background_t_range_ps``. A number (counts/pixel) or a dark frame (one slice or the
        whole raw image) is subtracted; the noise model still sees the raw level.
    background_t_range_ps : (float, float), optional
        Pre-pulse window in ps (after the time-zero shift).
    noise : None, "poisson", "meta", dict or NoiseModel
        Pixel variance model (PHYSICS.md §1), evaluated at the model counts.
    time_zero_ps : float, "rise" or None
        Time zero in ps subtracted from the time axis, "rise" for the half-rise of the PL, or
        None to keep the file's axis. Slices before time zero get ``reason = "pre-pulse"``.
        (Not the time of the first row, ``fitdiff.load(t_first_ps=...)``, nor the pulse
        centre ``t0_ps`` of a MODEL.toml. The old keyword ``t0_ps`` still works, with a
        :class:`~fitdiff.errors.FitdiffDeprecationWarning`.)
    saturation : float, optional
        Pixels at or above this many counts are masked.
    hot_pixel_sigma : float, optional
        Mask pixels this many Poisson SDs above their 3×3 spatial median.
    shape : {"isotropic", "elliptical", "rotated"}
        2D Gaussian of a stack: one σ² (w² = 2σ²), axis-aligned σx², σy² (w² = σx² + σy²), or
        the full covariance Σ = [[σxx², σxy], [σxy, σyy²]] of a tilted ellipse (w² = tr Σ).
    min_snr : float
        Slices whose integrated intensity is below ``min_snr`` times its error are not ok.
    edge_fraction : float
        Fraction of the window at each end used as background by the moment estimator.
    max_iter : int
        Iteration cap of the Gaussian fit.

    Returns
    -------
    pandas.DataFrame
        One row per slice, columns ``t_ps, sigma2_um2, sigma2_err_um2, w2_um2, w2_err_um2,
        center_um, amplitude, background, intensity, intensity_err, kurtosis_excess, ok,
        reason, redchi`` (stacks add ``center_y_um`` and ``sigma2_{x,y}_um2`` with errors;
        ``center_um`` is the x centre; ``shape="rotated"`` adds ``sigma2_{xx,yy,xy}_um2`` with
        ``sigma2_{xx,yy,xy}_err_um2``, their covariances ``cov_sigma2_{xx_yy,xx_xy,yy_xy}_um4``,
        the principal variances ``sigma2_{major,minor}_um2`` and the major axis' ``angle_deg``
        from +x towards +y, each with its ``_err`` twin); ``attrs["settings"]`` records every
        setting.
    """
    if t0_ps is not None:
        if time_zero_ps is not None:
            raise ExtractionError("give time_zero_ps only (t0_ps is its deprecated name)")
        warnings.warn(
            "extract_widths(t0_ps=...) is deprecated; use time_zero_ps (t0_ps names the pulse "
            "centre of a MODEL.toml)",
            FitdiffDeprecationWarning,
            stacklevel=2,
        )
        time_zero_ps = t0_ps
    if method not in METHODS:
        raise ExtractionError(f"method = {method!r}; allowed {METHODS}")
    if shape not in SHAPES:
        raise ExtractionError(f"shape = {shape!r}; allowed {SHAPES}")
    for name, val in (("bin_t", bin_t), ("bin_x", bin_x), ("bin_y", bin_y)):
        if int(val) != val or val < 1:
            raise ExtractionError(f"{name} = {val!r}; allowed an integer >= 1")
    if not 0 < edge_fraction < 0.5:
        raise ExtractionError(f"edge_fraction = {edge_fraction!r}; allowed 0 < f < 0.5")
    nm_pixel = resolve_noise(noise, m.meta)
    prep = prepare(
        m,
        t_range_ps=t_range_ps,
        x_range_um=x_range_um,
        y_range_um=y_range_um,
        bin_t=bin_t,
        bin_x=bin_x,
        bin_y=bin_y,
        background=background,
        background_t_range_ps=background_t_range_ps,
        time_zero_ps=time_zero_ps,
        saturation=saturation,
        hot_pixel_sigma=hot_pixel_sigma,
        noise=nm_pixel,
    )
    # a binned pixel is a sum: shot noise follows its summed mean, read noise adds once per
    # summed raw pixel (read² × n), which evaluating the per-pixel model at the sum would miss
    nm = nm_pixel.binned(prep.settings["summed_pixels"])
    nt = prep.data.shape[0]
    axes = list(prep.coords)  # ["x"] or ["y", "x"]
    if method == "gauss":
        # one decision for the whole call (moments, signal test, fit, Fisher weights): stage
        # by stage, a large image would run its first stages on numpy and then load anyway
        kind = "streak" if len(axes) == 1 else "stack"
        compiled.load_if_paying(GAUSS_NUMPY_SECONDS_PER_PIXEL[kind] * prep.data.size)
    grids = np.meshgrid(*[prep.coords[a] for a in axes], indexing="ij")
    coords = [g.ravel() for g in grids]
    data = prep.data.reshape(nt, -1)
    bad = prep.bad.reshape(nt, -1)
    offset = np.broadcast_to(prep.offset, prep.data.shape).reshape(nt, -1)

    grid = tuple(prep.coords[a] for a in axes)
    # the signal test and the fit's start always see an edge-subtracted profile, whatever was
    # subtracted before: a background left in would count as signal. Frames of a stack
    # without masked pixels take one compiled pass (None: the general path below)
    any_bad = prep.settings["masked_pixels"] > 0
    # (a Gaussian fit has made its rent-or-buy decision for the whole call above)
    mom = stack_moments(grid, data, any_bad, offset, nm, edge_fraction)
    if len(axes) == 1 and not (method == "moment" and background != "fit"):
        # rows of a streak: the same, the noise variance evaluated inside the one kernel
        edges = edge_pixels(coords, edge_fraction)
        mom = streak_moments(coords[0], data, any_bad, offset, nm, edges)
    if mom is None or (method == "moment" and background != "fit"):
        filled = fill_masked(prep.data, prep.bad).reshape(nt, -1)
        # each full-image pass costs about as much as the moment sums themselves: passes that
        # cannot change anything (no bad pixel, a zero offset) are skipped
        if not np.isfinite(filled).all():
            filled = np.where(np.isfinite(filled), filled, 0.0)
        zero_offset = offset.strides[0] == 0 and not offset[0].any()
        var_data = nm.variance(filled if zero_offset else filled + offset)
        if any_bad:
            var_data = np.where(bad, 0.0, var_data)
        if mom is None:
            mom = profile_moments(coords, filled, var_data, edge_pixels(coords, edge_fraction))
    with np.errstate(invalid="ignore", divide="ignore"):
        snr = mom["intensity"] / mom["intensity_err"]
        if method == "gauss":
            if "peak" not in mom:  # start values of the signal test and the fit
                mom["peak"] = row_peak(data, bad)
            if len(axes) == 2:
                p0 = gauss_start(coords, data, bad, mom)
                mom["start"] = stack_start(p0, coords, grid, data, bad, offset, nm, mom)
            snr = _fit_snr(coords, data, bad, offset, nm, mom, shape, grid)
    if method == "moment" and background != "fit":
        mom_out = profile_moments(coords, filled, var_data, None)
        mom_out["kurtosis_excess"] = mom["kurtosis_excess"]
        mom = mom_out

    out = _moment_columns(mom, axes) if method == "moment" else None
    if method == "gauss":
        # rows below min_snr are flagged anyway; fitting them costs most of the iterations
        fit_rows = snr >= min_snr
        rows = Ellipsis if fit_rows.all() else fit_rows  # a boolean index copies
        # the frames of a stack are read in place by the fit (a copy of the fitted ones costs
        # more than a bare pass over the whole stack); a streak's rows are copied
        frames = None if rows is Ellipsis or len(axes) == 1 else np.flatnonzero(fit_rows)
        out = _gauss_columns(
            coords,
            axes,
            data if frames is not None else data[rows],
            # no masked pixel: one row of flags shared by all (no (B, N) copy to build or read)
            bad[rows] if any_bad else np.broadcast_to(bad[:1], (int(fit_rows.sum()), bad.shape[1])),
            # a frame shared by every row stays shared (indexing would copy it per row)
            offset[rows] if offset.strides[0] else offset[: int(fit_rows.sum())],
            nm,
            {k: _rows(v, fit_rows) for k, v in mom.items()},
            shape,
            max_iter,
            grid,
            frames,
        )
        out = {k: _expand(v, fit_rows) for k, v in out.items()}
        # PL(t) of unfitted slices is still useful: fall back to the moment sum there
        for col in ("intensity", "intensity_err", "background"):
            out[col] = np.where(fit_rows, out[col], mom[col])
        with np.errstate(invalid="ignore", divide="ignore"):
            snr = np.where(fit_rows, out["intensity"] / out["intensity_err"], snr)
    out["kurtosis_excess"] = mom["kurtosis_excess"]
    reason = _reasons(prep, bad, snr, min_snr, out, coords, axes)
    first = [
        "sigma2_um2",
        "sigma2_err_um2",
        "w2_um2",
        "w2_err_um2",
        "center_um",
        "amplitude",
        "background",
        "intensity",
        "intensity_err",
        "kurtosis_excess",
    ]
    df = pd.DataFrame({"t_ps": prep.t_ps, **{c: out[c] for c in first}})
    df["ok"] = reason == ""
    df["reason"] = reason
    for col, values in out.items():  # then redchi and the per-axis columns of a stack
        if col not in first:
            df[col] = values
    settings = {
        "method": method,
        "noise": nm.to_dict(),
        "noise_per_pixel": nm_pixel.to_dict(),
        "grid_um": {a: grid_setting(prep.coords[a]) for a in axes},
        "min_snr": float(min_snr),
        "edge_fraction": float(edge_fraction),
        "max_iter": int(max_iter),
        "source": str(m.source) if m.source is not None else None,
        "format": m.format,
        **prep.settings,
    }
    if len(axes) == 2:
        settings["shape"] = shape
    amp = df["amplitude"].to_numpy(float)
    if np.isfinite(amp).any():
        # CNR as DICE defines it: the peak over the noise SD at the peak (brightest slice)
        i = int(np.nanargmax(amp))
        sd = float(nm.sd(np.array([amp[i] + df["background"].iloc[i]]))[0])
        settings["cnr_estimate"] = float(amp[i] / sd)
    if method == "gauss":  # before the attrs: pandas deep-copies them on every column access
        _model_errors_and_collapse(df, settings)
    df.attrs["settings"] = settings
    return df


def prepare(
    m,
    *,
    t_range_ps,
    x_range_um,
    y_range_um,
    bin_t,
    bin_x,
    bin_y,
    background,
    background_t_range_ps,
    time_zero_ps,
    saturation,
    hot_pixel_sigma,
    noise=None,
) -> pp.Prepared:
    """Orient, mask, shift time, subtract background, crop and bin (see :mod:`.preprocess`)."""
    m = pp.orient(m)
    raw = np.asarray(m.counts)
    counts = _c_order_float(raw)
    # integer counts are finite: no pass to look for NaN
    maybe_nan = raw.dtype.kind not in "iub"
    bad = pp.bad_pixels(counts, m.mask, saturation, hot_pixel_sigma, noise, maybe_nan)
    any_bad = bool(bad.any())
    if any_bad:
        counts = np.where(bad, 0.0, counts)
    t = m.coords["t"].copy()
    settings: dict = {}
    if isinstance(time_zero_ps, str):
        if time_zero_ps != "rise":
            raise ExtractionError(
                f"time_zero_ps = {time_zero_ps!r}; allowed a number (ps), 'rise' or None"
            )
        t0 = pp.time_zero_rise(t, counts.reshape(len(t), -1).sum(axis=1))
        settings["time_zero_rule"] = "half-rise of the 3-point-smoothed PL"
    else:
        t0 = None if time_zero_ps is None else float(time_zero_ps)
    if t0 is not None:
        t = t - t0
    settings["time_zero_ps"] = t0
    offset, bg_settings = pp.background_image(background, counts, bad, t, background_t_range_ps)
    settings.update(bg_settings)
    data = counts - offset if np.any(offset) else counts
    offset = np.broadcast_to(offset, data.shape)
    sel_t = pp.crop(t, t_range_ps, "t_range_ps")
    sels = [sel_t]
    coords = {}
    for dim, rng, name in (("y", y_range_um, "y_range_um"), ("x", x_range_um, "x_range_um")):
        if dim in m.dims:
            sel = pp.crop(m.coords[dim], rng, name)
            sels.append(sel)
            coords[dim] = m.coords[dim][sel]
    if not all(s.all() for s in sels):  # nothing to crop: no copy of the image
        index = np.ix_(*sels)
        data, bad, offset, t = data[index], bad[index], offset[index], t[sel_t]
    factors = {"t": bin_t, "y": bin_y, "x": bin_x}
    for axis, dim in enumerate(("t", *coords)):
        f = int(factors[dim])
        if f > 1:
            data = pp.bin_axis(data, f, axis, "sum")
            offset = pp.bin_axis(offset, f, axis, "sum")
            bad = pp.bin_axis(bad, f, axis, "any")
            if dim == "t":
                t = pp.bin_axis(t, f, 0, "mean")
            else:
                coords[dim] = pp.bin_axis(coords[dim], f, 0, "mean")
    if data.shape[0] < 1 or any(c.size < 5 for c in coords.values()):
        raise ExtractionError(
            f"after cropping and binning the image is {data.shape}; need >= 5 pixels per axis"
        )
    if any_bad:
        data = np.where(bad, 0.0, data)
    summed = int(bin_t) * int(bin_x) * (int(bin_y) if "y" in coords else 1)
    settings.update(
        {
            "summed_pixels": summed,
            "t_range_ps": None if t_range_ps is None else [float(v) for v in t_range_ps],
            "x_range_um": [float(coords["x"].min()), float(coords["x"].max())],
            "bin_t": int(bin_t),
            "bin_x": int(bin_x),
            "saturation": saturation,
            "hot_pixel_sigma": hot_pixel_sigma,
            "masked_pixels": int(bad.sum()),
        }
    )
    if "y" in coords:
        settings["y_range_um"] = [float(coords["y"].min()), float(coords["y"].max())]
        settings["bin_y"] = int(bin_y)
    return pp.Prepared(t_ps=t, coords=coords, data=data, bad=bad, offset=offset, settings=settings)


def _c_order_float(raw: np.ndarray) -> np.ndarray:
    """``raw`` as float64 in C order (counts).

    A file stored (y, x, t) (a TCSPC scan) is a transposed view in (t, y, x); every later
    pass (moments, start choice, fits) would copy it again. The copy goes slab by slab along
    the axis outermost in memory (each slab a 2D transpose that stays in cache: ~0.8 of
    numpy's one-call strided copy on a 133 × 256 × 256 scan).
    """
    if raw.flags.c_contiguous or raw.ndim < 3:
        return np.ascontiguousarray(raw, dtype=float)
    out = np.empty(raw.shape, dtype=float)
    axis = int(np.argmax(np.abs(raw.strides)))
    for i in range(raw.shape[axis]):
        index = (slice(None),) * axis + (i,)
        out[index] = raw[index]
    return out


def _fit_snr(coords, data, bad, offset, nm, mom, shape, grid=None) -> np.ndarray:
    """Integrated intensity over its error as the Gaussian fit will see it, per slice.

    The error is the Cramér–Rao error of the intensity of a Gaussian-plus-constant fit at the
    moment start values (:func:`gauss_start`), with the camera noise model: the fit's
    background is one free constant, not the noisy mean of the window's edges that a
    moment sum subtracts, so the moment error (over the whole window) overstates it ~2× at
    low signal and would refuse slices the fit measures well.
    """
    p0 = gauss_start(coords, data, bad, mom)
    k = len(coords)
    pix = pixel_area(coords, grid if k == 2 else None)
    intensity = p0[:, 0] * (2 * np.pi * p0[:, 1 + k]) ** (k / 2) / pix
    valid = ~bad if bad.any() else None  # None: no (B, N) array of True to build and read
    err = predicted_errors(
        coords, p0, nm, offset=offset, valid=valid, isotropic=True, grid=grid if k == 2 else None
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        return intensity / err["intensity_err"]


#: A slice whose own w² error is below this fraction of the error its intensity predicts at
#: the model width has collapsed onto a narrow noise feature. Honest slices scatter about a
#: ratio of 1 with a spread of ~0.2 at CNR 5 on DICE's model (the own error moves with the
#: fitted width); collapsed ones sit at < 0.2.
COLLAPSE_RATIO = 0.4


def _model_errors_and_collapse(df: pd.DataFrame, settings: dict) -> None:
    """Add ``w2_err_model_um2`` and flag collapsed slices (in place).

    The model width is a weighted quadratic in t through the ok slices, iterated with errors
    from the noise model (:mod:`fitdiff.extract.weights`); it only sets the weights and the
    collapse test, so its form matters little (the errors depend on w² through the profile
    shape). ``settings`` are the table's (grid and noise model).
    """
    ok = df["ok"].to_numpy(bool)
    df["w2_err_model_um2"] = np.nan
    if ok.sum() < 4:
        return
    fit = polynomial_fit(2)
    err = iterate_weights(df, ok, fit, settings=settings)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = df["w2_err_um2"].to_numpy(float) / err
    collapsed = ok & (ratio < COLLAPSE_RATIO)
    if collapsed.any():
        df.loc[collapsed, "ok"] = False
        df.loc[collapsed, "reason"] = [
            f"collapsed: w2 error {r:.2g}x the error its intensity predicts (< {COLLAPSE_RATIO})"
            for r in ratio[collapsed]
        ]
        ok = ok & ~collapsed
        if ok.sum() >= 4:
            err = iterate_weights(df, ok, fit, settings=settings)
    df["w2_err_model_um2"] = err


def _rows(value, sel):
    return [v[sel] for v in value] if isinstance(value, list) else value[sel]


def _expand(values: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """Scatter per-fitted-row values back to all rows (NaN, or False for flags, elsewhere)."""
    fill = False if values.dtype == bool else np.nan
    out = np.full(sel.shape, fill, dtype=values.dtype if values.dtype == bool else float)
    out[sel] = values
    return out


def _moment_columns(mom: dict, axes: list[str]) -> dict:
    w2, w2_err = mom["w2"], mom["w2_err"]
    out = {
        "sigma2_um2": w2 / 2.0,
        "sigma2_err_um2": w2_err / 2.0,
        "w2_um2": w2,
        "w2_err_um2": w2_err,
        "center_um": mom["center"][-1],
        "amplitude": np.full(w2.shape, np.nan),
        "background": mom["background"],
        "intensity": mom["intensity"],
        "intensity_err": mom["intensity_err"],
        "redchi": np.full(w2.shape, np.nan),
    }
    if len(axes) == 2:
        out["center_y_um"] = mom["center"][0]
        out["sigma2_y_um2"], out["sigma2_x_um2"] = mom["sigma2"]
        out["sigma2_y_err_um2"], out["sigma2_x_err_um2"] = mom["sigma2_err"]
    return out


def gauss_start(coords, data, bad, mom) -> np.ndarray:
    """Starting parameters (A, centres, σ², c) from the moment pass of each slice.

    The peak is the maximum of the slice minus the edge background, the centre the moment
    centroid (clipped into the window), and σ² comes from area = A (2π σ²)^(k/2) per pixel,
    which, unlike the raw second moment, is not blown up by noise in the wings.
    """
    if "start" in mom:  # chosen once per stack (:func:`.stack_start.stack_start`)
        return mom["start"].copy()
    k = len(coords)
    c0 = mom["background"]
    peak = mom["peak"] if "peak" in mom else row_peak(data, bad)
    amp = np.maximum(peak - c0, 1e-12)
    pix = np.prod([np.ptp(c) / max(distinct(c) - 1, 1) for c in coords])
    area = np.maximum(mom["intensity"], 1e-12) * pix
    s2 = (area / (amp * (2 * np.pi) ** (k / 2))) ** (2.0 / k)
    lo = min(np.ptp(c) / max(distinct(c) - 1, 1) for c in coords) ** 2 / 4
    hi = max(np.ptp(c) for c in coords) ** 2
    s2 = np.clip(np.nan_to_num(s2, nan=hi / 16), lo, hi)
    centres = []
    for c, cen in zip(coords, mom["center"], strict=True):
        cen = np.nan_to_num(cen, nan=float(np.mean(c)))
        centres.append(np.clip(cen, c.min(), c.max()))
    return np.column_stack([amp, *centres, s2, c0])


def row_peak(data: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Largest usable pixel of every row of ``data`` (B, N), counts (-inf: none usable)."""
    if not bad.any():  # one pass over the image instead of three
        return data.max(axis=1)
    return np.where(bad, -np.inf, data).max(axis=1)


def _gauss_columns(
    coords, axes, data, bad, offset, nm, mom, shape, max_iter, grid, frames=None
) -> dict:
    """Fitted columns of the rows of ``bad``, ``offset``, ``mom``: the rows ``frames`` of
    ``data`` (default: its rows, one each)."""
    k = len(coords)
    if k == 2 and shape == "rotated":
        return _rotated_columns(coords, grid, data, bad, offset, nm, mom, max_iter, frames)
    iso = shape == "isotropic" or k == 1
    p0 = gauss_start(coords, data, bad, mom)
    if not iso:
        p0 = np.insert(p0, k + 1, p0[:, k + 1], axis=1)  # σy² = σx² to start
    fit = batched_lm(
        gaussian_model(coords, isotropic=iso, grid=grid if k == 2 else None),
        p0,
        data,
        ~bad if bad.strides[0] else np.broadcast_to(~bad[:1], bad.shape),
        nm.variance,
        offset,
        max_iter=max_iter,
        frames=frames,
    )
    p, cov = fit.p, fit.cov
    nw = 1 if iso else k
    iw = slice(1 + k, 1 + k + nw)
    s2 = p[:, iw]
    s2_err = np.sqrt(np.diagonal(cov, axis1=1, axis2=2)[:, iw])
    # w² = 2σ² (isotropic, PHYSICS.md §1) or σx² + σy²; its variance from the covariance
    grad = np.zeros(p.shape)
    grad[:, iw] = 2.0 if (iso and k == 2) or k == 1 else 1.0
    w2 = (grad * p).sum(axis=1)
    w2_err = np.sqrt(np.einsum("bp,bpq,bq->b", grad, cov, grad))
    pix = np.prod([np.ptp(c) / max(distinct(c) - 1, 1) for c in coords])
    # intensity in counts: the fitted Gaussian's integral divided by the pixel area
    amp = p[:, 0]
    if iso:
        norm = (2 * np.pi * s2[:, 0]) ** (k / 2) / pix
        g_int = np.zeros(p.shape)
        g_int[:, 0] = norm
        g_int[:, 1 + k] = amp * norm * (k / 2) / s2[:, 0]
    else:
        norm = 2 * np.pi * np.sqrt(s2[:, 0] * s2[:, 1]) / pix
        g_int = np.zeros(p.shape)
        g_int[:, 0] = norm
        g_int[:, 1 + k] = amp * norm / (2 * s2[:, 0])
        g_int[:, 2 + k] = amp * norm / (2 * s2[:, 1])
    intensity = amp * norm
    int_err = np.sqrt(np.einsum("bp,bpq,bq->b", g_int, cov, g_int))
    with np.errstate(invalid="ignore", divide="ignore"):
        redchi = fit.chi2 / np.maximum(fit.nfree, 1)
    out = {
        "sigma2_um2": w2 / 2.0,
        "sigma2_err_um2": w2_err / 2.0,
        "w2_um2": w2,
        "w2_err_um2": w2_err,
        "center_um": p[:, k],
        "amplitude": amp,
        "background": p[:, -1] + offset.mean(axis=1),
        "intensity": intensity,
        "intensity_err": int_err,
        "redchi": redchi,
        "_converged": fit.converged,
    }
    if k == 2:
        out["center_y_um"] = p[:, 1]
        if iso:
            out["sigma2_y_um2"] = out["sigma2_x_um2"] = s2[:, 0]
            out["sigma2_y_err_um2"] = out["sigma2_x_err_um2"] = s2_err[:, 0]
        else:
            out["sigma2_y_um2"], out["sigma2_x_um2"] = s2[:, 0], s2[:, 1]
            out["sigma2_y_err_um2"], out["sigma2_x_err_um2"] = s2_err[:, 0], s2_err[:, 1]
    return out


def _rotated_columns(coords, grid, data, bad, offset, nm, mom, max_iter, frames=None) -> dict:
    """Columns of the full-covariance fit, parameters (A, y0, x0, Syy, Sxx, Sxy, c)."""
    p0 = gauss_start(coords, data, bad, mom)
    # round start (Sxy = 0): the moment covariance is noise-dominated in the wings
    p0 = np.column_stack([p0[:, :4], p0[:, 3], np.zeros(len(p0)), p0[:, 4]])
    fit = batched_lm(
        rotated_model(coords, grid=grid),
        p0,
        data,
        ~bad,
        nm.variance,
        offset,
        max_iter=max_iter,
        frames=frames,
    )
    p, cov = fit.p, fit.cov
    amp, syy, sxx, sxy = p[:, 0], p[:, 3], p[:, 4], p[:, 5]
    var = np.diagonal(cov, axis1=1, axis2=2)

    def propagated(grad):
        return np.sqrt(np.einsum("bp,bpq,bq->b", grad, cov, grad))

    grad_w2 = np.zeros(p.shape)
    grad_w2[:, 3:5] = 1.0  # w² = tr Σ
    w2, w2_err = syy + sxx, propagated(grad_w2)
    pix = np.prod([np.ptp(c) / max(distinct(c) - 1, 1) for c in coords])
    with np.errstate(invalid="ignore", divide="ignore"):
        det = syy * sxx - sxy * sxy
        norm = 2 * np.pi * np.sqrt(det) / pix  # ∫ exp(-½ rᵀΣ⁻¹r) d²r / pixel area
        g_int = np.zeros(p.shape)
        g_int[:, 0] = norm
        g_int[:, 3] = amp * norm * 0.5 * sxx / det
        g_int[:, 4] = amp * norm * 0.5 * syy / det
        g_int[:, 5] = -amp * norm * sxy / det
        redchi = fit.chi2 / np.maximum(fit.nfree, 1)
    # principal axes: λ± = (Sxx + Syy)/2 ± ρ, ρ = √(((Sxx - Syy)/2)² + Sxy²); major axis at
    # θ = ½ atan2(2 Sxy, Sxx - Syy) from +x towards +y; errors to first order in the covariance
    half = 0.5 * (sxx - syy)
    rho = np.hypot(half, sxy)
    with np.errstate(invalid="ignore", divide="ignore"):
        d_rho = np.zeros(p.shape)
        d_rho[:, 3], d_rho[:, 4], d_rho[:, 5] = -0.5 * half / rho, 0.5 * half / rho, sxy / rho
        d_mean = np.zeros(p.shape)
        d_mean[:, 3:5] = 0.5
        d_theta = np.zeros(p.shape)  # θ = ½ atan2(Sxy, half)
        d_theta[:, 3] = 0.25 * sxy / rho**2
        d_theta[:, 4] = -0.25 * sxy / rho**2
        d_theta[:, 5] = 0.5 * half / rho**2
    out = {
        "sigma2_um2": w2 / 2.0,
        "sigma2_err_um2": w2_err / 2.0,
        "w2_um2": w2,
        "w2_err_um2": w2_err,
        "center_um": p[:, 2],
        "amplitude": amp,
        "background": p[:, -1] + offset.mean(axis=1),
        "intensity": amp * norm,
        "intensity_err": propagated(g_int),
        "redchi": redchi,
        "_converged": fit.converged,
        "center_y_um": p[:, 1],
        "sigma2_y_um2": syy,
        "sigma2_x_um2": sxx,
        "sigma2_y_err_um2": np.sqrt(var[:, 3]),
        "sigma2_x_err_um2": np.sqrt(var[:, 4]),
        "sigma2_xx_um2": sxx,
        "sigma2_xx_err_um2": np.sqrt(var[:, 4]),
        "sigma2_yy_um2": syy,
        "sigma2_yy_err_um2": np.sqrt(var[:, 3]),
        "sigma2_xy_um2": sxy,
        "sigma2_xy_err_um2": np.sqrt(var[:, 5]),
        "cov_sigma2_xx_yy_um4": cov[:, 4, 3],
        "cov_sigma2_xx_xy_um4": cov[:, 4, 5],
        "cov_sigma2_yy_xy_um4": cov[:, 3, 5],
        "sigma2_major_um2": 0.5 * (sxx + syy) + rho,
        "sigma2_major_err_um2": propagated(d_mean + d_rho),
        "sigma2_minor_um2": 0.5 * (sxx + syy) - rho,
        "sigma2_minor_err_um2": propagated(d_mean - d_rho),
        "angle_deg": np.degrees(0.5 * np.arctan2(sxy, half)),
        "angle_err_deg": np.degrees(propagated(d_theta)),
    }
    return out


def _reasons(prep, bad, snr, min_snr, out, coords, axes) -> np.ndarray:
    """One reason string per slice ('' = ok); the first failed check wins."""
    n = len(prep.t_ps)
    reason = np.full(n, "", dtype=object)
    converged = out.pop("_converged", np.ones(n, dtype=bool))
    spans = [np.ptp(c) for c in coords]
    steps = [np.ptp(c) / max(len(c) - 1, 1) for c in prep.coords.values()]
    sig_axes = [out["sigma2_um2"]] if len(axes) == 1 else [out["sigma2_y_um2"], out["sigma2_x_um2"]]
    centres = [out["center_um"]] if len(axes) == 1 else [out["center_y_um"], out["center_um"]]
    checks = [
        (
            (~bad).sum(axis=1) < 8
            if prep.settings["masked_pixels"]
            else np.full(n, bad.shape[1] < 8),
            "masked: fewer than 8 usable pixels",
        ),
        (
            prep.t_ps < 0 if prep.settings.get("time_zero_ps") is not None else np.zeros(n, bool),
            "pre-pulse (t < time zero)",
        ),
        (~(snr >= min_snr), f"low signal: intensity/error < {min_snr:g}"),
        (~converged, "fit did not converge"),
        (
            ~(
                np.isfinite(out["w2_um2"])
                & np.isfinite(out["w2_err_um2"])
                & (out["w2_err_um2"] > 0)
            ),
            "no finite width or error",
        ),
    ]
    for s2, step, span, cen, c in zip(sig_axes, steps, spans, centres, coords, strict=True):
        checks.append((~(s2 > (step / 2) ** 2), "width below half a pixel"))
        checks.append(
            (~(np.sqrt(np.abs(s2)) < span / 4), "width beyond window: sigma > 1/4 of the window")
        )
        checks.append((~((cen >= c.min()) & (cen <= c.max())), "centre outside window"))
    for failed, text in checks:
        reason[(reason == "") & failed] = text
    return reason
