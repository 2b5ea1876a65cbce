"""Read a model file (TOML) into a dict; errors name the file. The solvers take the dict."""

from __future__ import annotations

import tomllib
from pathlib import Path

from ..errors import ConfigError


def read_model_file(path: str | Path) -> dict:
    """Parse MODEL.toml; ConfigError names the file when it is missing or not TOML."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: model file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a model file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def is_boltzmann_model(d: dict) -> bool:
    """True when the model dict selects the Boltzmann rung (TOPRUNG.md §9: ``solver =
    "boltzmann"`` or ``[[channel]]`` tables)."""
    return d.get("solver") == "boltzmann" or "channel" in d
