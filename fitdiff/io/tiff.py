"""TIFF files through tifffile: Hamamatsu HPD-TA exports, ImageJ/Fiji, OME-TIFF, fitdiff's own.

Where each flavour keeps its calibration:

* HPD-TA export: the HPD-TA comment in ImageDescription, axis tables at absolute offsets
  (PROVENANCE.md §2); read with :mod:`fitdiff.io.hpdta`.
* ImageJ: ``unit``, ``spacing``, ``finterval``/``tunit``, ``xorigin``/``yorigin`` in the
  description, the pixel size as XResolution/YResolution (pixels per unit).
* OME-TIFF: ``Pixels`` ``PhysicalSize{X,Y,Z}`` with their units and ``TimeIncrement``.
* fitdiff's writer: a JSON ImageDescription ``{"fitdiff": {...}}`` with every coordinate, so
  non-uniform time axes survive a round trip; resolution tags are written too, for other readers.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path
from ..errors import ConfigError, LoadError
from ._common import check_alloc, fail, file_size, ps_per_unit, um_per_unit
from .hpdta import looks_like_comment, parse_comment, scaling_axes, typed_metadata
from .measurement import Measurement

#: Magic numbers of classic and BigTIFF files, both byte orders.
MAGICS = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")
_FITDIFF_KEY = "fitdiff"
#: tifffile axis letters -> fitdiff dimension names.
_AXES = {"T": "t", "Z": "z", "C": "channel", "S": "channel", "Y": "y", "X": "x"}


def read_tiff(path: Path) -> Measurement:
    """Read a TIFF, OME-TIFF, ImageJ or HPD-TA TIFF file into a :class:`Measurement`."""
    import tifffile

    size = file_size(path)
    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.series or not tif.pages:
                raise fail(path, "TIFF holds no image")
            series = tif.series[0]
            page = tif.pages.first
            _check_size(path, series, page, size)
            counts = series.asarray()
            desc = page.description or ""
            tags = {t.name: t.value for t in page.tags.values()}
            ij = tif.imagej_metadata if tif.is_imagej else None
            ome = tif.ome_metadata if tif.is_ome else None
            axes = series.axes
    except LoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - a corrupt file may trip any error inside tifffile
        raise fail(path, f"not a readable TIFF ({type(exc).__name__}: {exc})") from None

    if desc.startswith("{") and f'"{_FITDIFF_KEY}"' in desc:
        return _from_fitdiff(path, counts, desc)
    software = str(tags.get("Software", ""))
    artist = str(tags.get("Artist", ""))
    if (
        software.startswith("HPD-TA")
        or artist.startswith("Copyright Hamamatsu")
        or (looks_like_comment(desc))
    ):
        return _from_hamamatsu(path, counts, desc, tags)
    meta: dict[str, Any] = {"tiff_axes": axes}
    for key in ("Software", "DateTime", "Artist"):
        if key in tags:
            meta[key.lower()] = str(tags[key])
    if ome:
        return _from_ome(path, counts, axes, ome, meta)
    return _from_imagej_or_plain(path, counts, axes, ij, tags, meta)


def _check_size(path: Path, series, page, size: int) -> None:
    shape = tuple(int(n) for n in series.shape)
    itemsize = np.dtype(series.dtype).itemsize
    check_alloc(path, shape, itemsize, "TIFF image")
    nbytes = int(np.prod(shape, dtype=object)) * itemsize
    # Uncompressed pixels must be in the file; compressed ones may expand, within reason.
    limit = size if page.compression == 1 else 1000 * size
    if nbytes > limit:
        raise fail(
            path,
            f"TIFF header declares {shape} {series.dtype} pixels ({nbytes} bytes) "
            f"but the file has {size} bytes",
        )


def _dims_from_axes(path: Path, axes: str) -> tuple[str, ...]:
    dims = []
    for letter in axes:
        dim = _AXES.get(letter, "frame")
        if dim in dims:
            raise fail(path, f"TIFF axes {axes!r} map twice to {dim!r}; not supported")
        dims.append(dim)
    return tuple(dims)


def _from_hamamatsu(path: Path, counts: np.ndarray, desc: str, tags: dict) -> Measurement:
    if counts.ndim != 2:
        raise fail(path, f"HPD-TA TIFF should hold one 2-D image, found shape {counts.shape}")
    sections = parse_comment(desc)
    raw = path.read_bytes()
    counts, dims, coords, units, extra = scaling_axes(path, sections, raw, counts)
    meta = typed_metadata(sections)
    meta.update(extra)
    if "DateTime" in tags:
        meta["tiff_datetime"] = str(tags["DateTime"])
    return Measurement(
        counts=np.ascontiguousarray(counts),
        dims=dims,
        coords=coords,
        units=units,
        meta=meta,
        format="hamamatsu-tiff",
        source=path,
    )


def _from_fitdiff(path: Path, counts: np.ndarray, desc: str) -> Measurement:
    try:
        info = json.loads(desc)[_FITDIFF_KEY]
        dims = tuple(str(d) for d in info["dims"])
        shape = tuple(int(n) for n in info["shape"])
        coords = {d: np.asarray(info["coords"][d], dtype=float) for d in dims}
        units = {d: str(info["units"][d]) for d in dims}
        meta = dict(info.get("meta", {}))
    except (ValueError, KeyError, TypeError) as exc:
        raise fail(
            path, f"fitdiff TIFF description is damaged ({type(exc).__name__}: {exc})"
        ) from None
    if int(np.prod(shape)) != counts.size:
        raise fail(
            path, f"fitdiff TIFF description says shape {shape} but holds {counts.size} pixels"
        )
    return Measurement(
        counts=counts.reshape(shape),
        dims=dims,
        coords=coords,
        units=units,
        meta=meta,
        format="tiff",
        source=path,
    )


def _from_ome(path: Path, counts, axes: str, ome: str, meta: dict) -> Measurement:
    dims = _dims_from_axes(path, axes)
    coords: dict[str, np.ndarray] = {}
    units: dict[str, str] = {}
    try:
        root = ET.fromstring(ome)
    except ET.ParseError as exc:
        raise fail(path, f"OME-XML is not valid XML ({exc})") from None
    pixels = next((el for el in root.iter() if el.tag.endswith("Pixels")), None)
    attrs = pixels.attrib if pixels is not None else {}
    for dim, key in (("x", "X"), ("y", "Y"), ("z", "Z")):
        if dim in dims and f"PhysicalSize{key}" in attrs:
            scale = um_per_unit(attrs.get(f"PhysicalSize{key}Unit", "µm"))
            step = _float(path, attrs[f"PhysicalSize{key}"], f"PhysicalSize{key}")
            if scale is not None:
                coords[dim] = np.arange(counts.shape[dims.index(dim)]) * step * scale
                units[dim] = "um"
    if "t" in dims and "TimeIncrement" in attrs:
        scale = ps_per_unit(attrs.get("TimeIncrementUnit", "s"))
        step = _float(path, attrs["TimeIncrement"], "TimeIncrement")
        if scale is not None:
            coords["t"] = np.arange(counts.shape[dims.index("t")]) * step * scale
            units["t"] = "ps"
    return _finish(path, counts, dims, coords, units, meta, "ome-tiff")


def _from_imagej_or_plain(path, counts, axes, ij, tags, meta) -> Measurement:
    dims = _dims_from_axes(path, axes)
    coords: dict[str, np.ndarray] = {}
    units: dict[str, str] = {}
    ij = ij or {}
    unit = str(ij.get("unit", "")).replace("\\u00B5", "µ")
    um = um_per_unit(unit) if unit else None
    resunit = int(tags.get("ResolutionUnit", 1))
    if um is None and resunit in (2, 3):
        # Plain TIFF: resolution in pixels per inch (2) or per cm (3).
        um = 25400.0 if resunit == 2 else 1e4
    for dim, tag, origin in (("x", "XResolution", "xorigin"), ("y", "YResolution", "yorigin")):
        if dim not in dims or um is None or tag not in tags:
            continue
        num, den = (tags[tag] + (1,))[:2] if isinstance(tags[tag], tuple) else (tags[tag], 1)
        if not num or not den:
            continue
        step = float(den) / float(num) * um
        n = counts.shape[dims.index(dim)]
        coords[dim] = (np.arange(n) - float(ij.get(origin, 0.0))) * step
        units[dim] = "um"
    if "z" in dims and um is not None and "spacing" in ij:
        # ImageJ's spacing (voxel depth) is in the same unit as the pixel size.
        coords["z"] = np.arange(counts.shape[dims.index("z")]) * float(ij["spacing"]) * um
        units["z"] = "um"
    if "t" in dims and "finterval" in ij:
        scale = ps_per_unit(str(ij.get("tunit", "s")))
        if scale is not None:
            coords["t"] = np.arange(counts.shape[dims.index("t")]) * float(ij["finterval"]) * scale
            units["t"] = "ps"
    if ij:
        meta["imagej"] = {
            k: v for k, v in ij.items() if isinstance(v, (int, float, str)) and k != "Info"
        }
        if "spacing" in ij:
            meta["z_spacing"] = float(ij["spacing"])
    return _finish(path, counts, dims, coords, units, meta, "imagej-tiff" if ij else "tiff")


def _finish(path, counts, dims, coords, units, meta, fmt) -> Measurement:
    for dim in dims:
        if dim not in coords:
            units[dim] = "index" if dim in ("channel", "frame") else "px"
    return Measurement(
        counts=counts, dims=dims, coords=coords, units=units, meta=meta, format=fmt, source=path
    )


def _float(path: Path, text: str, key: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise fail(path, f"OME attribute {key}={text!r} is not a number") from None
    if not np.isfinite(value) or value <= 0:
        raise fail(path, f"OME attribute {key}={text!r} must be a positive number")
    return value


def write_tiff(m: Measurement, path: Path) -> None:
    """Write ``m`` as a TIFF that :func:`read_tiff` reads back exactly (atomically).

    Every coordinate, unit and the JSON-able metadata go into a JSON ImageDescription; the
    x/y pixel size is also stored in the resolution tags (pixels per cm) for other viewers.
    """
    import tifffile

    meta = _jsonable(m.meta)
    # tifffile reads a JSON description as its own "shaped" metadata and needs "shape" at
    # the top level; giving it makes other tifffile users see the right N-D shape too.
    info = {
        "shape": list(m.counts.shape),
        _FITDIFF_KEY: {
            "version": 1,
            "dims": list(m.dims),
            "shape": list(m.counts.shape),
            "coords": {d: m.coords[d].tolist() for d in m.dims},
            "units": dict(m.units),
            "meta": meta,
        },
    }
    kwargs: dict[str, Any] = {}
    if "x" in m.dims and m.units["x"] == "um" and m.is_uniform("x") and m.coords["x"].size > 1:
        step_x = float(np.diff(m.coords["x"]).mean())
        step_y = step_x
        if "y" in m.dims and m.units["y"] == "um" and m.coords["y"].size > 1:
            step_y = float(np.diff(m.coords["y"]).mean())
        if step_x > 0 and step_y > 0:
            kwargs["resolution"] = (1e4 / step_x, 1e4 / step_y)
            kwargs["resolutionunit"] = "CENTIMETER"
    try:
        with atomic_path(path) as tmp:
            tifffile.imwrite(
                tmp,
                np.ascontiguousarray(m.counts),
                description=json.dumps(info),
                metadata=None,
                software="fitdiff",
                **kwargs,
            )
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: cannot write this measurement as TIFF ({exc})") from None


def _jsonable(meta: dict) -> dict:
    out = {}
    for key, value in meta.items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            continue
        out[str(key)] = value
    return out
