"""The ``valleys`` forward model on the Boltzmann rung (TOPRUNG.md §9): w²_PL(t) and PL(t).

A ``valleys`` analysis whose MODEL.toml is a Boltzmann model (``solver = "boltzmann"`` or
``[[channel]]`` tables) fits through this class: the flat parameter names of
:meth:`fitdiff.solvers.boltzmann.BoltzmannModel.parameter_values` (``xi_eV_<v>``,
``Div_<from>_<to>_eV_per_nm``, ``M_<v>_m0``, ``E_<v>_meV``, ``T_K``, ``w0_um``, ``irf_fwhm_ps``,
``w_psf_um`` …) plus ``pl_scale``. Every parameter is fixed by default.

Cost: the generator (golden-rule rates on the shells) is rebuilt only when a rate parameter
changes, and its θ quadrature is cached (the acoustic kernel is ∝ Ξ²), so a fit step that moves
Ξ or D_iv costs a rescale plus two ``eigh``; the last solution is cached so the widths and PL
datasets of one measurement cost one solve.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError
from .data import Dataset
from .models import ForwardModel, ParameterInfo, unit_of

#: Parameters that do not change the generator (source geometry, timing, instrument).
_NOT_IN_GENERATOR = frozenset({"w0_um", "t0_ps", "pulse_fwhm_ps", "w_psf_um", "irf_fwhm_ps"})
_POSITIVE = ("T_K", "M_", "rho_kg_m2", "s_m_s", "k0_per_nm", "w0_um")
_DESCRIPTIONS = {
    "T": "lattice temperature",
    "xi": "exciton LA deformation potential |Ξc − Ξv|",
    "M": "exciton mass",
    "E": "valley energy",
    "krad": "radiative rate of the light-cone states",
    "knr": "non-radiative rate",
    "Div": "constant deformation potential (intervalley; Γ-point optical when from = to)",
    "rho": "areal mass density",
    "s": "LA sound velocity",
    "k0": "light-cone radius",
    "w0": "spot width (w0² = ⟨r²⟩)",
    "t0": "pulse centre",
    "pulse": "pulse FWHM",
    "w": "PSF width",
    "irf": "IRF FWHM",
}


class BoltzmannValleysModel(ForwardModel):
    """Seed 001's Boltzmann equation over valley × |Q| (TOPRUNG.md) for fits.

    Parameters
    ----------
    base : fitdiff.solvers.boltzmann.BoltzmannModel
        The model definition; its values are the parameter defaults.
    """

    kind = "valleys"
    datasets = ("widths", "pl")
    references = ("seed 001 (negative excitonic diffusion) eqs. 1-2; TOPRUNG.md",)

    def __init__(self, base):
        self.base = base
        self._defaults = base.parameter_values()
        self._names = list(self._defaults)
        self._gen_key = None
        self._gen = None
        self._sol_key = None
        self._sol = None

    @classmethod
    def from_dict(cls, d: dict) -> BoltzmannValleysModel:
        from ..solvers.boltzmann import BoltzmannModel

        return cls(BoltzmannModel.from_dict(d))

    def parameter_table(self):
        table = []
        for name, value in self._defaults.items():
            lo = -math.inf if name.startswith(("E_", "t0_")) else 0.0
            table.append(
                ParameterInfo(
                    name,
                    _unit(name),
                    float(value),
                    lo,
                    math.inf,
                    False,
                    _DESCRIPTIONS.get(name.split("_", 1)[0], name),
                )
            )
        table.append(
            ParameterInfo(
                "pl_scale", "", 1.0, 0.0, math.inf, False, "measured PL per model PL unit"
            )
        )
        return table

    def solve(self, values: dict, t_ps: np.ndarray):
        """Boltzmann solution for ``values`` on ``t_ps`` (instrument on; last one cached)."""
        from ..solvers.boltzmann import build_generator, solve

        changed = {
            k: float(values[k])
            for k in self._names
            if k in values and float(values[k]) != self._defaults[k]
        }
        key = (tuple(sorted(changed.items())), t_ps.tobytes())
        if key == self._sol_key:
            return self._sol
        for name in _POSITIVE:
            for k, v in changed.items():
                if k.startswith(name) and not v > 0:
                    raise ModelError(f"{k} must be > 0, got {v}")
        try:
            model = self.base.with_parameters(**changed)
        except ValueError as exc:  # ModelError: impossible values
            raise ModelError(str(exc)) from exc
        gen_key = tuple(sorted((k, v) for k, v in changed.items() if k not in _NOT_IN_GENERATOR))
        if gen_key != self._gen_key:
            self._gen = build_generator(model)
            self._gen_key = gen_key
        self._sol = solve(model, t_ps, generator=self._gen)
        self._sol_key = key
        return self._sol

    def predict(self, values, dataset: Dataset):
        sol = self.solve(values, dataset.x)
        if dataset.kind == "widths":
            return sol.w2_pl_um2
        return values.get("pl_scale", 1.0) * sol.pl

    def extra_columns(self, values, dataset):
        sol = self.solve(values, dataset.x)
        cols = {}
        for i, n in enumerate(sol.valleys):
            cols[f"w2_{n}_um2"] = sol.w2_um2[i]
            cols[f"n_{n}"] = sol.n[i]
            cols[f"kT_tau_over_hbar_{n}"] = sol.kT_tau_over_hbar[i]
        cols["D_model_cm2_s"] = sol.D_pl_cm2_s
        cols["pl_over_plmax"] = sol.pl_over_plmax
        return cols

    def validity_warnings(self, values: dict) -> list[str]:
        """Valleys whose thermal k_BT⟨τ⟩/ħ ≤ 1 at ``values`` (seed 000 eq. 2: the Boltzmann
        picture needs > 1; TOPRUNG.md §4 reports ≈ 2–3 for the WS2 placeholders, marginal)."""
        from ..solvers.boltzmann import build_generator
        from ..solvers.boltzmann.solver import thermal_kT_tau_over_hbar

        changed = {
            k: float(values[k])
            for k in self._names
            if k in values and float(values[k]) != self._defaults[k]
        }
        try:
            model = self.base.with_parameters(**changed)
            figure = thermal_kT_tau_over_hbar(model, build_generator(model))
        except ValueError as exc:  # impossible values never reach a finished fit
            return [f"Boltzmann model: cannot evaluate k_BT<tau>/hbar: {exc}"]
        return [
            f"Boltzmann model: valley {v.name}: k_BT<tau>/hbar = {x:.3g} <= 1 at thermal "
            f"equilibrium (T = {model.T_K:g} K): the semiclassical kinetic equation is outside "
            "its regime (seed 000 eq. 2)"
            for v, x in zip(model.valleys, figure, strict=True)
            if not x > 1.0
        ]

    def fingerprint(self):
        return {**super().fingerprint(), "base": self.base.to_dict()}

    def __getstate__(self):  # caches are per process
        state = dict(self.__dict__)
        state["_gen_key"] = state["_gen"] = state["_sol_key"] = state["_sol"] = None
        return state


def _unit(name: str) -> str:
    for suffix, unit in (
        ("_eV_per_nm", "eV/nm"),
        ("_kg_m2", "kg/m²"),
        ("_m_s", "m/s"),
        ("_per_nm", "1/nm"),
    ):
        if name.endswith(suffix):
            return unit
    if name.startswith("xi_eV_"):
        return "eV"
    return unit_of(name)
