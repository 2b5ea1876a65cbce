"""Unit conversion constants: each conversion fitdiff makes lives here, once.

Data and parameters travel as plain floats in lab units (µm, ps, K, meV, eV, m0, cm²/s);
physics functions convert to SI inside with these constants (values from
``scipy.constants``, CODATA, never typed by hand) and return lab units.
"""

from __future__ import annotations

from scipy import constants as _c

# --- lengths and times -------------------------------------------------------------------
UM_PER_M = 1e6
UM_PER_MM = 1e3
UM_PER_CM = 1e4
UM_PER_NM = 1e-3
PS_PER_S = 1e12
PS_PER_MS = 1e9
PS_PER_US = 1e6
PS_PER_NS = 1e3
S_PER_PS = 1e-12
M_PER_UM = 1e-6
M_PER_CM = 1e-2

# --- diffusion coefficients -------------------------------------------------------------
#: 1 cm²/s expressed in µm²/ps (1e8 µm² per 1e12 ps).
UM2_PS_PER_CM2_S = 1e-4
#: 1 cm²/s in m²/s.
M2_S_PER_CM2_S = 1e-4

# --- energies ---------------------------------------------------------------------------
J_PER_EV = _c.electron_volt
J_PER_MEV = 1e-3 * _c.electron_volt
#: Boltzmann constant in meV/K.
KB_MEV_PER_K = _c.k / J_PER_MEV
#: Boltzmann constant in J/K.
KB_J_PER_K = _c.k
#: Reduced Planck constant in J s.
HBAR_J_S = _c.hbar
#: Reduced Planck constant in meV ps.
HBAR_MEV_PS = _c.hbar / J_PER_MEV * PS_PER_S

# --- masses and densities ---------------------------------------------------------------
#: Free-electron mass m0 in kg.
KG_PER_M0 = _c.m_e
#: 1 g/cm² in kg/m².
KG_M2_PER_G_CM2 = 10.0
#: 1 cm/s in m/s.
M_S_PER_CM_S = 1e-2

#: Time-axis units fitdiff understands, as picoseconds per unit (keys are lower case).
PS_PER_TIME_UNIT = {
    "fs": 1e-3,
    "ps": 1.0,
    "ns": PS_PER_NS,
    "us": PS_PER_US,
    "µs": PS_PER_US,
    "μs": PS_PER_US,
    "ms": PS_PER_MS,
    "s": PS_PER_S,
}

#: Length units fitdiff understands, as micrometres per unit (keys are lower case).
UM_PER_LENGTH_UNIT = {
    "nm": UM_PER_NM,
    "um": 1.0,
    "µm": 1.0,
    "μm": 1.0,
    "micron": 1.0,
    "microns": 1.0,
    "micrometer": 1.0,
    "micrometre": 1.0,
    "mm": UM_PER_MM,
    "cm": UM_PER_CM,
    "m": UM_PER_M,
}


def hbar_over_mass_cm2_s(M_m0: float) -> float:
    """Return ħ/M in cm²/s, the classical floor of the exciton diffusion coefficient.

    Parameters
    ----------
    M_m0 : float
        Exciton translational mass in units of the free-electron mass m0.
    """
    return HBAR_J_S / (M_m0 * KG_PER_M0) / M2_S_PER_CM2_S
