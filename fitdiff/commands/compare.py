"""``fitdiff compare RUN_A RUN_B ...``: AIC, BIC, ln Z and Bayes factors of finished runs."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    """Add the ``compare`` sub-command to ``subparsers``."""
    parser = subparsers.add_parser(
        "compare",
        help="compare runs: k, χ², AIC, BIC, ln Z ± err, Bayes factors, Jeffreys' scale",
        description=(
            "Compare models fitted to the same data: each RUN contributes results.json "
            "(χ², AIC, BIC) and evidence.json (ln Z). ln B is each model's ln Z minus the "
            "best one's, graded on Jeffreys' scale (Kass & Raftery 1995). Prints the table "
            "and writes it to --out (.csv or .md)."
        ),
    )
    parser.add_argument("runs", metavar="RUN", nargs="+", help="run directories")
    parser.add_argument(
        "-o",
        "--out",
        metavar="FILE",
        default="comparison.csv",
        help="table file, .csv or .md (default: comparison.csv)",
    )
    parser.add_argument(
        "--labels", metavar="A,B,...", help="comma-separated names of the runs (default: folders)"
    )
    parser.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from ..comparison import compare_runs, format_table, write_table
    from ..errors import ConfigError

    labels = None
    if args.labels:
        labels = [s.strip() for s in args.labels.split(",")]
        if len(labels) != len(args.runs):
            raise ConfigError(
                f"--labels: {len(labels)} names for {len(args.runs)} runs; give one per run"
            )
    table = compare_runs(args.runs, labels)
    print(format_table(table), end="")
    print(f"wrote {write_table(table, args.out)}")
    return 0
