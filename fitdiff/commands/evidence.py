"""``fitdiff evidence ANALYSIS.toml -o RUN/``: Bayesian evidence ln Z by nested sampling."""

from __future__ import annotations

import argparse
import sys

from ._args import analysis_and_run_dir
from .sample import _positive_int


def register(subparsers) -> None:
    """Add the ``evidence`` sub-command to ``subparsers``."""
    parser = subparsers.add_parser(
        "evidence",
        help="Bayesian evidence ln Z by nested sampling (dynesty); writes RUN/evidence.json",
        description=(
            "Nested sampling (dynesty) of ANALYSIS.toml over its own priors: every free "
            "parameter needs a proper prior (uniform within finite bounds by default). Writes "
            "RUN/evidence.json (lnZ, lnZ_err, n_eff, posterior summaries). The sampler is "
            "checkpointed to RUN/evidence.ckpt every 10 s: after Ctrl-C, rerun the same "
            "command to resume. Settings: [evidence] n_live, dlogz, seed."
        ),
    )
    analysis_and_run_dir(parser)
    parser.add_argument("--n-live", type=_positive_int, help="override [evidence] n_live")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print nothing on success but warnings"
    )
    parser.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from ..analysis import load_analysis
    from ..evidence_stage import EVIDENCE_FILE, run_evidence
    from ..fitting.evidence import EvidenceInterrupted
    from ..pipeline import run_recorded

    progress = not args.quiet and sys.stderr.isatty()
    overrides = {"evidence": {"n_live": args.n_live}} if args.n_live is not None else None
    analysis = load_analysis(args.analysis, overrides)
    try:
        # Recorded as the pipeline's evidence stage: a later `fitdiff run` reuses it.
        ev = run_recorded(
            "evidence",
            analysis,
            args.out,
            lambda: (run_evidence(analysis, args.out, progress=progress), [EVIDENCE_FILE]),
        )
    except EvidenceInterrupted as exc:
        where = (
            f"the last checkpoint is {exc.checkpoint}; rerun the same command to resume"
            if exc.checkpoint
            else "no checkpoint was written yet (the first comes after 10 s); rerun to start over"
        )
        print(f"fitdiff evidence: interrupted; {where}", file=sys.stderr)
        return 130
    if args.quiet:
        return 0
    print(
        f"ln Z = {ev.lnZ:.3f} ± {ev.lnZ_err:.3f}  (dynesty, n_live = {ev.n_live}, "
        f"{ev.n_iter} iterations, {ev.n_call} likelihood calls, n_eff = {ev.n_eff:.0f}, "
        f"{ev.seconds:.1f} s; {ev.message})"
    )
    for name, row in ev.summary().items():
        lo, hi = row["median"] - row["p16"], row["p84"] - row["median"]
        print(f"  {name} = {row['median']:.6g} -{lo:.2g} +{hi:.2g} {row['unit']}".rstrip())
    print(f"wrote {args.out}/{EVIDENCE_FILE}")
    return 0
