"""The fitdiff exception tree.

Every error a user can cause (a broken file, a bad configuration value, an impossible
parameter) is a :class:`FitdiffError`. Those caused by bad input also subclass
:class:`ValueError`, so generic ``except ValueError`` handlers keep working. Messages name the
file, key or parameter and say what is allowed; the CLI prints them without a traceback and
exits with status 2.
"""

from __future__ import annotations


class FitdiffError(Exception):
    """Base class of every error fitdiff raises on purpose."""


class LoadError(FitdiffError, ValueError):
    """A file cannot be read: missing, truncated, foreign format, inconsistent header."""


class ConfigError(FitdiffError, ValueError):
    """A configuration or command-line value is unknown, missing or outside its allowed range."""


class ExtractionError(FitdiffError, ValueError):
    """Widths, kinetics or D(t) cannot be extracted from the given data."""


class ModelError(FitdiffError, ValueError):
    """A physical model was given impossible parameters or cannot be evaluated."""


class FitError(FitdiffError):
    """A fit or a sampling run failed or cannot be started."""


class MissingExtraError(FitdiffError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""

    def __init__(self, package: str, extra: str, purpose: str):
        super().__init__(
            f"{purpose} needs the optional package {package!r}: "
            f"install it with  pip install 'fitdiff[{extra}]'"
        )
        self.package = package
        self.extra = extra


class FitdiffDeprecationWarning(FutureWarning):
    """An old spelling (option, keyword, configuration key) that still works but will go.

    A :class:`FutureWarning` so that it is shown to users by default (``DeprecationWarning``
    is hidden outside ``__main__``).
    """
