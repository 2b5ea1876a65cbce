"""One objective, two engines: residuals for lmfit, log-posterior for emcee, from the same code.

``Objective`` couples a forward model, a dataset, an :class:`lmfit.Parameters` record (names,
bounds, vary, expr) and priors. ``GlobalObjective`` joins several objectives over one parameter
record, with parameters shared, per dataset (``NAME__LABEL``) or tied by lmfit expressions.

The statistics are PHYSICS.md §4: residuals r_i = (y_i − m_i)/s_i with s_i² = σ_i² + f² m_i²
(``ln_f`` optional), or whitened by the Cholesky factor of the covariance when the dataset has
one; log-likelihood −½ Σ r² − Σ ln s_i − (N/2) ln 2π. Least squares sees two kinds of extra
residuals so that ½ Σ residuals² = −log-posterior + const exactly:

* noise inflation adds sqrt(2 Σ ln(s_i/σ_i)) (real, because s_i ≥ σ_i);
* each prior adds its residual (:mod:`fitdiff.fitting.priors`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import lmfit
import numpy as np
from scipy.linalg import cho_factor, solve_triangular

from ..errors import FitError, ModelError
from .data import Dataset
from .models import ForwardModel, unit_of
from .priors import Prior

_LN_2PI = math.log(2.0 * math.pi)


@dataclass
class Term:
    """One model-versus-dataset comparison inside an objective.

    ``mapping`` sends each model parameter name to the name of the lmfit parameter that
    supplies it; ``ln_f`` names the noise-inflation parameter (None: no inflation).
    """

    model: ForwardModel
    data: Dataset
    mapping: dict[str, str]
    ln_f: str | None = None

    def model_values(self, values: dict) -> dict:
        return {k: values[g] for k, g in self.mapping.items()}

    def predict(self, values: dict) -> np.ndarray:
        return np.asarray(self.model.predict(self.model_values(values), self.data), float)

    def evaluate(self, values: dict) -> tuple[np.ndarray, float, np.ndarray]:
        """Return (whitened residuals, Σ ln(s_i/σ_i) inflation term, model)."""
        d = self.data
        m = self.predict(values)
        if m.shape != d.y.shape or not np.isfinite(m).all():
            raise ModelError(f"model {self.model.kind!r} gave non-finite values on {d.label!r}")
        if d.kind == "image":  # the camera likelihood (fitdiff.fitting.image)
            r, extra = d.whiten(m)
            return r, extra, m
        f2 = math.exp(2.0 * values[self.ln_f]) if self.ln_f else 0.0
        if d.cov is None:
            if f2 == 0.0:
                return (d.y - m) / d.y_err, 0.0, m
            s = np.sqrt(d.y_err**2 + f2 * m**2)
            return (d.y - m) / s, float(np.sum(np.log(s / d.y_err))), m
        cov = d.cov + np.diag(f2 * m**2) if f2 else d.cov
        try:
            L, _ = cho_factor(cov, lower=True, check_finite=False)
        except np.linalg.LinAlgError as exc:
            raise ModelError(f"covariance of {d.label!r} is not positive definite") from exc
        L = np.tril(L)
        r = solve_triangular(L, d.y - m, lower=True, check_finite=False)
        extra = float(np.sum(np.log(np.diag(L)))) - _half_logdet(d)
        return r, extra, m

    def evaluate_many(self, values: dict, P: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`evaluate` for P parameter sets: (χ² (P,), Σ ln(s_i/σ_i) (P,) or 0, usable (P,)).

        ``values`` maps parameter names to scalars or (P,) arrays. A set whose model is not
        finite everywhere is not usable (:meth:`evaluate` raises ``ModelError`` there).
        """
        d = self.data
        m = np.asarray(self.model.predict_many(self.model_values(values), d), float)
        if m.shape != (P, d.y.size):
            m = np.broadcast_to(m, (P, d.y.size))
        if d.cov is None and not self.ln_f:
            # the usual case, in four calls: a row whose model is not finite has a NaN or
            # infinite χ² (no warning: y and σ are finite), and a finite model with an
            # infinite χ² is −inf either way
            r = np.subtract(d.y, m)
            r /= d.y_err
            chi2 = _rowdot(r)
            return chi2, 0.0, np.isfinite(chi2)
        usable = np.isfinite(m).all(axis=1)
        if not usable.all():  # unusable rows: harmless numbers, dropped later
            m = np.where(usable[:, None], m, d.y)
        extra = np.zeros(P)
        f2 = np.exp(2.0 * np.asarray(values[self.ln_f], float)) if self.ln_f else None
        if d.cov is None:
            if f2 is None:
                r = np.subtract(d.y, m)
                r /= d.y_err
            else:
                s = np.sqrt(d.y_err**2 + np.reshape(f2, (-1, 1)) * m**2)
                r = (d.y - m) / s
                extra = np.sum(np.log(s / d.y_err), axis=1)
            return _rowdot(r), extra, usable
        if f2 is None:  # one factor serves every set
            try:
                L, _ = cho_factor(d.cov, lower=True, check_finite=False)
            except np.linalg.LinAlgError as exc:
                raise ModelError(f"covariance of {d.label!r} is not positive definite") from exc
            L = np.tril(L)
            r = solve_triangular(L, (d.y - m).T, lower=True, check_finite=False)
            extra[:] = float(np.sum(np.log(np.diag(L)))) - _half_logdet(d)
            return _rowdot(np.ascontiguousarray(r.T)), extra, usable
        chi2 = np.empty(P)
        f2 = np.broadcast_to(f2, (P,))
        for p in range(P):  # each set inflates the covariance differently
            try:
                L, _ = cho_factor(d.cov + np.diag(f2[p] * m[p] ** 2), lower=True)
            except np.linalg.LinAlgError:
                usable[p] = False
                chi2[p] = 0.0
                continue
            L = np.tril(L)
            r = solve_triangular(L, d.y - m[p], lower=True, check_finite=False)
            chi2[p] = r @ r
            extra[p] = float(np.sum(np.log(np.diag(L)))) - _half_logdet(d)
        return chi2, extra, usable


