"""The stage-cache engine: run a named stage in a run directory, or reuse it when its key and
its outputs are unchanged.

A stage record ``RUN/stages/<stage>.json`` holds the stage's *key* - a SHA-256 over what the
stage reads (its part of the run inputs, :mod:`fitdiff.inputs`) and the fitdiff version - and
the SHA-256 of every output it wrote. A rerun reuses a stage whose key is unchanged and whose
outputs are still on disk unmodified; ``force`` redoes it. A failing stage raises
:class:`StageError` (message ``"<stage> stage: ..."``); its record is removed first, so the stage
is redone next time, while finished stages and their records stay.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..atomic import write_json
from ..common import hash_json, jsonable, sha256_file
from ..errors import FitdiffError

#: Where the stage records live inside a run directory.
RECORDS_DIR = "stages"


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


def hash_settings(obj: Any) -> str:
    """Return the SHA-256 hex digest of a JSON-able object in canonical form (sorted keys)."""
    return hash_json(obj)


def stage_key(name: str, inputs: Mapping[str, Any]) -> str:
    """The key of stage ``name`` reading ``inputs`` (the same inside and outside the pipeline)."""
    return hash_settings({"stage": name, "fitdiff": __version__, "inputs": inputs})


class StageRunner:
    """Run named stages in a run directory, reusing those whose key and outputs are unchanged.

    Parameters
    ----------
    run_dir : pathlib.Path
        The run directory (created if missing).
    force : bool or iterable of str
        True redoes every stage; a collection of stage names redoes those (and, because keys
        chain, nothing else unless their settings changed).
    progress : Progress, optional
        Told when a stage starts (``start(name)``) and ends (``done(StageResult)``).
    """

    def __init__(
        self,
        run_dir: Path,
        *,
        force: bool | Iterable[str] = False,
        progress=None,
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
        key = stage_key(name, inputs)
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
        outputs = self.write_record(name, inputs, written, seconds)
        result = StageResult(name, "ran", seconds, key, tuple(outputs))
        self._finish(result)
        return result

    def write_record(
        self,
        name: str,
        inputs: Mapping[str, Any],
        written: Iterable[str | Path],
        seconds: float,
    ) -> dict[str, str]:
        """Record stage ``name`` as finished with ``inputs`` and the outputs it ``written``.

        What :meth:`run` does after the work; the standalone commands (``fitdiff fit``,
        ``fitdiff sample``) call it after theirs, so that a later ``fitdiff run`` reuses them.
        Returns the outputs (relative path → SHA-256).
        """
        outputs = {}
        for path in written:
            path = Path(path)
            rel = path.relative_to(self.run_dir) if path.is_absolute() else path
            outputs[rel.as_posix()] = sha256_file(self.run_dir / rel)
        write_json(
            self.record_path(name),
            {
                "stage": name,
                "key": stage_key(name, inputs),
                "inputs": jsonable(inputs),
                "outputs": outputs,
                "seconds": seconds,
                "finished": now(),
                "fitdiff": __version__,
            },
        )
        return outputs

    def _finish(self, result: StageResult) -> None:
        self.results.append(result)
        if self.progress is not None:
            self.progress.done(result)


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
