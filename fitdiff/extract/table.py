"""The table CSV format: ``# key: <json>`` header lines carrying ``df.attrs``, then plain CSV."""

from __future__ import annotations

import io
import json
import os

import pandas as pd

from ..atomic import _finite, write_text
from ..errors import ExtractionError


def write_table_csv(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``df`` with its ``attrs`` as JSON header comments, atomically.

    Parameters
    ----------
    df : DataFrame
        Any fitdiff table; each ``attrs`` key becomes one ``# key: <json>`` line.
    path : path-like
        Output file.
    """
    head = "".join(f"# {key}: {json.dumps(_finite(value))}\n" for key, value in df.attrs.items())
    write_text(path, head + df.to_csv(index=False, float_format="%.15g"))


def read_table_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table written by :func:`write_table_csv`; header lines come back as ``attrs``."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise ExtractionError(f"{path}: cannot read table ({exc.strerror})") from None
    attrs, body = {}, []
    lines = text.splitlines(keepends=True)
    n_head = 0
    for line in lines:
        if not line.startswith("# "):
            break
        key, sep, value = line[2:].partition(": ")
        if not sep:
            raise ExtractionError(f"{path}: header line {n_head + 1} is not '# key: json'")
        try:
            attrs[key] = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ExtractionError(f"{path}: header {key!r} is not JSON ({exc.msg})") from None
        n_head += 1
    body = "".join(lines[n_head:])
    if not body.strip():
        raise ExtractionError(f"{path}: no table after the header")
    df = pd.read_csv(io.StringIO(body))
    if "reason" in df.columns:
        # An all-empty reason column parses as float NaN; make it text before filling.
        df["reason"] = df["reason"].astype(object).fillna("").astype(str)
    df.attrs.update(attrs)
    return df