def _rowdot(r: np.ndarray) -> np.ndarray:
    """r_p · r_p of every row: a stack of the products ``r @ r`` makes, the same numbers."""
    return np.matmul(r[:, None, :], r[:, :, None])[:, 0, 0]


def _floats(theta) -> list[float]:
    """``theta`` as a list of Python floats (the per-evaluation code works on these)."""
    if isinstance(theta, np.ndarray):
        return theta.astype(float, copy=False).ravel().tolist()
    return [float(x) for x in theta]


def _half_logdet(d: Dataset) -> float:
    """½ ln det of the dataset's own covariance (cached on the dataset)."""
    cached = getattr(d, "_half_logdet", None)
    if cached is None:
        L, _ = cho_factor(d.cov, lower=True)
        cached = float(np.sum(np.log(np.diag(L))))
        d._half_logdet = cached
    return cached


def _data_norm(d: Dataset) -> float:
    """Σ ln σ_i + (N/2) ln 2π: the constant part of −log-likelihood."""
    if d.kind == "image":
        return d.norm_const()
    if d.cov is not None:
        return _half_logdet(d) + 0.5 * d.y.size * _LN_2PI
    return float(np.sum(np.log(d.y_err))) + 0.5 * d.y.size * _LN_2PI


class Objective:
    """Model + data + parameters + priors; the single function both engines optimise.

    Parameters
    ----------
    model : ForwardModel
        The forward model (``linear``, ``ballistic``, ``diffusivity``, ``valleys``).
    data : Dataset
        What the model is compared with.
    parameters : lmfit.Parameters
        The record of names, values, bounds, vary and expr (copied; bounds are tightened to
        the priors' support). Must supply every model parameter (through ``mapping``).
    priors : dict of str to Prior, optional
        Priors of free parameters; a free parameter without one is uniform within its bounds.
    mapping : dict, optional
        Model parameter name → lmfit parameter name (default: the same name).
    ln_f : str, optional
        Name of the noise-inflation parameter (natural log of f, dimensionless).
    """

    def __init__(
        self,
        model: ForwardModel,
        data: Dataset,
        parameters: lmfit.Parameters,
        priors: dict[str, Prior] | None = None,
        *,
        mapping: dict[str, str] | None = None,
        ln_f: str | None = None,
    ):
        model.check_dataset(data)
        if mapping is None:
            mapping = {n: n for n in model.parameter_names()}
        self._setup([Term(model, data, dict(mapping), ln_f)], parameters, priors or {})

    @classmethod
    def from_terms(cls, terms: Sequence[Term], parameters: lmfit.Parameters, priors=None):
        """Build from ready :class:`Term` objects over one parameter record (global fits)."""
        for t in terms:
            t.model.check_dataset(t.data)
        obj = cls.__new__(GlobalObjective if len(terms) > 1 else cls)
        obj.objectives = []
        obj._setup(list(terms), parameters, priors or {})
        return obj

    # --- construction ---------------------------------------------------------------------
    def _setup(self, terms: list[Term], parameters: lmfit.Parameters, priors: dict) -> None:
        self.terms = terms
        self.parameters = copy.deepcopy(parameters)
        self.priors = dict(priors)
        for term in terms:
            missing = [
                g
                for g in list(term.mapping.values()) + [term.ln_f]
                if g and g not in self.parameters
            ]
            if missing:
                raise FitError(
                    f"parameters {missing} needed by model {term.model.kind!r} are not defined"
                )
            if term.ln_f and term.data.kind == "image":
                raise FitError(
                    "noise inflation (ln_f) is not offered at fit.level = 'image': the camera "
                    "noise model is the likelihood"
                )
        self.names = [n for n, p in self.parameters.items() if p.vary and not p.expr]
        for name, prior in self.priors.items():
            if name not in self.names:
                raise FitError(
                    f"prior on {name!r}: only free parameters (vary, no expr) take priors"
                )
            p = self.parameters[name]
            lo, hi = prior.support
            p.min, p.max = max(p.min, lo), min(p.max, hi)
            if not p.min <= p.value <= p.max:
                raise FitError(
                    f"parameter {name!r}: start value {p.value} outside [{p.min}, {p.max}] "
                    "(bounds ∩ prior support)"
                )
        self.lower = np.array([self.parameters[n].min for n in self.names], float)
        self.upper = np.array([self.parameters[n].max for n in self.names], float)
        self._flat = -sum(
            math.log(self.upper[i] - self.lower[i])
            for i, n in enumerate(self.names)
            if n not in self.priors and np.isfinite(self.upper[i] - self.lower[i])
        )
        self._prior_list = [
            (i, self.priors[n]) for i, n in enumerate(self.names) if n in self.priors
        ]
        # Python floats for the per-evaluation checks: on 5-10 parameters a loop over floats
        # beats numpy's per-call overhead (emcee evaluates one walker at a time).
        self._bounds = list(zip(self.lower.tolist(), self.upper.tolist(), strict=True))
        self._has_expr = any(p.expr for p in self.parameters.values())
        self._local = threading.local()  # per-thread Parameters copies (see values())
        self._fixed = {n: p.value for n, p in self.parameters.items()}
        self._const = sum(_data_norm(t.data) for t in terms)

    def __getstate__(self):  # pickled to worker processes, deep-copied by callers
        state = dict(self.__dict__)
        state.pop("_local", None)  # thread-local copies belong to this process's threads
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()

    # --- parameter vectors ----------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return len(self.names)

    @property
    def ndata(self) -> int:
        return sum(len(t.data) for t in self.terms)

    @property
    def theta0(self) -> np.ndarray:
        """Start vector: the current values of the free parameters."""
        return np.array([self.parameters[n].value for n in self.names], float)

    def values(self, theta: Sequence[float]) -> dict[str, float]:
        """All parameter values (free, fixed and expressions) for the free vector ``theta``."""
        if not self._has_expr:
            vals = self._fixed.copy()
            vals.update(zip(self.names, _floats(theta), strict=True))
            return vals
        # lmfit evaluates expressions by writing into the Parameters record: never into the
        # shared one (threads of a pool would see each other's values), always into this
        # thread's own copy. A copy per call would be safe too but costs ~20 evaluations.
        params = getattr(self._local, "parameters", None)
        if params is None:
            params = self._local.parameters = copy.deepcopy(self.parameters)
        for n, v in zip(self.names, theta, strict=True):
            params[n].value = float(v)
        params.update_constraints()
        return params.valuesdict()

    def validity_warnings(self, theta) -> list[str]:
        """Every term's :meth:`ForwardModel.validity_warnings` at ``theta``, each sentence once
        (the widths and PL terms of one measurement share their model)."""
        values = self.values(theta)
        out: dict[str, None] = {}
        for term in self.terms:
            for text in term.model.validity_warnings(term.model_values(values)):
                out[text] = None
        return list(out)

    def units(self) -> dict[str, str]:
        """Unit of each lmfit parameter (from the model table, else from its name suffix)."""
        out = {n: unit_of(n) for n in self.parameters}
        for t in self.terms:
            table = {p.name: p.unit for p in t.model.parameter_table()}
            for k, g in t.mapping.items():
                if k in table:
                    out[g] = table[k]
        return out

    def in_bounds(self, theta) -> bool:
        theta = np.asarray(theta, float)
        return bool(np.all(theta >= self.lower) and np.all(theta <= self.upper))

    # --- the two engines' functions -------------------------------------------------------
    def _data(self, theta):
        vals = self.values(theta)
        rs, extras = [], []
        for t in self.terms:
            r, extra, _ = t.evaluate(vals)
            rs.append(r)
            extras.append(extra)
        return rs, extras

    def residuals(self, theta) -> np.ndarray:
        """Residual vector for least squares: data, noise-inflation terms, then priors.

        ½ Σ residuals² = −logpost(theta) + const for every theta inside the bounds.
        """
        rs, extras = self._data(theta)
        parts = list(rs)
        for t, e in zip(self.terms, extras, strict=True):
            # noise inflation, and the −½ Σ ln v(mu) of an image's model variance
            if t.ln_f or (t.data.kind == "image" and t.data.likelihood == "gaussian"):
                parts.append(np.array([math.sqrt(2.0 * max(e, 0.0))]))
        pr = [p.residual(theta[i]) for i, p in self._prior_list]
        parts.append(np.array([r for r in pr if r is not None], float))
        return np.concatenate(parts)

    def chi2_data(self, theta) -> float:
        """Σ r² over the data points only (no priors, no inflation term)."""
        return float(sum(np.sum(r**2) for r in self._data(theta)[0]))

    def loglike(self, theta) -> float:
        """Gaussian log-likelihood, normalised (PHYSICS.md §4); −inf where the model fails."""
        return self._loglike(_floats(theta))

    def _loglike(self, th: list[float]) -> float:
        try:
            rs, extras = self._data(th)
        except ModelError:
            return -math.inf
        chi2 = 0.0
        for r in rs:
            chi2 += float(r @ r)
        return -0.5 * chi2 - sum(extras) - self._const

    def logprior(self, theta) -> float:
        """Sum of the log-priors; −inf outside the bounds."""
        return self._logprior(_floats(theta))

    def _logprior(self, th: list[float]) -> float:
        # NaN fails every comparison, so it is out of bounds too
        for x, (lo, hi) in zip(th, self._bounds, strict=True):
            if not lo <= x <= hi:
                return -math.inf
        lp = self._flat
        for i, p in self._prior_list:
            lp += p.logpdf(th[i])
        return lp

    def logpost(self, theta) -> float:
        """log-prior + log-likelihood (what emcee samples)."""
        th = _floats(theta)
        lp = self._logprior(th)
        if not math.isfinite(lp):
            return -math.inf
        ll = self._loglike(th)
        return lp + ll if math.isfinite(ll) else -math.inf

    __call__ = logpost

    # --- a stack of parameter sets at once (emcee with vectorize=True, predictive draws) ---
    def values_many(self, thetas) -> dict:
        """All parameter values for a stack of free vectors ``thetas`` (P, ndim).

        Free parameters become (P,) arrays, fixed ones stay scalars; with expressions every
        set is evaluated through lmfit (:meth:`values`) and each name holds a (P,) array.
        """
        th = np.asarray(thetas, float).reshape(-1, self.ndim)
        if not self._has_expr:
            vals = self._fixed.copy()
            # contiguous columns: the models' arithmetic and cache keys read them whole
            vals.update(zip(self.names, np.ascontiguousarray(th.T), strict=True))
            return vals
        rows = [self.values(t) for t in th]
        return {k: np.array([r[k] for r in rows], float) for k in rows[0]} if rows else {}

    def logprior_many(self, thetas) -> np.ndarray:
        """:meth:`logprior` of every row of ``thetas`` (P, ndim); −inf outside the bounds."""
        th = np.asarray(thetas, float).reshape(-1, self.ndim)
        # NaN fails both comparisons (without a warning): out of bounds
        inside = ((th >= self.lower) & (th <= self.upper)).all(axis=1)
        if not self._prior_list:  # uniform within the bounds: the constant of every row
            return np.where(inside, self._flat, -math.inf)
        out = np.full(th.shape[0], -math.inf)
        for p in np.flatnonzero(inside):  # the scalar sum, in the scalar order
            lp = self._flat
            for i, prior in self._prior_list:
                lp += prior.logpdf(float(th[p, i]))
            out[p] = lp
        return out

    def loglike_many(self, thetas) -> np.ndarray:
        """:meth:`loglike` of every row of ``thetas`` (P, ndim) with one model call per term."""
        th = np.asarray(thetas, float).reshape(-1, self.ndim)
        P = th.shape[0]
        if P == 0:
            return np.empty(0)
        vals = self.values_many(th)
        chi2, extras, usable = None, 0.0, True
        for t in self.terms:
            try:
                c, e, u = t.evaluate_many(vals, P)
            except ModelError:  # e.g. a covariance that is not positive definite: every set
                return np.full(P, -math.inf)
            # left to right, as the scalar loglike sums the terms (from 0: the same numbers)
            chi2 = c if chi2 is None else chi2 + c
            extras = extras + e
            usable = usable & u
        ll = -0.5 * chi2
        if isinstance(extras, np.ndarray) or extras != 0.0:  # x − 0.0 is x: skip the pass
            ll -= extras
        ll -= self._const
        return np.where(usable & np.isfinite(ll), ll, -math.inf)

    def prepare_many(self, n_sets: int) -> None:
        """Tell every term's model that about ``n_sets`` stacked evaluations follow
        (:meth:`ForwardModel.prepare_many`: an optional compiled path loads when it pays)."""
        seen = set()
        for t in self.terms:
            if id(t.model) not in seen:  # one model behind several datasets: asked once
                seen.add(id(t.model))
                t.model.prepare_many(n_sets, t.data)

    def logpost_many(self, thetas) -> np.ndarray:
        """:meth:`logpost` of every row of ``thetas`` (P, ndim): emcee's ``vectorize=True``.

        The model is evaluated once per term for all rows inside the prior's support; agrees
        with :meth:`logpost` row by row to rounding (tested to 1e-12 relative).
        """
        th = np.asarray(thetas, float).reshape(-1, self.ndim)
        lp = self.logprior_many(th)
        finite = np.isfinite(lp)
        if finite.all():  # every row inside the support (a sampler's usual half-ensemble)
            ll = self.loglike_many(th)
            return np.where(np.isfinite(ll), lp + ll, -math.inf)
        live = np.flatnonzero(finite)
        out = np.full(th.shape[0], -math.inf)
        if live.size:
            ll = self.loglike_many(th[live])
            out[live] = np.where(np.isfinite(ll), lp[live] + ll, -math.inf)
        return out

    # --- bookkeeping ----------------------------------------------------------------------
    def fingerprint(self) -> str:
        """SHA-256 of everything the posterior depends on (model, data, parameter setup, priors).

        Start values of free parameters are excluded: they do not change the posterior. So are
        the current values of expression parameters (their ``expr`` text is in): lmfit
        overwrites them on every evaluation, so they say nothing about the posterior.
        """
        h = hashlib.sha256()
        spec = {
            "models": [t.model.fingerprint() for t in self.terms],
            "mappings": [t.mapping for t in self.terms],
            "ln_f": [t.ln_f for t in self.terms],
            "parameters": {
                n: [
                    p.vary,
                    p.expr,
                    repr(p.min),
                    repr(p.max),
                    None if n in self.names or p.expr else repr(p.value),
                ]
                for n, p in self.parameters.items()
            },
            "priors": {n: p.to_dict() for n, p in self.priors.items()},
        }
        h.update(json.dumps(spec, sort_keys=True, default=repr).encode())
        for t in self.terms:
            for a in (t.data.x, t.data.y, t.data.y_err) + (
                (t.data.cov,) if t.data.cov is not None else ()
            ):
                h.update(np.ascontiguousarray(a, float).tobytes())
        return h.hexdigest()

    def with_values(self, theta) -> lmfit.Parameters:
        """A copy of the parameter record holding ``theta`` (expressions evaluated)."""
        params = copy.deepcopy(self.parameters)
        for n, v in zip(self.names, theta, strict=True):
            params[n].value = float(v)
        params.update_constraints()
        return params


