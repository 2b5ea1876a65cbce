"""Small helpers every layer above ``errors`` shares: file and settings hashes, plain-JSON
conversion, deep merge of tables and the check of a TOML table's keys.

One home for each so that "the hash of a file", "the hash of some settings" and "an unknown
key" mean the same thing everywhere (pipeline stage keys, campaign skip decisions, provenance,
the report's input check, every TOML schema). Imports nothing of fitdiff but :mod:`errors`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError

#: Block size of :func:`sha256_file`, bytes (files can be large; never read them whole).
_BLOCK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Return the SHA-256 hex digest of a file's content, read in 1 MiB blocks.

    Raises
    ------
    OSError
        The file cannot be read (the caller knows which key named it).
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def jsonable(obj: Any) -> Any:
    """Turn paths, numpy scalars/arrays, tuples and sets into plain JSON types, recursively.

    Mappings keep their order with keys as strings; sets become sorted lists (so their hash is
    stable); anything else unknown becomes its ``repr``.
    """
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = [jsonable(v) for v in obj]
        return sorted(items, key=repr) if isinstance(obj, (set, frozenset)) else items
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return obj.tolist()
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return repr(obj)


def hash_json(obj: Any) -> str:
    """Return the SHA-256 hex digest of a JSON-able object in canonical form (sorted keys).

    Two objects that compare equal after :func:`jsonable` have the same digest, whatever the
    order their keys were inserted in.
    """
    text = json.dumps(jsonable(obj), sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def merge(base: Any, extra: Any) -> Any:
    """Deep-merge ``extra`` into a copy of ``base``: tables merge key by key, values replace.

    Neither argument is modified; the result shares no mutable table or list with ``extra``.
    ``merge({"a": {"x": 1, "y": 2}}, {"a": {"y": 3}, "b": [1]})`` is
    ``{"a": {"x": 1, "y": 3}, "b": [1]}``.
    """
    if isinstance(base, Mapping) and isinstance(extra, Mapping):
        out = dict(base)
        for key, value in extra.items():
            out[key] = merge(base[key], value) if key in base else merge(None, value)
        return out
    if isinstance(extra, Mapping):
        return {k: merge(None, v) for k, v in extra.items()}
    if isinstance(extra, list):
        return [merge(None, v) for v in extra]
    return extra


def check_keys(table: Any, allowed: Collection[str], where: str, *, what: str = "key") -> None:
    """Refuse a TOML table that is not a table or holds a key outside ``allowed``.

    Parameters
    ----------
    table : object
        The parsed value that should be a table.
    allowed : collection of str
        The allowed keys, listed in the message in this order (sets are sorted).
    where : str
        Key path of the table (``"fit"``, ``"dataset[1].parameters"``; ``""`` for the top
        level), optionally prefixed by the file (``"campaign.toml: campaign"``).
    what : str
        What a key is called in the message (``"key"``, ``"section"``, ``"model key"``).

    Raises
    ------
    ConfigError
        ``"<where>.<key>: unknown key (allowed: a, b, c)"``, naming every unknown key by its
        key path, or ``"<where>: expected a table, got ..."``.
    """
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where or 'top level'}: expected a table, got {table!r}")
    unknown = [str(k) for k in table if k not in allowed]
    if not unknown:
        return
    names = sorted(allowed) if isinstance(allowed, (set, frozenset)) else list(allowed)
    paths = ", ".join(f"{where}.{k}" if where else k for k in unknown)
    plural = "s" if len(unknown) > 1 else ""
    raise ConfigError(f"{paths}: unknown {what}{plural} (allowed: {', '.join(names)})")
