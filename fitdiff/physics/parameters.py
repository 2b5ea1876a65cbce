"""The parameter table of the D(T) model (seed 000): names, units, defaults, limits, sources.

Every name carries its unit (PHYSICS.md §0). The defaults are the "typical TMDC monolayer"
parameters of seed 000, Fig. 2 caption (and, for the exciton-exciton dephasing term, the
example numbers of the seed's discussion section), so ``diffusivity(T_K)`` without a material
reproduces the seed's Fig. 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ModelError

SEED000 = "Glazov, Quantum interference effect on exciton transport in monolayer semiconductors (seed 000)"


@dataclass(frozen=True)
class Parameter:
    """One row of the parameter table.

    Attributes
    ----------
    name : str
        Keyword name, with its unit as suffix.
    unit : str
        Unit of the value.
    default : float
        Default value (seed 000 Fig. 2 unless stated).
    limits : tuple of float
        Allowed open interval ``(low, high)``; ``low_inclusive`` says whether ``low`` itself
        is allowed. ``inf`` is allowed as a value where ``high`` is ``inf`` and
        ``inf_allowed`` is set (a channel switched off).
    description : str
        What the parameter is.
    reference : str
        Where the equation and the default come from.
    """

    name: str
    unit: str
    default: float
    limits: tuple[float, float]
    description: str
    reference: str
    low_inclusive: bool = False
    inf_allowed: bool = False

    def range_text(self) -> str:
        """Return the allowed range as text, e.g. ``(0, inf)`` or ``[0, inf]``."""
        lo, hi = self.limits
        left = "[" if self.low_inclusive else "("
        right = "]" if self.inf_allowed else ")"
        return f"{left}{lo:g}, {hi:g}{right}"

    def accepts(self, value: float) -> bool:
        """Return True when ``value`` is inside the allowed range."""
        lo, hi = self.limits
        if math.isnan(value):
            return False
        if math.isinf(value) and value > 0:
            return self.inf_allowed
        above = value >= lo if self.low_inclusive else value > lo
        return above and value < hi


_INF = math.inf

#: The parameter table of the D(T) model (sasmodels-style self-description).
PARAMETERS: tuple[Parameter, ...] = (
    Parameter(
        "xi_eV",
        "eV",
        7.0,
        (0.0, _INF),
        "deformation-potential difference |Xi_c - Xi_v| (longitudinal acoustic mode)",
        f"{SEED000}, text under eq. (7) and Fig. 2 caption (7 eV)",
    ),
    Parameter(
        "M_m0",
        "m0",
        0.5,
        (0.0, _INF),
        "exciton translational mass M",
        f"{SEED000}, Fig. 2 caption (0.5 m0)",
    ),
    Parameter(
        "rho_g_cm2",
        "g/cm^2",
        4.46e-7,
        (0.0, _INF),
        "areal mass density of the monolayer",
        f"{SEED000}, Fig. 2 caption (4.46e-7 g/cm^2)",
    ),
    Parameter(
        "s_cm_s",
        "cm/s",
        4.1e5,
        (0.0, _INF),
        "longitudinal acoustic sound velocity",
        f"{SEED000}, Fig. 2 caption (4.1e5 cm/s)",
    ),
    Parameter(
        "tau_dis_ps",
        "ps",
        _INF,
        (0.0, _INF),
        "elastic scattering time by static short-range disorder (inf = no disorder)",
        f"{SEED000}, Fig. 3 (tau_dis = 1 ps), Matthiessen rule",
        inf_allowed=True,
    ),
    Parameter(
        "tau_r_ps",
        "ps",
        _INF,
        (0.0, _INF),
        "exciton lifetime, a cut-off of the Cooperon (inf = no cut-off)",
        f"{SEED000}, eqs. (8), (S12)-(S13)",
        inf_allowed=True,
    ),
    Parameter(
        "n_x_cm2",
        "cm^-2",
        0.0,
        (0.0, _INF),
        "exciton density for exciton-exciton dephasing (0 = off)",
        f"{SEED000}, discussion: 1/tau_phi,xx ~ n a_B^2 E_B / hbar",
        low_inclusive=True,
    ),
    Parameter(
        "a_B_nm",
        "nm",
        1.5,
        (0.0, _INF),
        "exciton Bohr radius (exciton-exciton dephasing only)",
        f"{SEED000}, discussion (a_B = 15 Angstrom)",
    ),
    Parameter(
        "E_B_meV",
        "meV",
        200.0,
        (0.0, _INF),
        "exciton binding energy (exciton-exciton dephasing only)",
        f"{SEED000}, discussion (E_B = 200 meV)",
    ),
    Parameter(
        "C_xx",
        "1",
        1.0,
        (0.0, _INF),
        "dimensionless prefactor of the exciton-exciton dephasing rate (the seed gives only ~)",
        f"{SEED000}, discussion (order-of-magnitude estimate, prefactor 1 assumed)",
        low_inclusive=True,
    ),
)

#: Parameters by name.
PARAMETER_INDEX: dict[str, Parameter] = {p.name: p for p in PARAMETERS}

#: The four parameters every material must give (the others have neutral defaults).
MATERIAL_PARAMETERS = ("xi_eV", "M_m0", "rho_g_cm2", "s_cm_s")


def defaults() -> dict[str, float]:
    """Return ``{name: default}`` for every parameter (seed 000 Fig. 2)."""
    return {p.name: p.default for p in PARAMETERS}


def range_error(name: str, value: float, label: str | None = None) -> str | None:
    """Return an error message when ``value`` is outside the range of ``name``, else None.

    Parameters
    ----------
    name : str
        Parameter name from :data:`PARAMETERS`.
    value : float
        Value to check, in the parameter's unit.
    label : str, optional
        How to name the parameter in the message (e.g. a command-line flag ``--M-m0``).
    """
    p = PARAMETER_INDEX[name]
    if p.accepts(float(value)):
        return None
    return (
        f"{label or name} = {value:g} is outside the allowed range {p.range_text()} "
        f"({p.unit}: {p.description})"
    )


def check_parameters(params: dict[str, float]) -> dict[str, float]:
    """Validate scalar parameters by name and range; return them as floats.

    Raises
    ------
    ModelError
        For an unknown name (the message lists the known ones) or a value out of range.
    """
    out = {}
    for name, value in params.items():
        if name not in PARAMETER_INDEX:
            known = ", ".join(PARAMETER_INDEX)
            raise ModelError(f"unknown D(T) parameter {name!r}; known parameters: {known}")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ModelError(f"{name} must be a number, got {value!r}") from None
        message = range_error(name, value)
        if message:
            raise ModelError(message)
        out[name] = value
    return out
