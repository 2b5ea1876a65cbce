"""One bright valley vs bright + dark valleys on the PL(t) of the 75 K example streak.

    python analyses/bright_dark/compare.py [--runs runs/bright_dark] [--force]

Runs ``one_valley.toml`` and ``bright_dark.toml`` with :func:`fitdiff.pipeline.run` (fit,
evidence and report in each RUN directory), then writes next to this script
``comparison.csv`` and ``comparison.md``: k, χ², AIC, BIC, ln Z ± error, the Bayes factor
against the better model and its Jeffreys grade (:func:`fitdiff.comparison.compare_runs`, what
``fitdiff compare`` prints).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MODELS = {"one_valley": "one_valley.toml", "bright_dark": "bright_dark.toml"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", default=str(REPO / "runs" / "bright_dark"), help="where the RUN directories go"
    )
    parser.add_argument("--force", action="store_true", help="redo every stage")
    args = parser.parse_args(argv)

    from fitdiff.comparison import compare_runs, format_table, write_table
    from fitdiff.pipeline import run

    runs = Path(args.runs)
    for name, toml in MODELS.items():
        summary = run(HERE / toml, runs / name, force=args.force)
        print(f"{name}: report {summary.report_html}", file=sys.stderr)
    table = compare_runs([runs / name for name in MODELS], labels=list(MODELS))
    write_table(table, HERE / "comparison.csv")
    write_table(table, HERE / "comparison.md")
    print(format_table(table), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
