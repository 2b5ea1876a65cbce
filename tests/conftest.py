"""Shared fixtures: where the real sample files live, and a quiet matplotlib.

The real-file tests need ``../shared/realdata``. On a user's bare clone it is absent: those
tests skip and the run ends with one line saying how many did not run and why. CI sets
``FITDIFF_REQUIRE_REALDATA=1`` (``.ci/run``, which also refuses to start without the folder):
there a missing folder fails the tests instead of skipping them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# One BLAS thread per test process (and the CLI subprocesses, which inherit it): the tests'
# matrices are small (≤ 4000), where OpenBLAS's threads cost more than they give, and on a
# loaded 2-core machine an eigh of 318 × 318 took 3.4 s with 2 threads against 0.03 s with 1.
# Set before numpy is first imported; a user's own setting wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
#: Real instrument files from other projects; they stay outside the repo (some are GPL).
REALDATA = REPO.parent / "shared" / "realdata"
#: Start of the skip reason of a real-file test; the terminal summary counts these.
REALDATA_SKIP = "real sample data not found"
#: Environment variable that turns the skip into a failure (set by CI).
REQUIRE_ENV = "FITDIFF_REQUIRE_REALDATA"


@pytest.fixture(scope="session")
def realdata() -> Path:
    """Path to ``../shared/realdata``; skips the test when it is absent (a user's fresh clone)."""
    if not REALDATA.is_dir():
        if os.environ.get(REQUIRE_ENV, "") not in ("", "0"):
            pytest.fail(
                f"{REQUIRE_ENV} is set (CI) but the real sample data is missing: {REALDATA}",
                pytrace=False,
            )
        pytest.skip(f"{REALDATA_SKIP} at ../shared/realdata (looked in {REALDATA.parent})")
    return REALDATA


def pytest_terminal_summary(terminalreporter) -> None:
    """One line at the end of the run: how many real-file tests did not run, and why."""
    skipped = terminalreporter.stats.get("skipped", [])
    n = sum(1 for report in skipped if REALDATA_SKIP in str(report.longrepr))
    if n:
        terminalreporter.write_line(
            f"fitdiff: {n} real-file test{'s' if n != 1 else ''} did not run: {REALDATA} is "
            f"absent (instrument files stay outside the repository; CI requires them)",
            yellow=True,
            bold=True,
        )


@pytest.fixture(autouse=True, scope="session")
def _headless_matplotlib():
    import matplotlib

    matplotlib.use("Agg")
