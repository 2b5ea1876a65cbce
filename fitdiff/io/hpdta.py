"""The Hamamatsu HPD-TA/HiPic comment: parser, typed metadata, and the ``[Scaling]`` axes.

Both the ``.img`` files and the TIFF exports carry the same INI-like comment
(``[Section],key=value,key="quoted,value"``; several sections may share one line) and keep
their axis tables as float32 little-endian arrays at the absolute file offsets the comment
gives (``ScalingYScalingFile="#offset,count"``). See ``../shared/realdata/PROVENANCE.md`` §1–2.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ._common import ascending, fail, ps_per_unit, um_per_unit

# A token is a section header or one key=value pair; a quoted value may hold commas and
# brackets, an unquoted one ends at a comma, a bracket or a line end (rsciio's csv-based parser
# breaks on `...="Focus mode"[Comment]`, PROVENANCE.md §2, hence a regex).
_TOKEN = re.compile(
    r"\[(?P<section>[^\]\r\n]*)\]"
    r'|(?P<key>[^=,\[\]\r\n"]+)=(?:"(?P<quoted>[^"]*)"|(?P<plain>[^,\[\]\r\n]*))'
)
_TABLE = re.compile(r"#\s*(\d+)\s*,\s*(\d+)\s*$")
_NUMBER_UNIT = re.compile(r"^\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*([^\d\s].*)?$")
#: AcqMode codes whose meaning PROVENANCE.md §1 documents (rsciio's mapping for 3 and 4).
_ACQ_MODES = {3: "photon_counting", 4: "analog_integration"}


def parse_comment(text: str) -> dict[str, dict[str, str]]:
    """Split an HPD-TA comment into ``{section: {key: raw string value}}``.

    Keys before the first section go to section ``""``; repeated keys keep the last value.
    """
    sections: dict[str, dict[str, str]] = {"": {}}
    current = sections[""]
    for match in _TOKEN.finditer(text):
        if match.group("section") is not None:
            current = sections.setdefault(match.group("section").strip(), {})
        else:
            value = match.group("quoted")
            if value is None:
                value = match.group("plain")
            current[match.group("key").strip()] = value.strip()
    if not sections[""]:
        del sections[""]
    return sections


def looks_like_comment(text: str) -> bool:
    """True when ``text`` is an HPD-TA comment (it starts with a section and has [Scaling])."""
    return text.lstrip().startswith("[") and "[Scaling]" in text


def number_and_unit(text: str) -> tuple[float, str] | None:
    """Split ``"20 us"`` into ``(20.0, "us")`` and ``"4"`` into ``(4.0, "")``; None otherwise."""
    match = _NUMBER_UNIT.match(text or "")
    if match is None:
        return None
    return float(match.group(1)), (match.group(2) or "").strip()


def _date_iso(text: str) -> str | None:
    # HPD-TA writes day-first dates, DD/MM/YYYY or DD.MM.YYYY (PROVENANCE.md §1).
    match = re.fullmatch(r"\s*(\d{1,2})[./-](\d{1,2})[./-](\d{4})\s*", text or "")
    if match is None:
        return None
    day, month, year = (int(g) for g in match.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def _as_number(text: str | None) -> float | int | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() and "." not in text else value


def typed_metadata(sections: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Return the key acquisition metadata as typed values, plus every raw section.

    Keys: ``date`` (ISO), ``time``, ``software``, ``camera``, ``streak_camera``,
    ``streak_mode``, ``mcp_gain``, ``time_range`` (the number as written) and
    ``time_range_ps`` (only when the file states a unit), ``exposure_time_s``,
    ``n_exposures``, ``integration_time_s``, ``acquisition_mode``, ``spectrograph``,
    ``center_wavelength_nm``, ``grating``; ``hpdta`` holds the raw ``{section: {key: value}}``.
    """
    app = sections.get("Application", {})
    cam = sections.get("Camera", {})
    acq = sections.get("Acquisition", {})
    streak = sections.get("Streak camera", {})
    spec = sections.get("Spectrograph", {})
    meta: dict[str, Any] = {}
    if (date := _date_iso(app.get("Date", ""))) is not None:
        meta["date"] = date
    for key, src in (
        ("time", app.get("Time")),
        ("camera", cam.get("CameraName")),
        ("streak_camera", streak.get("DeviceName")),
        ("streak_mode", streak.get("Mode")),
    ):
        if src:
            meta[key] = src
    if app.get("Software"):
        meta["software"] = f"{app['Software']} {app.get('SoftwareVersion', '')}".strip()
    if (gain := _as_number(streak.get("MCP Gain"))) is not None:
        meta["mcp_gain"] = gain
    if (tr := number_and_unit(streak.get("Time Range", ""))) is not None:
        # A bare number ("4") has no unit in the file: keep it, do not guess ps or ns.
        meta["time_range"] = int(tr[0]) if tr[0].is_integer() else tr[0]
        if tr[1] and (scale := ps_per_unit(tr[1])) is not None:
            meta["time_range_ps"] = tr[0] * scale
    exposure = number_and_unit(acq.get("ExposureTime", ""))
    if exposure is not None and (scale := ps_per_unit(exposure[1] or "")) is not None:
        meta["exposure_time_s"] = exposure[0] * scale / 1e12
    if (n_exp := _as_number(acq.get("NrExposure"))) is not None:
        meta["n_exposures"] = int(n_exp)
        if "exposure_time_s" in meta:
            meta["integration_time_s"] = meta["exposure_time_s"] * int(n_exp)
    if (mode := _as_number(acq.get("AcqMode"))) is not None:
        meta["acquisition_mode"] = _ACQ_MODES.get(int(mode), f"AcqMode={int(mode)}")
    if spec.get("UseDevice") == "-1":
        meta["spectrograph"] = " ".join(
            v for v in (spec.get("DeviceName"), spec.get("PluginName")) if v
        )
        if (wl := _as_number(spec.get("Wavelength"))) is not None:
            meta["center_wavelength_nm"] = float(wl)
        if spec.get("Grating"):
            meta["grating"] = spec["Grating"]
    meta["hpdta"] = sections
    return meta