class GlobalObjective(Objective):
    """Several objectives fitted together over one parameter record.

    Parameters
    ----------
    objectives : sequence of Objective
        Each with its own model, dataset and parameters; the dataset labels must be distinct
        identifiers (they suffix per-dataset names).
    shared : iterable of str, optional
        Parameter names that take one value across all objectives (default: all). Every other
        name ``N`` becomes one parameter per objective, ``N__<label>``, with that objective's
        value, bounds and prior.
    parameters, priors : optional
        Use this record (and priors) as is instead of merging: each objective's mapping must
        then already name parameters of ``parameters`` (how ``fitdiff.analysis`` builds global
        fits, with expressions across datasets).
    """

    def __init__(
        self,
        objectives: Sequence[Objective],
        shared: Iterable[str] | None = None,
        *,
        parameters: lmfit.Parameters | None = None,
        priors: dict[str, Prior] | None = None,
    ):
        if not objectives:
            raise FitError("GlobalObjective needs at least one objective")
        self.objectives = list(objectives)
        terms = [copy.copy(t) for o in objectives for t in o.terms]
        if parameters is not None:
            self._setup(terms, parameters, priors or {})
            return
        merged, merged_priors = lmfit.Parameters(), {}
        shared = None if shared is None else set(shared)
        terms = []
        for o in objectives:
            label = o.terms[0].data.label
            if not label.isidentifier():
                raise FitError(f"dataset label {label!r} must be an identifier to name parameters")
            rename = {}
            for n, p in o.parameters.items():
                g = n if (shared is None or n in shared) else f"{n}__{label}"
                rename[n] = g
                if g not in merged:
                    merged.add(g, value=p.value, min=p.min, max=p.max, vary=p.vary)
                    if n in o.priors:
                        merged_priors[g] = o.priors[n]
            for n, p in o.parameters.items():
                if p.expr:  # rewrite expressions in the merged names
                    expr = p.expr
                    for old, new in sorted(rename.items(), key=lambda kv: -len(kv[0])):
                        if old != new:
                            expr = _replace_name(expr, old, new)
                    merged[rename[n]].set(expr=expr)
            for t in o.terms:
                mapping = {k: rename[g] for k, g in t.mapping.items()}
                terms.append(Term(t.model, t.data, mapping, rename[t.ln_f] if t.ln_f else None))
        self._setup(terms, merged, merged_priors)


def _replace_name(expr: str, old: str, new: str) -> str:
    import re

    return re.sub(rf"\b{re.escape(old)}\b", new, expr)
