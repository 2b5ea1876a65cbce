"""``extract_widths``: a Measurement to the w²(t), PL(t) table, every slice at once."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..errors import ExtractionError, FitdiffDeprecationWarning
from ..io.measurement import Measurement
from . import preprocess as pp
from .gauss import gaussian_model
from .lm import batched_lm
from .moments import edge_pixels, fill_masked, profile_moments
from .noise import resolve_noise

METHODS = ("gauss", "moment")
SHAPES = ("isotropic", "elliptical")


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
    shape : {"isotropic", "elliptical"}
        2D Gaussian of a stack: one σ² (w² = 2σ²) or axis-aligned σx², σy² (w² = σx² + σy²).
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
        ``center_um`` is the x centre); ``attrs["settings"]`` records every setting.
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
    nm = resolve_noise(noise, m.meta)
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
    )
    nt = prep.data.shape[0]
    axes = list(prep.coords)  # ["x"] or ["y", "x"]
    grids = np.meshgrid(*[prep.coords[a] for a in axes], indexing="ij")
    coords = [g.ravel() for g in grids]
    data = prep.data.reshape(nt, -1)
    bad = prep.bad.reshape(nt, -1)
    offset = np.broadcast_to(prep.offset, prep.data.shape).reshape(nt, -1)

    filled = fill_masked(prep.data, prep.bad).reshape(nt, -1)
    still_bad = ~np.isfinite(filled)
    filled = np.where(still_bad, 0.0, filled)
    var_data = np.where(bad, 0.0, nm.variance(filled + offset))
    edges = edge_pixels(coords, edge_fraction)
    # the signal test and the fit's start always see an edge-subtracted profile, whatever was
    # subtracted before: a background left in would count as signal
    mom = profile_moments(coords, filled, var_data, edges)
    with np.errstate(invalid="ignore", divide="ignore"):
        snr = mom["intensity"] / mom["intensity_err"]
    if method == "moment" and background != "fit":
        mom_out = profile_moments(coords, filled, var_data, None)
        mom_out["kurtosis_excess"] = mom["kurtosis_excess"]
        mom = mom_out

    out = _moment_columns(mom, axes) if method == "moment" else None
    if method == "gauss":
        # rows below min_snr are flagged anyway; fitting them costs most of the iterations
        fit_rows = snr >= min_snr
        out = _gauss_columns(
            coords,
            axes,
            data[fit_rows],
            bad[fit_rows],
            offset[fit_rows],
            nm,
            {k: _rows(v, fit_rows) for k, v in mom.items()},
            shape,
            max_iter,
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
        "min_snr": float(min_snr),
        "edge_fraction": float(edge_fraction),
        "max_iter": int(max_iter),
        "source": str(m.source) if m.source is not None else None,
        "format": m.format,
        **prep.settings,
    }
    if len(axes) == 2:
        settings["shape"] = shape
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
) -> pp.Prepared:
    """Orient, mask, shift time, subtract background, crop and bin (see :mod:`.preprocess`)."""
    m = pp.orient(m)
    counts = np.asarray(m.counts, dtype=float)
    bad = pp.bad_pixels(counts, m.mask, saturation, hot_pixel_sigma)
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
    data = counts - offset
    offset = np.broadcast_to(offset, data.shape)
    sel_t = pp.crop(t, t_range_ps, "t_range_ps")
    sels = [sel_t]
    coords = {}
    for dim, rng, name in (("y", y_range_um, "y_range_um"), ("x", x_range_um, "x_range_um")):
        if dim in m.dims:
            sel = pp.crop(m.coords[dim], rng, name)
            sels.append(sel)
            coords[dim] = m.coords[dim][sel]
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
    data = np.where(bad, 0.0, data)
    settings.update(
        {
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
    k = len(coords)
    c0 = mom["background"]
    y = np.where(bad, -np.inf, data - c0[:, None])
    amp = np.maximum(y.max(axis=1), 1e-12)
    pix = np.prod([np.ptp(c) / max(len(np.unique(c)) - 1, 1) for c in coords])
    area = np.maximum(mom["intensity"], 1e-12) * pix
    s2 = (area / (amp * (2 * np.pi) ** (k / 2))) ** (2.0 / k)
    lo = min(np.ptp(c) / max(len(np.unique(c)) - 1, 1) for c in coords) ** 2 / 4
    hi = max(np.ptp(c) for c in coords) ** 2
    s2 = np.clip(np.nan_to_num(s2, nan=hi / 16), lo, hi)
    centres = []
    for c, cen in zip(coords, mom["center"], strict=True):
        cen = np.nan_to_num(cen, nan=float(np.mean(c)))
        centres.append(np.clip(cen, c.min(), c.max()))
    return np.column_stack([amp, *centres, s2, c0])


def _gauss_columns(coords, axes, data, bad, offset, nm, mom, shape, max_iter) -> dict:
    k = len(coords)
    iso = shape == "isotropic" or k == 1
    p0 = gauss_start(coords, data, bad, mom)
    if not iso:
        p0 = np.insert(p0, k + 1, p0[:, k + 1], axis=1)  # σy² = σx² to start
    fit = batched_lm(
        gaussian_model(coords, isotropic=iso),
        p0,
        data,
        ~bad,
        nm.variance,
        offset,
        max_iter=max_iter,
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
    pix = np.prod([np.ptp(c) / max(len(np.unique(c)) - 1, 1) for c in coords])
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


def _reasons(prep, bad, snr, min_snr, out, coords, axes) -> np.ndarray:
    """One reason string per slice ('' = ok); the first failed check wins."""
    n = len(prep.t_ps)
    reason = np.full(n, "", dtype=object)
    converged = out.pop("_converged", np.ones(n, dtype=bool))
    spans = [np.ptp(c) for c in coords]
    steps = [np.ptp(c) / max(len(np.unique(c)) - 1, 1) for c in coords]
    sig_axes = [out["sigma2_um2"]] if len(axes) == 1 else [out["sigma2_y_um2"], out["sigma2_x_um2"]]
    centres = [out["center_um"]] if len(axes) == 1 else [out["center_y_um"], out["center_um"]]
    checks = [
        ((~bad).sum(axis=1) < 8, "masked: fewer than 8 usable pixels"),
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
