"""``fitdiff plan PLAN.toml [--json] [--figure FILE]``: the precision a planned experiment reaches.

The Cramér–Rao bound on D and w0 of the image-level fit and of the two-stage route
(:mod:`fitdiff.fitting.forecast`), the chance of landing within the target precision, and the
peak counts (and CNR) the target needs.
"""

from __future__ import annotations

import argparse
import json
import math
import tomllib

import numpy as np

from ..errors import ConfigError


def register(subparsers) -> None:
    """Add the ``plan`` sub-command."""
    p = subparsers.add_parser(
        "plan",
        help="precision forecast (Cramér–Rao bound on D) for a planned experiment",
        description=(
            "Read PLAN.toml ([experiment] D_cm2_s, w0_um, lifetime_ps, peak_counts or cnr, "
            "background_counts, noise = {gain, read_noise}, x_um and t_ps as [start, stop, "
            "count], optional psf_um; [target] relative_precision) and print the bound on D "
            "and w0 for the image-level and the two-stage route."
        ),
    )
    p.add_argument("plan", help="plan file (TOML)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--figure", metavar="FILE", help="write σ_D/D against CNR (.png or .svg)")
    p.set_defaults(func=run)


def read_plan(path: str) -> dict:
    """Parse ``path`` as TOML, with a clear error."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def run(args: argparse.Namespace) -> int:
    """Compute the forecast, print it, optionally draw the figure."""
    from ..fitting.forecast import curve, experiment_from_config, forecast

    exp, target = experiment_from_config(read_plan(args.plan), where=args.plan)
    out = forecast(exp, target)
    if args.figure:
        from ..atomic import write_bytes
        from ..report.forecast_figure import forecast_figure

        fmt = "svg" if args.figure.endswith(".svg") else "png"
        lo = min(1.0, out["cnr"] / 3)
        hi = max(1000.0, out["cnr"] * 3)
        fig = forecast_figure(curve(exp, np.geomspace(lo, hi, 40)), out)
        import io

        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=150)
        write_bytes(args.figure, buf.getvalue())
        out["figure"] = args.figure
    if args.json:
        print(
            json.dumps(
                {
                    k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                    for k, v in out.items()
                }
            )
        )
        return 0
    print(f"planned: CNR {out['cnr']:.3g} (peak {out['peak_counts']:.4g} counts)")
    for route, label in (("image", "image-level fit"), ("widths", "two-stage route")):
        line = (
            f"{label:>16}: σ_D = {out[f'sigma_D_cm2_s_{route}']:.3g} cm²/s "
            f"(σ_D/D = {out[f'rel_sigma_D_{route}']:.3g}), "
            f"σ_w0 = {out[f'sigma_w0_um_{route}']:.3g} µm"
        )
        if target is not None:
            need = out[f"peak_counts_needed_{route}"]
            reach = (
                f"needs peak {need:.4g} counts (CNR {out[f'cnr_needed_{route}']:.3g})"
                if math.isfinite(need)
                else "target out of reach"
            )
            line += f"; P(|D̂−D| < {target:g} D) = {out[f'p_within_{route}']:.2f}; {reach}"
        print(line)
    print(
        "Cramér–Rao bounds: amplitude and background free per slice, centre free; the "
        "two-stage bound assumes every slice is used with model-based weights"
    )
    if args.figure:
        print(f"figure -> {args.figure}")
    return 0
