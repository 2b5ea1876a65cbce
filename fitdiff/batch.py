"""Campaigns: run the pipeline over many measurements on any ``concurrent.futures`` executor.

A campaign file (TOML) names an analysis template and the measurements (paths or globs); each
measurement becomes one call of :func:`fitdiff.pipeline.run` into its own run directory
``OUT/runs/<name>/``, with the measurement's file and values merged into the template as
overrides. :func:`run_campaign` maps these calls over an executor and collects one summary row
per measurement into ``OUT/summary.csv``; an optional ``[global]`` section then fits the
per-measurement results together (e.g. D(T) from the per-temperature D values).

Reliability, in the order it matters:

* a task never raises for bad input: any exception inside a measurement becomes a ``failed``
  row with its message, so one corrupt file never stops the campaign;
* a worker that dies (killed, out of memory, segfault) breaks a process pool: the pool is
  rebuilt and the tasks that had *started* are charged one attempt and resubmitted, those that
  had not are resubmitted free; after ``retries`` extra attempts a task is ``failed``;
* each run directory gets a completion marker ``batch.json`` written last and atomically; it
  holds the key of the inputs (SHA-256 of the template, the overrides, the measurement file and
  the fitdiff version) and the size of every output, so a rerun skips a measurement only when
  its inputs are unchanged and every output is still there. The marker is removed before a
  measurement runs, so partial outputs never look complete.

Campaign schema (relative paths resolve against the campaign file's folder)::

    [campaign]
    analysis = "base.toml"                  # required: the per-measurement analysis template
    measurements = ["data/T*K.tif"]         # required: paths or globs (``**`` recurses)
    name_pattern = 'T(?P<T_K>[0-9.]+)K'     # optional: named groups of a regex searched in the
                                            #   file name become the measurement's values
    table = "conditions.csv"                # optional: CSV with a ``measurement`` column (file
                                            #   name or relative path); other columns are values
    retries = 1                             # optional: extra attempts after a worker crash (0-5)

    [campaign.values]                       # optional: where values go in the analysis config
    T_K = "dataset.T_K"                     #   (dotted key path); unmapped values only label rows

    [override."T300K.tif"]                  # optional per-measurement overrides (any analysis
    extract = { t_range_ps = [0, 200] }     #   section), keyed by file name or relative path

    [global]                                # optional fit across all successful measurements
    analysis = "dT.toml"                    #   analysis whose [data] table is the campaign table
    x = "T_K"                               #   value column (default T_K)
    y = "D_cm2_s"                           #   summary column fitted (default D_cm2_s); its
                                            #   error is the matching ``_err_`` column

Executors: ``"local"`` (in this process), ``"processes:N"`` (a process pool of N workers),
``"dask://HOST:PORT"`` (a ``distributed.Client`` connected to an existing scheduler), any
``concurrent.futures.Executor`` instance, or a zero-argument factory returning one (which lets a
broken pool be rebuilt).

This module is orchestration: it may log and show a progress bar (``progress=True``), and the
log goes to ``OUT/batch.log``.
"""

from __future__ import annotations

import datetime as _dt
import glob
import hashlib
import json
import logging
import multiprocessing
import os
import re
import sys
import time
import tomllib
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future, as_completed
from concurrent.futures.process import BrokenProcessPool, ProcessPoolExecutor
from concurrent.futures.thread import BrokenThreadPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .atomic import atomic_path, write_json
from .errors import ConfigError, FitdiffError

#: Completion marker written last into each run directory.
MARKER = "batch.json"
#: Written by a task when it starts; tells a crash of a running task from a queued one.
STARTED = ".batch-started"
#: Summary table, log file and run-directory folder inside OUT/.
SUMMARY = "summary.csv"
LOG = "batch.log"
RUNS_DIR = "runs"
GLOBAL_DIR = "global"
#: Allowed keys of each campaign section (unknown keys are errors naming the key path).
_CAMPAIGN_KEYS = {"analysis", "measurements", "name_pattern", "table", "retries", "values"}
_GLOBAL_KEYS = {"analysis", "x", "y"}
_TOP_KEYS = {"campaign", "override", "global"}
#: Largest ``retries`` accepted: a task that crashes its worker more often is broken, not unlucky.
MAX_RETRIES = 5

