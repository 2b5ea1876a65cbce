"""One command from an analysis file to a report: the staged, content-hashed pipeline.

``run(ANALYSIS.toml, RUN/)`` strings the layers together in one direction::

    load -> extract -> transient -> fit -> sample (if [sample]) -> report

Each stage writes its outputs into ``RUN/`` (atomically, through the layer that owns them) and
then a stage record ``RUN/stages/<stage>.json`` holding the *key* of the stage - a SHA-256 over
the stage's settings, the keys of the stages it reads from, the content of the input files and
the fitdiff version - and the SHA-256 of every output it wrote. A rerun reuses a stage whose key
is unchanged and whose outputs are still on disk unmodified; ``force`` redoes it. A failing stage
raises :class:`StageError` (message ``"<stage> stage: ..."``); the record of the failing stage is
removed first, so the stage is redone next time, while finished stages and their records stay.

Hashes chain through stage keys rather than through output bytes: the stages are deterministic
given their key (seeded sampling), and a key is cheap to compare where hashing a long chain is
not.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10 (pyproject pins tomli there)
    import tomli as tomllib

from . import __version__
from .atomic import write_json
from .common import hash_json, jsonable, merge, sha256_file
from .errors import ConfigError, FitdiffError

#: Stage names in the order they run.
STAGES = ("load", "extract", "transient", "fit", "sample", "report")
#: Where the stage records live inside a run directory.
RECORDS_DIR = "stages"
#: Packages whose versions provenance.json records (those whose numbers shape the results).
DEPENDENCIES = (
    "numpy",
    "scipy",
    "pandas",
    "lmfit",
    "emcee",
    "h5py",
    "tifffile",
    "matplotlib",
    "corner",
)


class StageError(FitdiffError):
    """A pipeline stage failed on bad input or configuration.

    The message starts with the stage name (``"load stage: ..."``); :attr:`stage` holds it and
    ``__cause__`` the original error. It is a :class:`ValueError` when the cause is one, so
    ``except ValueError`` keeps working on bad input.
    """

    def __init__(self, stage: str, message: str):
        super().__init__(f"{stage} stage: {message}")
        self.stage = stage


class _BadInputStageError(StageError, ValueError):
    """A :class:`StageError` whose cause was bad input (a ``ValueError`` subclass)."""


@dataclass(frozen=True)
class StageResult:
    """What one stage did in one call of :func:`run`.

    Attributes
    ----------
    name : str
        Stage name, one of :data:`STAGES`.
    status : str
        ``"ran"``, ``"reused"`` (key and outputs unchanged) or ``"skipped"`` (not configured,
        e.g. ``sample`` without a ``[sample]`` section).
    seconds : float
        Wall-clock time spent in this call, s (near zero when reused).
    key : str
        The stage key (SHA-256 hex) or ``""`` when skipped.
    outputs : tuple of str
        Output files relative to the run directory.
    """

    name: str
    status: str
    seconds: float
    key: str = ""
    outputs: tuple[str, ...] = ()


@dataclass
class RunSummary:
    """The result of :func:`run`: which stages ran or were reused, and where the outputs are.

    Attributes
    ----------
    analysis_path : pathlib.Path
        The analysis file that was run.
    run_dir : pathlib.Path
        The run directory holding every output.
    stages : list of StageResult
        One entry per stage of :data:`STAGES`, in order.
    seconds : float
        Total wall-clock time of the call, s.
    """

    analysis_path: Path
    run_dir: Path
    stages: list[StageResult] = field(default_factory=list)
    seconds: float = 0.0

    def status(self, name: str) -> str:
        """Return the status of stage ``name`` (``ran``, ``reused`` or ``skipped``)."""
        for stage in self.stages:
            if stage.name == name:
                return stage.status
        raise KeyError(name)

    @property
    def ran(self) -> list[str]:
        """Names of the stages that ran in this call."""
        return [s.name for s in self.stages if s.status == "ran"]

    @property
    def reused(self) -> list[str]:
        """Names of the stages reused from an earlier call."""
        return [s.name for s in self.stages if s.status == "reused"]

    @property
    def report_html(self) -> Path:
        """Path of the HTML report."""
        return self.run_dir / "report.html"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict of the summary."""
        return {
            "analysis": str(self.analysis_path),
            "run_dir": str(self.run_dir),
            "seconds": self.seconds,
            "stages": [
                {
                    "name": s.name,
                    "status": s.status,
                    "seconds": s.seconds,
                    "key": s.key,
                    "outputs": list(s.outputs),
                }
                for s in self.stages
            ],
        }


