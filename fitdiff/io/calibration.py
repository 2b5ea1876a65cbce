"""Calibration overrides for files that lack (or mis-state) their axes.

``load(path, x_um_per_px=..., t_ps_per_px=..., ...)`` and the CLI flags ``--x-um-per-px`` ...
end here. An override that contradicts the file's own calibration warns and wins.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import ConfigError, FitdiffDeprecationWarning
from .measurement import Measurement

#: Keyword names accepted by :func:`apply_calibration` (and by ``fitdiff.load``). ``t0_ps`` is
#: the deprecated name of ``t_first_ps`` (``t0_ps`` means the pulse centre of a MODEL.toml).
CALIBRATION_KEYS = (
    "x_um_per_px",
    "y_um_per_px",
    "x0_um",
    "t_ps_per_px",
    "t_ps_per_frame",
    "t_first_ps",
    "t_axis_ps",
    "t0_ps",
)


def _positive(name: str, value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"calibration {name}={value!r} is not a number") from None
    if not np.isfinite(value) or value <= 0:
        raise ConfigError(f"calibration {name}={value!r} must be a finite number > 0")
    return value


def _finite(name: str, value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"calibration {name}={value!r} is not a number") from None
    if not np.isfinite(value):
        raise ConfigError(f"calibration {name}={value!r} must be finite")
    return value


def _rename(m: Measurement, old: str, new: str) -> Measurement:
    dims = tuple(new if d == old else d for d in m.dims)
    coords = {(new if d == old else d): c for d, c in m.coords.items()}
    units = {(new if d == old else d): u for d, u in m.units.items()}
    units[new] = "px"
    return Measurement(
        counts=m.counts,
        dims=dims,
        coords=coords,
        units=units,
        meta=m.meta,
        format=m.format,
        source=m.source,
        mask=m.mask,
    )


def _set(m: Measurement, dim: str, values: np.ndarray, unit: str, name: str) -> None:
    old, old_unit = m.coords[dim], m.units[dim]
    if old_unit == unit and not np.allclose(old, values, rtol=1e-6, atol=1e-9 * np.ptp(values)):
        warnings.warn(
            f"{m.source or 'measurement'}: {name} overrides the file's own {dim} calibration "
            f"({old[0]:.6g}..{old[-1]:.6g} {old_unit} becomes {values[0]:.6g}..{values[-1]:.6g} "
            f"{unit})",
            UserWarning,
            stacklevel=4,
        )
    m.coords[dim] = np.asarray(values, dtype=float)
    m.units[dim] = unit


def apply_calibration(
    m: Measurement,
    *,
    x_um_per_px: float | None = None,
    y_um_per_px: float | None = None,
    x0_um: float | None = None,
    t_ps_per_px: float | None = None,
    t_ps_per_frame: float | None = None,
    t_first_ps: float | None = None,
    t_axis_ps=None,
    t0_ps: float | None = None,
) -> Measurement:
    """Return ``m`` with the given axes recalibrated (a new :class:`Measurement`).

    Parameters
    ----------
    x_um_per_px, y_um_per_px : float, optional
        Pixel size along x / y [µm/px]. On a spectral-less ``"wavelength"`` axis in px (an
        uncalibrated horizontal axis) ``x_um_per_px`` turns it into ``x``.
    x0_um : float, optional
        x of the first pixel [µm] (default 0, or keeps the file's offset).
    t_ps_per_px : float, optional
        Time step per image row [ps/px]. On a 2-D ``("y", "x")`` image the rows become ``t``.
    t_ps_per_frame : float, optional
        Time step per frame of a stack [ps]; the ``frame`` axis becomes ``t``.
    t_first_ps : float, optional
        Time of the first row/frame [ps]; alone, it shifts an already calibrated time axis.
        (Not the time zero that extraction subtracts, ``time_zero_ps``.)
    t_axis_ps : array_like, optional
        The whole (possibly non-uniform) time axis [ps], one value per row/frame.
    t0_ps : float, optional
        Deprecated name of ``t_first_ps`` (warns).

    Raises
    ------
    ConfigError
        A value is not a finite positive number, has the wrong length, or names an axis the
        measurement does not have.
    """
    where = m.source or "measurement"
    if t0_ps is not None:
        if t_first_ps is not None:
            raise ConfigError(f"{where}: give t_first_ps only (t0_ps is its deprecated name)")
        warnings.warn(
            "calibration t0_ps is deprecated; use t_first_ps (the time of the first row/frame)",
            FitdiffDeprecationWarning,
            stacklevel=3,
        )
        t_first_ps = t0_ps
    m = Measurement(
        counts=m.counts,
        dims=m.dims,
        coords={k: v.copy() for k, v in m.coords.items()},
        units=dict(m.units),
        meta=dict(m.meta),
        format=m.format,
        source=m.source,
        mask=m.mask,
    )
    given = {
        k: v
        for k, v in dict(
            x_um_per_px=x_um_per_px,
            y_um_per_px=y_um_per_px,
            x0_um=x0_um,
            t_ps_per_px=t_ps_per_px,
            t_ps_per_frame=t_ps_per_frame,
            t_first_ps=t_first_ps,
        ).items()
        if v is not None
    }
    if t_axis_ps is not None:
        given["t_axis_ps"] = "array"
    if not given:
        return m

    if x_um_per_px is not None or x0_um is not None:
        if "x" not in m.dims and "wavelength" in m.dims and m.units["wavelength"] == "px":
            m = _rename(m, "wavelength", "x")
        if "x" not in m.dims:
            raise ConfigError(
                f"{where}: x_um_per_px/x0_um given but the measurement has no x "
                f"axis (dims {m.dims})"
            )
        n = m.counts.shape[m.axis("x")]
        if x_um_per_px is not None:
            step = _positive("x_um_per_px", x_um_per_px)
        elif m.units["x"] == "um" and n > 1:
            step = float(np.diff(m.coords["x"]).mean())
        else:
            raise ConfigError(f"{where}: x0_um needs x_um_per_px (the x axis is uncalibrated)")
        x0 = (
            _finite("x0_um", x0_um)
            if x0_um is not None
            else (float(m.coords["x"][0]) if m.units["x"] == "um" else 0.0)
        )
        _set(m, "x", x0 + step * np.arange(n), "um", "x_um_per_px")
    if y_um_per_px is not None:
        if "y" not in m.dims:
            raise ConfigError(f"{where}: y_um_per_px given but there is no y axis (dims {m.dims})")
        n = m.counts.shape[m.axis("y")]
        _set(m, "y", _positive("y_um_per_px", y_um_per_px) * np.arange(n), "um", "y_um_per_px")

    n_time = sum(v is not None for v in (t_ps_per_px, t_ps_per_frame, t_axis_ps))
    if n_time > 1:
        raise ConfigError("give only one of t_ps_per_px, t_ps_per_frame, t_axis_ps")
    if t_ps_per_frame is not None and "t" not in m.dims:
        if "frame" not in m.dims:
            raise ConfigError(
                f"{where}: t_ps_per_frame given but there is no frame axis (dims {m.dims})"
            )
        m = _rename(m, "frame", "t")
    if (t_ps_per_px is not None or t_axis_ps is not None) and "t" not in m.dims:
        if m.dims == ("y", "x"):
            m = _rename(m, "y", "t")  # a plain 2-D image: rows are the streak's time axis
        elif "frame" in m.dims:
            m = _rename(m, "frame", "t")
    if n_time or t_first_ps is not None:
        if "t" not in m.dims:
            raise ConfigError(
                f"{where}: a time calibration was given but there is no t axis (dims {m.dims})"
            )
        n = m.counts.shape[m.axis("t")]
        t0 = _finite("t_first_ps", t_first_ps) if t_first_ps is not None else None
        if t_axis_ps is not None:
            values = np.asarray(t_axis_ps, dtype=float).ravel()
            if values.shape != (n,) or not np.all(np.isfinite(values)):
                raise ConfigError(
                    f"{where}: t_axis_ps has {values.size} values; the t axis has {n} (all finite)"
                )
            if t0 is not None:
                values = values - values[0] + t0
        elif t_ps_per_px is not None or t_ps_per_frame is not None:
            name = "t_ps_per_px" if t_ps_per_px is not None else "t_ps_per_frame"
            step = _positive(name, t_ps_per_px if t_ps_per_px is not None else t_ps_per_frame)
            values = (t0 or 0.0) + step * np.arange(n)
        elif m.units["t"] == "ps":
            values = m.coords["t"] - m.coords["t"][0] + t0
        else:
            raise ConfigError(
                f"{where}: t_first_ps needs t_ps_per_px, t_ps_per_frame or t_axis_ps "
                "(the time axis is uncalibrated)"
            )
        _set(m, "t", values, "ps", "time calibration")
    m.meta["calibration_overrides"] = {
        k: (v if k != "t_axis_ps" else "array") for k, v in given.items()
    }
    return m
