"""``fitdiff run ANALYSIS.toml -o RUN/``: the whole chain, load to report, with stage reuse."""

from __future__ import annotations

import argparse
import sys

from ._args import analysis_and_run_dir


def register(subparsers) -> None:
    """Add the ``run`` sub-command to ``subparsers``."""
    parser = subparsers.add_parser(
        "run",
        help="run an analysis end to end: load, extract, transient D, fit, sample, evidence, report",
        description=(
            "Run ANALYSIS.toml end to end into RUN/: load -> extract -> transient -> fit -> "
            "sample (if [sample] is present) -> evidence (if [evidence] is present) -> report. Finished stages whose inputs and "
            "settings are unchanged are reused; --force redoes them."
        ),
    )
    analysis_and_run_dir(parser)
    parser.add_argument(
        "--force", action="store_true", help="redo every stage even when its inputs are unchanged"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress display; only errors on stderr"
    )
    parser.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from ..fitting.evidence import EvidenceInterrupted
    from ..pipeline import run

    try:
        summary = run(args.analysis, args.out, force=args.force, quiet=args.quiet)
    except EvidenceInterrupted as exc:
        where = f"its checkpoint is {exc.checkpoint}" if exc.checkpoint else "no checkpoint yet"
        print(
            f"fitdiff run: interrupted during the evidence stage; {where}: rerun the same "
            "command to resume (finished stages are reused)",
            file=sys.stderr,
        )
        return 130
    for text in _fit_warnings(summary.run_dir):
        print(f"fitdiff run: warning: {text}", file=sys.stderr)
    if not args.quiet:
        ran = ", ".join(summary.ran) or "none"
        reused = ", ".join(summary.reused) or "none"
        print(
            f"fitdiff run: {summary.run_dir} in {summary.seconds:.1f} s "
            f"(ran: {ran}; reused: {reused})",
            file=sys.stderr,
        )
        print(summary.report_html)
    return 0


def _fit_warnings(run_dir) -> list[str]:
    """The fit-quality warnings recorded in RUN/results.json and RUN/posterior.json."""
    import json
    from pathlib import Path

    out: list[str] = []
    for name in ("results.json", "posterior.json"):
        path = Path(run_dir) / name
        if path.is_file():
            record = json.loads(path.read_text(encoding="utf-8"))
            out += [str(w) for w in record.get("warnings") or [] if str(w) not in out]
    return out
