"""``fitdiff sample ANALYSIS.toml -o RUN/``: emcee posterior into RUN/chain.h5 (resumable)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._args import analysis_and_run_dir


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def register(subparsers) -> None:
    """Add the ``sample`` sub-command to ``subparsers``."""
    parser = subparsers.add_parser(
        "sample",
        help="sample the posterior with emcee; writes RUN/chain.h5 and RUN/posterior.json",
        description=(
            "Sample the posterior of ANALYSIS.toml with emcee, walkers started around the "
            "least-squares optimum. The chain RUN/chain.h5 is written as it goes; rerunning "
            "with unchanged data, model and priors resumes it up to the requested steps."
        ),
    )
    analysis_and_run_dir(parser)
    parser.add_argument("--steps", type=_positive_int, help="override [sample] steps")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print nothing on success but warnings"
    )
    parser.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from ..analysis import load_analysis, run_sample
    from ..pipeline import run_recorded

    progress = not args.quiet and sys.stderr.isatty()
    # --steps is an override like any other: [sample] burn, when not set, follows it.
    overrides = {"sample": {"steps": args.steps}} if args.steps is not None else None
    analysis = load_analysis(args.analysis, overrides)
    outputs = ["chain.h5", "posterior.json", "posterior_predictive.csv", "posterior.nc"]
    # Recorded as the pipeline's sample stage: a later `fitdiff run` reuses it.
    post = run_recorded(
        "sample",
        analysis,
        args.out,
        lambda: (run_sample(analysis, args.out, progress=progress), outputs),
    )
    for w in post.warnings:
        print(f"fitdiff sample: warning: {w}", file=sys.stderr)
    if args.quiet:
        if not post.converged:  # the one line of the summary that is a warning
            print(f"fitdiff sample: warning: {post.message}", file=sys.stderr)
        return 0
    summary = post.summary()
    print(
        f"walkers = {post.walkers}, steps = {post.steps}, burn = {post.burn}, "
        f"acceptance = {post.acceptance_fraction:.2f}"
    )
    for name, row in summary.items():
        lo, hi = row["median"] - row["p16"], row["p84"] - row["median"]
        print(
            f"  {name} = {row['median']:.6g} -{lo:.2g} +{hi:.2g} {row['unit']}  "
            f"(tau_int {row['tau_int']:.1f}, ess {row['ess']:.0f})".rstrip()
        )
    print(post.message)
    print(f"wrote {Path(args.out) / 'posterior.json'}")
    return 0
