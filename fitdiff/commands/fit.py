"""``fitdiff fit ANALYSIS.toml -o RUN/``: least squares; writes results.json and best_fit.csv."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ._args import analysis_and_run_dir


def register(subparsers) -> None:
    """Add the ``fit`` sub-command to ``subparsers``."""
    parser = subparsers.add_parser(
        "fit",
        help="least-squares fit of an analysis (lmfit); writes RUN/results.json",
        description=(
            "Fit the model of ANALYSIS.toml to its data by least squares (priors enter as extra "
            "residuals). Writes RUN/analysis.json, RUN/results.json and RUN/best_fit.csv."
        ),
    )
    analysis_and_run_dir(parser)
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print nothing on success but warnings"
    )
    parser.set_defaults(func=_main)


def _fmt(value, stderr) -> str:
    if stderr is None or not math.isfinite(stderr):
        return f"{value:.6g}"
    return f"{value:.6g} ± {stderr:.2g}"


def _main(args: argparse.Namespace) -> int:
    from ..analysis import load_analysis, run_fit
    from ..pipeline import run_recorded

    analysis = load_analysis(args.analysis)
    # Recorded as the pipeline's fit stage: a later `fitdiff run` reuses it.
    result = run_recorded(
        "fit",
        analysis,
        args.out,
        lambda: (run_fit(analysis, args.out), ["results.json", "best_fit.csv"]),
    )
    for w in result.warnings:
        print(f"fitdiff fit: warning: {w}", file=sys.stderr)
    if args.quiet:
        return 0
    print(
        f"chi2 = {result.chi2:.6g}, redchi = {result.redchi:.4g}, ndata = {result.ndata}, "
        f"nvarys = {result.nvarys}, success = {result.success}"
    )
    for name in result.names:
        p = result.params[name]
        print(f"  {name} = {_fmt(p.value, p.stderr)} {result.units.get(name, '')}".rstrip())
    print(f"wrote {Path(args.out) / 'results.json'}")
    return 0
