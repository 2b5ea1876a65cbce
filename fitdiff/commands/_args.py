"""Argument types shared by several sub-commands (ranges, lists), with clear errors."""

from __future__ import annotations

import argparse

import numpy as np


def float_range(text: str) -> tuple[float, float]:
    """Parse ``A:B`` into ``(A, B)`` floats with A < B (either side may be empty = open)."""
    parts = text.split(":")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected A:B, got {text!r}")
    try:
        lo = float(parts[0]) if parts[0].strip() else -np.inf
        hi = float(parts[1]) if parts[1].strip() else np.inf
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two numbers A:B, got {text!r}") from None
    if not lo < hi:
        raise argparse.ArgumentTypeError(f"range {text!r} must have A < B")
    return lo, hi


def float_list(text: str) -> np.ndarray:
    """Parse ``a,b,c`` or ``start:stop:count`` (inclusive, ``count`` points) into an array."""
    try:
        if ":" in text:
            start, stop, count = text.split(":")
            n = int(count)
            if n < 1:
                raise argparse.ArgumentTypeError(f"count in {text!r} must be >= 1")
            return np.linspace(float(start), float(stop), n)
        return np.array([float(v) for v in text.split(",") if v.strip()])
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers or start:stop:count, got {text!r}"
        ) from None


def add_calibration_flags(parser: argparse.ArgumentParser) -> None:
    """Add the calibration overrides that :func:`fitdiff.load` accepts as keyword arguments."""
    group = parser.add_argument_group("calibration overrides (win over the file's own)")
    group.add_argument("--x-um-per-px", type=float, help="spatial x step in µm per pixel")
    group.add_argument("--y-um-per-px", type=float, help="spatial y step in µm per pixel")
    group.add_argument("--x0-um", type=float, help="x coordinate of the first pixel in µm")
    group.add_argument("--t-ps-per-px", type=float, help="time step in ps per pixel row")
    group.add_argument("--t-ps-per-frame", type=float, help="time step in ps per frame")
    group.add_argument("--t0-ps", type=float, help="time of the first row/frame in ps")


def calibration_kwargs(args: argparse.Namespace) -> dict:
    """Return the calibration overrides given on the command line as ``load`` keywords."""
    names = ("x_um_per_px", "y_um_per_px", "x0_um", "t_ps_per_px", "t_ps_per_frame", "t0_ps")
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def analysis_and_run_dir(parser: argparse.ArgumentParser) -> None:
    """Add the ``ANALYSIS.toml`` argument and ``-o/--out RUN`` (fit, sample, run)."""
    parser.add_argument("analysis", metavar="ANALYSIS.toml", help="the analysis file")
    parser.add_argument(
        "-o", "--out", metavar="RUN", required=True, help="run directory (created if missing)"
    )
