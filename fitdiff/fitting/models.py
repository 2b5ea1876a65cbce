"""Forward models behind one interface: a parameter table with units and ``predict``.

A model maps a dict of parameter values (lab units, PHYSICS.md §0) and a dataset to the
predicted values on the dataset's grid. ``linear`` and ``ballistic`` predict w²(t); the
``diffusivity`` model predicts D(T) through :mod:`fitdiff.physics`; the ``valleys`` model
(:mod:`fitdiff.fitting.valleys`) predicts w²_PL(t) and PL(t) through :mod:`fitdiff.solvers`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import ConfigError, ModelError
from ..units import UM2_PS_PER_CM2_S
from .data import Dataset

#: Suffixes of parameter names and the unit they carry (PHYSICS.md §0: units in every name).
_UNIT_SUFFIXES = (
    ("_cm2_s", "cm²/s"),
    ("_um2", "µm²"),
    ("_um", "µm"),
    ("_per_ps", "1/ps"),
    ("_ps", "ps"),
    ("_meV", "meV"),
    ("_eV", "eV"),
    ("_K", "K"),
    ("_m0", "m0"),
    ("_g_cm2", "g/cm²"),
    ("_cm_s", "cm/s"),
)


def unit_of(name: str) -> str:
    """Return the unit a parameter name carries in its suffix ('' when dimensionless)."""
    base = name.split("__", 1)[0]
    for suffix, unit in _UNIT_SUFFIXES:
        if base.endswith(suffix):
            return unit
    return ""


@dataclass(frozen=True)
class ParameterInfo:
    """One row of a model's parameter table (values in ``unit``)."""

    name: str
    unit: str
    default: float
    min: float = -math.inf
    max: float = math.inf
    vary: bool = True
    description: str = ""


class ForwardModel:
    """Interface of every fittable model.

    Subclasses set ``kind``, ``datasets`` (the dataset kinds they predict), ``references`` and
    implement :meth:`parameter_table` and :meth:`predict`.
    """

    kind = ""
    datasets: tuple[str, ...] = ()
    references: tuple[str, ...] = ()

    def parameter_table(self) -> list[ParameterInfo]:
        raise NotImplementedError

    def parameter_names(self) -> list[str]:
        return [p.name for p in self.parameter_table()]

    def predict(self, values: dict, dataset: Dataset) -> np.ndarray:
        """Return the model on ``dataset.x`` for parameter ``values`` (lab units)."""
        raise NotImplementedError

    def prepare_many(self, n_sets: int, dataset: Dataset) -> None:
        """Get ready for about ``n_sets`` :meth:`predict_many` rows on ``dataset`` (a sampler
        says how many it will ask for). Models with an optional compiled path load it here
        when that pays; the default does nothing."""

    def predict_many(self, values: dict, dataset: Dataset) -> np.ndarray:
        """The model for a stack of P parameter sets at once, shape (P, len(dataset)).

        ``values`` maps each parameter name to a scalar (the same in every set) or a 1-D array
        of length P. Rows of sets the model refuses (where :meth:`predict` raises a
        ``ValueError``, e.g. ``ModelError``) are NaN. Agrees with :meth:`predict` row by row
        to rounding (tested to 1e-12 relative). This default calls :meth:`predict` per set;
        the models here override it with one vectorised pass.
        """
        P = _stack_size(values)
        out = np.full((P, len(dataset.x)), np.nan)
        for p in range(P):
            row = {k: (v[p] if np.ndim(v) else v) for k, v in values.items()}
            try:
                out[p] = self.predict(row, dataset)
            except ValueError:
                continue
        return out

    def extra_columns(self, values: dict, dataset: Dataset) -> dict[str, np.ndarray]:
        """Model-specific columns for ``best_fit.csv`` (default: none)."""
        return {}

    def validity_warnings(self, values: dict) -> list[str]:
        """Where the model is outside its own validity at ``values`` (default: never).

        Recorded with the fit-quality warnings of ``results.json`` / ``posterior.json`` and
        shown at the top of the report (PHYSICS.md §3.5: never silently used).
        """
        return []

    def fingerprint(self) -> dict:
        """JSON-able description that changes whenever predictions could change."""
        return {"kind": self.kind, "parameters": [asdict(p) for p in self.parameter_table()]}

    def check_dataset(self, dataset: Dataset) -> None:
        if dataset.kind not in self.datasets:
            raise ConfigError(
                f"model {self.kind!r} cannot predict a {dataset.kind!r} dataset "
                f"({dataset.label!r}); it predicts {list(self.datasets)}"
            )


