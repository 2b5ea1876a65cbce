"""Closed-form exciton diffusion coefficient D(T): acoustic phonons, disorder, weak localization.

The model of seed 000 (Glazov) as written in PHYSICS.md §2:

* :func:`diffusivity` - the user-facing table (times, D, δD, validity flags);
* :func:`d_classical`, :func:`d_total` - fast vectorised functions for fits;
* :mod:`~fitdiff.physics.times` and :mod:`~fitdiff.physics.correction` - the individual
  equations (tau0, tau_ph, tau, tau_eps, tau_phi, δD by the ``log`` and ``cooperon`` methods);
* :data:`PARAMETERS` - the parameter table; :func:`load_material`, :func:`material_names`,
  :func:`material_info` - presets from ``fitdiff/physics/data/materials.toml``.

Imports nothing of fitdiff but :mod:`fitdiff.units` and :mod:`fitdiff.errors`.
"""

from __future__ import annotations

from .correction import (
    COOPERON_OFFSET,
    cooperon_log_average,
    delta_d_cooperon,
    delta_d_log,
    hbar_over_2pi_mass_cm2_s,
)
from .diffusivity import COLUMNS, METHODS, d_classical, d_total, diffusivity, resolve_parameters
from .materials import MATERIALS_PATH, load_material, material_info, material_names
from .parameters import PARAMETER_INDEX, PARAMETERS, Parameter
from .times import (
    kT_tau_over_hbar,
    ms2_meV,
    tau0_ps,
    tau_eps_ps,
    tau_momentum_ps,
    tau_ph_ps,
    tau_phi_ps,
    tau_phi_xx_ps,
)

__all__ = [
    "COLUMNS",
    "COOPERON_OFFSET",
    "MATERIALS_PATH",
    "METHODS",
    "PARAMETERS",
    "PARAMETER_INDEX",
    "Parameter",
    "cooperon_log_average",
    "d_classical",
    "d_total",
    "delta_d_cooperon",
    "delta_d_log",
    "diffusivity",
    "hbar_over_2pi_mass_cm2_s",
    "kT_tau_over_hbar",
    "load_material",
    "material_info",
    "material_names",
    "ms2_meV",
    "resolve_parameters",
    "tau0_ps",
    "tau_eps_ps",
    "tau_momentum_ps",
    "tau_ph_ps",
    "tau_phi_ps",
    "tau_phi_xx_ps",
]
