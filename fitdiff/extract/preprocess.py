"""Preprocessing: orientation, time zero, ROI, binning, pixel masks and background subtraction.

Everything here is a whole-array numpy operation; the result is a :class:`Prepared` image with
time along axis 0 and the spatial axes after it, the bad-pixel mask, and the per-pixel counts
that were subtracted (the noise model needs the raw level, not the difference).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ..errors import ExtractionError
from ..io.measurement import Measurement


@dataclass
class Prepared:
    """A measurement ready for the width estimators.

    Attributes
    ----------
    t_ps : ndarray (T,)   time of each slice after the time-zero shift, ps.
    coords : dict         ``{"x": (X,)}`` or ``{"y": (Y,), "x": (X,)}``, µm.
    data : ndarray        (T, X) or (T, Y, X) counts, background subtracted, float.
    bad : ndarray bool    pixels that must not be used (mask, NaN, saturated, hot).
    offset : ndarray      counts subtracted from each pixel (broadcastable to ``data``).
    settings : dict       what was done, JSON-able.
    """

    t_ps: np.ndarray
    coords: dict[str, np.ndarray]
    data: np.ndarray
    bad: np.ndarray
    offset: np.ndarray
    settings: dict = field(default_factory=dict)


def orient(m: Measurement) -> Measurement:
    """Return ``m`` as ("t", "x") or ("t", "y", "x"), checking that its axes are calibrated."""
    where = m.source or "measurement"
    dims = set(m.dims)
    if dims == {"t", "x"}:
        order = ("t", "x")
    elif dims == {"t", "y", "x"}:
        order = ("t", "y", "x")
    else:
        hint = ""
        if "t" not in dims and dims == {"y", "x"}:
            hint = (
                "; the file has no time axis: if its rows are time (a streak image), give the "
                "time step with --t-ps-per-px / t_ps_per_px"
            )
        elif "t" not in dims and "frame" in dims:
            hint = (
                "; the file has no time axis: give the time per frame with "
                "--t-ps-per-frame / t_ps_per_frame"
            )
        raise ExtractionError(
            f"{where}: widths need dims ('t', 'x') or ('t', 'y', 'x'); it has {m.dims}{hint}"
        )
    expected = {"t": "ps", "x": "um", "y": "um"}
    for d in order:
        if m.units[d] != expected[d]:
            flag = {
                "t": "--t-ps-per-px / t_ps_per_px",
                "x": "--x-um-per-px / x_um_per_px",
                "y": "--y-um-per-px / y_um_per_px",
            }[d]
            raise ExtractionError(
                f"{where}: axis {d!r} is in {m.units[d]!r}, not {expected[d]!r}; "
                f"give the calibration ({flag})"
            )
    return m if m.dims == order else m.transpose(*order)


def bad_pixels(
    counts: np.ndarray,
    mask: np.ndarray | None,
    saturation: float | None,
    hot_pixel_sigma: float | None,
    noise=None,
    maybe_nan: bool = True,
) -> np.ndarray:
    """Mask of unusable pixels: the file's mask, non-finite, >= ``saturation`` (counts), and
    (if ``hot_pixel_sigma``) pixels above their 3×3 spatial median by more than that many
    standard deviations of a pixel at the median level, from the camera ``noise`` model
    (a :class:`~fitdiff.extract.noise.NoiseModel`; Poisson when None). A gain-10 camera has
    ten times the Poisson SD in counts, so a gain-blind test would mask clean pixels."""
    # ``maybe_nan`` False (counts converted from integers) skips the finiteness pass
    bad = ~np.isfinite(counts) if maybe_nan else np.zeros(counts.shape, dtype=bool)
    if mask is not None:
        bad |= mask
    if saturation is not None:
        bad |= np.nan_to_num(counts, nan=0.0) >= saturation
    if hot_pixel_sigma is not None:
        clean = np.where(bad, 0.0, counts)
        size = (1,) + (3,) * (counts.ndim - 1)  # spatial neighbours only: time is not smooth
        med = ndimage.median_filter(clean, size=size, mode="nearest")
        if noise is None:
            sd = np.sqrt(np.maximum(med, 1.0))
        else:
            sd = np.sqrt(noise.variance(np.maximum(med, noise.gain)))  # >= 1 photoelectron
        bad |= clean - med > hot_pixel_sigma * sd
    return bad


def time_zero_rise(t_ps: np.ndarray, pl: np.ndarray) -> float:
    """Time zero from the PL rise: where the PL first reaches half of its rise (ps).

    The rule: smooth PL(t) with a 3-point running mean, take the half level between its minimum
    before the maximum and the maximum, and interpolate linearly between the two samples that
    bracket the first crossing. Half-rise is insensitive to the (unknown) rise shape and, for a
    Gaussian pulse convolved with the IRF, is the pulse centre to first order.
    """
    smooth = ndimage.uniform_filter1d(np.asarray(pl, dtype=float), 3, mode="nearest")
    imax = int(np.argmax(smooth))
    lo = smooth[: imax + 1].min()
    half = lo + 0.5 * (smooth[imax] - lo)
    above = np.flatnonzero(smooth[: imax + 1] >= half)
    i = int(above[0])
    if i == 0:
        raise ExtractionError(
            "time_zero_ps='rise': the PL is already above half its maximum in the first slice; "
            "give time_zero_ps explicitly"
        )
    f = (half - smooth[i - 1]) / (smooth[i] - smooth[i - 1])
    return float(t_ps[i - 1] + f * (t_ps[i] - t_ps[i - 1]))


def crop(values: np.ndarray, bounds: tuple[float, float] | None, name: str) -> np.ndarray:
    """Boolean selection of ``values`` inside ``bounds`` (inclusive), with a clear error."""
    if bounds is None:
        return np.ones(values.shape, dtype=bool)
    lo, hi = bounds
    if not lo < hi:
        raise ExtractionError(f"{name} = {bounds!r}: need A < B")
    sel = (values >= lo) & (values <= hi)
    if sel.sum() < 2:
        raise ExtractionError(
            f"{name} = ({lo}, {hi}) keeps {int(sel.sum())} samples; the axis spans "
            f"{values.min():g} to {values.max():g}"
        )
    return sel


def bin_axis(arr: np.ndarray, factor: int, axis: int, how: str) -> np.ndarray:
    """Sum (counts), any (masks) or mean (coordinates) of ``factor`` neighbours along ``axis``;
    a remainder that does not fill a bin is dropped."""
    if factor == 1:
        return arr
    n = arr.shape[axis] // factor
    arr = np.take(arr, np.arange(n * factor), axis=axis)
    shape = arr.shape[:axis] + (n, factor) + arr.shape[axis + 1 :]
    arr = arr.reshape(shape)
    return {"sum": arr.sum, "any": arr.any, "mean": arr.mean}[how](axis=axis + 1)


def background_image(
    background, data: np.ndarray, bad: np.ndarray, t_ps: np.ndarray, t_range_ps
) -> tuple[np.ndarray, dict]:
    """The counts to subtract before fitting (broadcastable to ``data``) and its description.

    ``background`` is ``"fit"`` / ``"none"`` (nothing subtracted here), ``"pre-pulse"`` (the mean
    frame over ``t_range_ps``), a number (counts per pixel), or an array: a dark frame of one
    slice's shape or of the whole image's.
    """
    zero = np.zeros((1,) + data.shape[1:])
    if isinstance(background, str):
        if background in ("fit", "none"):
            return zero, {"background": background}
        if background == "pre-pulse":
            if t_range_ps is None:
                raise ExtractionError(
                    "background='pre-pulse' needs background_t_range_ps=(A, B), the pre-pulse "
                    f"time window in ps (the time axis spans {t_ps.min():g} to {t_ps.max():g})"
                )
            sel = crop(t_ps, t_range_ps, "background_t_range_ps")
            good = ~bad[sel]
            with np.errstate(invalid="ignore"):
                frame = np.where(good, data[sel], 0.0).sum(0) / good.sum(0)
            frame = np.nan_to_num(frame, nan=0.0)
            return frame[None], {
                "background": "pre-pulse",
                "background_t_range_ps": [float(v) for v in t_range_ps],
            }
        raise ExtractionError(
            f"background = {background!r}; allowed 'fit', 'none', 'pre-pulse', a number of "
            "counts or a dark-frame array"
        )
    arr = np.asarray(background, dtype=float)
    if arr.ndim == 0:
        return np.full_like(zero, float(arr)), {"background": float(arr)}
    if arr.shape == data.shape[1:]:
        return arr[None], {"background": "dark-frame"}
    if arr.shape == data.shape:
        return arr, {"background": "dark-frame"}
    raise ExtractionError(
        f"background dark frame has shape {arr.shape}; need one slice {data.shape[1:]} or the "
        f"whole (processed) image {data.shape}"
    )
