"""fitdiff.testing helpers that benchmarks rely on."""

from __future__ import annotations

import os

import pytest

from fitdiff.testing import with_numba_setting


@pytest.mark.parametrize("before", [None, "1"])
def test_with_numba_setting_sets_and_restores(monkeypatch, before):
    # benchmarks time both paths in one process: the setting must hold inside the call and
    # leave the environment exactly as it was (absent stays absent), also when the call raises
    if before is None:
        monkeypatch.delenv("FITDIFF_NUMBA", raising=False)
    else:
        monkeypatch.setenv("FITDIFF_NUMBA", before)
    assert with_numba_setting("0", lambda: os.environ["FITDIFF_NUMBA"]) == "0"
    with pytest.raises(ZeroDivisionError):
        with_numba_setting("0", lambda: 1 / 0)
    assert os.environ.get("FITDIFF_NUMBA") == before
