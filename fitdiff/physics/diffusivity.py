"""D(T): classical diffusion coefficient plus the weak-localization correction (seed 000).

:func:`d_classical` and :func:`d_total` are the fast vectorised functions fits call (no
validation, no DataFrame); :func:`diffusivity` is the user-facing table with every
intermediate time and the validity flags of PHYSICS.md §2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ModelError
from ..units import (
    KB_J_PER_K,
    KB_MEV_PER_K,
    KG_PER_M0,
    M2_S_PER_CM2_S,
    S_PER_PS,
    hbar_over_mass_cm2_s,
)
from . import times
from .correction import delta_d_cooperon, delta_d_log
from .parameters import check_parameters, defaults

METHODS = ("classical", "log", "cooperon")

#: Columns of the table, in order (the CLI writes exactly these).
COLUMNS = (
    "T_K",
    "tau_ps",
    "tau_phi_ps",
    "tau_eps_ps",
    "D_classical_cm2_s",
    "delta_D_cm2_s",
    "D_cm2_s",
    "kBT_tau_over_hbar",
    "tau_phi_over_tau",
    "kBT_over_Ms2",
    "D_classical_over_hbar_M",
    "valid",
    "note",
)

#: Above this temperature optical and zone-edge phonons, absent from the model, may matter
#: (seed 000, shaded regions of Figs. 2 and 3).
T_OPTICAL_PHONONS_K = 100.0


def _times(T_K, xi_eV, M_m0, rho_g_cm2, s_cm_s, tau_dis_ps):
    tau0 = times.tau0_ps(xi_eV=xi_eV, M_m0=M_m0, rho_g_cm2=rho_g_cm2)
    tau_ph = times.tau_ph_ps(T_K, tau0_ps=tau0, M_m0=M_m0, s_cm_s=s_cm_s)
    tau = times.tau_momentum_ps(tau_ph, tau_dis_ps)
    return tau0, tau


def _d_cl(T_K, tau_ps, M_m0):
    # D = kB T tau / M (seed eq. 4), evaluated in SI and returned in cm²/s.
    T = np.asarray(T_K, float)
    M = np.asarray(M_m0, float) * KG_PER_M0
    return KB_J_PER_K * T * np.asarray(tau_ps, float) * S_PER_PS / M / M2_S_PER_CM2_S


def d_classical(T_K, *, xi_eV, M_m0, rho_g_cm2, s_cm_s, tau_dis_ps=np.inf) -> np.ndarray:
    """Classical diffusion coefficient D = kB T tau / M (seed eq. 4), in cm²/s.

    Without disorder D = s² tau0, independent of T; with disorder tau follows Matthiessen's
    rule and D ∝ T where tau_dis << tau_ph (seed Fig. 3). All arguments broadcast.

    Parameters
    ----------
    T_K : array_like
        Temperature in K.
    xi_eV : array_like
        Deformation-potential difference |Ξc − Ξv| in eV.
    M_m0 : array_like
        Exciton mass in m0.
    rho_g_cm2 : array_like
        Areal mass density in g/cm².
    s_cm_s : array_like
        Sound velocity in cm/s.
    tau_dis_ps : array_like, optional
        Disorder scattering time in ps (``inf``: no disorder).

    Returns
    -------
    ndarray
        D_classical in cm²/s.
    """
    _, tau = _times(T_K, xi_eV, M_m0, rho_g_cm2, s_cm_s, tau_dis_ps)
    return _d_cl(T_K, tau, M_m0)


def d_total(
    T_K,
    *,
    xi_eV,
    M_m0,
    rho_g_cm2,
    s_cm_s,
    tau_dis_ps=np.inf,
    tau_r_ps=np.inf,
    method="log",
    n_x_cm2=0.0,
    a_B_nm=1.5,
    E_B_meV=200.0,
    C_xx=1.0,
) -> np.ndarray:
    """Diffusion coefficient with the weak-localization correction, D_cl + δD, in cm²/s.

    The fast path for fits: no validation and no table; all arguments broadcast. See
    :mod:`fitdiff.physics.correction` for the two methods.

    Parameters
    ----------
    T_K : array_like
        Temperature in K.
    xi_eV, M_m0, rho_g_cm2, s_cm_s, tau_dis_ps : array_like
        As in :func:`d_classical` (eV, m0, g/cm², cm/s, ps).
    tau_r_ps : array_like, optional
        Exciton lifetime in ps (``inf``: no lifetime cut-off).
    method : {"classical", "log", "cooperon"}
        No correction, seed eq. (9) or the Boltzmann-averaged Cooperon integral (PHYSICS.md §2).
    n_x_cm2 : array_like, optional
        Exciton density in cm⁻² for exciton-exciton dephasing (0: off).
    a_B_nm, E_B_meV, C_xx : array_like, optional
        Bohr radius (nm), binding energy (meV) and prefactor of that dephasing rate.

    Returns
    -------
    ndarray
        D in cm²/s.
    """
    tau0, tau = _times(T_K, xi_eV, M_m0, rho_g_cm2, s_cm_s, tau_dis_ps)
    tau_phi = times.tau_phi_ps(T_K, tau0_ps=tau0)
    tau_xx = times.tau_phi_xx_ps(n_x_cm2, a_B_nm=a_B_nm, E_B_meV=E_B_meV, C_xx=C_xx)
    dd = _correction(method)(
        tau_ps=tau, tau_phi_ps=tau_phi, M_m0=M_m0, tau_r_ps=tau_r_ps, tau_phi_xx_ps=tau_xx
    )
    return _d_cl(T_K, tau, M_m0) + dd


def _no_correction(*, tau_ps, **_) -> np.ndarray:
    """δD = 0: the classical D alone (``method="classical"``, as in fits)."""
    return np.zeros_like(np.asarray(tau_ps, dtype=float))


def _correction(method: str):
    if method == "classical":
        return _no_correction
    if method == "log":
        return delta_d_log
    if method == "cooperon":
        return delta_d_cooperon
    raise ModelError(f"method must be one of {', '.join(METHODS)}; got {method!r}")


def _temperatures(T_K) -> np.ndarray:
    T = np.atleast_1d(np.asarray(T_K, dtype=float))
    if T.ndim != 1 or T.size == 0:
        raise ModelError(f"T_K must be a non-empty 1-D list of temperatures; got shape {T.shape}")
    bad = ~np.isfinite(T) | (T <= 0)
    if np.any(bad):
        raise ModelError(
            f"T_K must be finite and > 0 K (allowed range (0, inf)); got {T[bad][0]:g}"
        )
    return T


def resolve_parameters(material: str | None = None, **overrides) -> dict[str, float]:
    """Return the full parameter set: defaults, then the material preset, then overrides.

    Parameters
    ----------
    material : str, optional
        Preset name from ``fitdiff/physics/data/materials.toml`` (see :func:`fitdiff.physics.material_names`).
    **overrides : float
        Parameter values by name (:data:`fitdiff.physics.PARAMETERS`), in their units.

    Raises
    ------
    ModelError
        Unknown parameter name or value outside its range.
    ConfigError
        Unknown material.
    """
    from .materials import load_material

    params = defaults()
    if material is not None:
        params.update(load_material(material))
    params.update(check_parameters(overrides))
    return params


def diffusivity(T_K, material: str | None = None, method: str = "log", **overrides) -> pd.DataFrame:
    """Tabulate D(T) with every intermediate time and the validity flags (PHYSICS.md §2).

    Parameters
    ----------
    T_K : float or array_like
        Temperatures in K (all > 0).
    material : str, optional
        Preset from ``fitdiff/physics/data/materials.toml``; ``None`` uses the parameter defaults (seed 000
        Fig. 2, the same numbers as the ``typical-tmdc`` preset).
    method : {"classical", "log", "cooperon"}
        How δD is computed (:mod:`fitdiff.physics.correction`); ``"classical"``: δD = 0.
    **overrides : float
        Any parameter of :data:`fitdiff.physics.PARAMETERS` by name, e.g. ``tau_dis_ps=1.0``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`: ``T_K, tau_ps`` (total momentum time), ``tau_phi_ps``
        (dephasing time, phonons of eq. 9 plus exciton-exciton), ``tau_eps_ps``,
        ``D_classical_cm2_s, delta_D_cm2_s, D_cm2_s``, then the validity columns
        ``kBT_tau_over_hbar`` (eq. 2, needs > 1), ``tau_phi_over_tau`` (needs > 1; the log
        correction is 0 where the cut-off does not exceed tau), ``kBT_over_Ms2`` (eq. 5, needs
        > 1), ``D_classical_over_hbar_M`` (the classical floor ħ/M; identical to
        kB T tau/ħ), ``valid`` (kB T tau/ħ > 1, kB T/(M s²) > 1 and the upper cut-off
        (tau_phi⁻¹ + tau_r⁻¹)⁻¹ > tau) and ``note`` (why not, why δD = 0, and the T > 100 K
        caveat). ``attrs`` holds ``method``, ``material`` and ``parameters``.

    Raises
    ------
    ModelError
        T <= 0, unknown parameter, parameter out of range, unknown method.
    ConfigError
        Unknown material (the message lists the known ones).
    """
    correction = _correction(method)
    T = _temperatures(T_K)
    p = resolve_parameters(material, **overrides)
    M = p["M_m0"]

    tau0, tau = _times(T, p["xi_eV"], M, p["rho_g_cm2"], p["s_cm_s"], p["tau_dis_ps"])
    tau_phi_ph = times.tau_phi_ps(T, tau0_ps=tau0)
    tau_xx = times.tau_phi_xx_ps(
        p["n_x_cm2"], a_B_nm=p["a_B_nm"], E_B_meV=p["E_B_meV"], C_xx=p["C_xx"]
    )
    tau_phi = 1.0 / (1.0 / tau_phi_ph + 1.0 / tau_xx)
    tau_cut = 1.0 / (1.0 / tau_phi + 1.0 / p["tau_r_ps"])
    d_cl = _d_cl(T, tau, M)
    dd = correction(
        tau_ps=tau, tau_phi_ps=tau_phi_ph, M_m0=M, tau_r_ps=p["tau_r_ps"], tau_phi_xx_ps=tau_xx
    )
    quasi_classical = times.kT_tau_over_hbar(T, tau)
    phi_ratio = tau_phi / tau
    elastic = KB_MEV_PER_K * T / times.ms2_meV(M_m0=M, s_cm_s=p["s_cm_s"])

    table = pd.DataFrame(
        {
            "T_K": T,
            "tau_ps": tau,
            "tau_phi_ps": tau_phi,
            "tau_eps_ps": np.broadcast_to(times.tau_eps_ps(tau0), T.shape),
            "D_classical_cm2_s": d_cl,
            "delta_D_cm2_s": dd,
            "D_cm2_s": d_cl + dd,
            "kBT_tau_over_hbar": quasi_classical,
            "tau_phi_over_tau": phi_ratio,
            "kBT_over_Ms2": elastic,
            "D_classical_over_hbar_M": d_cl / hbar_over_mass_cm2_s(M),
        }
    )
    # The correction needs loops longer than tau: the cut-off (dephasing and lifetime) decides.
    table["valid"] = (quasi_classical > 1) & (tau_cut / tau > 1) & (elastic > 1)
    table["note"] = [
        _note(*row, method=method)
        for row in zip(T, quasi_classical, phi_ratio, tau_cut / tau, elastic, strict=True)
    ]
    table.attrs.update(method=method, material=material, parameters=p)
    return table


def _note(T, quasi_classical, phi_ratio, cut_ratio, elastic, *, method) -> str:
    notes = []
    if cut_ratio <= 1:
        what = "delta_D = 0" if method != "cooperon" else "Cooperon integral only (small)"
        cause = "tau_phi <= tau" if phi_ratio <= 1 else "lifetime cut-off tau_r <= tau"
        notes.append(f"{cause}: no diffusive loops, no weak-localization correction ({what})")
    if quasi_classical <= 1:
        notes.append("kB T tau/hbar <= 1: quasi-classical theory outside its regime (eq. 2)")
    if elastic <= 1:
        notes.append("kB T <= M s^2: phonon scattering not quasi-elastic (eq. 5)")
    if T > T_OPTICAL_PHONONS_K:
        notes.append("T > 100 K: optical/zone-edge phonons not in the model")
    return "; ".join(notes)