log = logging.getLogger("fitdiff.batch")


# --- the campaign file ----------------------------------------------------------------------


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
    _check_keys(config, _TOP_KEYS, where, "")
    section = config.get("campaign")
    if not isinstance(section, dict):
        raise ConfigError(
            f"{where}: a [campaign] section with 'analysis' and 'measurements' is required"
        )
    _check_keys(section, _CAMPAIGN_KEYS, where, "campaign.")
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
        per_file[by_key[key]] = _merge(per_file.get(by_key[key], {}), table)

    names = _run_names(files, labels)
    specs = []
    for f, label, name in zip(files, labels, names, strict=True):
        merged: dict[str, Any] = {"data": {"file": str(f)}}
        for value_name, target in targets.items():
            if value_name not in values[label]:
                raise ConfigError(
                    f"{where}: campaign.values.{value_name}: measurement {label} "
                    f"has no value {value_name!r} (from name_pattern or table)"
                )
            merged = _merge(merged, _nested(target, values[label][value_name]))
        merged = _merge(merged, per_file.get(label, {}))
        specs.append(MeasurementSpec(label, f, name, values[label], merged))

    global_fit = config.get("global")
    if global_fit is not None:
        global_fit = _global_section(global_fit, base, where, specs)
    return Campaign(path, analysis, tuple(specs), retries, global_fit)


def _check_keys(table: Mapping, allowed: set[str], where: str, prefix: str) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown key {prefix}{key}; allowed in "
                f"{prefix.rstrip('.') or 'the top level'}: {sorted(allowed)}"
            )


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


