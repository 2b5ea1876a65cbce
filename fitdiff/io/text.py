"""Text tables: streak images exported as CSV/TSV matrices, spectra, Andor Solis ASCII exports.

The numeric block is the longest run of rows whose fields all parse as numbers (separators:
tab, comma, semicolon or blanks). Lines around it are metadata (``Key: value``, ``# key =
value``); a line of names just above it labels the columns. Layouts:

* Andor Solis ASCII (``.asc``, metadata with ``Software Version``/``Model``...): column 0 is
  the horizontal axis (nm, or px when it is the pixel number), the others the counts of each
  track/row → ``("wavelength",)`` or ``("y", "wavelength")``.
* Two columns without names whose first column is monotonic: read as a Solis spectrum.
* Two columns with named headers (``wavelength,counts``, ``t_ps,counts``...): a 1-D curve.
* A matrix (rows = time): when the top-left cell is empty, the first row is the horizontal
  axis and the first column the time axis. Their units come from ``# t_unit: ns`` /
  ``# x_unit: um`` (or ``nm`` → wavelength) header lines; an axis without a stated unit
  stays in px and its values go to ``meta`` (a warning says how to calibrate).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ._common import ascending, check_alloc, fail, file_size, ps_per_unit, um_per_unit
from .measurement import Measurement

#: Metadata keys that mark an Andor Solis ASCII export.
_ANDOR_KEYS = ("Software Version", "Exposure Time (secs)", "Number of Accumulations", "Model")
_META = re.compile(r"^\s*#?\s*([A-Za-z][^:=]{0,80}?)\s*[:=]\s*(.*?)\s*$")
_UNIT_IN_NAME = re.compile(r"[\(\[_ ]\s*([a-zA-Zµμ]+)\s*[\)\]]?\s*$")


def _split(line: str, sep: str | None) -> list[str]:
    fields = line.split(sep) if sep else line.split()
    if sep and fields and fields[-1].strip() == "":
        fields = fields[:-1]  # Solis ends each row with a tab
    return [f.strip() for f in fields]


def _numbers(fields: list[str]) -> list[float] | None:
    out = []
    for field in fields:
        if field == "":
            out.append(np.nan)
            continue
        try:
            out.append(float(field))
        except ValueError:
            return None
    return out if any(np.isfinite(v) for v in out) else None


def _separator(lines: list[str]) -> str | None:
    sample = [ln for ln in lines[:400] if ln.strip()]
    for sep in ("\t", ",", ";"):
        if sum(sep in ln for ln in sample) > len(sample) / 2:
            return sep
    return None


def read_text(path: Path, text: str | None = None) -> Measurement:
    """Read a CSV/TSV matrix, a two-column curve or an Andor Solis ASCII export."""
    size = file_size(path)
    if text is None:
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    lines = text.splitlines()
    sep = _separator(lines)
    parsed = [_numbers(_split(ln, sep)) if ln.strip() else None for ln in lines]
    start, stop = _longest_block(parsed)
    if stop - start < 2:
        raise fail(path, "no table of numbers found (need at least 2 numeric rows)")
    widths = {len(parsed[i]) for i in range(start, stop)}
    if len(widths) != 1:
        raise fail(
            path, f"rows {start + 1}..{stop} have different numbers of columns {sorted(widths)}"
        )
    ncols = widths.pop()
    check_alloc(path, (stop - start, ncols), 8, "text table")
    if (stop - start) * ncols > size:  # each number needs at least one byte plus a separator
        raise fail(path, "table larger than the file; corrupt")  # pragma: no cover
    block = np.array([parsed[i] for i in range(start, stop)], dtype=float)
    meta, names = _metadata(lines, start, stop, sep)
    if any(k in meta for k in _ANDOR_KEYS):
        return _andor(path, block, meta)
    if ncols == 2 and names:
        return _curve(path, block, names, meta)
    if ncols == 2 and _monotonic(block[:, 0]):
        # A headerless two-column table with a monotonic first column is Solis' bare
        # spectrum export (boron_0.asc, PROVENANCE.md §3): axis then counts.
        return _andor(path, block, meta)
    return _matrix(path, block, meta)


def _monotonic(values: np.ndarray) -> bool:
    steps = np.diff(values)
    return bool(values.size > 2 and (np.all(steps > 0) or np.all(steps < 0)))


def _longest_block(parsed: list) -> tuple[int, int]:
    best = (0, 0)
    start = None
    for i, row in enumerate([*parsed, None]):
        if row is not None and start is None:
            start = i
        elif row is None and start is not None:
            if i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    return best


def _metadata(lines, start, stop, sep) -> tuple[dict[str, Any], list[str]]:
    meta: dict[str, Any] = {}
    names: list[str] = []
    for i, line in enumerate(lines):
        if start <= i < stop or not line.strip():
            continue
        if i == start - 1 and not line.lstrip().startswith("#"):
            fields = _split(line, sep)
            if len(fields) >= 2 and ":" not in line:
                names = fields
                continue
        match = _META.match(line)
        if match:
            key, value = match.group(1).strip(), match.group(2)
            try:
                meta[key] = float(value) if value else value
            except ValueError:
                meta[key] = value
    return meta, names


def _unit_of(name: str) -> str:
    match = _UNIT_IN_NAME.search(name)
    return match.group(1) if match else ""


def _curve(path: Path, block: np.ndarray, names: list[str], meta: dict) -> Measurement:
    axis, counts = block[:, 0], block[:, 1]
    label = names[0].lower()
    unit = _unit_of(names[0])
    if label.startswith(("t", "time", "delay")) and (scale := ps_per_unit(unit or "ps")):
        dim, values, dunit = "t", axis * scale, "ps"
        if not unit:
            meta["time_unit_assumed"] = "ps"
    elif label.startswith(("wavelength", "lambda", "λ")):
        dim, values, dunit = "wavelength", axis, "nm"
    elif label.startswith(("x", "position", "r")) and (scale := um_per_unit(unit or "um")):
        dim, values, dunit = "x", axis * scale, "um"
    else:
        raise fail(
            path,
            f"first column {names[0]!r} is not a known axis "
            "(t/time [unit], wavelength, x/position [unit])",
        )
    counts, values = ascending(counts, values, 0)
    meta["columns"] = names
    return Measurement(
        counts=counts,
        dims=(dim,),
        coords={dim: values},
        units={dim: dunit},
        meta=meta,
        format="text",
        source=path,
    )


def _andor(path: Path, block: np.ndarray, meta: dict) -> Measurement:
    h = block[:, 0]
    counts = block[:, 1:].T
    if np.array_equal(h, np.arange(1, h.size + 1)):
        dim, unit, coords = "x", "px", np.arange(h.size, dtype=float)
    else:
        dim, unit, coords = "wavelength", "nm", h
    counts, coords = ascending(counts, coords, 1)
    if counts.shape[0] == 1:
        return Measurement(
            counts=counts[0],
            dims=(dim,),
            coords={dim: coords},
            units={dim: unit},
            meta=meta,
            format="andor-ascii",
            source=path,
        )
    return Measurement(
        counts=counts,
        dims=("y", dim),
        coords={dim: coords},
        units={"y": "px", dim: unit},
        meta=meta,
        format="andor-ascii",
        source=path,
    )


def _matrix(path: Path, block: np.ndarray, meta: dict) -> Measurement:
    coords: dict[str, np.ndarray] = {}
    units: dict[str, str] = {"t": "px"}
    h_dim, h_unit_name = "x", str(meta.get("x_unit", meta.get("wavelength_unit", "")))
    if "wavelength_unit" in meta or h_unit_name.lower() == "nm":
        h_dim = "wavelength"
    units[h_dim] = "px"
    if block.shape[0] > 1 and block.shape[1] > 1 and np.isnan(block[0, 0]):
        h_axis, t_axis, counts = block[0, 1:], block[1:, 0], block[1:, 1:]
        if not (np.all(np.isfinite(h_axis)) and np.all(np.isfinite(t_axis))):
            raise fail(path, "axis row or axis column holds empty cells")
        t_unit = str(meta.get("t_unit", ""))
        if t_unit and (scale := ps_per_unit(t_unit)) is not None:
            coords["t"], units["t"] = t_axis * scale, "ps"
        else:
            meta["t_axis_raw"] = t_axis.tolist()
        if h_dim == "wavelength" and h_unit_name:
            coords[h_dim], units[h_dim] = h_axis, "nm"
        elif h_unit_name and (scale := um_per_unit(h_unit_name)) is not None:
            coords[h_dim], units[h_dim] = h_axis * scale, "um"
        else:
            meta[f"{h_dim}_axis_raw"] = h_axis.tolist()
        missing = [d for d in ("t", h_dim) if units[d] == "px"]
        if missing:
            warnings.warn(
                f"{path}: axis values for {missing} carry no unit; they are kept in meta and "
                "the axes are in px. Add '# t_unit: ps' / '# x_unit: um' lines to the file or "
                "pass t_axis_ps=/x_um_per_px= to load().",
                UserWarning,
                stacklevel=3,
            )
    else:
        counts = block
    if np.isnan(counts).any():
        raise fail(path, "the table has empty cells inside the data")
    for dim, axis in ((("t", 0)), (h_dim, 1)):
        if dim in coords:
            counts, coords[dim] = ascending(counts, coords[dim], axis)
    return Measurement(
        counts=counts,
        dims=("t", h_dim),
        coords=coords,
        units=units,
        meta=meta,
        format="text",
        source=path,
    )
