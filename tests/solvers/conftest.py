"""Fixtures of the solver tests."""

from __future__ import annotations

import pytest
from solver_cases import three_valley, two_valley

from fitdiff.solvers import ValleyModel


@pytest.fixture
def model2() -> ValleyModel:
    return ValleyModel.from_dict(two_valley())


@pytest.fixture
def model3() -> ValleyModel:
    return ValleyModel.from_dict(three_valley())