def _merge(base: Mapping, extra: Mapping) -> dict[str, Any]:
    """Deep-merge ``extra`` into a copy of ``base`` (tables merge, other values replace)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _run_names(files: list[Path], labels: list[str]) -> list[str]:
    """Run-directory names: the file stem, or the whole label where stems collide."""
    stems = [f.stem for f in files]
    names = []
    for stem, label in zip(stems, labels, strict=True):
        name = stem if stems.count(stem) == 1 else re.sub(r"[^\w.-]+", "_", label.strip("/"))
        names.append(name)
    return names


def _global_section(section: Any, base: Path, where: str, specs) -> dict[str, Any]:
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: [global] must be a table with 'analysis', 'x', 'y'")
    _check_keys(section, _GLOBAL_KEYS, where, "global.")
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


# --- executors ------------------------------------------------------------------------------


class InlineExecutor(Executor):
    """Run each task at submission, in the calling process (``--executor local``).

    concurrent.futures has no synchronous executor; this one keeps debugging simple
    (breakpoints and tracebacks in one process) and adds no start-up cost.
    """

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # the future carries it, as a pool's would
            future.set_exception(exc)
        return future


class DaskExecutor(Executor):
    """A ``distributed.Client`` connected to an existing scheduler, as an Executor.

    Wraps ``client.get_executor(pure=False)`` (every submission runs, even with equal
    arguments, so a resubmitted task is not answered from dask's cache) and closes the client
    on shutdown.

    Parameters
    ----------
    address : str
        Scheduler address, e.g. ``"tcp://10.0.0.5:8786"``.
    timeout_s : float
        How long to wait for the scheduler, s.
    """

    def __init__(self, address: str, *, timeout_s: float = 10.0):
        try:
            from distributed import Client
        except ImportError:
            from .errors import MissingExtraError

            raise MissingExtraError("distributed", "dask", "the dask executor") from None
        try:
            self.client = Client(address, timeout=f"{timeout_s}s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(
                f"executor dask://{address.removeprefix('tcp://')}: cannot "
                f"connect to a dask scheduler there ({exc}); start one with "
                "`dask scheduler` or check the address"
            ) from None
        self._inner = self.client.get_executor(pure=False)

    def submit(self, fn, /, *args, **kwargs) -> Future:
        return self._inner.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._inner.shutdown(wait=wait and not cancel_futures)
        self.client.close()


def parse_executor(spec: str) -> Callable[[], Executor]:
    """Return a factory of executors for ``local``, ``processes:N`` or ``dask://HOST:PORT``.

    Parameters
    ----------
    spec : str
        The executor specification of ``fitdiff batch --executor``.

    Returns
    -------
    callable
        A zero-argument function returning a new executor (a broken process pool is replaced
        by calling it again).

    Raises
    ------
    ConfigError
        An unknown form or ``N < 1``.
    """
    spec = spec.strip()
    if spec == "local":
        return InlineExecutor
    if spec.startswith("processes:"):
        text = spec.split(":", 1)[1]
        if not re.fullmatch(r"\d+", text) or int(text) < 1:
            raise ConfigError(f"executor {spec!r}: N in processes:N must be an integer >= 1")
        return _ProcessPoolFactory(int(text))
    if spec.startswith("dask://"):
        address = spec.removeprefix("dask://")
        if not re.fullmatch(r"([a-z]+://)?[^\s:/]+:\d+", address):
            raise ConfigError(
                f"executor {spec!r}: expected dask://HOST:PORT, e.g. dask://127.0.0.1:8786"
            )
        if "://" not in address:
            address = "tcp://" + address
        return _DaskFactory(address)
    raise ConfigError(f"executor {spec!r}: allowed are local, processes:N, dask://HOST:PORT")


#: Modules a process-pool worker needs for :func:`run_measurement` (imported in the forkserver).
_PRELOAD = (
    "fitdiff.batch",
    "fitdiff.pipeline",
    "fitdiff.analysis",
    "fitdiff.io",
    "fitdiff.extract",
    "fitdiff.fitting",
    "fitdiff.report",
)


@dataclass(frozen=True)
class _ProcessPoolFactory:
    workers: int

    def __call__(self) -> Executor:
        # forkserver: workers fork from a clean server process (the caller may hold threads,
        # e.g. a dask client or a progress bar, which plain fork would copy mid-state). The
        # server imports the pipeline's layers once, so every worker of this and of any
        # rebuilt pool starts with them loaded instead of paying seconds of imports each.
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        if context.get_start_method() == "forkserver":
            context.set_forkserver_preload(list(_PRELOAD))
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=context)


@dataclass(frozen=True)
class _DaskFactory:
    address: str

    def __call__(self) -> Executor:
        return DaskExecutor(self.address)


def _crash_types() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the worker died, not that the task failed."""
    types: list[type[BaseException]] = [BrokenProcessPool, BrokenThreadPool]
    if "distributed" in sys.modules:  # only a dask executor can raise it
        from distributed import KilledWorker

        types.append(KilledWorker)
    return tuple(types)


# --- one measurement (runs on a worker) -----------------------------------------------------


@dataclass(frozen=True)
class Task:
    """What a worker needs to run one measurement (picklable).

    Attributes
    ----------
    spec : MeasurementSpec
    analysis : pathlib.Path
        The analysis template.
    run_dir : pathlib.Path
        The measurement's run directory.
    force : bool
        Ignore the completion marker and redo every pipeline stage.
    """

    spec: MeasurementSpec
    analysis: Path
    run_dir: Path
    force: bool = False


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def task_key(task: Task) -> str:
    """SHA-256 of everything a measurement's result depends on.

    The template and measurement file enter by content (a copied or touched file with the same
    bytes is unchanged), the overrides by value, plus the fitdiff version.
    """
    inputs = {
        "analysis": _sha256_file(task.analysis),
        "measurement": _sha256_file(task.spec.path),
        "overrides": task.spec.overrides,
        "fitdiff": __version__,
    }
    text = json.dumps(inputs, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _outputs(run_dir: Path) -> dict[str, int]:
    """Every file of a run directory (relative POSIX path -> size in bytes), markers excluded."""
    out = {}
    for file in sorted(run_dir.rglob("*")):
        rel = file.relative_to(run_dir).as_posix()
        if file.is_file() and rel not in (MARKER, STARTED) and not file.name.startswith("."):
            out[rel] = file.stat().st_size
    return out


def completed_row(task: Task, key: str | None = None) -> dict[str, Any] | None:
    """Return the stored row when the run directory is complete for these inputs, else None.

    Complete means: a marker with status ``ok`` and the same key, and every output it lists
    still present with the same size.
    """
    try:
        marker = json.loads((task.run_dir / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if marker.get("status") != "ok" or marker.get("key") != (key or task_key(task)):
        return None
    for rel, size in marker.get("outputs", {}).items():
        file = task.run_dir / rel
        if not file.is_file() or file.stat().st_size != size:
            return None
    return marker.get("row")


def run_measurement(task: Task) -> dict[str, Any]:
    """Run the pipeline for one measurement and return its summary row; never raises.

    The row holds ``measurement, status, error``, the values, the fitted parameters with their
    errors (from ``results.json``), ``run_time_s`` and ``run_dir``; a failure's traceback rides
    along under ``_traceback`` for the log. A complete run directory with unchanged inputs is
    not recomputed (status ``skipped``).
    """
    started = time.perf_counter()
    spec = task.spec
    row: dict[str, Any] = {
        "measurement": spec.measurement,
        "status": "ok",
        "error": "",
        **spec.values,
    }
    try:
        task.run_dir.mkdir(parents=True, exist_ok=True)
        (task.run_dir / STARTED).write_text(f"{os.getpid()}\n", encoding="utf-8")
        key = task_key(task)
        stored = None if task.force else completed_row(task, key)
        if stored is not None:
            # the run directory may have been moved or copied since: report where it is now
            return {
                **stored,
                "status": "skipped",
                "run_time_s": time.perf_counter() - started,
                "run_dir": str(task.run_dir),
            }
        # Removed before any work: a run that dies half-way must not look complete next time.
        (task.run_dir / MARKER).unlink(missing_ok=True)
        from .pipeline import run

        run(task.analysis, task.run_dir, force=task.force, quiet=True, overrides=spec.overrides)
        row.update(fit_columns(task.run_dir))
        row["run_time_s"] = time.perf_counter() - started
        row["run_dir"] = str(task.run_dir)
        write_json(
            task.run_dir / MARKER,
            {
                "status": "ok",
                "key": key,
                "row": row,
                "outputs": _outputs(task.run_dir),
                "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                "fitdiff": __version__,
            },
        )
    except Exception as exc:  # isolation: any error of one measurement is its row, not ours
        row.update(
            status="failed",
            error=_message(exc),
            run_dir=str(task.run_dir),
            run_time_s=time.perf_counter() - started,
            _traceback="".join(traceback.format_exception(exc)),
        )
    finally:
        try:
            (task.run_dir / STARTED).unlink(missing_ok=True)
        except OSError:
            pass
    return row


def _message(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if not isinstance(exc, FitdiffError):  # a bug or a foreign library's error: say which
        text = f"{type(exc).__name__}: {text}"
    return " ".join(text.split())


def _unit_token(unit: str) -> str:
    """``"cm²/s"`` -> ``"cm2_s"``: a unit as it appears at the end of a column name."""
    token = unit.replace("²", "2").replace("³", "3").replace("^", "").replace("µ", "u")
    token = token.replace("μ", "u").replace("/", "_").replace("*", "_").replace(" ", "_")
    return re.sub(r"_+", "_", token).strip("_")


def column_names(name: str, unit: str | None) -> tuple[str, str]:
    """Value and error column names of a fitted parameter, units last.

    ``("D_cm2_s", "cm2/s")`` -> ``("D_cm2_s", "D_err_cm2_s")``; ``("D", "cm2/s")`` ->
    ``("D_cm2_s", "D_err_cm2_s")``; a dimensionless ``"ln_f"`` -> ``("ln_f", "ln_f_err")``.
    """
    token = _unit_token(unit or "")
    if token in ("", "1", "dimensionless", "none"):
        return name, f"{name}_err"
    if name.endswith("_" + token):
        return name, f"{name[: -len(token) - 1]}_err_{token}"
    return f"{name}_{token}", f"{name}_err_{token}"


def fit_columns(run_dir: Path) -> dict[str, Any]:
    """Summary columns from ``RUN/results.json``: each parameter and its error, ``redchi``."""
    results = json.loads((Path(run_dir) / "results.json").read_text(encoding="utf-8"))
    out: dict[str, Any] = {}
    for name, par in results.get("parameters", {}).items():
        value_col, err_col = column_names(name, par.get("unit"))
        out[value_col] = par.get("value")
        out[err_col] = par.get("stderr")
    for name, par in results.get("derived", {}).items():  # e.g. the tensor's D_major_cm2_s
        if isinstance(par, dict) and "value" in par:
            value_col, err_col = column_names(name, par.get("unit"))
            out[value_col] = par.get("value")
            out[err_col] = par.get("stderr")
    out["redchi"] = results.get("redchi")
    return out


# --- the campaign ---------------------------------------------------------------------------


@dataclass
class CampaignResult:
    """What :func:`run_campaign` did.

    Attributes
    ----------
    out_dir : pathlib.Path
    summary : pandas.DataFrame
        One row per measurement (the content of ``OUT/summary.csv``).
    seconds : float
        Wall-clock time of the campaign, s.
    global_summary : object or None
        The :class:`fitdiff.pipeline.RunSummary` of the ``[global]`` fit, if any.
    global_error : str
        Why the global fit failed ("" when it ran or was not configured).
    """

    out_dir: Path
    summary: Any
    seconds: float
    global_summary: Any = None
    global_error: str = ""

    def count(self, status: str) -> int:
        """Number of measurements with ``status`` (``ok``, ``failed`` or ``skipped``)."""
        return int((self.summary["status"] == status).sum())

    @property
    def ok(self) -> bool:
        """True when no measurement (and no global fit) failed."""
        return self.count("failed") == 0 and not self.global_error


def run_campaign(
    campaign: Campaign | str | os.PathLike,
    out_dir: str | os.PathLike,
    executor: str | Executor | Callable[[], Executor] = "local",
    *,
    force: bool = False,
    progress: bool = False,
    task: Callable[[Task], dict[str, Any]] = run_measurement,
) -> CampaignResult:
    """Run every measurement of a campaign on an executor; write ``OUT/summary.csv``.

    Parameters
    ----------
    campaign : Campaign or path
        A loaded campaign or the campaign TOML.
    out_dir : path
        Output folder: ``runs/<name>/`` per measurement, ``summary.csv``, ``batch.log`` and
        ``global/`` (created if missing).
    executor : str, Executor or callable
        ``"local"``, ``"processes:N"``, ``"dask://HOST:PORT"``; or an executor (used as is,
        not shut down); or a factory returning one (called again when the executor breaks).
    force : bool
        Redo every measurement even when complete.
    progress : bool
        Show a progress bar on stderr (counts of ok/failed/skipped, ETA).
    task : callable
        The per-measurement function (picklable), :func:`run_measurement` unless testing.

    Returns
    -------
    CampaignResult
    """
    started = time.perf_counter()
    if not isinstance(campaign, Campaign):
        campaign = load_campaign(campaign)
    # absolute: workers (dask, another host) need not share this process's working directory
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    handler = _open_log(out_dir / LOG)
    try:
        log.info(
            "campaign %s: %d measurements, executor %s, out %s",
            campaign.path,
            len(campaign.measurements),
            _describe(executor),
            out_dir,
        )
        tasks = [
            Task(spec, campaign.analysis, out_dir / RUNS_DIR / spec.name, force)
            for spec in campaign.measurements
        ]
        rows = _execute(tasks, executor, task, campaign.retries, progress)
        summary = _summary_frame(campaign, rows)
        _write_csv(summary, out_dir / SUMMARY)
        result = CampaignResult(out_dir, summary, 0.0)
        if campaign.global_fit is not None:
            _run_global(campaign, summary, out_dir, force, result)
        result.seconds = time.perf_counter() - started
        log.info(
            "done in %.1f s: %d ok, %d skipped, %d failed",
            result.seconds,
            result.count("ok"),
            result.count("skipped"),
            result.count("failed"),
        )
        return result
    finally:
        log.removeHandler(handler)
        handler.close()


def _describe(executor: Any) -> str:
    return executor if isinstance(executor, str) else type(executor).__name__


def _open_log(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler


def _execute(tasks: list[Task], executor, fn, retries: int, progress: bool) -> dict[str, dict]:
    """Run ``fn`` over ``tasks``; rebuild a broken pool and retry crashed tasks."""
    from tqdm import tqdm

    if isinstance(executor, str):
        factory: Callable[[], Executor] | None = parse_executor(executor)
    elif isinstance(executor, Executor):
        factory = None
    elif callable(executor):
        factory = executor
    else:
        raise ConfigError(
            f"executor {executor!r}: expected a spec string, an Executor or a factory"
        )
    rows: dict[str, dict] = {}
    attempts = {t.spec.measurement: 0 for t in tasks}
    counts = {"ok": 0, "failed": 0, "skipped": 0}
    bar = tqdm(
        total=len(tasks),
        desc="fitdiff batch",
        unit="meas",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
    )
    pending = list(tasks)
    try:
        while pending:
            pool = executor if factory is None else factory()
            crash_types = _crash_types()  # a dask factory imports distributed
            for t in pending:
                (t.run_dir / STARTED).unlink(missing_ok=True)
            futures, crashed = {}, []
            for t in pending:
                try:
                    futures[pool.submit(fn, t)] = t
                except crash_types as exc:  # an earlier task of this round killed the pool
                    crashed.append((t, exc))
            pending = []
            try:
                for future in as_completed(futures):
                    t = futures[future]
                    try:
                        row = future.result()
                    except crash_types as exc:
                        crashed.append((t, exc))
                        continue
                    except Exception as exc:  # e.g. the task could not be pickled
                        row = {
                            "measurement": t.spec.measurement,
                            "status": "failed",
                            "error": _message(exc),
                            "run_dir": str(t.run_dir),
                            "_traceback": "".join(traceback.format_exception(exc)),
                        }
                    _record(rows, counts, bar, t, row, attempts)
            finally:
                if factory is not None:
                    pool.shutdown(wait=True, cancel_futures=True)
            if crashed:
                pending = _triage(crashed, attempts, retries, factory, rows, counts, bar)
    finally:
        bar.close()
    return rows


def _triage(crashed, attempts, retries, factory, rows, counts, bar) -> list[Task]:
    """Decide which tasks of a crashed round run again; record the others as failed."""
    started = [t.run_dir.joinpath(STARTED).exists() for t, _ in crashed]
    if not any(started):
        # No task is known to have started (the pool died at start-up): charge all, so that
        # a pool that can never start ends the campaign instead of looping.
        started = [True] * len(crashed)
    again = []
    for (t, exc), charged in zip(crashed, started, strict=True):
        name = t.spec.measurement
        attempts[name] += charged
        if factory is None:
            reason = (
                f"worker crashed ({_message(exc)}); the executor cannot be rebuilt: "
                "pass an executor spec or factory to retry"
            )
        elif attempts[name] > retries:
            reason = f"worker crashed on each of {attempts[name]} attempts ({_message(exc)})"
        else:
            log.warning(
                "%s: worker crashed (%s); retrying (attempt %d of %d)",
                name,
                _message(exc),
                attempts[name] + 1,
                retries + 1,
            )
            again.append(t)
            continue
        row = {
            "measurement": name,
            "status": "failed",
            "error": reason,
            "run_dir": str(t.run_dir),
            "attempts": attempts[name],
        }
        _record(rows, counts, bar, t, row, attempts)
    return again


def _record(rows, counts, bar, t: Task, row: dict, attempts) -> None:
    tb = row.pop("_traceback", None)
    row = {**t.spec.values, **row}
    # crashed attempts plus the one that produced this row (a crash-failed row carries its own)
    row.setdefault("attempts", attempts[t.spec.measurement] + (row["status"] != "skipped"))
    rows[t.spec.measurement] = row
    counts[row["status"]] = counts.get(row["status"], 0) + 1
    if row["status"] == "failed":
        log.error("%s: failed: %s%s", t.spec.measurement, row["error"], f"\n{tb}" if tb else "")
    else:
        log.info(
            "%s: %s in %.2f s", t.spec.measurement, row["status"], row.get("run_time_s") or 0.0
        )
    bar.update(1)
    bar.set_postfix(counts, refresh=False)


def _summary_frame(campaign: Campaign, rows: dict[str, dict]):
    """One row per measurement in campaign order; fixed columns first, fit columns after."""
    import pandas as pd

    ordered = [rows[s.measurement] for s in campaign.measurements]
    lead = ["measurement", "status", "error", *campaign.value_names]
    tail = ["redchi", "run_time_s", "attempts", "run_dir"]
    middle: dict[str, None] = {}
    for row in ordered:
        middle.update(dict.fromkeys(k for k in row if k not in lead and k not in tail))
    return pd.DataFrame(ordered, columns=[*lead, *middle, *tail])


def _write_csv(frame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def _run_global(
    campaign: Campaign, summary, out_dir: Path, force: bool, result: CampaignResult
) -> None:
    """Fit the per-measurement results together with the ``[global]`` analysis."""
    spec = campaign.global_fit
    x, y = spec["x"], spec["y"]
    y_err = _err_column(y, summary)
    done = summary[summary["status"].isin(["ok", "skipped"])]
    gdir = out_dir / GLOBAL_DIR
    try:
        for col in (y, y_err):
            if col not in done.columns:
                raise ConfigError(
                    f"{campaign.path}: global.y = {y!r}: the summary has no "
                    f"column {col!r}; it has {list(summary.columns)}"
                )
        table = done[[x, y, y_err]].dropna()
        if len(table) < 2:
            raise ConfigError(
                f"{campaign.path}: [global] needs at least 2 successful "
                f"measurements with {y} and {y_err}; have {len(table)}"
            )
        gdir.mkdir(parents=True, exist_ok=True)
        table_path = gdir / "table.csv"
        _write_csv(table, table_path)
        from .pipeline import run

        log.info("global fit: %s over %d measurements", spec["analysis"], len(table))
        result.global_summary = run(
            spec["analysis"],
            gdir,
            force=force,
            quiet=True,
            overrides={"data": {"table": str(table_path)}},
        )
    except Exception as exc:
        result.global_error = _message(exc)
        log.error(
            "global fit failed: %s\n%s",
            result.global_error,
            "".join(traceback.format_exception(exc)),
        )


def _err_column(y: str, summary) -> str:
    """The summary's error column of ``y``: ``_err`` inserted before a unit (``D_err_cm2_s``)
    where such a column exists, else ``y + "_err"`` (see :func:`column_names`)."""
    for i, char in enumerate(y):
        if char == "_" and f"{y[:i]}_err{y[i:]}" in summary.columns:
            return f"{y[:i]}_err{y[i:]}"
    return f"{y}_err"
