"""Checked reading of one ANALYSIS.toml value: numbers, booleans, [min, max] ranges, file paths.

Each function names the key path in its :class:`~fitdiff.errors.ConfigError` and says what is
allowed; the schema (:mod:`fitdiff.analysis.schema`) and the parameter tables
(:mod:`fitdiff.analysis.parameters`) share them.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import ConfigError


def number(value, where: str, *, lo=-math.inf, hi=math.inf, integer=False):
    """``value`` as a float (or int) within ``[lo, hi]``; ``where`` is its key path."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if integer and not float(value).is_integer():
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(f"{where}: {value} outside the allowed range [{lo}, {hi}]")
    return int(value) if integer else float(value)


def boolean(value, where: str) -> bool:
    """``value`` if it is ``true`` or ``false``."""
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    return value


def span(value, where: str) -> list[float]:
    """``[min, max]`` with min < max, as floats."""
    if not (isinstance(value, list) and len(value) == 2):
        raise ConfigError(f"{where}: expected [min, max], got {value!r}")
    lo, hi = (number(v, f"{where}[{i}]") for i, v in enumerate(value))
    if not lo < hi:
        raise ConfigError(f"{where}: min ({lo}) must be < max ({hi})")
    return [lo, hi]


def file_path(value, where: str, base: Path) -> str:
    """An existing file, relative paths against ``base``; returned absolute."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: expected a file path, got {value!r}")
    p = Path(value).expanduser()
    p = p if p.is_absolute() else base / p
    if not p.is_file():
        raise ConfigError(f"{where}: file not found: {p}")
    return str(p.resolve())
