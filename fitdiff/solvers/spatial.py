"""Spatial solutions N_v(r, t) and PL(r, t) (PHYSICS.md §3.4).

Linear models are solved exactly in Hankel space: for each radial wavenumber k the transformed
densities obey dÑ/dt = (K − k² diag D) Ñ + b ĝ(k) f(t), ĝ(k) = exp(−k² w0²/4) being the 2-D
Fourier transform of the unit-area Gaussian spot. Each k is the n-level of the same analytic
pulse response as the moment solver (:mod:`fitdiff.solvers.linear`), so there is no time
stepping; the back transform N(r) = (1/2π) ∫ k J0(kr) Ñ(k) dk uses Gauss-Legendre quadrature
on [0, k_max] with k_max where ĝ has decayed to e⁻⁴⁰. Models with annihilation go to the
method-of-lines solver (:func:`fitdiff.solvers.pde.solve_pde`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import simpson
from scipy.special import j0

from ..errors import ModelError
from .linear import pulse_derivatives
from .model import ValleyModel

#: ĝ(k) = exp(−k² w0²/4) is below exp(−_KMAX_EXP) at k_max (negligible against 1e-16).
_KMAX_EXP = 40.0


@dataclass(frozen=True)
class SpatialSolution:
    """Radial profiles of every valley and of the PL.

    Attributes
    ----------
    t_ps : numpy.ndarray
        Times in ps, shape (T,).
    r_um : numpy.ndarray
        Radii in µm, shape (R,).
    valleys : list of str
        Valley names.
    N : numpy.ndarray
        Densities N_v(r, t) in excitons/µm², shape (V, T, R).
    pl : numpy.ndarray
        PL(r, t) = Σ γ_v N_v in excitons/(µm² ps), shape (T, R).
    method : str
        ``"hankel"`` or ``"pde"``.
    """

    t_ps: np.ndarray
    r_um: np.ndarray
    valleys: list[str]
    N: np.ndarray
    pl: np.ndarray
    method: str

    def _radial_moment(self, y: np.ndarray, power: int) -> np.ndarray:
        """∫ r^power y 2πr dr on the r grid (Simpson; the grid should start at r = 0)."""
        return simpson(2.0 * np.pi * self.r_um ** (power + 1) * y, x=self.r_um, axis=-1)

    def populations(self) -> np.ndarray:
        """n_v(t) = ∫N_v d²r, shape (V, T)."""
        return self._radial_moment(self.N, 0)

    def w2_um2(self) -> np.ndarray:
        """w_v² = ∫r²N_v / ∫N_v in µm², shape (V, T)."""
        return self._radial_moment(self.N, 2) / self._radial_moment(self.N, 0)

    def w2_pl_um2(self) -> np.ndarray:
        """Second-moment width of the PL in µm², shape (T,)."""
        return self._radial_moment(self.pl, 2) / self._radial_moment(self.pl, 0)

    def kurtosis_excess(self, which: str = "pl") -> np.ndarray:
        """Excess kurtosis of the 1-D projection ∫ dy of a profile (0 for a Gaussian).

        For an isotropic 2-D density ⟨x²⟩ = ⟨r²⟩/2 and ⟨x⁴⟩ = 3⟨r⁴⟩/8, so the projection's
        excess kurtosis is 1.5 ⟨r⁴⟩/⟨r²⟩² − 3. ``which`` is ``"pl"`` or a valley name.
        """
        y = self.pl if which == "pl" else self.N[self.valleys.index(which)]
        m0, m2, m4 = (self._radial_moment(y, p) for p in (0, 2, 4))
        return 1.5 * m4 * m0 / m2**2 - 3.0


def hankel_grid(w_min_um: float, r_max_um: float) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights in k (1/µm) for the inverse Hankel transform.

    Parameters
    ----------
    w_min_um : float
        Smallest width in the problem (the spot w0) in µm: sets k_max.
    r_max_um : float
        Largest radius evaluated in µm: sets the number of nodes (J0(k r) oscillations).
    """
    kmax = 2.0 * np.sqrt(_KMAX_EXP) / w_min_um
    nodes = int(0.5 * kmax * r_max_um) + 120
    x, w = np.polynomial.legendre.leggauss(nodes)
    return 0.5 * kmax * (x + 1.0), 0.5 * kmax * w


