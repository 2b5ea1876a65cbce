"""Argument types shared by several sub-commands (ranges, lists), with clear errors."""

from __future__ import annotations

import argparse
import warnings

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


#: What ``--T-K``-style lists accept; quoted by ``--help`` and by the errors.
LIST_HELP = (
    "a,b,c; start:stop:step (step in the list's unit, stop included when on the grid); "
    "or start:stop:Nn (N evenly spaced values, both ends included)"
)

#: Most values a range may expand to (a typo like 4:300:0.00001 should not eat the memory).
_MAX_VALUES = 1_000_000


def float_list(text: str) -> np.ndarray:
    """Parse ``a,b,c``, ``start:stop:step`` or ``start:stop:Nn`` into an array.

    ``start:stop:step`` is what a physicist writes (``4:300:50`` is 4, 54, ..., 254: a step of
    50, ``stop`` included when it lies on the grid); ``start:stop:Nn`` asks for ``N`` evenly
    spaced values from ``start`` to ``stop`` inclusive (``4:300:50n`` is 50 values).
    """
    if ":" not in text:
        try:
            return np.array([float(v) for v in text.split(",") if v.strip()])
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {LIST_HELP}; got {text!r}") from None
    parts = text.split(":")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected {LIST_HELP}; got {text!r}")
    try:
        start, stop = float(parts[0]), float(parts[1])
        last = parts[2].strip()
        count = int(last[:-1]) if last.lower().endswith("n") else None
        step = None if count is not None else float(last)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {LIST_HELP}; got {text!r}") from None
    if not (np.isfinite(start) and np.isfinite(stop)) or stop < start:
        raise argparse.ArgumentTypeError(f"range {text!r}: need finite start <= stop")
    if count is not None:
        if not 1 <= count <= _MAX_VALUES:
            raise argparse.ArgumentTypeError(
                f"range {text!r}: the number of values must be 1..{_MAX_VALUES}"
            )
        return np.linspace(start, stop, count)
    if not (np.isfinite(step) and step > 0):
        raise argparse.ArgumentTypeError(
            f"range {text!r}: the step must be > 0 (for a number of values write {last}n)"
        )
    # Round-off tolerance so that 0.1-steps reach a stop that is on the grid.
    n = int(np.floor((stop - start) / step * (1 + 1e-12) + 1e-9)) + 1
    if n > _MAX_VALUES:
        raise argparse.ArgumentTypeError(
            f"range {text!r} expands to {n} values (at most {_MAX_VALUES})"
        )
    return start + step * np.arange(n)


class DeprecatedAlias(argparse.Action):
    """An old spelling of an option: stores into the new option's ``dest`` and warns once."""

    def __init__(self, option_strings, dest, new: str, **kwargs):
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from ..errors import FitdiffDeprecationWarning

        warnings.warn(
            f"{option_string} is deprecated; use {self.new}",
            FitdiffDeprecationWarning,
            stacklevel=2,
        )
        setattr(namespace, self.dest, values)


def add_out_flag(parser: argparse.ArgumentParser, help: str, *, required: bool = True) -> None:
    """``-o/--out`` (every command's output spelling) plus the deprecated ``--output``.

    argparse cannot require "one of two spellings", so a required ``-o`` is checked by
    :func:`require_out` when the command runs.
    """
    parser.add_argument("-o", "--out", dest="out", metavar="OUT", help=help)
    parser.add_argument(
        "--output", dest="out", action=DeprecatedAlias, new="-o/--out", help=argparse.SUPPRESS
    )
    parser.set_defaults(_out_required=required)


def require_out(args: argparse.Namespace) -> str:
    """Return ``args.out`` or raise the usage error a missing ``-o/--out`` deserves."""
    from ..errors import ConfigError

    if getattr(args, "out", None) is None:
        raise ConfigError("the following argument is required: -o/--out")
    return args.out


def add_quiet_flag(parser: argparse.ArgumentParser, what: str = "progress messages") -> None:
    """``-q/--quiet``: print nothing but errors and warnings on success."""
    parser.add_argument("-q", "--quiet", action="store_true", help=f"no {what}; only errors")


def add_calibration_flags(parser: argparse.ArgumentParser) -> None:
    """Add the calibration overrides that :func:`fitdiff.load` accepts as keyword arguments."""
    group = parser.add_argument_group("calibration overrides (win over the file's own)")
    group.add_argument("--x-um-per-px", type=float, help="spatial x step in µm per pixel")
    group.add_argument("--y-um-per-px", type=float, help="spatial y step in µm per pixel")
    group.add_argument("--x0-um", type=float, help="x coordinate of the first pixel in µm")
    group.add_argument("--t-ps-per-px", type=float, help="time step in ps per pixel row")
    group.add_argument("--t-ps-per-frame", type=float, help="time step in ps per frame")
    group.add_argument(
        "--t-first-ps",
        type=float,
        help="time of the first row/frame in ps (not the time zero: see extract --time-zero)",
    )
    group.add_argument(
        "--t0-ps",
        dest="t_first_ps",
        type=float,
        action=DeprecatedAlias,
        new="--t-first-ps",
        help=argparse.SUPPRESS,
    )


def calibration_kwargs(args: argparse.Namespace) -> dict:
    """Return the calibration overrides given on the command line as ``load`` keywords."""
    names = ("x_um_per_px", "y_um_per_px", "x0_um", "t_ps_per_px", "t_ps_per_frame", "t_first_ps")
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def analysis_and_run_dir(parser: argparse.ArgumentParser) -> None:
    """Add the ``ANALYSIS.toml`` argument and ``-o/--out RUN`` (fit, sample, evidence, run)."""
    parser.add_argument("analysis", metavar="ANALYSIS.toml", help="the analysis file")
    parser.add_argument(
        "-o", "--out", metavar="RUN", required=True, help="run directory (created if missing)"
    )
