"""Helpers every reader shares: error messages that name the file, safe reads, unit lookup."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import LoadError
from ..units import PS_PER_TIME_UNIT, UM_PER_LENGTH_UNIT

#: No reader builds an array larger than this from header-declared sizes (bytes); a header
#: claiming more is treated as corrupt rather than trusted (protects against absurd sizes).
MAX_ARRAY_BYTES = 2 * 1024**3


def fail(path: os.PathLike | str, what: str) -> LoadError:
    """Return a :class:`LoadError` whose message starts with the file name."""
    return LoadError(f"{path}: {what}")


def file_size(path: Path) -> int:
    """Return the size of ``path`` in bytes, or raise :class:`LoadError` if it is no file."""
    if path.is_dir():
        raise fail(path, "is a directory, not a measurement file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise fail(path, f"cannot be opened ({exc.strerror or exc})") from None
    if size == 0:
        raise fail(path, "is empty (0 bytes)")
    return size


def read_exact(fh, offset: int, nbytes: int, path: Path, what: str) -> bytes:
    """Read ``nbytes`` at ``offset`` or raise :class:`LoadError` saying the file is short."""
    fh.seek(offset)
    data = fh.read(nbytes)
    if len(data) != nbytes:
        raise fail(
            path,
            f"truncated: {what} needs bytes {offset}..{offset + nbytes} "
            f"but the file ends at {offset + len(data)}",
        )
    return data


def check_alloc(
    path: Path, shape: tuple[int, ...], itemsize: int, what: str, limit: int = MAX_ARRAY_BYTES
) -> None:
    """Refuse header-declared array shapes that are non-positive or larger than ``limit`` bytes."""
    if any(int(n) <= 0 for n in shape):
        raise fail(path, f"{what} has a non-positive dimension {tuple(shape)}")
    nbytes = int(np.prod([int(n) for n in shape], dtype=object)) * itemsize
    if nbytes > limit:
        raise fail(
            path,
            f"{what} of shape {tuple(shape)} would need {nbytes / 1e9:.3g} GB; "
            f"the limit is {limit / 1e9:.3g} GB (corrupt header?)",
        )


def ps_per_unit(unit: str) -> float | None:
    """Picoseconds per time ``unit`` (``"ns"``, ``"us"``, ``"µs"`` ...), None if not a time unit."""
    return PS_PER_TIME_UNIT.get(unit.strip().lower().replace("sec", "s"))


def um_per_unit(unit: str) -> float | None:
    """Micrometres per length ``unit`` (``"nm"``, ``"micron"``, ``"mm"`` ...), None otherwise."""
    return UM_PER_LENGTH_UNIT.get(unit.strip().lower())


def ascending(counts: np.ndarray, coords: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Flip ``counts`` along ``axis`` when ``coords`` strictly decrease (a reversed spectrograph
    table), so every loaded axis increases; flipping moves no value, so it is not a resampling."""
    if coords.size > 1 and np.all(np.diff(coords) < 0):
        return np.flip(counts, axis=axis), coords[::-1].copy()
    return counts, coords
