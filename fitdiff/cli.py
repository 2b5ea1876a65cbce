"""The ``fitdiff`` command line: parse arguments, call the library, map errors to exit codes.

Exit status: 0 success, 2 bad input or configuration (a one-paragraph message on stderr, no
traceback), 1 internal error. Each sub-command lives in ``fitdiff/commands/<name>.py`` with a
``register(subparsers)`` function that adds its parser and sets ``func`` to a callable taking
the parsed arguments and returning the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
import warnings

from .errors import FitdiffError

#: Sub-commands in the order ``fitdiff --help`` lists them.
COMMANDS = (
    "info",
    "extract",
    "transient",
    "diffusivity",
    "simulate",
    "fit",
    "sample",
    "evidence",
    "compare",
    "report",
    "run",
    "batch",
    "plan",
)


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line and exit 2, without the usage dump."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every available sub-command registered."""
    from . import __version__

    parser = _Parser(
        prog="fitdiff",
        description="Exciton-transport measurements to physics: load, extract, model, fit, report.",
    )
    parser.add_argument("--version", action="version", version=f"fitdiff {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f".commands.{name}", __package__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def _warning_printer(command: str):
    """``warnings.showwarning`` replacement: ``fitdiff <command>: warning: <message>``.

    A user needs the message, not the Python file and line that raised it.
    """

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"fitdiff {command}: warning: {message}", file=sys.stderr if file is None else file)

    return show


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (also used by the console script)."""
    parser = build_parser()
    # Deprecated spellings warn while parsing, before the command's name is known: hold them.
    with warnings.catch_warnings(record=True) as parse_warnings:
        warnings.simplefilter("always")
        args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    with warnings.catch_warnings():
        warnings.showwarning = _warning_printer(args.command)
        for w in parse_warnings:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
        return _dispatch(args)


def _dispatch(args: argparse.Namespace) -> int:
    try:
        status = args.func(args)
    except FitdiffError as exc:
        print(f"fitdiff {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fitdiff {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception:  # an internal error: a bug to report, so the traceback is kept
        traceback.print_exc()
        print(f"fitdiff {args.command}: internal error (please report it)", file=sys.stderr)
        return 1
    return 0 if status is None else int(status)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
