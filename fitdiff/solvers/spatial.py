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

import numpy as np
from scipy.special import j0

from ..errors import ModelError
from .linear import pulse_derivatives
from .model import ValleyModel
from .pde import solve_pde
from .radial import SpatialSolution, hankel_grid

__all__ = ["SpatialSolution", "hankel_grid", "hankel_transformed", "solve_spatial"]


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
