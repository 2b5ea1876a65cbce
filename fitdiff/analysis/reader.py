"""Read ANALYSIS.toml from disk, merge a caller's overrides into it, and resolve it through the
schema (:func:`fitdiff.analysis.schema.analysis_from_dict`).

Overrides come from the caller (a campaign runner, a script, ``fitdiff sample --steps``), not
from the analysis file, so a relative file path in them means "from the working directory".
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..common import merge
from ..errors import ConfigError
from .schema import Analysis, analysis_from_dict

#: Keys of a data table (``[data]`` or ``[[dataset]]``) that hold file paths.
_PATH_KEYS = ("file", "widths", "pl", "table", "covariance")


def read_toml(path: Path) -> dict[str, Any]:
    """Parse an analysis file; a missing, unreadable or invalid file is a ConfigError."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"analysis file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not an analysis file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _absolute_override_paths(overrides: dict) -> dict:
    """Resolve relative file paths in ``overrides`` against the working directory."""

    def fix_table(table):
        if not isinstance(table, dict):
            return table
        out = dict(table)
        for key in _PATH_KEYS:
            if isinstance(out.get(key), str) and not Path(out[key]).expanduser().is_absolute():
                out[key] = str(Path.cwd() / out[key])
        return out

    out = dict(overrides)
    if "data" in out:
        out["data"] = fix_table(out["data"])
    if isinstance(out.get("dataset"), list):
        out["dataset"] = [fix_table(t) for t in out["dataset"]]
    model = out.get("model")
    if isinstance(model, dict) and isinstance(model.get("model"), str):
        if not Path(model["model"]).expanduser().is_absolute():
            out["model"] = {**model, "model": str(Path.cwd() / model["model"])}
    return out


def load_analysis(path, overrides: Mapping[str, Any] | None = None) -> Analysis:
    """Read and validate ANALYSIS.toml (schema: :mod:`fitdiff.analysis.schema`).

    Parameters
    ----------
    path : str or pathlib.Path
        The analysis file; relative paths in it resolve against its folder.
    overrides : mapping, optional
        Merged into the parsed TOML before validation (tables key by key, other values
        replace), e.g. ``{"data": {"file": "T10K.img"}}``. Relative paths in it resolve
        against the working directory.

    Raises
    ------
    ConfigError
        Unreadable TOML, unknown key (named by its key path), value out of range, missing data
        file, bad covariance file, min > max, prior outside the bounds, bad expression.
    """
    path = Path(path).expanduser().resolve()
    raw = read_toml(path)
    if overrides:
        if not isinstance(overrides, Mapping):
            raise ConfigError(f"overrides: expected a table (dict), got {type(overrides).__name__}")
        raw = merge(raw, _absolute_override_paths(dict(overrides)))
    return analysis_from_dict(raw, base_dir=path.parent, path=path)


def read_analysis(analysis_path, overrides: Mapping[str, Any] | None = None):
    """:func:`load_analysis`, returning ``(Analysis, raw dict)`` (the pipeline's form)."""
    analysis = load_analysis(analysis_path, overrides)
    return analysis, analysis.raw
