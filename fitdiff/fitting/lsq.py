"""Least squares with lmfit on the objective's residuals (data + priors)."""

from __future__ import annotations

import math

import lmfit
import numpy as np

from ..errors import FitError, ModelError
from .objective import Objective
from .quality import chi2_warning
from .results import FitResult


def least_squares(
    objective: Objective,
    *,
    method: str = "leastsq",
    scale_covar: bool = False,
    max_nfev: int | None = None,
) -> FitResult:
    """Minimise ½ Σ residuals² = −log-posterior + const with :func:`lmfit.minimize`.

    Parameters
    ----------
    objective : Objective or GlobalObjective
        Starting values are the current values of ``objective.parameters``.
    method : str
        lmfit method (``leastsq``, ``least_squares``, ``nelder`` ...).
    scale_covar : bool
        False (default) trusts the data errors: stderr from the curvature of the posterior,
        calibrated when the errors are right. True rescales by sqrt(redchi) (lmfit's default).
    max_nfev : int, optional
        Limit on function evaluations.

    Raises
    ------
    FitError
        The model failed at the start values or during the fit.
    """
    names = objective.names
    if not names:
        raise FitError("no free parameters: set vary = true for at least one parameter")

    def fcn(params):
        return objective.residuals(np.array([params[n].value for n in names]))

    try:
        res = lmfit.minimize(
            fcn,
            objective.with_values(objective.theta0),
            method=method,
            scale_covar=scale_covar,
            max_nfev=max_nfev,
            nan_policy="raise",
        )
    except (ModelError, ValueError) as exc:
        raise FitError(f"least squares failed: {exc}") from exc
    theta = np.array([res.params[n].value for n in names])
    nvarys = len(names)
    ndata = objective.ndata
    chi2 = objective.chi2_data(theta)
    loglike = objective.loglike(theta)
    warnings = []
    at_bound = []
    for n in names:
        p = res.params[n]
        span = p.max - p.min if np.isfinite(p.max - p.min) else max(abs(p.value), 1.0)
        if min(abs(p.value - p.min), abs(p.max - p.value)) <= 1e-6 * span:
            at_bound.append(n)
            warnings.append(f"{n} = {p.value:g} sits on its bound [{p.min:g}, {p.max:g}]")
    covar = getattr(res, "covar", None)
    if covar is None or not res.errorbars:
        covar = None
        warnings.append("covariance unavailable (singular Jacobian or a parameter on a bound)")
    # the model's own validity at the fitted values (D(T) flags of a valley model, PHYSICS.md
    # §3.5): reported with the fit, not only by `fitdiff simulate`
    warnings += objective.validity_warnings(theta)
    chi2_note = chi2_warning(chi2, ndata, nvarys)
    if chi2_note:
        warnings.insert(0, chi2_note)
    aic = -2.0 * loglike + 2.0 * nvarys
    bic = -2.0 * loglike + nvarys * math.log(ndata)
    return FitResult(
        params=res.params,
        names=list(names),
        theta=theta,
        covar=None if covar is None else np.asarray(covar),
        units=objective.units(),
        chi2=chi2,
        redchi=chi2 / (ndata - nvarys) if ndata > nvarys else math.nan,
        loglike=loglike,
        logpost=objective.logpost(theta),
        aic=aic,
        bic=bic,
        ndata=ndata,
        nvarys=nvarys,
        nfev=int(res.nfev),
        success=bool(res.success),
        message=str(res.message),
        at_bound=at_bound,
        warnings=warnings,
        model=[t.model.fingerprint() | {"dataset": t.data.label} for t in objective.terms],
    )
