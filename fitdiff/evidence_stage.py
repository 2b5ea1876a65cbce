"""The ``evidence`` stage: nested sampling of an analysis into ``RUN/evidence.json``.

Orchestration like :mod:`fitdiff.analysis` (whose objective it reuses): reads the analysis's
tables, runs :func:`fitdiff.fitting.evidence.evidence` with the ``[evidence]`` settings and
writes the result atomically. The dynesty checkpoint ``RUN/evidence.ckpt`` lets an interrupted
run resume; it is removed once ``evidence.json`` is written. Nothing here prints.
"""

from __future__ import annotations

from pathlib import Path

from .analysis import Analysis, build_objective, load_tables, write_analysis_json
from .atomic import write_json
from .fitting.evidence import Evidence, evidence

#: The dynesty checkpoint inside a run directory.
CHECKPOINT = "evidence.ckpt"
#: The result file inside a run directory.
EVIDENCE_FILE = "evidence.json"


def run_evidence(
    analysis: Analysis,
    run_dir,
    widths=None,
    tables=None,
    *,
    n_live: int | None = None,
    progress: bool = False,
) -> Evidence:
    """Nested sampling with the ``[evidence]`` settings; writes analysis.json and evidence.json.

    Parameters
    ----------
    widths, tables : optional
        Already extracted widths or read tables (as for :func:`fitdiff.analysis.run_fit`).
    n_live : int, optional
        Overrides ``[evidence] n_live`` (e.g. from ``--n-live``).
    progress : bool
        Show dynesty's progress bar (the CLI passes ``sys.stderr.isatty()``).

    Raises
    ------
    ConfigError
        A free parameter with an improper prior (named).
    fitdiff.fitting.evidence.EvidenceInterrupted
        Ctrl-C; ``RUN/evidence.ckpt`` keeps the last checkpoint for a rerun to resume.
    """
    run_dir = Path(run_dir)
    cfg = dict(analysis.config["evidence"])
    if n_live is not None:
        cfg["n_live"] = n_live
    objective = build_objective(
        analysis, tables if tables is not None else load_tables(analysis, widths)
    )
    write_analysis_json(analysis, run_dir)
    checkpoint = run_dir / CHECKPOINT
    result = evidence(
        objective,
        n_live=cfg["n_live"],
        dlogz=cfg["dlogz"],
        seed=cfg["seed"],
        bound=cfg["bound"],
        sample=cfg["sample"],
        checkpoint_path=checkpoint,
        progress=progress,
    )
    write_json(
        run_dir / EVIDENCE_FILE,
        {
            **result.to_dict(),
            "k": objective.ndim,
            "ndata": objective.ndata,
            "config": analysis.config,
            "analysis_digest": analysis.digest,
        },
    )
    checkpoint.unlink(missing_ok=True)
    return result
