"""The campaign file: parse and validate CAMPAIGN.toml into a :class:`Campaign`.

Each measurement becomes a :class:`MeasurementSpec`: its label, its file, the name of its run
directory (:func:`run_names`), the values read from its file name or the campaign table, and
the overrides merged into the analysis template for it. Schema: :mod:`fitdiff.batch`.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..common import check_keys, merge
from ..errors import ConfigError

#: Allowed keys of each campaign section (unknown keys are errors naming the key path).
_CAMPAIGN_KEYS = ("analysis", "measurements", "name_pattern", "table", "retries", "values")
_GLOBAL_KEYS = ("analysis", "x", "y")
_TOP_KEYS = ("campaign", "override", "global")
#: Largest ``retries`` accepted: a task that crashes its worker more often is broken, not unlucky.
MAX_RETRIES = 5


@dataclass(frozen=True)
class MeasurementSpec:
    """One measurement of a campaign, as resolved from the campaign file.

    Attributes
    ----------
    measurement : str
        Its label: the path relative to the campaign file's folder (POSIX), or absolute when
        outside it. First column of the summary.
    path : pathlib.Path
        Absolute path of the measurement file.
    name : str
        Name of its run directory under ``OUT/runs/``.
    values : dict
        Values parsed from the file name or the campaign table (e.g. ``{"T_K": 10.0}``).
    overrides : dict
        Merged into the analysis configuration: ``data.file``, mapped values and the
        ``[override."..."]`` table of this measurement.
    """

    measurement: str
    path: Path
    name: str
    values: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Campaign:
    """A validated campaign file.

    Attributes
    ----------
    path : pathlib.Path
        The campaign file.
    analysis : pathlib.Path
        The per-measurement analysis template.
    measurements : tuple of MeasurementSpec
        In file order (globs expanded and sorted, duplicates dropped).
    retries : int
        Extra attempts for a task whose worker crashed.
    global_fit : dict or None
        The ``[global]`` section resolved (``analysis`` absolute, ``x``, ``y``), or None.
    """

    path: Path
    analysis: Path
    measurements: tuple[MeasurementSpec, ...]
    retries: int = 1
    global_fit: dict[str, Any] | None = None

    @property
    def value_names(self) -> list[str]:
        """Names of the per-measurement values, in first-seen order."""
        names: dict[str, None] = {}
        for spec in self.measurements:
            names.update(dict.fromkeys(spec.values))
        return list(names)


def load_campaign(path: str | os.PathLike) -> Campaign:
    """Read and validate a campaign file.

    Parameters
    ----------
    path : str or path-like
        The campaign TOML (schema in the module docstring).

    Returns
    -------
    Campaign

    Raises
    ------
    ConfigError
        Unreadable TOML, unknown keys (named by key path), missing files, globs matching
        nothing, a file name not matching ``name_pattern``, a measurement missing from
        ``table``, or an override for no measurement.
    """
    path = Path(path).resolve()
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"campaign file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"campaign file {path}: cannot read it as TOML: {exc}") from None
    where = str(path)
    _check(config, _TOP_KEYS, where, "", "section")
    section = config.get("campaign")
    if not isinstance(section, dict):
        raise ConfigError(
            f"{where}: a [campaign] section with 'analysis' and 'measurements' is required"
        )
    _check(section, _CAMPAIGN_KEYS, where, "campaign")
    base = path.parent

    analysis = _existing_file(base, section.get("analysis"), where, "campaign.analysis")
    files = _expand_measurements(base, section.get("measurements"), where)
    retries = section.get("retries", 1)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
        raise ConfigError(
            f"{where}: campaign.retries = {retries!r} must be an integer in 0..{MAX_RETRIES}"
        )

    labels = [_label(f, base) for f in files]
    values = {label: {} for label in labels}
    pattern = section.get("name_pattern")
    if pattern is not None:
        _values_from_pattern(pattern, files, labels, values, where)
    if section.get("table") is not None:
        table = _existing_file(base, section["table"], where, "campaign.table")
        _values_from_table(table, files, labels, values, where)

    targets = section.get("values", {})
    if not isinstance(targets, dict) or not all(isinstance(v, str) and v for v in targets.values()):
        raise ConfigError(
            f"{where}: campaign.values must map value names to dotted key paths "
            'of the analysis configuration, e.g. T_K = "dataset.T_K"'
        )

    overrides = config.get("override", {})
    if not isinstance(overrides, dict):
        raise ConfigError(
            f'{where}: [override] must hold one table per measurement, e.g. [override."T10K.tif"]'
        )
    by_key = {
        **{f.name: label for f, label in zip(files, labels, strict=True)},
        **{label: label for label in labels},
    }
    per_file: dict[str, dict] = {}
    for key, table in overrides.items():
        if key not in by_key:
            raise ConfigError(
                f"{where}: override.{key!r} matches no measurement; known: "
                f"{', '.join(labels[:10])}{' ...' if len(labels) > 10 else ''}"
            )
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: override.{key!r} must be a table of analysis sections")
        per_file[by_key[key]] = merge(per_file.get(by_key[key], {}), table)

    names = run_names(labels)
    specs = []
    for f, label, name in zip(files, labels, names, strict=True):
        merged: dict[str, Any] = {"data": {"file": str(f)}}
        for value_name, target in targets.items():
            if value_name not in values[label]:
                raise ConfigError(
                    f"{where}: campaign.values.{value_name}: measurement {label} "
                    f"has no value {value_name!r} (from name_pattern or table)"
                )
            merged = merge(merged, _nested(target, values[label][value_name]))
        merged = merge(merged, per_file.get(label, {}))
        specs.append(MeasurementSpec(label, f, name, values[label], merged))

    global_fit = config.get("global")
    if global_fit is not None:
        global_fit = _global_section(global_fit, base, where, specs)
    return Campaign(path, analysis, tuple(specs), retries, global_fit)


def _check(table: Any, allowed: tuple[str, ...], where: str, section: str, what="key") -> None:
    """:func:`fitdiff.common.check_keys` with the campaign file named first."""
    try:
        check_keys(table, allowed, section, what=what)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _existing_file(base: Path, value: Any, where: str, key: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: {key} must be a file path (string), got {value!r}")
    file = (base / value).resolve()
    if not file.is_file():
        raise ConfigError(f"{where}: {key} = {value!r}: no such file {file}")
    return file


def _expand_measurements(base: Path, entries: Any, where: str) -> list[Path]:
    if isinstance(entries, str):
        entries = [entries]
    if (
        not isinstance(entries, list)
        or not entries
        or not all(isinstance(e, str) and e for e in entries)
    ):
        raise ConfigError(
            f"{where}: campaign.measurements must be a non-empty list of paths or "
            'globs, e.g. ["data/*.tif"]'
        )
    files: dict[Path, None] = {}
    for i, entry in enumerate(entries):
        pattern = str(base / entry)
        if any(c in entry for c in "*?["):
            found = sorted(
                Path(p).resolve() for p in glob.glob(pattern, recursive=True) if Path(p).is_file()
            )
            if not found:
                raise ConfigError(
                    f"{where}: campaign.measurements[{i}] = {entry!r} matches "
                    f"no file (searched {pattern})"
                )
            files.update(dict.fromkeys(found))
        else:
            file = Path(pattern).resolve()
            if not file.is_file():
                raise ConfigError(
                    f"{where}: campaign.measurements[{i}] = {entry!r}: no such file {file}"
                )
            files[file] = None
    return list(files)


def _label(file: Path, base: Path) -> str:
    try:
        return file.relative_to(base).as_posix()
    except ValueError:
        return file.as_posix()


def _scalar(text: str) -> Any:
    """A value parsed from a file name: a number where it reads as one, else the text."""
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if re.fullmatch(r"[+-]?\d+", text) else number


def _values_from_pattern(pattern: Any, files, labels, values, where: str) -> None:
    if not isinstance(pattern, str):
        raise ConfigError(f"{where}: campaign.name_pattern must be a regular expression string")
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(
            f"{where}: campaign.name_pattern {pattern!r} is not a valid regular expression: {exc}"
        ) from None
    if not regex.groupindex:
        raise ConfigError(
            f"{where}: campaign.name_pattern {pattern!r} has no named group; "
            "use e.g. 'T(?P<T_K>[0-9.]+)K'"
        )
    for file, label in zip(files, labels, strict=True):
        match = regex.search(file.name)
        if match is None:
            raise ConfigError(
                f"{where}: campaign.name_pattern {pattern!r} does not match the "
                f"file name of measurement {label}"
            )
        values[label].update({k: _scalar(v) for k, v in match.groupdict().items() if v is not None})


def _values_from_table(table: Path, files, labels, values, where: str) -> None:
    import pandas as pd

    try:
        frame = pd.read_csv(table, comment="#")
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"{where}: campaign.table {table}: cannot read it as CSV: {exc}"
        ) from None
    if "measurement" not in frame.columns:
        raise ConfigError(
            f"{where}: campaign.table {table} needs a 'measurement' column (file "
            f"name or path relative to the campaign); it has {list(frame.columns)}"
        )
    rows = {str(k): row for k, row in frame.set_index("measurement").iterrows()}
    for file, label in zip(files, labels, strict=True):
        row = rows.get(label, rows.get(file.name))
        if row is None:
            raise ConfigError(f"{where}: campaign.table {table} has no row for measurement {label}")
        values[label].update(
            {str(k): (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        )


def _nested(dotted: str, value: Any) -> dict[str, Any]:
    """``"a.b.c", v`` -> ``{"a": {"b": {"c": v}}}``."""
    out: Any = value
    for part in reversed(dotted.split(".")):
        out = {part: out}
    return out


def run_names(labels: list[str]) -> list[str]:
    """Run-directory names of measurements, unique and readable.

    Parameters
    ----------
    labels : list of str
        The measurements' labels (distinct POSIX paths, relative to the campaign folder or
        absolute).

    Returns
    -------
    list of str
        The file stem where no other measurement has it; else the whole label with every run
        of characters other than letters, digits, ``.``, ``-`` and ``_`` made one ``_``
        (``x/y_z/f.tif`` -> ``x_y_z_f.tif``). Names that still coincide (``x/y_z/f.tif`` and
        ``x_y/z/f.tif``), also when they differ only in letter case (a case-insensitive
        filesystem would merge them), get ``-`` and the first 8 hex digits of the SHA-256 of
        their label appended: different labels never share a directory.
    """
    stems = [PurePosixPath(label).stem for label in labels]
    stem_count = Counter(s.casefold() for s in stems)
    names = [
        stem
        if stem_count[stem.casefold()] == 1
        else re.sub(r"[^\w.-]+", "_", label.strip("/")).strip("_") or "_"
        for stem, label in zip(stems, labels, strict=True)
    ]
    name_count = Counter(n.casefold() for n in names)
    out = []
    for name, label in zip(names, labels, strict=True):
        if name_count[name.casefold()] > 1:
            name = f"{name}-{hashlib.sha256(label.encode('utf-8')).hexdigest()[:8]}"
        out.append(name)
    return out


def _global_section(section: Any, base: Path, where: str, specs) -> dict[str, Any]:
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: [global] must be a table with 'analysis', 'x', 'y'")
    _check(section, _GLOBAL_KEYS, where, "global")
    analysis = _existing_file(base, section.get("analysis"), where, "global.analysis")
    x = section.get("x", "T_K")
    y = section.get("y", "D_cm2_s")
    if not isinstance(y, str) or not y:
        raise ConfigError(f"{where}: global.y must be a summary column name, got {y!r}")
    missing = [s.measurement for s in specs if x not in s.values]
    if missing:
        raise ConfigError(
            f"{where}: global.x = {x!r} is not a value of measurement "
            f"{missing[0]}; values come from campaign.name_pattern or "
            "campaign.table"
        )
    return {"analysis": analysis, "x": x, "y": y}