def hankel_transformed(
    model: ValleyModel, k: np.ndarray, t_ps, *, sigma_ps: float, psf_um: float = 0.0
) -> np.ndarray:
    """Ñ_v(k, t) of a linear model, shape (V, K, T) (excitons; Ñ(0, t) = n_v(t)).

    Parameters
    ----------
    k : numpy.ndarray
        Radial wavenumbers in 1/µm.
    t_ps : array_like
        Times in ps.
    sigma_ps : float
        Standard deviation of the pulse (⊛ IRF) in ps.
    psf_um : float
        PSF width w_psf in µm: multiplies by exp(−k² w_psf²/4), the PSF's own transform.
    """
    K = model.rate_matrix()
    D = model.diffusion_um2_ps()
    root = np.sqrt(model.equilibrium_weights())
    # K − k²D stays symmetric under the detailed-balance similarity (D is diagonal)
    Ks = K / root[:, None] * root[None, :]
    Ks = 0.5 * (Ks + Ks.T)
    Ak = Ks[None] - (k**2)[:, None, None] * np.diag(D)[None]
    lam, U = np.linalg.eigh(Ak)  # (K, V), (K, V, V)
    b = model.source_vector() / root
    beta = np.einsum("kvj,v->kj", U, b)  # U^T b per k
    g = np.exp(-0.25 * k**2 * (model.source.w0_um**2 + psf_um**2))
    tau = np.asarray(t_ps, dtype=float) - model.source.t0_ps
    H = pulse_derivatives(lam, tau, sigma_ps, 0)[0]  # (K, V, T)
    Nk = np.einsum("kvj,kj,kjt->vkt", U, beta, H) * root[:, None, None]
    return Nk * g[None, :, None]


def solve_spatial(
    model: ValleyModel, t_ps, r_um, *, method: str = "auto", instrument: bool = False, **pde_options
) -> SpatialSolution:
    """Radial profiles N_v(r, t) and PL(r, t) of ``model``.

    Parameters
    ----------
    model : ValleyModel
        The model; with annihilation only ``method="pde"`` applies (``"auto"`` picks it).
    t_ps : array_like
        Times in ps.
    r_um : array_like
        Radii in µm (>= 0); moments need a grid from 0 to several widths.
    method : str
        ``"auto"``, ``"hankel"`` (exact, linear models) or ``"pde"`` (method of lines).
    instrument : bool
        Apply the IRF (time) and the PSF (space) to every profile.
    **pde_options
        Passed to :func:`fitdiff.solvers.pde.solve_pde` (``dr_um``, ``rtol``, ...).

    Returns
    -------
    SpatialSolution
    """
    if method not in ("auto", "hankel", "pde"):
        raise ModelError(f"method must be 'auto', 'hankel' or 'pde', got {method!r}")
    if model.is_ballistic:
        raise ModelError(
            "the spatial solvers model diffusive transport only; the ballistic start (tau_ps > 0)"
            " is exact in the moment solver: set every valley's tau_ps to 0 or use solve_moments"
        )
    if method == "auto":
        method = "pde" if model.has_annihilation else "hankel"
    if method == "pde":
        from .pde import solve_pde

        return solve_pde(model, t_ps, r_um, instrument=instrument, **pde_options)
    if model.has_annihilation:
        raise ModelError(
            "annihilation is nonlinear: the Hankel solver cannot treat it; use method='pde'"
        )
    t = np.asarray(t_ps, dtype=float).ravel()
    r = np.asarray(r_um, dtype=float).ravel()
    if r.size == 0 or np.any(r < 0):
        raise ModelError("r_um must be a non-empty array of radii >= 0 µm")
    sigma = model.pulse_sigma_ps
    psf = 0.0
    if instrument:
        sigma = float(np.hypot(sigma, model.irf_sigma_ps))
        psf = model.instrument.w_psf_um
    k, wk = hankel_grid(model.source.w0_um, float(r.max()))
    Nk = hankel_transformed(model, k, t, sigma_ps=sigma, psf_um=psf)
    kernel = (wk * k)[None, :] * j0(np.outer(r, k)) / (2.0 * np.pi)  # (R, K)
    N = np.einsum("rk,vkt->vtr", kernel, Nk)
    pl = np.einsum("v,vtr->tr", model.radiative_rates_per_ps(), N)
    return SpatialSolution(t, r, model.names, N, pl, "hankel")