def _table(path: Path, raw: bytes | memoryview, spec: str, size: int, key: str) -> np.ndarray:
    match = _TABLE.match(spec)
    if match is None:
        raise fail(path, f"[Scaling] {key}={spec!r} is neither '#offset,count' nor a known mode")
    offset, count = int(match.group(1)), int(match.group(2))
    if count != size:
        raise fail(path, f"[Scaling] {key} has {count} values but the image axis has {size}")
    end = offset + 4 * count
    if end > len(raw):
        raise fail(
            path,
            f"[Scaling] {key} table at bytes {offset}..{end} lies outside the file "
            f"({len(raw)} bytes)",
        )
    table = np.frombuffer(raw, dtype="<f4", count=count, offset=offset)
    if not np.all(np.isfinite(table)):
        raise fail(path, f"[Scaling] {key} table holds non-finite values")
    return table.astype(float)


def scaling_axes(
    path: Path,
    sections: dict[str, dict[str, str]],
    raw: bytes | memoryview,
    counts: np.ndarray,
) -> tuple[np.ndarray, tuple[str, str], dict, dict, dict]:
    """Build the (t, horizontal) axes of a streak image from ``[Scaling]``.

    Parameters
    ----------
    path : pathlib.Path
        The file (for messages).
    sections : dict
        The parsed comment.
    raw : bytes
        The whole file; table offsets are absolute.
    counts : numpy.ndarray
        The (rows, cols) image; rows are time.

    Returns
    -------
    counts, dims, coords, units, extra_meta
        ``counts`` possibly flipped so that every axis increases; ``dims`` is ``("t", "x")``
        when the horizontal axis is spatial and ``("t", "wavelength")`` when spectral.
    """
    scaling = sections.get("Scaling")
    if scaling is None:
        raise fail(path, "comment has no [Scaling] section")
    rows, cols = counts.shape
    extra: dict[str, Any] = {}

    y_spec = scaling.get("ScalingYScalingFile", "")
    if y_spec.startswith("#"):
        table = _table(path, raw, y_spec, rows, "ScalingYScalingFile")
        unit = scaling.get("ScalingYUnit", "")
        scale = ps_per_unit(unit)
        if scale is None:
            raise fail(
                path,
                f"[Scaling] ScalingYUnit={unit!r} is not a time unit "
                "(expected ps, ns, us, ms or s)",
            )
        t, t_unit = table * scale, "ps"
        extra["time_unit_in_file"] = unit
    else:
        # "Focus mode" (no sweep) or any other non-table value: the rows are CCD lines.
        t, t_unit = np.arange(rows, dtype=float), "px"
        extra["time_calibration"] = y_spec or "absent"

    x_spec = scaling.get("ScalingXScalingFile", "")
    spectrograph = sections.get("Spectrograph", {}).get("UseDevice") == "-1"
    if x_spec.startswith("#"):
        table = _table(path, raw, x_spec, cols, "ScalingXScalingFile")
        unit = scaling.get("ScalingXUnit", "")
        if unit.strip().lower() == "nm":
            h_dim, h, h_unit = "wavelength", table, "nm"
        elif (scale := um_per_unit(unit)) is not None:
            h_dim, h, h_unit = "x", table * scale, "um"
        else:
            raise fail(path, f"[Scaling] ScalingXUnit={unit!r} is neither nm nor a length unit")
    else:
        # "Other": uncalibrated; spectral only if a spectrograph was in use.
        h_dim = "wavelength" if spectrograph else "x"
        h, h_unit = np.arange(cols, dtype=float), "px"
        extra["horizontal_calibration"] = x_spec or "absent"

    counts, t = ascending(counts, t, 0)
    counts, h = ascending(counts, h, 1)
    return counts, ("t", h_dim), {"t": t, h_dim: h}, {"t": t_unit, h_dim: h_unit}, extra


