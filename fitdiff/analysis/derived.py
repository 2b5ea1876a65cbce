"""Derived quantities of a fit written beside its parameters: the diffusion tensor's principal
values and fast-axis angle (``derived`` in results.json and posterior.json)."""

from __future__ import annotations

import numpy as np

from ..fitting import FitResult
from ..fitting.tensor import TensorModel, derived_from_fit, derived_from_samples


def _tensor_terms(objective):
    return [t for t in objective.terms if isinstance(t.model, TensorModel)]


def _by_label(out: dict) -> dict:
    """One dataset: the quantities themselves; several: keyed by dataset label."""
    return out[next(iter(out))] if len(out) == 1 else out


def tensor_derived_fit(objective, result: FitResult) -> dict:
    """D_major_cm2_s, D_minor_cm2_s, angle_deg (value, stderr, unit) of each tensor dataset;
    errors by the delta method from the fit covariance."""
    out = {}
    for term in _tensor_terms(objective):

        def fn(theta, term=term):
            return term.model.derived(term.model_values(objective.values(theta)))

        out[term.data.label] = derived_from_fit(fn, result.theta, result.covar)
    return _by_label(out)


def tensor_derived_samples(objective, post) -> dict:
    """Posterior summaries of D_major, D_minor and angle_deg (as posterior.json parameters)."""
    out = {}
    names = ("Dxx_cm2_s", "Dyy_cm2_s", "Dxy_cm2_s")
    for term in _tensor_terms(objective):
        rows = []
        for theta in post.samples:  # expressions and fixed values resolved by the objective
            v = term.model_values(objective.values(theta))
            rows.append([v[n] for n in names])
        out[term.data.label] = derived_from_samples(term.model, np.array(rows))
    return _by_label(out)
