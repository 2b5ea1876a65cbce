"""Material presets for the D(T) model, shipped as ``fitdiff/physics/data/materials.toml``.

The file ships inside the package (a wheel carries it) and is found with
:mod:`importlib.resources`, so a source checkout, an editable install and an installed wheel
read the same single copy. Every preset gives a source for every number and lists in ``unverified`` the parameters whose
source has not been read; :func:`material_info` exposes both.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ..errors import ConfigError, ModelError
from .parameters import MATERIAL_PARAMETERS, check_parameters

#: Where the presets live: package data of ``fitdiff.physics`` (an ordinary file for a
#: checkout, an editable install and an unzipped wheel, which is how pip installs one).
MATERIALS_PATH = Path(str(resources.files(__package__).joinpath("data", "materials.toml")))

_META_KEYS = {"description", "sources", "unverified"}


@lru_cache(maxsize=4)
def _read(path: Path) -> dict[str, dict]:
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(
            f"material presets not found at {path} (they ship inside the fitdiff package as "
            f"fitdiff/physics/data/materials.toml; reinstall fitdiff)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return {name: _validate(path, name, entry) for name, entry in raw.items()}


def _validate(path: Path, name: str, entry) -> dict:
    """Check one preset: known parameters in range, a source for each, unverified a subset."""
    where = f"{path.name} [{name}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: a material must be a table")
    params = {k: v for k, v in entry.items() if k not in _META_KEYS}
    try:
        params = check_parameters(params)
    except ModelError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    missing = [k for k in MATERIAL_PARAMETERS if k not in params]
    if missing:
        raise ConfigError(f"{where}: missing required parameter(s) {', '.join(missing)}")
    sources = entry.get("sources", {})
    unsourced = [k for k in params if not str(sources.get(k, "")).strip()]
    if unsourced:
        raise ConfigError(f"{where}.sources: no source for {', '.join(unsourced)}")
    extra = sorted(set(sources) - set(params))
    if extra:
        raise ConfigError(f"{where}.sources: source for unknown parameter(s) {', '.join(extra)}")
    unverified = list(entry.get("unverified", []))
    stray = [k for k in unverified if k not in params]
    if stray:
        raise ConfigError(f"{where}.unverified: not parameters of this preset: {', '.join(stray)}")
    return {
        "parameters": params,
        "description": str(entry.get("description", "")),
        "sources": dict(sources),
        "unverified": unverified,
    }


def material_names(path: Path | None = None) -> list[str]:
    """Return the names of the material presets, in file order.

    Parameters
    ----------
    path : Path, optional
        Another presets file with the same layout (default :data:`MATERIALS_PATH`).
    """
    return list(_read(Path(path) if path else MATERIALS_PATH))


def material_info(name: str, path: Path | None = None) -> dict:
    """Return a preset's ``parameters``, ``description``, ``sources`` and ``unverified``.

    Raises
    ------
    ConfigError
        Unknown name (the message lists the known ones) or an invalid presets file.
    """
    presets = _read(Path(path) if path else MATERIALS_PATH)
    if name not in presets:
        raise ConfigError(f"unknown material {name!r}; known materials: {', '.join(presets)}")
    entry = presets[name]
    return {
        "parameters": dict(entry["parameters"]),
        "description": entry["description"],
        "sources": dict(entry["sources"]),
        "unverified": list(entry["unverified"]),
    }


def load_material(name: str, path: Path | None = None) -> dict[str, float]:
    """Return the parameters of preset ``name`` in lab units (keys as in ``PARAMETERS``).

    Parameters
    ----------
    name : str
        Preset name, e.g. ``"typical-tmdc"`` or ``"WSe2"``.
    path : Path, optional
        Another presets file (default :data:`MATERIALS_PATH`).

    Raises
    ------
    ConfigError
        Unknown name (the message lists the known ones) or an invalid presets file.
    """
    return material_info(name, path)["parameters"]
