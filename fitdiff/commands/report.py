"""``fitdiff report RUN/``: write report.html, report.md and figures/ for a RUN directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    """Add the ``report`` sub-command."""
    parser = subparsers.add_parser(
        "report",
        help="write RUN/report.html (self-contained), RUN/report.md and RUN/figures/",
        description="Write a self-contained HTML report, a Markdown report with the same tables, "
        "and PNG/SVG figures from the files in a RUN directory (any subset of analysis.json, "
        "provenance.json, widths.csv, transient.csv, results.json, best_fit.csv, chain.h5, "
        "posterior.json, posterior_predictive.csv).",
    )
    parser.add_argument("run_dir", metavar="RUN", type=Path, help="the RUN directory")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the report; print the files written unless ``--quiet``."""
    from ..report import write_report

    written = write_report(args.run_dir)
    if not args.quiet:
        html = written["report.html"]
        n_fig = sum(1 for key in written if key.startswith("figures/") and key.endswith(".png"))
        print(
            f"wrote {html} ({html.stat().st_size / 1024:.0f} kB), "
            f"{written['report.md']} and {n_fig} figures in {html.parent / 'figures'}",
            file=sys.stdout,
        )
    return 0