# --- hashing --------------------------------------------------------------------------------


def hash_settings(obj: Any) -> str:
    """Return the SHA-256 hex digest of a JSON-able object in canonical form (sorted keys)."""
    return hash_json(obj)


# --- progress -------------------------------------------------------------------------------


class _Progress:
    """Stage progress on stderr: a tqdm bar on a terminal, plain lines otherwise, or nothing."""

    def __init__(self, total: int, *, quiet: bool, stream: TextIO | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.bar = None
        if not quiet and getattr(self.stream, "isatty", lambda: False)():
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                file=self.stream,
                unit="stage",
                leave=True,
                bar_format="{desc:<24}{bar:20}| {n_fmt}/{total_fmt} [{elapsed}]",
            )

    def start(self, name: str) -> None:
        if self.bar is not None:
            self.bar.set_description_str(f"fitdiff run: {name}")

    def done(self, result: StageResult) -> None:
        if self.quiet:
            return
        line = f"fitdiff run: {result.name:<9} {result.status:<7} {result.seconds:7.2f} s"
        if self.bar is not None:
            self.bar.update(1)
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# --- the stage engine -----------------------------------------------------------------------


class StageRunner:
    """Run named stages in a run directory, reusing those whose key and outputs are unchanged.

    Parameters
    ----------
    run_dir : pathlib.Path
        The run directory (created if missing).
    force : bool or iterable of str
        True redoes every stage; a collection of stage names redoes those (and, because keys
        chain, nothing else unless their settings changed).
    progress : callable, optional
        Called as ``progress("start", name)`` and ``progress("done", StageResult)``.
    """

    def __init__(
        self,
        run_dir: Path,
        *,
        force: bool | Iterable[str] = False,
        progress: _Progress | None = None,
    ):
        self.run_dir = Path(run_dir).resolve()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / RECORDS_DIR).mkdir(exist_ok=True)
        self.force = force if isinstance(force, bool) else frozenset(force)
        self.progress = progress
        self.results: list[StageResult] = []

    def record_path(self, name: str) -> Path:
        """Return the stage record path of stage ``name``."""
        return self.run_dir / RECORDS_DIR / f"{name}.json"

    def read_record(self, name: str) -> dict[str, Any] | None:
        """Return the stage record of ``name``, or None when absent or unreadable."""
        try:
            return json.loads(self.record_path(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _forced(self, name: str) -> bool:
        return self.force is True or (isinstance(self.force, frozenset) and name in self.force)

    def _reusable(self, name: str, key: str) -> dict[str, Any] | None:
        """Return the old record when the stage can be reused: same key, outputs unmodified."""
        record = self.read_record(name)
        if record is None or record.get("key") != key:
            return None
        for rel, digest in record.get("outputs", {}).items():
            path = self.run_dir / rel
            if not path.is_file() or sha256_file(path) != digest:
                return None
        return record

    def skip(self, name: str) -> StageResult:
        """Mark stage ``name`` as not configured; drop any record of an earlier run of it."""
        self.record_path(name).unlink(missing_ok=True)
        result = StageResult(name, "skipped", 0.0)
        self._finish(result)
        return result

    def run(
        self, name: str, inputs: Mapping[str, Any], func: Callable[[], Iterable[str | Path]]
    ) -> StageResult:
        """Run or reuse stage ``name``.

        Parameters
        ----------
        name : str
            Stage name (used in the record file name and in error messages).
        inputs : mapping
            Everything the stage's result depends on (settings, upstream keys, input file
            hashes), JSON-able. Its hash is the stage key.
        func : callable
            Does the work and returns the output paths it wrote (absolute or relative to
            the run directory).
        """
        if self.progress is not None:
            self.progress.start(name)
        key = hash_settings({"stage": name, "fitdiff": __version__, "inputs": inputs})
        started = time.perf_counter()
        old = None if self._forced(name) else self._reusable(name, key)
        if old is not None:
            result = StageResult(
                name, "reused", time.perf_counter() - started, key, tuple(old.get("outputs", {}))
            )
            self._finish(result)
            return result
        # The record goes first: a stage that dies half-way must not look finished next time.
        self.record_path(name).unlink(missing_ok=True)
        try:
            written = list(func())
        except StageError:
            raise
        except FitdiffError as exc:
            cls = _BadInputStageError if isinstance(exc, ValueError) else StageError
            raise cls(name, str(exc)) from exc
        except Exception as exc:
            # A bug, not bad input: keep the traceback, but say which stage it came from.
            if hasattr(exc, "add_note"):
                exc.add_note(f"fitdiff run: raised in the {name} stage")
            raise
        seconds = time.perf_counter() - started
        outputs = {}
        for path in written:
            path = Path(path)
            rel = path.relative_to(self.run_dir) if path.is_absolute() else path
            outputs[rel.as_posix()] = sha256_file(self.run_dir / rel)
        write_json(
            self.record_path(name),
            {
                "stage": name,
                "key": key,
                "inputs": jsonable(inputs),
                "outputs": outputs,
                "seconds": seconds,
                "finished": _now(),
                "fitdiff": __version__,
            },
        )
        result = StageResult(name, "ran", seconds, key, tuple(outputs))
        self._finish(result)
        return result

    def _finish(self, result: StageResult) -> None:
        self.results.append(result)
        if self.progress is not None:
            self.progress.done(result)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


# --- provenance -----------------------------------------------------------------------------


def dependency_versions() -> dict[str, str]:
    """Return the installed versions of Python, fitdiff and :data:`DEPENDENCIES`."""
    versions = {"python": platform.python_version(), "fitdiff": __version__}
    for name in DEPENDENCIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _input_records(analysis) -> list[dict[str, Any]]:
    """Every input file of the analysis with its SHA-256, image files first.

    The report reads the first record as the raw measurement, hence the order.
    """
    records = []
    for kind in ("file", "widths", "pl", "table", "covariance"):
        for d in analysis.config["datasets"]:
            if kind in d:
                records.append(
                    {
                        "path": d[kind],
                        "sha256": sha256_file(d[kind]),
                        "dataset": d["label"],
                        "kind": kind,
                    }
                )
    model_file = analysis.config["model"].get("model")
    if model_file:
        records.append(
            {
                "path": model_file,
                "sha256": sha256_file(model_file),
                "dataset": None,
                "kind": "model",
            }
        )
    return records


# --- reading the analysis with overrides ----------------------------------------------------

#: Keys of a data table (``[data]`` or ``[[dataset]]``) and of ``[model]`` that hold file paths.
_PATH_KEYS = ("file", "widths", "pl", "table", "covariance")


def _absolute_override_paths(overrides: dict) -> dict:
    """Resolve relative file paths in ``overrides`` against the working directory.

    Overrides come from the caller (a campaign runner, a script), not from the analysis file,
    so a relative path in them means "from here", not "from the analysis file's folder".
    """

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


def read_analysis(analysis_path: str | Path, overrides: Mapping[str, Any] | None = None):
    """Read ANALYSIS.toml, merge ``overrides`` into it, validate; return (Analysis, raw dict).

    Parameters
    ----------
    analysis_path : str or pathlib.Path
        The analysis file.
    overrides : mapping, optional
        Merged into the parsed TOML before validation (tables key by key, other values
        replace). Relative paths in it resolve against the working directory.

    Raises
    ------
    ConfigError
        From :mod:`fitdiff.analysis`: unreadable TOML, unknown keys (named by key path), values
        out of range, missing files.
    """
    from .analysis import analysis_from_dict

    path = Path(analysis_path).expanduser().resolve()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"analysis file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not an analysis file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    if overrides:
        if not isinstance(overrides, Mapping):
            raise ConfigError(f"overrides: expected a table (dict), got {type(overrides).__name__}")
        raw = merge(raw, _absolute_override_paths(dict(overrides)))
    return analysis_from_dict(raw, base_dir=path.parent, path=path), raw


# --- the pipeline ---------------------------------------------------------------------------

#: Name of the load stage's summary of what was read.
MEASUREMENTS_FILE = "measurements.json"


def _describe(m) -> dict[str, Any]:
    """A JSON-able summary of a Measurement: format, shape, and each axis' unit, range, step."""
    axes = {}
    for dim in m.dims:
        values = m.coords[dim]
        axes[dim] = {
            "unit": m.units[dim],
            "size": int(values.size),
            "min": float(values.min()) if values.size else None,
            "max": float(values.max()) if values.size else None,
            "step": float(values[1] - values[0]) if values.size > 1 and m.is_uniform(dim) else None,
        }
    return {
        "format": m.format,
        "dims": list(m.dims),
        "shape": list(m.shape),
        "dtype": str(m.counts.dtype),
        "axes": axes,
        "masked_pixels": int(m.mask.sum()) if m.mask is not None else 0,
    }


def _combined(frames: dict[str, Any]):
    """One table for one dataset; several get a leading ``dataset`` column (the label)."""
    import pandas as pd

    if len(frames) == 1:
        return next(iter(frames.values()))
    parts = []
    for label, df in frames.items():
        part = df.copy()
        part.insert(0, "dataset", label)
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out.attrs = {label: dict(df.attrs) for label, df in frames.items()}
    return out


def _split(df, labels: list[str]) -> dict[str, Any]:
    """Undo :func:`_combined` for the given dataset labels."""
    if len(labels) == 1 and "dataset" not in df.columns:
        return {labels[0]: df}
    out = {}
    for label in labels:
        part = df[df["dataset"] == label].drop(columns="dataset").reset_index(drop=True)
        part.attrs = dict(df.attrs.get(label, {}))
        out[label] = part
    return out


class _Pipeline:
    """The state of one :func:`run` call: the analysis, the runner, in-memory stage results."""

    def __init__(self, analysis, raw: dict, run_dir: Path, runner: StageRunner):
        self.analysis = analysis
        self.raw = raw
        self.run_dir = run_dir
        self.runner = runner
        self.datasets = analysis.config["datasets"]
        self.files = [d for d in self.datasets if "file" in d]
        self.with_widths = [d for d in self.datasets if "file" in d or "widths" in d]
        self._measurements: dict[str, Any] = {}
        self._widths: dict[str, Any] | None = None
        self.keys: dict[str, str] = {}
        self.inputs = _input_records(analysis)

    # -- load ----------------------------------------------------------------------------
    def measurement(self, d: dict):
        """The loaded measurement of dataset ``d`` (read once, on demand)."""
        from .io import load

        if d["label"] not in self._measurements:
            self._measurements[d["label"]] = load(d["file"], **d["calibration"])
        return self._measurements[d["label"]]

    def load(self) -> StageResult:
        from .extract import read_table_csv

        inputs = {
            "files": [(r["dataset"], r["kind"], r["sha256"]) for r in self.inputs],
            "calibration": {d["label"]: d["calibration"] for d in self.files},
        }

        def work():
            summary = {}
            for d in self.datasets:
                entry = {}
                if "file" in d:
                    entry = {"file": d["file"], **_describe(self.measurement(d))}
                for kind in ("widths", "pl", "table"):
                    if kind in d:
                        # Read now so a broken table fails here, at the load stage.
                        df = read_table_csv(d[kind])
                        entry[kind] = {
                            "path": d[kind],
                            "rows": len(df),
                            "columns": list(df.columns),
                        }
                summary[d["label"]] = entry
            write_json(self.run_dir / MEASUREMENTS_FILE, summary)
            return [MEASUREMENTS_FILE]

        result = self.runner.run("load", inputs, work)
        self.keys["load"] = result.key
        return result

    # -- extract -------------------------------------------------------------------------
    def extract(self) -> StageResult:
        if not self.with_widths:
            return self.runner.skip("extract")
        from .extract import extract_widths, read_table_csv, write_table_csv

        inputs = {"load": self.keys["load"], "extract": self.analysis.config["extract"]}

        def work():
            frames = {}
            for d in self.with_widths:
                if "file" in d:
                    frames[d["label"]] = extract_widths(
                        self.measurement(d), **self.analysis.config["extract"]
                    )
                else:
                    frames[d["label"]] = read_table_csv(d["widths"])
            self._widths = frames
            write_table_csv(_combined(frames), self.run_dir / "widths.csv")
            return ["widths.csv"]

        result = self.runner.run("extract", inputs, work)
        self.keys["extract"] = result.key
        return result

    def widths(self) -> dict[str, Any]:
        """Widths tables per dataset label: from this run, or read back from ``widths.csv``."""
        if self._widths is None:
            from .extract import read_table_csv

            table = read_table_csv(self.run_dir / "widths.csv")
            self._widths = _split(table, [d["label"] for d in self.with_widths])
        return self._widths

    # -- transient -----------------------------------------------------------------------
    def transient(self) -> StageResult:
        if not self.with_widths:
            return self.runner.skip("transient")
        from .extract import transient_diffusion, write_table_csv

        settings = self.analysis.config["transient"]
        inputs = {"extract": self.keys["extract"], "transient": settings}

        def work():
            frames = {
                label: transient_diffusion(df, **settings) for label, df in self.widths().items()
            }
            write_table_csv(_combined(frames), self.run_dir / "transient.csv")
            return ["transient.csv"]

        result = self.runner.run("transient", inputs, work)
        self.keys["transient"] = result.key
        return result

    # -- fit and sample ------------------------------------------------------------------
    def _fit_inputs(self) -> dict[str, Any]:
        cfg = self.analysis.config
        return {
            "load": self.keys["load"],
            "extract": self.keys.get("extract", ""),
            "datasets": cfg["datasets"],
            "model": cfg["model"],
            "parameters": cfg["parameters"],
            "fit": cfg["fit"],
        }

    def _extracted(self) -> dict[str, Any] | None:
        """Widths of image datasets, handed to the fit so it does not extract them again."""
        if not self.files:
            return None
        labels = {d["label"] for d in self.files}
        return {k: v for k, v in self.widths().items() if k in labels}

    def fit(self) -> StageResult:
        from .analysis import run_fit

        def work():
            self._fit = run_fit(self.analysis, self.run_dir, widths=self._extracted())
            return ["results.json", "best_fit.csv"]

        self._fit = None
        result = self.runner.run("fit", self._fit_inputs(), work)
        self.keys["fit"] = result.key
        return result

    def sample(self) -> StageResult:
        if "sample" not in self.raw:
            return self.runner.skip("sample")
        from .analysis import run_sample

        settings = self.analysis.config["sample"]
        inputs = {"fit": self.keys["fit"], "sample": settings}
        chain = self.run_dir / "chain.h5"
        old = self.runner.read_record("sample")

        def work():
            if self.runner._forced("sample") or not _resumable(old, settings):
                # A chain is resumed only to extend it (more steps) or to finish an
                # interrupted run; anything else would mix two random streams.
                chain.unlink(missing_ok=True)
            run_sample(
                self.analysis,
                self.run_dir,
                widths=self._extracted(),
                fit=self._fit,
                progress=self.runner.progress is not None and self.runner.progress.bar is not None,
            )
            return ["chain.h5", "posterior.json", "posterior_predictive.csv"]

        result = self.runner.run("sample", inputs, work)
        self.keys["sample"] = result.key
        return result

    # -- report --------------------------------------------------------------------------
    def report(self, write_provenance: Callable[[], None]) -> StageResult:
        from .report import write_report

        inputs = {"upstream": dict(self.keys), "report": self.analysis.config["report"]}

        def work():
            write_provenance()
            return [Path(p) for p in write_report(self.run_dir).values()]

        result = self.runner.run("report", inputs, work)
        self.keys["report"] = result.key
        return result


def _resumable(old: dict | None, settings: dict) -> bool:
    """True when an existing chain may be continued under ``settings``.

    That is when no finished record exists (an interrupted run), or the finished one differs
    only in the number of steps (an extension).
    """
    if old is None:
        return True
    before = dict(old.get("inputs", {}).get("sample", {}))
    after = dict(jsonable(settings))
    for d in (before, after):
        d.pop("steps", None)
        d.pop("predictive_draws", None)
    return before == after


def run(
    analysis_path: str | Path,
    out_dir: str | Path,
    *,
    force: bool | Iterable[str] = False,
    quiet: bool = False,
    overrides: Mapping[str, Any] | None = None,
    stream: TextIO | None = None,
) -> RunSummary:
    """Run an analysis end to end into a run directory, reusing unchanged finished stages.

    Parameters
    ----------
    analysis_path : str or pathlib.Path
        The ANALYSIS.toml (schema: :mod:`fitdiff.analysis`).
    out_dir : str or pathlib.Path
        The run directory; created if missing. Outputs: ``measurements.json``, ``widths.csv``,
        ``transient.csv``, ``analysis.json``, ``results.json``, ``best_fit.csv``, with
        ``[sample]`` also ``chain.h5``, ``posterior.json``, ``posterior_predictive.csv``, then
        ``provenance.json``, ``report.html``, ``report.md``, ``figures/`` and the stage
        records ``stages/<stage>.json``.
    force : bool or iterable of str
        True redoes every stage; stage names redo those only.
    quiet : bool
        No progress display.
    overrides : mapping, optional
        Merged into the analysis configuration before validation (e.g.
        ``{"data": {"file": "T10K.img"}}``); part of every stage key. Relative paths in it
        resolve against the working directory.
    stream : file-like, optional
        Where progress goes (default ``sys.stderr``): a tqdm bar on a terminal, one line per
        stage otherwise.

    Returns
    -------
    RunSummary

    Raises
    ------
    StageError
        Bad input or configuration; the message starts with the stage name (``config`` for
        the analysis file itself). Stages finished before it keep their outputs and records.
    """
    started_at = _now()
    t0 = time.perf_counter()
    analysis_path = Path(analysis_path)
    # Absolute, so that paths the layers hand back stay valid whatever the working directory.
    run_dir = Path(out_dir).expanduser().resolve()
    if run_dir.exists() and not run_dir.is_dir():
        raise StageError("config", f"output {run_dir} exists and is not a directory")
    try:
        analysis, raw = read_analysis(analysis_path, overrides)
    except FitdiffError as exc:
        cls = _BadInputStageError if isinstance(exc, ValueError) else StageError
        raise cls("config", str(exc)) from exc
    if isinstance(force, bool):
        unknown = []
    else:
        force = frozenset(force)
        unknown = sorted(force - set(STAGES))
    if unknown:
        raise StageError("config", f"force: unknown stage(s) {unknown}; allowed: {STAGES}")
    progress = _Progress(len(STAGES), quiet=quiet, stream=stream)
    runner = StageRunner(run_dir, force=force, progress=progress)
    pipe = _Pipeline(analysis, raw, run_dir, runner)
    summary = RunSummary(analysis_path=analysis_path, run_dir=run_dir, stages=runner.results)

    def write_provenance():
        summary.seconds = time.perf_counter() - t0
        write_json(
            run_dir / "provenance.json",
            _provenance(analysis, overrides, pipe, runner, started_at, summary.seconds),
        )

    try:
        try:
            from .analysis import write_analysis_json

            write_analysis_json(analysis, run_dir)
        except OSError as exc:
            raise StageError("config", f"cannot write to {run_dir}: {exc}") from exc
        pipe.load()
        pipe.extract()
        pipe.transient()
        pipe.fit()
        pipe.sample()
        pipe.report(write_provenance)
    finally:
        progress.close()
    # Written again so the report stage's own time (and a reused report) are recorded.
    write_provenance()
    return summary


def _provenance(
    analysis, overrides, pipe: _Pipeline, runner: StageRunner, started: str, seconds: float
) -> dict[str, Any]:
    """The provenance record: inputs with SHA-256, versions, seed, date, per-stage times."""
    stages = {}
    for result in runner.results:
        record = runner.read_record(result.name) or {}
        stages[result.name] = {
            "status": result.status,
            # A reused stage reports the time it took when it ran (its record), not ~0 s.
            "seconds": record.get("seconds", result.seconds)
            if result.status == "reused"
            else result.seconds,
            "finished": record.get("finished"),
            "key": result.key,
        }
    sample = analysis.config["sample"] if "sample" in pipe.raw else None
    return {
        "analysis": {"path": str(analysis.path), "sha256": sha256_file(analysis.path)},
        "inputs": pipe.inputs,
        "overrides": jsonable(overrides or {}),
        "seed": sample["seed"] if sample else None,
        "date": _now(),
        "started": started,
        "run_time_s": seconds,
        "stages": stages,
        "versions": dependency_versions(),
        "command": " ".join(sys.argv) if sys.argv and sys.argv[0] else None,
        "platform": platform.platform(),
    }
