"""The ``valleys`` forward model: multivalley moments predicting w²_PL(t) and PL(t) jointly.

Wraps :class:`fitdiff.solvers.ValleyModel` (PHYSICS.md §3.1–3.3) and its exact moment solver
:func:`fitdiff.solvers.solve_moments` with pulse, IRF and PSF. Parameter names are the solver's
flat names (``D_<valley>_cm2_s``, ``rate_<from>_<to>_per_ps``, ``w0_um``, ``irf_fwhm_ps`` …)
plus ``pl_scale`` (measured PL per model PL unit, since PL(t) is recorded in arbitrary counts).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError
from ..solvers import moments_many
from .data import Dataset
from .models import ForwardModel, ParameterInfo, unit_of

_DESCRIPTIONS = {
    "D": "diffusion coefficient",
    "E": "valley energy",
    "krad": "radiative rate",
    "knr": "non-radiative rate",
    "tau": "momentum relaxation time",
    "rate": "downhill intervalley rate",
}


#: numpy seconds per (parameter set × valley × time) of a batched ``valleys`` evaluation on
#: an idle core (~30 µs per set at 3 valleys × 500 times, docs/guide/performance.md).
NUMPY_SECONDS_PER_VALUE = 2e-8


class ValleysModel(ForwardModel):
    """Multivalley bright/dark transport (seed 001; PHYSICS.md §3) for fits.

    Parameters
    ----------
    base : fitdiff.solvers.ValleyModel
        The model definition; its values are the parameter defaults. Every parameter is fixed
        by default: a fit frees the ones the configuration marks ``vary = true``.
    """

    kind = "valleys"
    datasets = ("widths", "pl")
    references = ("seed 001 (negative excitonic diffusion), PHYSICS.md §3.1–3.3",)

    def __init__(self, base):
        self.base = base
        self._names = base.parameter_names()
        self._cache_key = None
        self._cache_sol = None
        self._cache_many = None
        self._base_values = self._defaults()
        self._table_D = [f"D_{v.name}_cm2_s" for v in base.valleys if v.D_cm2_s is None]

    @classmethod
    def from_toml(cls, path):
        """The model of a MODEL.toml: this class, or the Boltzmann rung's
        :class:`~fitdiff.fitting.boltzmann.BoltzmannValleysModel` when the file selects it
        (``solver = "boltzmann"`` or ``[[channel]]`` tables, TOPRUNG.md §9)."""
        from ..errors import ConfigError
        from ..io.model_file import is_boltzmann_model, read_model_file
        from ..solvers import ValleyModel

        raw = read_model_file(path)
        if is_boltzmann_model(raw):
            from .boltzmann import BoltzmannValleysModel

            try:
                return BoltzmannValleysModel.from_dict(raw)
            except ConfigError as exc:
                raise ConfigError(f"{path}: {exc}") from None
        return cls(ValleyModel.from_toml(path))

    def _defaults(self) -> dict[str, float]:
        b = self.base
        out = {}
        D = b.diffusion_cm2_s()
        for i, v in enumerate(b.valleys):
            n = v.name
            out[f"D_{n}_cm2_s"] = float(D[i])
            out[f"E_{n}_meV"] = v.E_meV
            out[f"krad_{n}_per_ps"] = v.radiative_rate_per_ps
            out[f"knr_{n}_per_ps"] = v.nonradiative_rate_per_ps
            out[f"tau_{n}_ps"] = v.tau_ps
        for t in b.transitions:
            out[f"rate_{t.from_}_{t.to}_per_ps"] = t.rate_per_ps
        out.update(
            w0_um=b.source.w0_um,
            t0_ps=b.source.t0_ps,
            pulse_fwhm_ps=b.source.pulse_fwhm_ps,
            w_psf_um=b.instrument.w_psf_um,
            irf_fwhm_ps=b.instrument.irf_fwhm_ps,
            T_K=b.T_K,
        )
        return out

    def parameter_table(self):
        defaults = self._defaults()
        table = []
        for name in self._names:
            head = name.split("_", 1)[0]
            lo = -math.inf if head in ("E", "t0") else 0.0
            table.append(
                ParameterInfo(
                    name,
                    unit_of(name),
                    float(defaults[name]),
                    lo,
                    math.inf,
                    False,
                    _DESCRIPTIONS.get(head, name),
                )
            )
        table.append(
            ParameterInfo(
                "pl_scale",
                "",
                1.0,
                0.0,
                math.inf,
                False,
                "measured PL per model PL unit (excitons/ps)",
            )
        )
        return table

    def solve(self, values: dict, t_ps: np.ndarray):
        """Moment solution for ``values`` on ``t_ps`` (the last one is cached: the widths and
        PL datasets of one measurement then cost one solve)."""
        from ..solvers import solve_moments

        # Only changed values go to with_parameters: each one costs a dataclass copy there.
        base = self._base_values
        flat = {k: values[k] for k in self._names if k in values and values[k] != base[k]}
        key = (tuple(flat.items()), t_ps.tobytes())
        if key != self._cache_key:
            try:
                model = self.base.with_parameters(**flat)
            except ValueError as exc:  # ModelError/ConfigError: impossible parameter values
                raise ModelError(str(exc)) from exc
            self._cache_sol = solve_moments(model, t_ps)
            self._cache_key = key
        return self._cache_sol

    def predict(self, values, dataset: Dataset):
        sol = self.solve(values, dataset.x)
        if dataset.kind == "widths":
            return sol.w2_pl_um2
        return values.get("pl_scale", 1.0) * sol.pl

    def solve_many(self, values: dict, t_ps: np.ndarray):
        """PL rows of the moment solution for a stack of parameter sets (the last is cached:
        the widths and PL datasets of one measurement then cost one batched solve)."""
        base = self._base_values
        flat = {}
        for k, v in values.items():
            b = base.get(k)
            if b is None:  # not a solver parameter (pl_scale)
                continue
            if isinstance(v, np.ndarray) and v.ndim:  # a sampler's column: passed as is
                flat[k] = v if v.dtype == float else v.astype(float)
            elif v != b:
                flat[k] = np.asarray(v, float)
        for k in self._table_D:
            # as in solve(): a D equal to the default is not passed, so that valley's D stays
            # the D(T) of its table (NaN asks solve_moments_many for exactly that)
            if k in flat:
                flat[k] = np.where(flat[k] == base[k], np.nan, flat[k])
        key = ([(k, v.tobytes()) for k, v in flat.items()], t_ps.tobytes())
        hit = self._cache_many
        if hit is not None and hit[0] == key:  # the other dataset of the same measurement
            return hit[1]
        sol = moments_many.solve_moments_many(
            self.base, t_ps, flat, derivatives=False, valleys=False
        )
        self._cache_many = (key, sol)
        return sol

    def prepare_many(self, n_sets: int, dataset: Dataset) -> None:
        """Load the compiled moment pass (numba) when ``n_sets`` rows on the numpy path
        would cost more than loading it (the rent-or-buy rule of
        :mod:`fitdiff.extract.compiled`, with this run's whole numpy time as the call)."""
        from ..extract import compiled

        cost = NUMPY_SECONDS_PER_VALUE * n_sets * len(self.base.valleys) * len(dataset.x)
        if compiled.wanted(cost):
            moments_many.load_compiled()
        else:
            compiled.spent_numpy(cost)

    def predict_many(self, values, dataset: Dataset):
        sol = self.solve_many(values, dataset.x)
        if dataset.kind == "widths":
            return sol.w2_pl_um2
        scale = np.asarray(values.get("pl_scale", 1.0), float)
        return (scale[:, None] if scale.ndim else scale) * sol.pl

    def extra_columns(self, values, dataset):
        sol = self.solve(values, dataset.x)
        cols = {}
        for i, n in enumerate(sol.valleys):
            cols[f"w2_{n}_um2"] = sol.w2_um2[i]
            cols[f"n_{n}"] = sol.n[i]
        cols["D_model_cm2_s"] = sol.D_pl_cm2_s
        return cols

    def validity_warnings(self, values: dict) -> list[str]:
        """The D(T) validity flags of the valleys whose D comes from a ``[valley.diffusivity]``
        table, at the fitted T_K (PHYSICS.md §3.5; the same sentences ``fitdiff simulate``
        prints). A valley whose ``D_<v>_cm2_s`` the fit moved has no table any more."""
        base = self._base_values
        flat = {k: values[k] for k in self._names if k in values and values[k] != base[k]}
        try:
            model = self.base.with_parameters(**flat)
        except ValueError as exc:  # impossible values never reach a finished fit
            return [f"valley model: cannot evaluate the D(T) validity flags: {exc}"]
        return [f"valley model: {text}" for text in model.diffusivity_warnings()]

    def fingerprint(self):
        return {**super().fingerprint(), "base": self.base.to_dict()}

    def __getstate__(self):  # the cache is per process
        state = dict(self.__dict__)
        state["_cache_key"] = state["_cache_sol"] = state["_cache_many"] = None
        return state
