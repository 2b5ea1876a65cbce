"""The generator A of dX/dt = A X + b(t), X = (n, p, m) on the shells (TOPRUNG.md §1.4, §2.3).

            | A0   0    0  |       A0 = R⁽⁰⁾ − diag(Γ_out + γφ + k_nr)
        A = | V    A1   0  |       A1 = R⁽¹⁾ − diag(Γ_out + γφ + k_nr),   V = diag(v_j)
            | 0    2V   A0 |

R⁽⁰⁾ (zeroth harmonic) and R⁽¹⁾ (cos φ-weighted) are shell-to-shell rates, column j = from shell
j. Both are computed with exact Bose factors and then symmetrised in the equilibrium flux
π_j R_ij, so detailed balance holds to rounding on the grid and Π^(−½) A0 Π^(½), Π^(−½) A1 Π^(½)
are symmetric (real spectra, ``eigh``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .config import BoltzmannModel
from .grid import Grid, build_grid
from .rates import acoustic_constant, acoustic_events, intervalley_rate, kT_meV

#: Area-uniform sub-samples of the initial |Q| per shell for the acoustic kernel (§2.3).
SUBSAMPLES = 8


@dataclass(frozen=True)
class Generator:
    """The blocks of A on a grid (dense N×N; A itself is ≈ 2 % dense, see :meth:`sparse`).

    Attributes
    ----------
    grid : Grid
    R0, R1 : numpy.ndarray
        Shell-to-shell rates (1/ps), zeroth and first harmonic, R[i, j] = rate j → i.
    R0_inter : numpy.ndarray
        The intervalley part of R0 (for seed 001's D^interv).
    gamma_out : numpy.ndarray
        Γ_out,j = Σ_i R0[i, j], scattering out of shell j (1/ps).
    loss : numpy.ndarray
        γ φ_j + k_nr (1/ps).
    radiative : numpy.ndarray
        γ φ_j (1/ps): the PL weight of each shell.
    """

    grid: Grid
    R0: np.ndarray
    R1: np.ndarray
    R0_inter: np.ndarray
    gamma_out: np.ndarray
    loss: np.ndarray
    radiative: np.ndarray

    @property
    def A0(self) -> np.ndarray:
        """n and m block: R⁽⁰⁾ − diag(Γ_out + loss)."""
        return self.R0 - np.diag(self.gamma_out + self.loss)

    @property
    def A1(self) -> np.ndarray:
        """p block: R⁽¹⁾ − diag(Γ_out + loss)."""
        return self.R1 - np.diag(self.gamma_out + self.loss)

    @property
    def A0_inter(self) -> np.ndarray:
        """Intervalley part of A0 (in minus out): ṅ^interv = A0_inter n."""
        return self.R0_inter - np.diag(self.R0_inter.sum(axis=0))

    def scaled_blocks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(Ã0, Ã1, s): Π^(−½) A Π^(½) symmetrised to rounding, and s = √π."""
        s = np.exp(0.5 * self.grid.log_weight)
        out = []
        for A in (self.A0, self.A1):
            As = A / s[:, None] * s[None, :]
            out.append(0.5 * (As + As.T))
        return out[0], out[1], s

    def sparse(self, scaled: bool = True) -> sp.csr_matrix:
        """The full 3N×3N generator as CSR (scaled: in X̃ = Π^(−½) X)."""
        if scaled:
            A0, A1, _ = self.scaled_blocks()
        else:
            A0, A1 = self.A0, self.A1
        V = sp.diags(self.grid.velocity)
        A0, A1 = sp.csr_matrix(A0), sp.csr_matrix(A1)
        return sp.bmat([[A0, None, None], [V, A1, None], [None, 2.0 * V, A0]], format="csr")


def build_generator(model: BoltzmannModel, grid: Grid | None = None) -> Generator:
    """Rates of ``model`` on ``grid`` (built from the model when not given)."""
    grid = build_grid(model) if grid is None else grid
    N = grid.size
    kT = kT_meV(model.T_K)
    R0 = np.zeros((N, N))
    R1 = np.zeros((N, N))
    for iv, v in enumerate(model.valleys):
        if v.xi_eV > 0:
            _acoustic(R0, R1, grid, iv, v, model, kT)
    R0_const = np.zeros((N, N))  # constant-D channels: intervalley and Γ-point optical
    for c in model.channels:
        a, b = model.index(c.from_), model.index(c.to)
        va, vb = model.valleys[a], model.valleys[b]
        if c.intravalley:
            directions = ((a, a, c.n_final),)  # its own reverse: built once
        else:
            n_rev = va.g * c.n_final / vb.g  # pair counting keeps detailed balance (§2.2)
            directions = ((a, b, c.n_final), (b, a, n_rev))
        for hw, D in c.modes:
            if D == 0:
                continue
            for src, dst, n_final in directions:
                for emission in (True, False):
                    _constant_d(R0_const, grid, model, src, dst, n_final, hw, D, kT, emission)
    # zero-order (constant D) kernels are isotropic, so they add to R⁽⁰⁾ only: R⁽¹⁾ = 0 (§1.3)
    R0 = _balance(R0 + R0_const, grid.log_weight)
    R1 = _balance(R1, grid.log_weight)
    inter = grid.valley[:, None] != grid.valley[None, :]
    R0_inter = np.where(inter, R0, 0.0)
    gamma_out = R0.sum(axis=0)
    radiative = np.zeros(N)
    loss = np.zeros(N)
    for iv, v in enumerate(model.valleys):
        sl = grid.slice(iv)
        if v.bright:
            radiative[sl] = v.radiative_rate_per_ps * grid.cone[sl]
        loss[sl] = radiative[sl] + v.nonradiative_rate_per_ps
    return Generator(grid, R0, R1, R0_inter, gamma_out, loss, radiative)


def _acoustic(R0, R1, grid: Grid, iv: int, v, model: BoltzmannModel, kT: float) -> None:
    """Intravalley LA kernel of valley ``iv``: θ quadrature × area-uniform sub-samples (§2.3)."""
    sl = grid.slice(iv)
    C = acoustic_constant(v.M_m0, v.xi_eV, model.rho_kg_m2, model.s_m_s)
    block0, block1 = _acoustic_unit(
        grid.Q_lo[sl].tobytes(),
        grid.Q_hi[sl].tobytes(),
        v.M_m0,
        model.s_m_s,
        kT,
        model.form_factor_aB_nm,
    )
    R0[sl, sl] += C * block0
    R1[sl, sl] += C * block1


@functools.lru_cache(maxsize=64)
def _acoustic_unit(lo_b: bytes, hi_b: bytes, M_m0, s_m_s, kT, aB_nm):
    """The acoustic blocks for C_v = 1 (the kernel is ∝ Ξ²/ρ through C_v only).

    Cached on everything else it depends on, so a fit that varies Ξ, D_iv, E or the
    instrument rebuilds no quadrature (arguments are hashable: shell edges as bytes).
    """
    lo, hi = np.frombuffer(lo_b), np.frombuffer(hi_b)
    n = lo.size
    frac = (np.arange(SUBSAMPLES) + 0.5) / SUBSAMPLES
    Q = np.sqrt(lo[:, None] ** 2 + frac[None, :] * (hi**2 - lo**2)[:, None]).ravel()
    Qf, rate, cos_phi = acoustic_events(Q, M_m0, s_m_s, 1.0, kT, aB_nm)
    j = np.repeat(np.arange(n), SUBSAMPLES)[:, None] + np.zeros_like(Qf, dtype=int)
    i = np.searchsorted(hi, Qf, side="right")  # the shell whose [lo, hi) holds Q'
    keep = i < n  # beyond the cut-off (ε_max is many kT above anything populated): dropped
    flat = (i * n + j)[keep]
    w = rate[keep] / SUBSAMPLES
    block0 = np.bincount(flat, weights=w, minlength=n * n).reshape(n, n)
    block1 = np.bincount(flat, weights=w * cos_phi[keep], minlength=n * n).reshape(n, n)
    block0.flags.writeable = False
    block1.flags.writeable = False
    return block0, block1


def _constant_d(R0, grid, model, src, dst, n_final, hw, D, kT, emission) -> None:
    """One mode and direction of a constant-D channel: exact energy-interval overlap (§2.3).

    ``src != dst``: intervalley (zone-edge phonon); ``src == dst``: intravalley Γ-point optical
    phonon (§2.2 last line), the same formula with v' = v.
    """
    vs, vd = model.valleys[src], model.valleys[dst]
    rate = intervalley_rate(n_final, vd.M_m0, D, hw, model.rho_kg_m2, kT, emission)
    shift = vs.E_meV - vd.E_meV + (-hw if emission else hw)
    ss, sd = grid.slice(src), grid.slice(dst)
    a, b = grid.eps_lo[ss] + shift, grid.eps_hi[ss] + shift
    lo, hi = grid.eps_lo[sd], grid.eps_hi[sd]
    overlap = np.clip(
        np.minimum(b[None, :], hi[:, None]) - np.maximum(a[None, :], lo[:, None]), 0.0, None
    )
    R0[sd, ss] += rate * overlap / (b - a)[None, :]


def _balance(R: np.ndarray, log_weight: np.ndarray) -> np.ndarray:
    """Symmetrise the equilibrium flux π_j R_ij off the diagonal: detailed balance on the grid.

    Done in the scaled form √(π_j/π_i) R_ij, which is the symmetric matrix itself and never
    forms π (the weights span 1e13 and more at low T).
    """
    s = np.exp(0.5 * log_weight)
    S = R * s[None, :] / s[:, None]
    S = 0.5 * (S + S.T)
    out = S * s[:, None] / s[None, :]
    np.fill_diagonal(out, np.diag(R))
    return out
