"""``fitdiff transient widths.csv -o transient.csv``: D(t) and the straight-line D."""

from __future__ import annotations

import argparse

from ._args import add_out_flag, add_quiet_flag, float_range, require_out


def register(subparsers) -> None:
    """Add the ``transient`` sub-command."""
    p = subparsers.add_parser(
        "transient",
        help="transient D(t) = ¼ dw²/dt from a widths table",
        description="Sliding-window D(t) from widths.csv, and the linear-fit D over the range.",
    )
    p.add_argument("widths", help="widths CSV written by 'fitdiff extract'")
    add_out_flag(p, "transient CSV to write")
    add_quiet_flag(p, "summary lines")
    p.add_argument("--window", type=int, default=7, help="odd number of points per estimate")
    p.add_argument("--t-range-ps", type=float_range, metavar="A:B", help="time range in ps")
    p.add_argument("--method", choices=("local", "savgol"), default="local")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Read widths, write D(t), print the linear-fit D."""
    from ..extract import linear_diffusion, read_table_csv, transient_diffusion, write_table_csv

    out_path = require_out(args)
    widths = read_table_csv(args.widths)
    out = transient_diffusion(
        widths, window=args.window, t_range_ps=args.t_range_ps, method=args.method
    )
    lin = linear_diffusion(widths, args.t_range_ps)
    out.attrs["linear_fit"] = lin.to_dict()
    out.attrs["widths_settings"] = widths.attrs.get("settings")
    write_table_csv(out, out_path)
    if args.quiet:
        return 0
    lo, hi = lin.t_range_ps
    print(
        f"linear fit {lo:g}-{hi:g} ps ({lin.ndata} points): D = {lin.D_cm2_s:.4g} ± "
        f"{lin.D_err_cm2_s:.2g} cm²/s, w0² = {lin.w0_2_um2:.4g} ± {lin.w0_2_err_um2:.2g} µm², "
        f"redchi = {lin.redchi:.3g}"
    )
    print(f"D(t): {len(out)} points -> {out_path}")
    return 0