def build_comment(
    dims: tuple[str, str],
    units: dict[str, str],
    x_table_offset: int,
    y_table_offset: int,
    shape: tuple[int, int],
    meta: dict[str, Any],
) -> str:
    """Write an HPD-TA comment whose ``[Scaling]`` points at tables at the given offsets."""
    rows, cols = shape
    t_dim, h_dim = dims
    # Date/Time only when known: an invented date would be read back as metadata.
    app = '[Application],Enconding=UTF-8,Software="fitdiff",Application=2'
    if _dmy(meta.get("date")):
        app += f',Date="{_dmy(meta.get("date"))}"'
    if meta.get("time"):
        app += f',Time="{meta["time"]}"'
    spectro = (
        "[Spectrograph],UseDevice=-1" if h_dim == "wavelength" else "[Spectrograph],UseDevice=0"
    )
    if units[t_dim] == "ps":
        y = f'ScalingYType=2,ScalingYScale=1,ScalingYUnit="ps",ScalingYScalingFile="#{y_table_offset},{rows:04d}"'
    else:
        y = 'ScalingYType=1,ScalingYScale=2,ScalingYUnit="",ScalingYScalingFile="Focus mode"'
    x_unit = {"nm": "nm", "um": "um"}.get(units[h_dim])
    if x_unit is not None:
        x = f'ScalingXType=2,ScalingXScale=1,ScalingXUnit="{x_unit}",ScalingXScalingFile="#{x_table_offset},{cols:04d}"'
    else:
        x = 'ScalingXType=1,ScalingXScale=2,ScalingXUnit="",ScalingXScalingFile="Other"'
    return "\r\n".join([app, spectro, f'[Scaling],{x},{y}[Comment],UserComment=""'])


def _dmy(iso: Any) -> str:
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", str(iso or ""))
    return f"{match.group(3)}/{match.group(2)}/{match.group(1)}" if match else ""