_D_T_PARAMETERS = (
    # Defaults: the parameters of seed 000 Fig. 2 as quoted in PHYSICS.md §2 reference values.
    ParameterInfo("xi_eV", "eV", 7.0, 0.0, math.inf, True, "deformation potential |Ξc − Ξv|"),
    ParameterInfo("M_m0", "m0", 0.5, 0.0, math.inf, False, "exciton mass"),
    ParameterInfo("rho_g_cm2", "g/cm²", 4.46e-7, 0.0, math.inf, False, "areal mass density"),
    ParameterInfo("s_cm_s", "cm/s", 4.1e5, 0.0, math.inf, False, "sound velocity"),
    ParameterInfo("tau_dis_ps", "ps", math.inf, 0.0, math.inf, False, "disorder scattering time"),
    ParameterInfo("tau_r_ps", "ps", math.inf, 0.0, math.inf, False, "exciton lifetime"),
)

_D_METHODS = ("classical", "log", "cooperon")


def _d_of_T(T_K, values: dict, method: str) -> np.ndarray:
    """D(T) in cm²/s from PHYSICS.md §2 through fitdiff.physics (classical or with correction)."""
    from .. import physics  # imported here: fitting may use physics only through this model

    kw = {k: values[k] for k in ("xi_eV", "M_m0", "rho_g_cm2", "s_cm_s", "tau_dis_ps")}
    if method == "classical":
        return np.asarray(physics.d_classical(T_K, **kw), float)
    return np.asarray(physics.d_total(T_K, **kw, tau_r_ps=values["tau_r_ps"], method=method), float)


def _stack_size(values: dict) -> int:
    """P of a stack of parameter values (1 when every value is a scalar)."""
    sizes = {np.size(v) for v in values.values() if np.ndim(v)}
    if len(sizes) > 1:
        raise ModelError(f"parameter arrays of different lengths {sorted(sizes)} in one stack")
    return sizes.pop() if sizes else 1


def _column(values: dict, name: str, P: int) -> np.ndarray:
    """``values[name]`` as a (P, 1) column (broadcasts against the dataset's x)."""
    return np.broadcast_to(np.asarray(values[name], float), (P,))[:, None]


#: Names of the D(T) parameters (PHYSICS.md §2) that :func:`diffusivity_cm2_s` reads.
D_T_PARAMETER_NAMES = tuple(p.name for p in _D_T_PARAMETERS)


def diffusivity_cm2_s(T_K, values: dict, method: str) -> np.ndarray:
    """D(T) in cm²/s as the fits evaluate it, at any temperatures (e.g. a fine grid).

    Parameters
    ----------
    T_K : array_like
        Temperatures in K.
    values : dict
        Values of :data:`D_T_PARAMETER_NAMES` in their units (missing ones take the defaults).
    method : {"classical", "log", "cooperon"}
        As ``[model] method`` / ``diffusivity``.
    """
    if method not in _D_METHODS:
        raise ConfigError(f"D(T) method {method!r} is not one of {_D_METHODS}")
    full = {p.name: p.default for p in _D_T_PARAMETERS} | {
        k: float(v) for k, v in values.items() if k in D_T_PARAMETER_NAMES
    }
    return _d_of_T(np.asarray(T_K, float), full, method)


class LinearModel(ForwardModel):
    """Fick's law w²(t) = w0² + 4 D t (PHYSICS.md §1; seed 001 below eq. 3).

    Parameters
    ----------
    diffusivity : {None, "classical", "log", "cooperon"}
        None fits ``D_cm2_s`` directly; otherwise D is D(T_K) of PHYSICS.md §2 and the D(T)
        parameters (``T_K, xi_eV, M_m0, rho_g_cm2, s_cm_s, tau_dis_ps, tau_r_ps``) replace it,
        so a temperature series of widths can share ``xi_eV``.
    """

    kind = "linear"
    datasets = ("widths",)
    references = ("PHYSICS.md §1: w²(t) = w0² + 4Dt",)

    def __init__(self, diffusivity: str | None = None):
        if diffusivity is not None and diffusivity not in _D_METHODS:
            raise ConfigError(f"model.diffusivity: {diffusivity!r} is not one of {_D_METHODS}")
        self.diffusivity = diffusivity

    def parameter_table(self):
        table = [ParameterInfo("w0_2_um2", "µm²", 1.0, 0.0, math.inf, True, "initial w²")]
        if self.diffusivity is None:
            table.append(ParameterInfo("D_cm2_s", "cm²/s", 1.0, -math.inf, math.inf, True, "D"))
        else:
            table.append(ParameterInfo("T_K", "K", 300.0, 0.0, math.inf, False, "temperature"))
            table.extend(_D_T_PARAMETERS)
        return table

    def diffusion_cm2_s(self, values: dict) -> float:
        if self.diffusivity is None:
            return values["D_cm2_s"]
        return float(_d_of_T(np.array([values["T_K"]]), values, self.diffusivity)[0])

    def predict(self, values, dataset):
        D = self.diffusion_cm2_s(values) * UM2_PS_PER_CM2_S
        return values["w0_2_um2"] + 4.0 * D * dataset.x

    def predict_many(self, values, dataset):
        P = _stack_size(values)
        if self.diffusivity is None:
            D = _column(values, "D_cm2_s", P)
        else:
            cols = {k: _column(values, k, P) for k in ("T_K", *(p.name for p in _D_T_PARAMETERS))}
            with np.errstate(all="ignore"):
                D = _d_of_T(cols["T_K"], cols, self.diffusivity)
        return _column(values, "w0_2_um2", P) + 4.0 * (D * UM2_PS_PER_CM2_S) * dataset.x

    def fingerprint(self):
        return {**super().fingerprint(), "diffusivity": self.diffusivity}


