"""Fitting: datasets, forward models, one objective for lmfit and emcee, results.

Least squares (:func:`least_squares`) and posterior sampling (:func:`sample`) optimise the same
:class:`Objective` (PHYSICS.md §4; DESIGN.md "one objective, two engines").
"""

from __future__ import annotations

from .compare import best_fit_table, compare_models, posterior_predictive
from .data import Dataset, DiffusivityData, KineticsData, WidthsData
from .lsq import least_squares
from .models import (
    BallisticModel,
    DiffusivityModel,
    ForwardModel,
    LinearModel,
    ParameterInfo,
    unit_of,
)
from .objective import GlobalObjective, Objective, Term
from .priors import LogUniform, Normal, Prior, TruncatedNormal, Uniform, prior_from_dict
from .results import FitResult, Posterior
from .sampling import sample


def make_parameters(model: ForwardModel, **overrides):
    """An :class:`lmfit.Parameters` from a model's table; ``overrides`` maps name → value.

    Parameters
    ----------
    model : ForwardModel
    **overrides : float
        Start/fixed values replacing the table defaults (parameter units).
    """
    import lmfit

    params = lmfit.Parameters()
    for p in model.parameter_table():
        params.add(
            p.name, value=overrides.get(p.name, p.default), min=p.min, max=p.max, vary=p.vary
        )
    return params


__all__ = [
    "BallisticModel",
    "Dataset",
    "DiffusivityData",
    "DiffusivityModel",
    "FitResult",
    "ForwardModel",
    "GlobalObjective",
    "KineticsData",
    "LinearModel",
    "LogUniform",
    "Normal",
    "Objective",
    "ParameterInfo",
    "Posterior",
    "Prior",
    "Term",
    "TruncatedNormal",
    "Uniform",
    "WidthsData",
    "best_fit_table",
    "compare_models",
    "least_squares",
    "make_parameters",
    "posterior_predictive",
    "prior_from_dict",
    "sample",
    "unit_of",
]
