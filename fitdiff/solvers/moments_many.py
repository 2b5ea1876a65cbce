"""The exact moment solver on a stack of parameter sets: one pass of numpy calls for them all.

A fit or a sampler asks for the same model at many parameter sets (emcee's walkers, posterior
draws). One set costs the solver ~60 numpy calls of a few µs each whatever the size of the
arrays (docs/guide/performance.md), so :func:`solve_moments_many` carries a leading axis of P
parameter sets through every step of :func:`fitdiff.solvers.moments.solve_moments`: the rate
matrices, Boltzmann weights and radiative rates are built as (P, V) arrays, the eigen-
decompositions are one stacked ``eigh``, and the pulse response, divided differences and
products act on (P, V, T) arrays. The number of numpy calls does not grow with P.

Every elementwise operation is the one-at-a-time solver's, in the same order; the sums inside
matrix products and the libm-versus-numpy ``exp``/``log`` of the Boltzmann weights may differ
in the last bit, so the two agree to ~1e-15 relative (tested to 1e-12, D(t) relative to its
largest magnitude since it crosses zero).

Sets whose values the model would refuse (:meth:`ValleyModel.with_parameters` raises) are not
solved: their rows are NaN and ``ok`` is False, so a caller can treat them as impossible
(a log-posterior of −inf) without an exception per set.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import erfcx

from ..errors import ConfigError
from ..units import KB_MEV_PER_K, UM2_PS_PER_CM2_S
from .linear import _CLOSE, _SQRT2PI, Workspace, chain_response_many, pulse_derivatives, pulse_terms
from .model import FWHM_PER_SIGMA, ValleyModel
from .moments import solve_moments


@dataclass(frozen=True)
class MomentStack:
    """Moments for P parameter sets on one time grid (the fields of ``MomentSolution``).

    Attributes
    ----------
    t_ps : numpy.ndarray
        Times in ps, shape (T,).
    valleys : list of str
        Valley names.
    ok : numpy.ndarray
        bool, shape (P,): False where the parameter set is impossible (rows are NaN).
    n, m_um2, w2_um2, D_cm2_s : numpy.ndarray
        Per valley, shape (P, V, T); units as in ``MomentSolution``. None when the solve was
        asked for the PL row only (``valleys=False``).
    pl, w2_pl_um2 : numpy.ndarray
        PL(t) in excitons/ps and the PL width in µm², shape (P, T).
    D_pl_cm2_s : numpy.ndarray or None
        ¼ d(w²_PL)/dt in cm²/s, shape (P, T); None with ``derivatives=False``.
    instrument : bool
        Whether the IRF and PSF are included.
    """

    t_ps: np.ndarray
    valleys: list[str]
    ok: np.ndarray
    n: np.ndarray | None
    m_um2: np.ndarray | None
    w2_um2: np.ndarray | None
    D_cm2_s: np.ndarray | None
    pl: np.ndarray
    w2_pl_um2: np.ndarray
    D_pl_cm2_s: np.ndarray | None
    instrument: bool = True


def stack_values(model: ValleyModel, values: Mapping[str, object]) -> tuple[dict, int]:
    """Every flat parameter of ``model`` as a float array of one common length P.

    ``values`` maps flat names (:meth:`ValleyModel.parameter_names`) to scalars or 1-D arrays
    (one entry per parameter set); names not given keep the model's value.

    Raises
    ------
    ConfigError
        For a name the model does not have, or arrays of different lengths.
    """
    slots = model._structure()["slots"]
    arrays = {}
    P = None
    for name, v in values.items():
        if name not in slots:
            raise ConfigError(
                f"unknown model parameter {name!r}; known: {', '.join(model.parameter_names())}"
            )
        a = np.asarray(v, dtype=float)
        if a.ndim > 1:
            raise ConfigError(f"parameter {name!r}: give a scalar or a 1-D array, got {a.shape}")
        if a.ndim == 1:
            if P is not None and a.size != P:
                raise ConfigError(
                    f"parameter {name!r} has {a.size} values, other parameters have {P}"
                )
            P = a.size
        arrays[name] = a
    P = 1 if P is None else P
    out = dict(_base_columns(model, P))
    for name, a in arrays.items():
        # a (P,) float column is used as it is (nothing here writes into the columns)
        out[name] = a if a.shape == (P,) else np.broadcast_to(a, (P,)).astype(float)
    return out, P


def _base_columns(model: ValleyModel, P: int) -> dict:
    """The model's own value of every flat parameter as a read-only (P,) array (cached on
    the model instance, beside its structure cache: a sampler asks for the same P often)."""
    cache = model.__dict__.get("_stack_base")
    if cache is None or cache["owner"] is not model:
        # ``with_parameters`` copies the instance dict: a copy must not see these values
        cache = model.__dict__["_stack_base"] = {"owner": model}
    hit = cache.get(P)
    if hit is not None:
        return hit
    out = {}
    for name, (kind, i, attr) in model._structure()["slots"].items():
        if kind == "valley":
            v = model.valleys[i]
            x = getattr(v, attr)
            x = math.nan if x is None else x  # D from a diffusivity table: filled in later
        elif kind == "transition":
            x = model.transitions[i].rate_per_ps
        elif kind == "source":
            x = getattr(model.source, attr)
        elif kind == "instrument":
            x = getattr(model.instrument, attr)
        else:
            x = model.T_K
        col = np.full(P, float(x))
        col.flags.writeable = False
        out[name] = col
    if len(cache) > 8:  # a handful of stack sizes in practice
        cache.clear()
        cache["owner"] = model
    cache[P] = out
    return out


def _cache_of(model: ValleyModel, name: str) -> dict:
    """A per-instance cache dict (``with_parameters`` copies the instance dict: a copy, whose
    values differ, must not see the original's entries)."""
    cache = model.__dict__.get(name)
    if cache is None or cache["owner"] is not model:
        cache = model.__dict__[name] = {"owner": model}
    elif len(cache) > 16:  # a handful of keys in practice
        cache.clear()
        cache["owner"] = model
    return cache


def _valid_rule(model: ValleyModel, given: tuple) -> tuple:
    """(names, lower bounds (G, 1), table names, energies given?) of :func:`_valid` for the
    ``given`` names (cached per model)."""
    cache = _cache_of(model, "_stack_valid")
    rule = cache.get(given)
    if rule is not None:
        return rule
    table_D = {f"D_{vl.name}_cm2_s" for vl in model.valleys if vl.diffusivity is not None}
    names, lower, table = [], [], []
    for name in given:
        head = name.split("_", 1)[0]
        if name in table_D:
            table.append(name)  # NaN means "from the table" (checked after D(T))
            continue
        names.append(name)
        if name in ("T_K", "w0_um"):
            lower.append(_TINY)  # x >= the least subnormal: x > 0
        elif name == "t0_ps" or head == "E":
            lower.append(-math.inf)  # finite only
        else:
            lower.append(0.0)
    slots = model._structure()["slots"]
    energies = any(slots[n][2] == "E_meV" for n in given)
    rule = cache[given] = (names, np.array(lower)[:, None], table, energies)
    return rule


_TINY = float(np.nextafter(0.0, 1.0))


def _valid(model: ValleyModel, v: dict, given, P: int) -> np.ndarray:
    """The value checks of ``ValleyModel._validate``, one bool per set.

    Only the ``given`` names can fail them: the others hold the (validated) model's values.
    Positive, non-negative and finite-only names are one comparison against a lower bound
    per name (the least subnormal, 0 or −∞), all finite.
    """
    names, lower, table, energies = _valid_rule(model, tuple(given))
    if names:
        X = np.stack([v[n] for n in names])
        ok = (np.isfinite(X) & (X >= lower)).all(axis=0)
    else:
        ok = np.ones(P, dtype=bool)
    if table:
        X = np.stack([v[n] for n in table])
        with np.errstate(invalid="ignore"):
            ok &= (np.isnan(X) | (np.isfinite(X) & (X >= 0))).all(axis=0)
    if energies:
        struct = model._structure()
        vs = model.valleys
        for i, j in zip(struct["from_idx"], struct["to_idx"], strict=True):
            ok &= v[f"E_{vs[i].name}_meV"] >= v[f"E_{vs[j].name}_meV"]
    return ok


def _diffusion_um2_ps(model: ValleyModel, v: dict, ok: np.ndarray) -> np.ndarray:
    """D_v in µm²/ps, shape (P, V); valleys with a diffusivity table use D(T) at each T.

    A table's D goes through the scalar :meth:`ValleyModel.diffusion_cm2_s` of each set, so the
    stack gets exactly its rules (the classical method, D_eff = k_BT/[M(1/τ + Γ_out)] of
    PHYSICS.md §3.5, which needs that set's rates); only models with such a table pay for it.
    """
    D = np.stack([v[f"D_{vl.name}_cm2_s"] for vl in model.valleys], axis=1)
    if all(vl.diffusivity is None for vl in model.valleys):
        # no table: every D is a given (checked by _valid) or the validated model's value
        return np.multiply(D, UM2_PS_PER_CM2_S, out=D)
    table = np.isnan(D)
    for p in np.flatnonzero(table.any(axis=1)):
        given = {k: float(a[p]) for k, a in v.items() if not math.isnan(a[p])}
        try:
            D[p] = model.with_parameters(**given).diffusion_cm2_s()
        except ValueError:  # ModelError and ConfigError: this set is refused
            ok[p] = False
    with np.errstate(invalid="ignore"):
        ok &= np.all(np.isfinite(D) & (D >= 0), axis=1)
    return D * UM2_PS_PER_CM2_S


def _libm(fn, x: np.ndarray) -> np.ndarray:
    """``fn`` (a ``math`` function) elementwise: the scalar solver's exact values."""
    x = np.asarray(x, float)
    return np.fromiter(map(fn, x.ravel().tolist()), float, x.size).reshape(x.shape)


def _thermal(model: ValleyModel) -> dict:
    """What depends only on T and the valley energies, for the model's own T and energies:
    π, the light-cone and phonon factors, through the scalar code's ``math`` calls (cached on
    the instance like :func:`_base_columns`; a fit that varies neither reuses them)."""
    cache = model.__dict__.get("_stack_thermal")
    if cache is not None and cache["owner"] is model:
        return cache
    kT = KB_MEV_PER_K * model.T_K
    vs = model.valleys
    logw = [math.log(vl.g * vl.M_m0) - vl.E_meV / kT for vl in vs]
    top = max(logw)
    w = [math.exp(x - top) for x in logw]
    total = 0.0
    for x in w:
        total += x
    pi = [x / total for x in w]
    cache = {
        "owner": model,
        "pi": pi,
        "pi_row": np.array([pi]),
        "light": [
            None if vl.light_cone_meV is None else -math.expm1(-vl.light_cone_meV / kT) for vl in vs
        ],
        "phonon": [
            None if t.phonon_meV is None else -math.expm1(-t.phonon_meV / kT)
            for t in model.transitions
        ],
    }
    model.__dict__["_stack_thermal"] = cache
    return cache


def _thermal_many(model: ValleyModel, v: dict, given) -> tuple:
    """π (P or 1, V), its columns, and the light-cone and phonon factors (None: absent) of
    ``ValleyModel._rate_inputs`` for every set; one row serves all sets when none of them
    changes T or an energy (``given``: the names that differ from the model's values; None:
    any may)."""
    vs = model.valleys
    V = len(vs)
    if given is not None and "T_K" not in given and not any(n[:2] == "E_" for n in given):
        th = _thermal(model)
        return th["pi_row"], th["pi"], th["light"], th["phonon"]
    kT = KB_MEV_PER_K * v["T_K"]
    logw = np.stack([math.log(vl.g * vl.M_m0) - v[f"E_{vl.name}_meV"] / kT for vl in vs], axis=1)
    top = logw.max(axis=1, keepdims=True)
    w = _libm(math.exp, logw - top)
    total = np.zeros(w.shape[0])
    for i in range(V):  # left to right, as the scalar code sums
        total += w[:, i]
    pi = w / total[:, None]
    light = [
        None if vl.light_cone_meV is None else -_libm(math.expm1, -vl.light_cone_meV / kT)
        for vl in vs
    ]
    phonon = [
        None if t.phonon_meV is None else -_libm(math.expm1, -t.phonon_meV / kT)
        for t in model.transitions
    ]
    return pi, [pi[:, i] for i in range(V)], light, phonon


def rate_inputs_many(
    model: ValleyModel, v: dict, given=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(π, K, γ) of ``ValleyModel._rate_inputs`` for every set: shapes (P,V), (P,V,V), (P,V).

    The same operations in the same order, on arrays over the sets. The few transcendental
    values per set go through ``math`` as in the scalar code (numpy's ``exp`` may differ from
    libm's in the last bit, which near-degenerate valleys at low T amplify ~1e4-fold in D(t)).
    ``given`` (the names that differ from the model's values; None: any may) lets sets that
    share the model's T and energies reuse its π and Boltzmann factors.
    """
    vs = model.valleys
    V = len(vs)
    P = v["T_K"].shape[0]
    struct = model._structure()
    pi_rows, pi_s, light, phonon = _thermal_many(model, v, given)
    pi = np.empty((P, V))
    pi[:] = pi_rows
    gamma = np.empty((P, V))
    for i, vl in enumerate(vs):
        gamma[:, i] = v[f"krad_{vl.name}_per_ps"]
        if light[i] is not None:
            gamma[:, i] *= light[i]
    K = np.zeros((P, V, V))
    for k, (t, i, j) in enumerate(
        zip(model.transitions, struct["from_idx"], struct["to_idx"], strict=True)
    ):
        down = v[f"rate_{t.from_}_{t.to}_per_ps"]
        if phonon[k] is not None:
            down = down / phonon[k]
        up = down * pi_s[i] / pi_s[j]
        K[:, j, i] += down
        K[:, i, i] -= down
        K[:, i, j] += up
        K[:, j, j] -= up
    for i, vl in enumerate(vs):
        K[:, i, i] -= gamma[:, i] + v[f"knr_{vl.name}_per_ps"]
    return pi, K, gamma


def solve_moments_many(
    model: ValleyModel,
    t_ps,
    values: Mapping[str, object],
    *,
    instrument: bool = True,
    derivatives: bool = True,
    valleys: bool = True,
) -> MomentStack:
    """:func:`~fitdiff.solvers.solve_moments` for a stack of parameter sets at once.

    Parameters
    ----------
    model : ValleyModel
        The base model; ``values`` replaces some of its flat parameters.
    t_ps : array_like
        Times in ps, shape (T,).
    values : mapping of str to scalar or 1-D array
        Flat parameter values (:meth:`ValleyModel.parameter_names`), arrays of one common
        length P (scalars apply to all sets). Setting ``D_<valley>_cm2_s`` fixes that valley's
        D, as in :meth:`ValleyModel.with_parameters`.
    instrument : bool
        As in :func:`~fitdiff.solvers.solve_moments` (IRF and PSF included).
    derivatives : bool
        False skips the time derivatives (``D_cm2_s`` and ``D_pl_cm2_s`` are then None):
        what a fit of w²_PL(t) and PL(t) needs.
    valleys : bool
        False keeps only the PL row (``n``, ``m_um2``, ``w2_um2``, ``D_cm2_s`` are None).

    Returns
    -------
    MomentStack
        Rows of impossible parameter sets are NaN with ``ok`` False.

    Notes
    -----
    Sets with a ballistic start (any ``tau_<valley>_ps > 0``) go through the three-level chain
    (:func:`~fitdiff.solvers.linear.chain_response_many`), the others through the diffusive
    path; each group is one batched pass.
    """
    t = np.asarray(t_ps, dtype=float).ravel()
    v, P = stack_values(model, values)
    given = values.keys()
    ok = _valid(model, v, given, P)
    every_ok = bool(ok.all())
    # impossible sets are computed with the base values (no warnings) and blanked afterwards
    if not every_ok:
        base, _ = stack_values(model, {})
        for name in v:
            v[name] = np.where(ok, v[name], base[name][0])
    D = _diffusion_um2_ps(model, v, ok)
    if not every_ok:
        D = np.where(ok[:, None], D, np.nan_to_num(D))
    V, T = len(model.valleys), t.size
    nq = 4 if derivatives else 2
    R = V + 1 if valleys else 1  # rows: the valleys (when kept), then the PL
    Z = None
    kernels = None if derivatives or not T else _kernels()
    if kernels is not None:
        plan = _plan(model, t, given, instrument)
        Z = _compiled_diffusive(kernels, model, v, given, D, plan, P, R, T)
    if Z is None:
        Z = _numpy_groups(model, v, given, D, t, instrument, every_ok, P, nq, R)
    with np.errstate(divide="ignore", invalid="ignore"):
        n, m = Z[:, 0], Z[:, 1]
        w2 = m / n
        Dt = None
        if derivatives:
            Dt = Z[:, 3] * n
            Dt -= m * Z[:, 2]
            Dt *= 0.25 / UM2_PS_PER_CM2_S
            Dt /= n * n
    w2_pl = w2[:, -1]
    if instrument:
        w2_pl = w2_pl + (v["w_psf_um"] ** 2)[:, None]
    bad = ~ok
    if bad.any():
        for a in (Z, w2, Dt, w2_pl):
            if a is not None:
                a[bad] = np.nan
    return MomentStack(
        t_ps=t,
        valleys=model.names,
        ok=ok,
        n=Z[:, 0, :V] if valleys else None,
        m_um2=Z[:, 1, :V] if valleys else None,
        w2_um2=w2[:, :V] if valleys else None,
        D_cm2_s=Dt[:, :V] if (valleys and Dt is not None) else None,
        pl=Z[:, 0, -1],
        w2_pl_um2=w2_pl,
        D_pl_cm2_s=None if Dt is None else Dt[:, -1],
        instrument=instrument,
    )


def _numpy_groups(model, v, given, D, t, instrument, every_ok, P, nq, R) -> np.ndarray:
    """n, m (and their derivatives) of every set on the numpy path, shape (P, nq, R, T): sets
    with a ballistic start and delta-pulse sets each form their own batched pass."""
    pi, K, gamma = rate_inputs_many(model, v, given)
    T = t.size
    sigma = v["pulse_fwhm_ps"] / FWHM_PER_SIGMA
    if instrument:
        sigma = np.hypot(sigma, v["irf_fwhm_ps"] / FWHM_PER_SIGMA)
    tau = np.subtract(t[None, :], v["t0_ps"][:, None])
    Z = np.empty((P, nq, R, T))
    taus = np.stack([v[f"tau_{vl.name}_ps"] for vl in model.valleys], axis=1)
    ballistic = (taus > 0).any(axis=1)
    delta_rows = sigma == 0.0
    one_group = every_ok and not ballistic.any() and not delta_rows.any()
    for sel_b in (False, True):
        for delta in (False, True):
            if one_group:
                if sel_b or delta:  # one group holds every set (a fit's usual stack)
                    continue
                rows = np.arange(P)
            else:
                rows = np.flatnonzero((ballistic == sel_b) & (delta_rows == delta))
            if rows.size == 0:
                continue
            every = rows.size == P
            pick = slice(None) if every else rows
            args = (pi[pick], K[pick], gamma[pick], D[pick], tau[pick], sigma[pick])
            src = (v["w0_um"][pick], model)
            out = Z if every else np.empty((rows.size, nq, R, T))
            if sel_b:
                _chain_many(*args, taus[pick], *src, delta, out)
            else:
                _diffusive_many(*args, *src, delta, out)
            if not every:
                Z[rows] = out
    return Z


def _eigen_many(K: np.ndarray, pi: np.ndarray):
    """``Block.detailed_balance`` for a stack of rate matrices (one stacked ``eigh``)."""
    root = np.sqrt(pi)
    Ks = K / root[:, :, None] * root[:, None, :]
    lam, U = np.linalg.eigh(0.5 * (Ks + np.swapaxes(Ks, 1, 2)))
    return lam, root[:, :, None] * U, np.swapaxes(U, 1, 2) / root[:, None, :]


def _pulse(lam, tau, sigma, order, delta, work=None):
    """Pulse-response stack for P sets: lam (P, L), tau (P, T), sigma (P,).

    When every set has the same pulse centre and width (a fit that varies neither t0 nor the
    pulse or IRF), the Gaussian factors are computed once for all sets.
    """
    shared = tau.shape[0] > 0 and (tau == tau[:1]).all() and (sigma == sigma[0]).all()
    t = tau[0] if shared else tau[:, None, :]
    if delta:
        return pulse_terms(lam, t, 0.0, order)
    sig = float(sigma[0]) if shared else sigma[:, None, None]
    return pulse_terms(lam, t, sig, order, work)


def _taylor_pair(lam_a, lam_b, tau, sigma, H1a) -> np.ndarray:
    """h[a, b](τ) of one nearly coincident pair (``linear._pair_table``'s Taylor branch)."""
    if lam_a == lam_b:
        return H1a  # h[a, a] = h'(a)
    c, d = 0.5 * (lam_a + lam_b), 0.5 * (lam_a - lam_b)
    H = pulse_derivatives(np.array(c), tau, float(sigma), 3)
    return H[1] + H[3] * d**2 / 6.0


def _scale(tau, sigma):
    return (np.abs(tau).max(axis=1) if tau.shape[1] else 0.0) + 5.0 * sigma


_WORK = Workspace()


def _kernels():
    """The compiled diffusive pass (:mod:`.moments_many_numba`), or None for the numpy path.

    The rule of :mod:`fitdiff.extract.compiled` at the solver's level: ``FITDIFF_NUMBA=0``
    never, ``FITDIFF_NUMBA=1`` whenever numba is installed, otherwise once numba is imported
    in this process (its load, ~1 s, is then paid). A caller that knows it will evaluate
    enough sets to pay the load (a sampler) calls :func:`load_compiled` first.
    """
    setting = os.environ.get("FITDIFF_NUMBA", "").strip()
    if setting == "0" or (setting != "1" and "numba" not in sys.modules):
        return None
    return load_compiled()


def load_compiled():
    """Import the compiled kernels (numba) and return their module; None without numba."""
    mod = sys.modules.get(f"{__package__}.moments_many_numba")
    if mod is not None:
        return mod
    if "numba" not in sys.modules and importlib.util.find_spec("numba") is None:
        return None
    from . import moments_many_numba

    return moments_many_numba


def _plan(model: ValleyModel, t: np.ndarray, given, instrument: bool) -> dict:
    """What the compiled pass needs that does not change while the same names vary on the
    same time grid (cached per model): the shared τ = t − t0 and σ when t0, the pulse and the
    IRF are fixed, whether every set is diffusive (no ballistic start can be given), the
    thermal factors when T and the energies are fixed, and the transition indices."""
    key = (t.tobytes(), tuple(given), instrument)
    cache = _cache_of(model, "_stack_plan")
    plan = cache.get(key)
    if plan is not None:
        return plan
    vs = model.valleys
    struct = model._structure()
    src, ins = model.source, model.instrument
    plan = {"t": t, "instrument": instrument, "tau": None, "sigma": None, "thermal": None}
    if "t0_ps" not in given:
        plan["tau"] = np.subtract(t[None, :], np.array([src.t0_ps])[:, None])
    if "pulse_fwhm_ps" not in given and not (instrument and "irf_fwhm_ps" in given):
        sigma = np.array([src.pulse_fwhm_ps]) / FWHM_PER_SIGMA
        if instrument:
            sigma = np.hypot(sigma, np.array([ins.irf_fwhm_ps]) / FWHM_PER_SIGMA)
        plan["sigma"] = sigma
    taus = [f"tau_{vl.name}_ps" for vl in vs]
    plan["taus"] = None if any(n in given for n in taus) else taus
    plan["diffusive"] = plan["taus"] is None or all(vl.tau_ps == 0 for vl in vs)
    if "T_K" not in given and not any(n[:2] == "E_" for n in given):
        plan["thermal"] = _factor_rows(*_thermal_many(model, None, given))
    plan["columns"] = (
        [f"krad_{vl.name}_per_ps" for vl in vs]
        + [f"knr_{vl.name}_per_ps" for vl in vs]
        + [f"rate_{tr.from_}_{tr.to}_per_ps" for tr in model.transitions]
    )
    plan["fr"] = np.array(struct["from_idx"], dtype=np.int64)
    plan["to"] = np.array(struct["to_idx"], dtype=np.int64)
    plan["source"] = struct["source_idx"]
    cache[key] = plan
    return plan


def _factor_rows(pi, pi_s, light, phonon) -> tuple:
    """π, light-cone and phonon factors as (P or 1, V), (P or 1, V), (P or 1, N) arrays, 1
    where a factor is absent (multiplying or dividing by 1 is exact)."""

    def rows(factors, n):
        if not factors:
            return np.ones((1, n))
        if all(f is None for f in factors):
            return np.ones((1, len(factors)))
        cols = [np.ones(1) if f is None else np.atleast_1d(np.asarray(f, float)) for f in factors]
        size = max(c.size for c in cols)
        return np.stack([np.broadcast_to(c, (size,)) for c in cols], axis=1)

    return np.asarray(pi, float).reshape(-1, len(pi_s)), rows(light, len(pi_s)), rows(phonon, 0)


def _compiled_diffusive(kernels, model, v, given, D, plan, P, R, T):
    """n, m and the PL row (P, 2, R, T) of a stack whose sets are all diffusive and pulsed,
    through the compiled pass (:mod:`.moments_many_numba`); None when the stack needs the
    numpy path (a ballistic start, a delta pulse, a nearly coincident eigenvalue pair).

    The V-term sums of the compiled pass may round differently from numpy's BLAS products
    (fused multiply-adds), which the time derivatives' cancellation in D(t) (dm/dt·n −
    m·dn/dt at the pulse's leading edge) would amplify ~1e4-fold: only n, m and the PL row
    come from here. Six calls in all, whatever the number of sets: the rate matrices, one
    stacked ``eigh``, the coefficients and pulse arguments, ``exp``, erfcx, the rows.
    """
    if not plan["diffusive"] and (np.stack([v[n] for n in plan["taus"]]) > 0).any():
        return None
    sigma = plan["sigma"]
    if sigma is None:
        sigma = v["pulse_fwhm_ps"] / FWHM_PER_SIGMA
        if plan["instrument"]:
            sigma = np.hypot(sigma, v["irf_fwhm_ps"] / FWHM_PER_SIGMA)
    if (sigma == 0.0).any():  # a delta pulse: its own branch of the pulse response
        return None
    tau = plan["tau"]
    if tau is None:
        tau = np.subtract(plan["t"][None, :], v["t0_ps"][:, None])
    pi, light, phonon = plan["thermal"] or _factor_rows(*_thermal_many(model, v, given))
    V = len(model.valleys)
    X = np.stack([v[n] for n in plan["columns"]])  # k_rad, k_nr per valley, then the rates
    per_set = tau.shape[0] > 1 or sigma.size > 1  # else one Gaussian row serves every set
    f, i = np.float64, np.int64
    layout = (
        (((P, V), f),) * 4
        + (((P, V, V), f),) * 4
        + (
            ((P, V, T), f),
            ((P if per_set else 1, T), f),
            ((P * V * T,), f),
            ((P * V * T,), i),
            ((P * V + 1,), i),
        )
    )
    gamma, root, beta, e1, Ksym, S, coef, safe, eA, G, zt, zi, off = _WORK.many("pl", layout)
    kernels.rate_setup(
        pi, light, phonon, X[:V], X[V : 2 * V], X[2 * V :], plan["fr"], plan["to"], gamma, root,
        Ksym,
    )  # fmt: skip
    lam, U = np.linalg.eigh(Ksym)
    k = kernels.prepare_rows(
        lam,
        U,
        root,
        D,
        v["w0_um"],
        model.source.excitons,
        plan["source"],
        tau,
        sigma,
        S,
        beta,
        e1,
        coef,
        safe,
        eA,
        G,
        zt,
        zi,
        off,
    )
    if k < 0:
        return None
    # numpy's exp and scipy's erfcx, as on the numpy path: the same values to the bit
    with np.errstate(under="ignore"):
        np.exp(eA, out=eA)
        np.exp(G, out=G)
    ex = erfcx(zt[:k], out=zt[:k])
    out = np.empty((P, 2, R, T))
    kernels.diffusive_rows(lam, S, beta, e1, coef, safe, gamma, tau, sigma, eA, G, ex, zi, off, out)
    return out


def _diffusive_many(pi, K, gamma, D, tau, sigma, w0, model, delta, out) -> None:
    """``moments._diffusive_moments`` for P sets, into ``out`` of shape (P, nq, R, T), with
    numpy (:func:`_compiled_diffusive` is the compiled pass of the common case).

    The large arrays live in a per-thread :class:`~fitdiff.solvers.linear.Workspace`.
    """
    work = _WORK
    D4 = 4.0 * D
    lam, S, Sinv = _eigen_many(K, pi)
    s = model._structure()["source_idx"]
    excitons = model.source.excitons
    w0_exc = w0**2 * excitons
    P, V = lam.shape
    T = tau.shape[1]
    scale = _scale(tau, sigma)
    diff = lam[:, :, None] - lam[:, None, :]
    close = np.abs(diff) * scale[:, None, None] < _CLOSE
    safe = np.where(close, 1.0, diff)
    chat = np.matmul(Sinv * D4[:, None, :], S)
    beta = Sinv[:, :, s] * excitons
    coef = chat * beta[:, None, :]  # coefficient of h[λ_i, λ_j] in the m level
    e1 = Sinv[:, :, s] * w0_exc[:, None]
    close.reshape(P, V * V)[:, :: V + 1] = False
    H, f = _pulse(lam, tau, sigma, 1, delta, work)
    E = work.get("E", (P, 2, V, T))
    np.multiply(beta[:, :, None], H[0], out=E[:, 0])
    np.multiply(e1[:, :, None], H[0], out=E[:, 1])
    # the divided-difference table h[λ_i, λ_j](τ) and its contraction, as the one-set path
    # does them (same operations, so the same rounding), in reused memory
    table = work.get("pair", (P, V, V, T))
    np.subtract(H[0][:, :, None, :], H[0][:, None, :, :], out=table)
    table /= safe[..., None]
    table.reshape(P, V * V, T)[:, :: V + 1] = H[1]
    for p, i, j in zip(*np.nonzero(close), strict=True):
        table[p, i, j] = _taylor_pair(lam[p, i], lam[p, j], tau[p], sigma[p], H[1][p, i])
    ctr = np.matmul(coef[:, :, None, :], table, out=work.get("ctr", (P, V, 1, T)))
    E[:, 1] += ctr[:, :, 0]
    SE = np.matmul(S[:, None], E, out=work.get("SE", (P, 2, V, T)))
    _store(out, SE, gamma, V)
    if out.shape[1] == 4:
        # exact time derivatives from the ODE itself (no finite differences)
        dZ = np.matmul(K[:, None], SE, out=work.get("dZ", (P, 2, V, T)))
        dZ[:, 1] += D4[:, :, None] * SE[:, 0]
        f = f.reshape(P, T) if f.ndim == 3 else f
        dZ[:, 0, s] += excitons * f
        dZ[:, 1, s] += w0_exc[:, None] * f
        _store(out[:, 2:], dZ, gamma, V)


def _store(out, X, gamma, V) -> None:
    """Write n, m (or their derivatives) ``X`` (P, 2, V, T) and the PL row into ``out``.

    ``out`` has V + 1 rows (valleys then the PL) or 1 (the PL only); the PL row is the
    γ-weighted sum of the valley rows.
    """
    if out.shape[2] > 1:
        out[:, :2, :V] = X
    out[:, :2, -1] = np.matmul(gamma[:, None, None, :], X)[:, :, 0]


def _chain_many(pi, K, gamma, D, tau, sigma, taus, w0, model, delta, out) -> None:
    """``moments._chain_moments`` (ballistic valleys) for P sets, into ``out`` (P, nq, R, T).

    The ballistic valleys may differ between sets; the p level then holds every valley, with
    the non-ballistic ones uncoupled (zero coupling in and out), which leaves n and m as they
    are: those rows of p are never fed and never feed m.
    """
    P, V = pi.shape
    T = tau.shape[1]
    lam, S, Sinv = _eigen_many(K, pi)
    s = model._structure()["source_idx"]
    excitons = model.source.excitons
    bal = taus > 0
    safe_tau = np.where(bal, taus, 1.0)
    diagK = np.diagonal(K, axis1=1, axis2=2)
    kp = np.where(bal, diagK - 1.0 / safe_tau, diagK)
    c_np = np.where(bal, 2.0 * D / safe_tau, 0.0)  # ⟨v²⟩ in µm²/ps², diagonal (P, V)
    c_pm = np.where(bal, 2.0, 0.0)  # dm/dt = 2 p
    d4 = np.where(bal, 0.0, 4.0 * D)
    b = np.zeros((P, V))
    b[:, s] = excitons
    w02 = (w0**2)[:, None]
    eye = np.broadcast_to(np.eye(V), (P, V, V))
    bK = (lam, S, Sinv)
    blocks = [bK, (kp, eye, eye), bK]  # n and m share K (the same object: shared stacks)
    couplings = {(1, 0): c_np, (2, 0): d4, (2, 1): c_pm}
    sources = [b, None, w02 * b]
    X = chain_response_many(blocks, couplings, sources, tau, sigma, delta)
    if delta:
        f = np.zeros((P, T))
    else:  # linear.pulse_shape for each set
        sig = sigma[:, None]
        f = np.exp(-0.5 * (tau / sig) ** 2) / (_SQRT2PI * sig)
    _store(out, np.stack([X[0], X[2]], axis=1), gamma, V)
    if out.shape[1] == 4:
        # exact time derivatives from the ODE itself (no finite differences)
        dn = np.matmul(K, X[0]) + b[:, :, None] * f[:, None, :]
        dm = np.matmul(K, X[2])
        dm = dm + d4[:, :, None] * X[0]
        dm = dm + c_pm[:, :, None] * X[1]
        dm = dm + (w02 * b)[:, :, None] * f[:, None, :]
        _store(out[:, 2:], np.stack([dn, dm], axis=1), gamma, V)


def solve_moments_loop(model: ValleyModel, t_ps, values: Mapping[str, object], **kw):
    """Reference: one :func:`solve_moments` per set (what :func:`solve_moments_many` replaces).

    Returns a list of ``MomentSolution`` (None for a set the model refuses).
    """
    arrays, P = stack_values(model, values)
    given = {k: np.broadcast_to(np.asarray(values[k], float), (P,)) for k in values}
    out = []
    for p in range(P):
        try:
            m = model.with_parameters(**{k: float(a[p]) for k, a in given.items()})
        except ValueError:
            out.append(None)
            continue
        out.append(solve_moments(m, t_ps, **kw))
    del arrays
    return out
