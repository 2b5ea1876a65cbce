"""``run``: one call from an analysis file to a report, reusing unchanged finished stages; and
the stage records the standalone ``fitdiff fit`` / ``fitdiff sample`` leave behind."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..analysis import load_analysis
from ..atomic import write_json
from ..errors import FitdiffError
from ..inputs import part, run_inputs
from .engine import StageError, StageResult, StageRunner, _BadInputStageError, now
from .progress import Progress
from .provenance import provenance
from .stages import STAGES, Pipeline


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
    started_at = now()
    t0 = time.perf_counter()
    analysis_path = Path(analysis_path)
    # Absolute, so that paths the layers hand back stay valid whatever the working directory.
    run_dir = Path(out_dir).expanduser().resolve()
    if run_dir.exists() and not run_dir.is_dir():
        raise StageError("config", f"output {run_dir} exists and is not a directory")
    try:
        analysis = load_analysis(analysis_path, overrides)
        inputs = run_inputs(analysis)
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
    progress = Progress(len(STAGES), quiet=quiet, stream=stream)
    runner = StageRunner(run_dir, force=force, progress=progress)
    pipe = Pipeline(analysis, run_dir, runner, inputs)
    summary = RunSummary(analysis_path=analysis_path, run_dir=run_dir, stages=runner.results)

    def write_provenance():
        summary.seconds = time.perf_counter() - t0
        write_json(
            run_dir / "provenance.json",
            provenance(analysis, overrides, inputs, runner, started_at, summary.seconds),
        )

    try:
        try:
            from ..analysis import write_analysis_json

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


def run_recorded(
    name: str,
    analysis,
    run_dir: str | Path,
    work: Callable[[], tuple[Any, Iterable[str]]],
) -> Any:
    """Do stage ``name`` of ``analysis`` outside :func:`run` and leave its stage record.

    What ``fitdiff fit`` and ``fitdiff sample`` call, so that a later ``fitdiff run`` of the
    same analysis reuses what they computed instead of redoing it. The key is the one
    :func:`run` computes (the stage's part of the run inputs); errors from ``work`` pass
    through unchanged (no ``"<stage> stage:"`` prefix: the command names itself).

    Parameters
    ----------
    name : str
        ``"fit"`` or ``"sample"``.
    analysis : fitdiff.analysis.Analysis
    run_dir : str or pathlib.Path
        The run directory (created if missing).
    work : callable
        Does the stage; returns ``(result, outputs relative to run_dir)``.

    Returns
    -------
    The ``result`` of ``work``.
    """
    runner = StageRunner(Path(run_dir).expanduser(), force=True)
    inputs = part(run_inputs(analysis), name)
    # Dropped first: a command that fails half-way must not leave a record claiming success.
    runner.record_path(name).unlink(missing_ok=True)
    started = time.perf_counter()
    result, outputs = work()
    runner.write_record(name, inputs, outputs, time.perf_counter() - started)
    return result
