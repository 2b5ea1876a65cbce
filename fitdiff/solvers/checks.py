"""Checks of MODEL.toml values shared by every model schema (valley rungs and the Boltzmann rung).

Parsing a table (:func:`check_table`, :func:`number`, :func:`number_at`,
:func:`start_stop_count`) raises :class:`~fitdiff.errors.ConfigError` naming the key path and
what is allowed; checking an assembled model (:func:`require_finite`, :func:`require_nonneg`,
:func:`require_positive`) raises :class:`~fitdiff.errors.ModelError` naming the quantity, so
a fit that moves a parameter out of range gets the same message as the file would.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from ..common import check_keys
from ..errors import ConfigError, ModelError


def key_error(path: str, what: str) -> ConfigError:
    """``ConfigError("model key '<path>': <what>")``."""
    return ConfigError(f"model key {path!r}: {what}")


def check_table(d: Any, allowed: Collection[str], where: str) -> dict:
    """:func:`fitdiff.common.check_keys` for model tables; returns ``d``.

    A value that is not a table is a model-key error naming ``where``.
    """
    if not isinstance(d, dict):
        raise key_error(where or "top level", f"must be a table, got {type(d).__name__}")
    check_keys(d, allowed, where, what="model key")
    return d


def number_at(
    value: Any, path: str, *, lo: float | None = None, lo_open: bool = False, allow_inf=False
) -> float:
    """``value`` as a float, finite (unless ``allow_inf``) and above ``lo``; errors name ``path``.

    Parameters
    ----------
    value : object
        The parsed TOML value.
    path : str
        Its key path in the messages (``"valley[0].M_m0"``, ``"time.t_ps[1]"``).
    lo : float, optional
        Lower bound; ``lo_open`` makes it strict.
    allow_inf : bool
        Accept ±inf (e.g. "no disorder scattering").

    Raises
    ------
    ConfigError
        Not a number (booleans are not numbers), NaN or inf, or below the bound.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise key_error(path, f"must be a number, got {value!r}")
    value = float(value)
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise key_error(path, f"must be finite, got {value}")
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise key_error(path, f"must be {'>' if lo_open else '>='} {lo:g}, got {value:g}")
    return value


def number(
    d: dict,
    key: str,
    where: str,
    default: Any = ...,
    *,
    lo: float | None = None,
    lo_open: bool = False,
    allow_inf: bool = False,
) -> Any:
    """``d[key]`` checked by :func:`number_at`; ``default`` when absent (required without one)."""
    path = f"{where}.{key}" if where else key
    if key not in d:
        if default is ...:
            raise key_error(path, "is required")
        return default
    return number_at(d[key], path, lo=lo, lo_open=lo_open, allow_inf=allow_inf)


def start_stop_count(d: dict, key: str, where: str) -> tuple[float, float, int] | None:
    """``d[key]`` as ``[start, stop, count]`` (inclusive, ``count`` >= 2 points) or None."""
    path = f"{where}.{key}" if where else key
    if key not in d:
        return None
    v = d[key]
    if not (isinstance(v, (list, tuple)) and len(v) == 3):
        raise key_error(path, f"must be [start, stop, count], got {v!r}")
    start, stop = (number_at(x, f"{path}[{i}]") for i, x in enumerate(v[:2]))
    count = v[2]
    if isinstance(count, bool) or not isinstance(count, int) or count < 2:
        raise key_error(path, f"count must be an integer >= 2, got {count!r}")
    if not stop > start:
        raise key_error(path, f"needs stop > start, got {start:g}, {stop:g}")
    return (start, stop, count)


def require_finite(x: float, what: str) -> None:
    """ModelError unless ``x`` is finite."""
    if not math.isfinite(x):
        raise ModelError(f"{what} must be finite, got {x}")


def require_nonneg(x: float, what: str) -> None:
    """ModelError unless ``x`` is finite and >= 0."""
    if not (math.isfinite(x) and x >= 0):
        raise ModelError(f"{what} must be finite and >= 0, got {x}")


def require_positive(x: float, what: str, unit: str = "") -> None:
    """ModelError unless ``x`` is finite and > 0 (``unit`` follows the bound in the message)."""
    if not (math.isfinite(x) and x > 0):
        raise ModelError(f"{what} must be finite and > 0 {unit}".rstrip() + f", got {x}")
