"""Where the formed excitons start on the shell grid (TOPRUNG.md §5).

``hot``: incoherent excitons are formed from the coherent polarisation at Q = 0 of the source
valley by phonon scattering, so the branching is the golden-rule out-scattering of an exciton at
Q = 0: intravalley LA absorption only (q = 2k_s, ε = 2Ms², rate 2 n_B(2Ms²)/τ0 · F²), and per
intervalley mode emission to ε' = E_src − E_v' − ħΩ and absorption to E_src − E_v' + ħΩ
(an intravalley Γ-point optical mode: absorption to ħω only, emission needs ε ≥ ħω).
``thermal``: the bin-integrated Boltzmann distribution of the source valley.
"""

from __future__ import annotations

import math

import numpy as np

from .config import BoltzmannModel
from .grid import Grid
from .rates import (
    HBAR_S_MEV_NM,
    KS_PER_M0_M_S,
    acoustic_constant,
    bose,
    form_factor_sq,
    intervalley_rate,
    kT_meV,
    momentum_per_nm,
)


def source_vector(model: BoltzmannModel, grid: Grid) -> np.ndarray:
    """Excitons formed per shell (sums to 1), shape (N,)."""
    g, _ = formation(model, grid)
    return g


def formation(model: BoltzmannModel, grid: Grid) -> tuple[np.ndarray, float]:
    """(normalised source vector, total formation rate in 1/ps; NaN for a thermal source)."""
    iv = model.index(model.source.valley)
    sl = grid.slice(iv)
    out = np.zeros(grid.size)
    if model.source.kind == "thermal":
        w = np.exp(grid.log_weight[sl] - grid.log_weight[sl].max())
        out[sl] = w / w.sum()
        return out, math.nan
    kT = kT_meV(model.T_K)
    v = model.valleys[iv]
    if v.xi_eV > 0:
        ks = KS_PER_M0_M_S * v.M_m0 * model.s_m_s
        C = acoustic_constant(v.M_m0, v.xi_eV, model.rho_kg_m2, model.s_m_s)
        q = 2.0 * ks
        # θ integral at Q = 0: q = 2k_s for every θ ∈ [0, π]
        F2 = float(form_factor_sq(q, model.form_factor_aB_nm))
        rate = math.pi * C * q * float(bose(HBAR_S_MEV_NM * model.s_m_s * q, kT)) * F2
        _deposit(out, grid, iv, q, rate)
    for c in model.channels:
        directions = [(c.from_, c.to, c.n_final)]
        if not c.intravalley:  # a Γ-point optical channel is its own reverse
            directions.append((c.to, c.from_, _reverse_n_final(model, c)))
        for a, b, n_final in directions:
            if a != v.name:
                continue
            ib = model.index(b)
            vb = model.valleys[ib]
            for hw, D in c.modes:
                for emission in (True, False):
                    eps = v.E_meV - vb.E_meV + (-hw if emission else hw)
                    if eps <= 0.0:
                        continue
                    r = intervalley_rate(n_final, vb.M_m0, D, hw, model.rho_kg_m2, kT, emission)
                    _deposit(out, grid, ib, float(momentum_per_nm(eps, vb.M_m0)), r)
    total = out.sum()
    if not total > 0:
        from ...errors import ModelError

        raise ModelError(
            f"source valley {v.name!r} has no formation channel at Q = 0 (xi_eV = 0 and no "
            "intervalley channel reachable); use source.kind = 'thermal'"
        )
    return out / total, float(total)


def _deposit(out, grid: Grid, iv: int, Q: float, rate: float) -> None:
    sl = grid.slice(iv)
    i = int(np.searchsorted(grid.Q_hi[sl], Q, side="right"))
    if i < sl.stop - sl.start:
        out[sl.start + i] += rate


def _reverse_n_final(model: BoltzmannModel, c) -> float:
    """N_{to→from} = g_from N_{from→to} / g_to (pair counting, §2.2)."""
    return model.valleys[model.index(c.from_)].g * c.n_final / model.valleys[model.index(c.to)].g