class BallisticModel(ForwardModel):
    """Single valley with momentum relaxation (PHYSICS.md §3.2).

    w²(t) = w0² + 4 D [t − τ (1 − exp(−t/τ))]: ballistic (w² − w0² ∝ t²) for t << τ,
    diffusive for t >> τ. Times before 0 are treated as 0 (no spreading before the pulse).
    """

    kind = "ballistic"
    datasets = ("widths",)
    references = ("PHYSICS.md §3.2 (relaxation-time Boltzmann, exact in moments)",)

    def parameter_table(self):
        return [
            ParameterInfo("w0_2_um2", "µm²", 1.0, 0.0, math.inf, True, "initial w²"),
            ParameterInfo("D_cm2_s", "cm²/s", 1.0, 0.0, math.inf, True, "diffusion coefficient"),
            ParameterInfo("tau_ps", "ps", 1.0, 0.0, math.inf, True, "momentum relaxation time"),
        ]

    def predict(self, values, dataset):
        tau = values["tau_ps"]
        if not tau > 0:
            raise ModelError(f"tau_ps must be > 0, got {tau}")
        t = np.clip(dataset.x, 0.0, None)
        D = values["D_cm2_s"] * UM2_PS_PER_CM2_S
        return values["w0_2_um2"] + 4.0 * D * (t + tau * np.expm1(-t / tau))

    def predict_many(self, values, dataset):
        P = _stack_size(values)
        tau = _column(values, "tau_ps", P)
        bad = ~(tau[:, 0] > 0)
        tau = np.where(bad[:, None], 1.0, tau)  # refused sets: computed harmlessly, then NaN
        t = np.clip(dataset.x, 0.0, None)
        D = _column(values, "D_cm2_s", P) * UM2_PS_PER_CM2_S
        out = _column(values, "w0_2_um2", P) + 4.0 * D * (t + tau * np.expm1(-t / tau))
        out[bad] = np.nan
        return out


class DiffusivityModel(ForwardModel):
    """D(T) of PHYSICS.md §2 (seed 000 eqs. 3, 4, 9 and S11–S13) fitted to a D(T) table.

    Parameters
    ----------
    method : {"classical", "log", "cooperon"}
        ``classical``: D_cl only; ``log``/``cooperon``: D_cl + weak-localization correction.
    """

    kind = "diffusivity"
    datasets = ("table",)
    references = ("seed 000 (weak localization of excitons), PHYSICS.md §2",)

    def __init__(self, method: str = "log"):
        if method not in _D_METHODS:
            raise ConfigError(f"model.method: {method!r} is not one of {list(_D_METHODS)}")
        self.method = method

    def parameter_table(self):
        return list(_D_T_PARAMETERS)

    def predict(self, values, dataset):
        return _d_of_T(dataset.x, values, self.method)

    def predict_many(self, values, dataset):
        P = _stack_size(values)
        cols = {p.name: _column(values, p.name, P) for p in _D_T_PARAMETERS}
        with np.errstate(all="ignore"):
            out = _d_of_T(dataset.x, cols, self.method)
        return np.array(np.broadcast_to(out, (P, len(dataset.x))), float)

    def extra_columns(self, values, dataset):
        if self.method == "classical":
            return {}
        return {"D_classical_cm2_s": _d_of_T(dataset.x, values, "classical")}

    def fingerprint(self):
        return {**super().fingerprint(), "method": self.method}


def model_kinds() -> tuple[str, ...]:
    return ("linear", "ballistic", "diffusivity", "valleys", "tensor")
