"""Shells of |Q| per valley (TOPRUNG.md §1.4, §6): edges, energies, weights, velocities, cone.

Uniform in |Q| with ΔQ = dQ_over_ks · k_s of the bright valley (one acoustic event changes |Q|
by at most ≈ 2k_s at any Q), except that a bright valley's light cone [0, k0] is its own shell. Cut-off per valley ε_max,v = (E_top − E_v) + ħΩ_max + 9 k_BT + 5 meV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .config import BoltzmannModel
from .rates import HBAR_M0_UM2_PS, KS_PER_M0_M_S, kinetic_meV, kT_meV

#: Thermal tail kept above the highest physical energy, in k_BT, plus a fixed margin in meV.
_TAIL_KT = 9.0
_TAIL_MEV = 5.0


@dataclass(frozen=True)
class Grid:
    """All shells of all valleys, valley after valley (N shells in total).

    Attributes
    ----------
    dQ : float
        Shell width in nm⁻¹ (the cone shell [0, k0] and the one after it differ).
    valley : numpy.ndarray
        Valley index of every shell, shape (N,).
    start : numpy.ndarray
        First shell of each valley, shape (V + 1,) (``start[-1] = N``).
    Q_lo, Q_hi : numpy.ndarray
        Shell edges in nm⁻¹.
    eps_lo, eps_hi : numpy.ndarray
        Kinetic energies of the edges in meV.
    log_weight : numpy.ndarray
        ln π_j: the bin integral of g_v M_v e^(−(E_v + ε)/kT) over the shell (normalised so the
        largest is 0), shape (N,).
    velocity : numpy.ndarray
        v_j = ħ sqrt(⟨Q²⟩_j)/M_v in µm/ps.
    cone : numpy.ndarray
        Fraction of the shell's states inside the light cone |Q| < k0 (bright valleys only).
    """

    dQ: float
    valley: np.ndarray
    start: np.ndarray
    Q_lo: np.ndarray
    Q_hi: np.ndarray
    eps_lo: np.ndarray
    eps_hi: np.ndarray
    log_weight: np.ndarray
    velocity: np.ndarray
    cone: np.ndarray

    @property
    def size(self) -> int:
        """Number of shells N (the ODE has 3N unknowns)."""
        return self.valley.size

    @property
    def weight(self) -> np.ndarray:
        """π_j normalised to max 1 (underflows to 0 only far beyond any populated shell)."""
        return np.exp(self.log_weight)

    def slice(self, v: int) -> slice:
        """Shells of valley ``v``."""
        return slice(int(self.start[v]), int(self.start[v + 1]))


def build_grid(model: BoltzmannModel, max_hw_meV: float | None = None) -> Grid:
    """The shell grid of ``model`` (TOPRUNG.md §6)."""
    kT = kT_meV(model.T_K)
    bright = model.valleys[model.bright_index]
    ks = KS_PER_M0_M_S * bright.M_m0 * model.s_m_s
    dQ = model.dQ_over_ks * ks
    if max_hw_meV is None:
        max_hw_meV = max((hw for c in model.channels for hw, _ in c.modes), default=0.0)
    E_top = max(v.E_meV for v in model.valleys)
    parts = {k: [] for k in ("valley", "Q_lo", "Q_hi", "eps_lo", "eps_hi", "logw", "vel", "cone")}
    start = [0]
    for iv, v in enumerate(model.valleys):
        eps_max = (E_top - v.E_meV) + max_hw_meV + _TAIL_KT * kT + _TAIL_MEV
        Q_max = math.sqrt(eps_max * v.M_m0 / kinetic_meV(1.0, 1.0))
        n = max(2, math.ceil(Q_max / dQ))
        edges = dQ * np.arange(n + 1)
        if v.bright:
            # the light cone is its own shell [0, k0] (TOPRUNG.md §5): the cone states then
            # fill by in-scattering at their own rate, so the PL scales as k0² even when
            # γ exceeds the acoustic refill rate of a whole ΔQ shell
            k0 = model.k0_per_nm
            edges = np.concatenate([[0.0, k0], edges[edges > k0 * (1 + 1e-9)]])
            n = edges.size - 1
        lo, hi = edges[:-1], edges[1:]
        e_lo, e_hi = kinetic_meV(lo, v.M_m0), kinetic_meV(hi, v.M_m0)
        # ln of g M kT [e^{−(E+ε_lo)/kT} − e^{−(E+ε_hi)/kT}], exact and without underflow
        logw = (
            math.log(v.g * v.M_m0 * kT)
            - (v.E_meV + e_lo) / kT
            + np.log(-np.expm1(-(e_hi - e_lo) / kT))
        )
        vel = HBAR_M0_UM2_PS / v.M_m0 * np.sqrt(0.5 * (lo**2 + hi**2)) * 1e3  # nm⁻¹ → µm⁻¹
        cone = np.zeros(n)
        if v.bright:
            k0 = model.k0_per_nm
            cone = np.clip(np.minimum(hi**2, k0**2) - lo**2, 0.0, None) / (hi**2 - lo**2)
        for key, val in zip(
            parts, (np.full(n, iv), lo, hi, e_lo, e_hi, logw, vel, cone), strict=True
        ):
            parts[key].append(val)
        start.append(start[-1] + n)
    cat = {k: np.concatenate(val) for k, val in parts.items()}
    logw = cat["logw"] - cat["logw"].max()
    return Grid(
        dQ=dQ,
        valley=cat["valley"].astype(int),
        start=np.array(start),
        Q_lo=cat["Q_lo"],
        Q_hi=cat["Q_hi"],
        eps_lo=cat["eps_lo"],
        eps_hi=cat["eps_hi"],
        log_weight=logw,
        velocity=cat["vel"],
        cone=cat["cone"],
    )
