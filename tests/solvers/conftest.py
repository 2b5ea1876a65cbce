"""Fixtures of the solver tests."""

from __future__ import annotations

import pytest

from fitdiff.solvers import ValleyModel
from fitdiff.testing import three_valley, two_valley


@pytest.fixture
def model2() -> ValleyModel:
    return ValleyModel.from_dict(two_valley())


@pytest.fixture
def model3() -> ValleyModel:
    return ValleyModel.from_dict(three_valley())
