"""``fitdiff extract FILE -o widths.csv``: w²(t), PL(t) and kurtosis of every time slice."""

from __future__ import annotations

import argparse

from ..errors import ExtractionError
from ._args import (
    add_calibration_flags,
    add_out_flag,
    add_quiet_flag,
    calibration_kwargs,
    float_range,
    require_out,
)


def register(subparsers) -> None:
    """Add the ``extract`` sub-command."""
    p = subparsers.add_parser(
        "extract",
        help="extract w²(t), PL(t) and kurtosis from a streak image or stack",
        description="Fit (or take moments of) every time slice; write the widths table.",
    )
    p.add_argument("file", help="measurement file (any format fitdiff.load reads)")
    add_out_flag(p, "widths CSV to write")
    add_quiet_flag(p, "summary line")
    p.add_argument("--method", choices=("gauss", "moment"), default="gauss")
    p.add_argument(
        "--t-range-ps", type=float_range, metavar="A:B", help="time window in ps (after time zero)"
    )
    p.add_argument("--x-range-um", type=float_range, metavar="A:B", help="x window in µm")
    p.add_argument("--y-range-um", type=float_range, metavar="A:B", help="y window in µm")
    p.add_argument("--bin-t", type=int, default=1, help="sum N slices")
    p.add_argument("--bin-x", type=int, default=1, help="sum N pixels along x")
    p.add_argument("--bin-y", type=int, default=1, help="sum N pixels along y")
    p.add_argument(
        "--background",
        default="fit",
        help="fit | none | pre-pulse | COUNTS | DARK_FILE (default fit)",
    )
    p.add_argument(
        "--background-t-range-ps",
        type=float_range,
        metavar="A:B",
        help="pre-pulse window in ps for --background pre-pulse",
    )
    p.add_argument(
        "--time-zero",
        default=None,
        metavar="rise|PS",
        help="subtract this time zero (ps; Python: time_zero_ps), or 'rise' for the PL "
        "half-rise; not the time of the first row (--t-first-ps)",
    )
    p.add_argument("--gain", type=float, default=1.0, help="counts per photoelectron")
    p.add_argument("--read-noise", type=float, default=0.0, help="read noise SD in counts")
    p.add_argument("--em", action="store_true", help="EM-CCD: excess noise factor 2")
    p.add_argument("--saturation", type=float, help="mask pixels at or above these counts")
    p.add_argument("--hot-pixel-sigma", type=float, help="mask hot pixels (SDs above median)")
    p.add_argument(
        "--shape",
        choices=("isotropic", "elliptical", "rotated"),
        default="isotropic",
        help="2D Gaussian of a stack: one σ², axis-aligned σx² σy², or the full covariance "
        "of a tilted ellipse (adds sigma2_xx/yy/xy_um2, sigma2_major/minor_um2, angle_deg)",
    )
    p.add_argument("--min-snr", type=float, default=5.0, help="intensity/error below: not ok")
    add_calibration_flags(p)
    p.set_defaults(func=run)


def _background(text: str, calibration: dict):
    """A keyword, a number of counts, or a dark file measured like the data."""
    if text in ("fit", "none", "pre-pulse"):
        return text
    try:
        return float(text)
    except ValueError:
        pass
    from ..extract.preprocess import orient
    from ..io import load

    return orient(load(text, **calibration)).counts.astype(float)


def run(args: argparse.Namespace) -> int:
    """Load, extract, write; print a one-line summary."""
    from ..extract import extract_widths, write_table_csv
    from ..io import load

    out = require_out(args)
    calibration = calibration_kwargs(args)
    m = load(args.file, **calibration)
    t0 = args.time_zero
    if t0 is not None and t0 != "rise":
        try:
            t0 = float(t0)
        except ValueError:
            raise ExtractionError(f"--time-zero {t0!r}: allowed 'rise' or a number of ps") from None
    noise = {"gain": args.gain, "read_noise": args.read_noise, "excess": 2.0 if args.em else 1.0}
    df = extract_widths(
        m,
        args.method,
        t_range_ps=args.t_range_ps,
        x_range_um=args.x_range_um,
        y_range_um=args.y_range_um,
        bin_t=args.bin_t,
        bin_x=args.bin_x,
        bin_y=args.bin_y,
        background=_background(args.background, calibration),
        background_t_range_ps=args.background_t_range_ps,
        noise=noise,
        time_zero_ps=t0,
        saturation=args.saturation,
        hot_pixel_sigma=args.hot_pixel_sigma,
        shape=args.shape,
        min_snr=args.min_snr,
    )
    df.attrs["settings"]["calibration"] = calibration
    write_table_csv(df, out)
    if not args.quiet:
        print(f"{args.file}: {len(df)} slices, {int(df['ok'].sum())} ok -> {out}")
    return 0
