"""Shared fixtures: where the real sample files live, and a quiet matplotlib."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Real instrument files from other projects; they stay outside the repo (some are GPL).
REALDATA = REPO.parent / "shared" / "realdata"


@pytest.fixture(scope="session")
def realdata() -> Path:
    """Path to ``../shared/realdata``; skips the test when it is absent (a user's fresh clone)."""
    if not REALDATA.is_dir():
        pytest.skip(
            f"real sample data not found at ../shared/realdata (looked in {REALDATA.parent})"
        )
    return REALDATA


@pytest.fixture(autouse=True, scope="session")
def _headless_matplotlib():
    import matplotlib

    matplotlib.use("Agg")
