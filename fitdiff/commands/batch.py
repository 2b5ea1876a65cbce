"""``fitdiff batch CAMPAIGN.toml -o OUT/ --executor ...``: the pipeline over a campaign."""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    """Add the ``batch`` sub-command to ``subparsers``."""
    parser = subparsers.add_parser(
        "batch",
        help="run the pipeline over many measurements (a campaign) on processes or dask",
        description=(
            "Run the analysis template of CAMPAIGN.toml on every measurement it lists, one run "
            "directory each under OUT/runs/, and write OUT/summary.csv (one row per "
            "measurement: status, error, fitted parameters with errors, run time) and "
            "OUT/batch.log. A rerun redoes only the measurements whose inputs changed (the "
            "template, overrides and the content of every file they reference). Exit status: 0 all "
            "succeeded, 1 some failed (see the summary), 2 bad campaign file or executor."
        ),
    )
    parser.add_argument("campaign", metavar="CAMPAIGN.toml", help="the campaign file")
    parser.add_argument(
        "-o", "--out", metavar="OUT", required=True, help="output folder (created if missing)"
    )
    parser.add_argument(
        "--executor",
        default="local",
        metavar="SPEC",
        help="local (default, this process), processes:N (N worker processes) or "
        "dask://HOST:PORT (an existing dask scheduler)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="redo every measurement even when its inputs are unchanged",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar; only errors on stderr"
    )
    parser.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from ..batch import SUMMARY, load_campaign, parse_executor, run_campaign

    factory = parse_executor(args.executor)  # a bad spec is exit 2 before any work
    campaign = load_campaign(args.campaign)
    result = run_campaign(campaign, args.out, factory, force=args.force, progress=not args.quiet)
    failed = result.summary[result.summary["status"] == "failed"]
    for _, row in failed.iterrows():
        print(f"fitdiff batch: {row['measurement']}: {row['error']}", file=sys.stderr)
    if result.global_error:
        print(f"fitdiff batch: global fit: {result.global_error}", file=sys.stderr)
    if not args.quiet:
        print(
            f"fitdiff batch: {len(result.summary)} measurements in {result.seconds:.1f} s: "
            f"{result.count('ok')} ok, {result.count('reused')} reused, "
            f"{result.count('failed')} failed",
            file=sys.stderr,
        )
    print(result.out_dir / SUMMARY)
    return 0 if result.ok else 1
