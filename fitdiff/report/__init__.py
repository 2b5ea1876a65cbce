"""Fit reports: a self-contained ``report.html``, ``report.md`` and ``figures/`` from a RUN directory.

Use :func:`write_report` (``fitdiff report RUN/`` on the command line); :func:`read_run` gives
the parsed RUN files for custom reports, and :mod:`fitdiff.report.figures` the figure builders.
"""

from .rundir import RUN_FILES, Chain, RunData, read_run
from .writer import write_report

__all__ = ["RUN_FILES", "Chain", "RunData", "read_run", "write_report"]
