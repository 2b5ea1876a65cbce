"""Hamamatsu HPD-TA/HiPic ``.img`` (ITEX) streak images: reader and writer, plain numpy.

Layout (PROVENANCE.md §1): a 64-byte little-endian header (``"IM"``, comment length, width,
height, offsets, file type 0/2/3 = 8/16/32-bit, ...), the ASCII comment, the pixels
(height × width, row-major, rows = time), then the float32 axis tables the comment points to.
Written with numpy rather than a third-party reader to avoid a GPL dependency.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from ..atomic import write_bytes
from ..errors import ConfigError
from ._common import check_alloc, fail, file_size
from .hpdta import build_comment, parse_comment, scaling_axes, typed_metadata
from .measurement import Measurement

MAGIC = b"IM"
HEADER_BYTES = 64
_HEADER = struct.Struct("<2shhhhhhihhd4s")
_DTYPES = {0: np.dtype("u1"), 2: np.dtype("<u2"), 3: np.dtype("<u4")}
_FILE_TYPES = {v: k for k, v in _DTYPES.items()}


def read_img(path: Path) -> Measurement:
    """Read an HPD-TA ``.img`` streak image.

    Returns a :class:`Measurement` with dims ``("t", "x")`` or ``("t", "wavelength")``; the
    time axis is the file's (non-uniform) table converted to ps, ``"px"`` in focus mode.
    """
    size = file_size(path)
    with open(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < HEADER_BYTES:
        raise fail(path, f"truncated: {len(raw)} bytes, an .img header alone is {HEADER_BYTES}")
    magic, comment_len, width, height, _ox, _oy, file_type, n_images, *_ = _HEADER.unpack_from(raw)
    if magic != MAGIC:
        raise fail(path, f"not an HPD-TA .img file (magic {magic!r}, expected b'IM')")
    if file_type not in _DTYPES:
        raise fail(path, f"header file_type {file_type} unknown (allowed 0, 2, 3 = 8/16/32-bit)")
    if comment_len < 0 or width <= 0 or height <= 0:
        raise fail(
            path,
            f"header sizes are invalid: comment {comment_len} bytes, "
            f"width {width}, height {height} (all must be positive)",
        )
    dtype = _DTYPES[file_type]
    start = HEADER_BYTES + comment_len
    end = start + width * height * dtype.itemsize
    if end > size:
        raise fail(
            path,
            f"truncated: header declares {height}x{width} {dtype.name} pixels "
            f"ending at byte {end}, but the file has {size} bytes",
        )
    check_alloc(path, (height, width), dtype.itemsize, "image")
    text = raw[HEADER_BYTES:start].decode("latin-1")
    sections = parse_comment(text)
    counts = np.frombuffer(raw, dtype=dtype, count=width * height, offset=start)
    counts = counts.reshape(height, width).astype(dtype.newbyteorder("="))
    counts, dims, coords, units, extra = scaling_axes(path, sections, raw, counts)
    meta = typed_metadata(sections)
    meta.update(extra)
    meta["bit_depth"] = 8 * dtype.itemsize
    meta["n_images"] = int(n_images)
    return Measurement(
        counts=np.ascontiguousarray(counts),
        dims=dims,
        coords=coords,
        units=units,
        meta=meta,
        format="hamamatsu-img",
        source=path,
    )


def write_img(m: Measurement, path: Path) -> None:
    """Write a 2-D streak measurement as an HPD-TA ``.img`` file (atomically).

    The time axis (ps) and the horizontal axis (nm or µm) are stored as float32 tables in
    ``[Scaling]``, the same place :func:`read_img` reads them; a ``"px"`` axis is written as
    uncalibrated. Tables are float32, so coordinates survive to about 1e-7 relative.

    Raises
    ------
    ConfigError
        If the measurement is not 2-D ``("t", "x"|"wavelength")`` or its dtype is not
        uint8/16/32 (the only pixel types the format has).
    """
    if len(m.dims) != 2 or m.dims[0] != "t" or m.dims[1] not in ("x", "wavelength"):
        raise ConfigError(
            f"{path}: .img holds one streak image with dims ('t', 'x') or "
            f"('t', 'wavelength'); this measurement has {m.dims}"
        )
    dtype = np.dtype(m.counts.dtype).newbyteorder("<")
    key = np.dtype(dtype.str.replace(">", "<"))
    if key not in _FILE_TYPES:
        raise ConfigError(
            f"{path}: .img stores uint8, uint16 or uint32 pixels, not "
            f"{m.counts.dtype}; convert the counts or save as .tif"
        )
    rows, cols = m.counts.shape
    if rows > 32767 or cols > 32767:
        raise ConfigError(f"{path}: .img sizes are int16; {rows}x{cols} exceeds 32767")
    # The comment holds the table offsets, which depend on the comment length: fix the
    # offset fields' width (10 digits) so one pass gives the final length.
    probe = build_comment(m.dims, m.units, 10**9, 10**9, (rows, cols), m.meta)
    pixels_end = HEADER_BYTES + len(probe.encode("latin-1")) + rows * cols * key.itemsize
    x_offset, y_offset = pixels_end, pixels_end + 4 * cols
    comment = build_comment(m.dims, m.units, x_offset, y_offset, (rows, cols), m.meta)
    comment = comment.replace(f"#{x_offset},", f"#{x_offset:010d},").replace(
        f"#{y_offset},", f"#{y_offset:010d},"
    )
    body = comment.encode("latin-1")
    if len(body) != len(probe.encode("latin-1")) or len(body) > 32767:
        raise ConfigError(f"{path}: internal comment layout error")  # pragma: no cover
    header = _HEADER.pack(
        MAGIC, len(body), cols, rows, 0, 0, _FILE_TYPES[key], 0, 0, 0, 0.0, b"\0" * 4
    )
    header += b"\0" * (HEADER_BYTES - len(header))
    h_dim = m.dims[1]
    payload = b"".join(
        [
            header,
            body,
            np.ascontiguousarray(m.counts, dtype=key).tobytes(),
            np.asarray(m.coords[h_dim], dtype="<f4").tobytes(),
            np.asarray(m.coords["t"], dtype="<f4").tobytes(),
        ]
    )
    write_bytes(path, payload)
