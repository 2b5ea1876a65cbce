"""Conservative method-of-lines solver in r for the nonlinear (annihilation) case (§3.4).

Finite volumes on uniform radial cells [r_i, r_(i+1)]: the diffusive flux through each face is
−D ∂N/∂r · 2π r_face, so ∫N d²r changes only by reactions (no flux through r = 0 or through the
outer wall). The cell source is the exact cell average of the Gaussian spot, so the discrete
initial condition carries the exact population. The stiff system (intervalley rates of 1/ps
next to slow diffusion) is integrated with ``scipy.integrate.solve_ivp(method="BDF")`` with
the analytic sparse Jacobian A − 2 diag(R_A N). With no annihilation this is the plain
finite-difference solve labs use, which the benchmark compares against.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.integrate import solve_ivp
from scipy.special import j0

from ..errors import ModelError
from ..units import UM2_PS_PER_CM2_S
from .linear import pulse_shape
from .model import ValleyModel
from .radial import SpatialSolution, hankel_grid

#: Pulses are integrated from t0 − this many σ (the Gaussian tail before is below 1e-15).
_PULSE_START_SIGMAS = 8.0


def _radial_grid(model: ValleyModel, t_max_ps: float, r_max_um: float, dr_um: float | None):
    """Cell faces reaching 6 widths beyond the widest valley at t_max (density < e⁻³⁶)."""
    w0 = model.source.w0_um
    D = model.diffusion_um2_ps().max(initial=0.0)
    reach = 6.0 * np.sqrt(w0**2 + 4.0 * D * max(t_max_ps - model.source.t0_ps, 0.0))
    r_edge = max(r_max_um, reach) * 1.02
    dr = dr_um if dr_um is not None else w0 / 40.0
    cells = int(np.ceil(r_edge / dr))
    return np.arange(cells + 1) * dr


def pde_operator(model: ValleyModel, faces: np.ndarray) -> sparse.csr_matrix:
    """The linear operator (diffusion per valley + rate matrix per cell) as a sparse matrix.

    The state is valley-major: index v·C + i for valley v and cell i.
    """
    C = faces.size - 1
    vol = np.pi * np.diff(faces**2)
    dr = np.diff(faces)
    # conductance between cells i and i+1: 2π r_face / (centre distance)
    centres = 0.5 * (faces[:-1] + faces[1:])
    g = 2.0 * np.pi * faces[1:-1] / np.diff(centres)
    lap = sparse.diags(
        [np.r_[-g, 0.0] + np.r_[0.0, -g], g, g], [0, 1, -1], shape=(C, C), format="csr"
    )
    lap = sparse.diags(1.0 / vol) @ lap
    del dr
    D = model.diffusion_um2_ps()
    K = model.rate_matrix()
    A = sparse.kron(sparse.diags(D), lap) + sparse.kron(sparse.csr_matrix(K), sparse.eye(C))
    return A.tocsr()


def solve_pde(
    model: ValleyModel,
    t_ps,
    r_um,
    *,
    instrument: bool = False,
    dr_um: float | None = None,
    rtol: float = 1e-8,
) -> SpatialSolution:
    """Solve the valley diffusion–reaction PDE (with annihilation) by the method of lines.

    Parameters
    ----------
    model : ValleyModel
        The model; ``annihilation_cm2_s`` of each valley gives −R_A N_v² (N in excitons/µm²,
        so ``source.excitons`` sets the density scale).
    t_ps : array_like
        Output times in ps.
    r_um : array_like
        Output radii in µm (values are interpolated from the cell centres).
    instrument : bool
        Convolve with the Gaussian IRF (numerically, on a fine time grid) and the PSF (in
        Hankel space).
    dr_um : float, optional
        Cell size in µm (default w0/40: second moments to ~1e-4 relative).
    rtol : float
        Relative tolerance of the BDF integrator.

    Returns
    -------
    SpatialSolution
        With ``method == "pde"``.
    """
    t_out = np.asarray(t_ps, dtype=float).ravel()
    r_out = np.asarray(r_um, dtype=float).ravel()
    if r_out.size == 0 or np.any(r_out < 0):
        raise ModelError("r_um must be a non-empty array of radii >= 0 µm")
    V = len(model.valleys)
    t0 = model.source.t0_ps
    sigma = model.pulse_sigma_ps
    irf = model.irf_sigma_ps if instrument else 0.0
    # with an IRF, solve on a fine grid that covers the kernel, then convolve numerically
    if irf > 0:
        step = min(irf / 6.0, np.min(np.diff(np.unique(t_out)), initial=irf))
        t_solve = np.arange(t_out.min() - 6 * irf, t_out.max() + 6 * irf + step, step)
    else:
        t_solve = t_out
    faces = _radial_grid(model, float(t_solve.max()), float(r_out.max()), dr_um)
    C = faces.size - 1
    vol = np.pi * np.diff(faces**2)
    w0 = model.source.w0_um
    spot = -np.diff(np.exp(-(faces**2) / w0**2)) / vol  # exact cell average, unit area
    A = pde_operator(model, faces)
    b = np.kron(model.source_vector(), spot)
    R = np.repeat([v.annihilation_cm2_s * UM2_PS_PER_CM2_S for v in model.valleys], C)
    nonlinear = bool(np.any(R > 0))

    def rhs(t, y):
        dy = A @ y + b * pulse_shape(np.array(t - t0), sigma)
        if nonlinear:
            dy -= R * y * y
        return dy

    def jac(t, y):
        return A - sparse.diags(2.0 * R * y) if nonlinear else A

    if sigma > 0:
        start, y0 = t0 - _PULSE_START_SIGMAS * sigma, np.zeros(V * C)
    else:
        start, y0 = t0, b.copy()
    times = np.unique(t_solve[t_solve > start])
    Y = np.zeros((V * C, t_solve.size))
    if times.size:
        peak = model.source.excitons / (np.pi * w0**2)
        sol = solve_ivp(
            rhs,
            (start, times[-1]),
            y0,
            method="BDF",
            t_eval=times,
            jac=jac,
            rtol=rtol,
            atol=1e-12 * peak,
            first_step=min(0.01, max(sigma, 1e-3) / 10),
        )
        if not sol.success:
            raise ModelError(f"the method-of-lines integration failed: {sol.message}")
        idx = np.searchsorted(times, t_solve)
        ok = t_solve > start
        Y[:, ok] = sol.y[:, idx[ok]]
    if sigma == 0:
        Y[:, t_solve == start] = y0[:, None]
    Y = Y.reshape(V, C, t_solve.size).transpose(0, 2, 1)  # (V, T, C)
    if irf > 0:
        kern = np.exp(-0.5 * ((t_out[:, None] - t_solve[None, :]) / irf) ** 2)
        kern /= kern.sum(axis=1, keepdims=True)
        Y = np.einsum("st,vtc->vsc", kern, Y)
    centres = 0.5 * (faces[:-1] + faces[1:])
    psf = model.instrument.w_psf_um if instrument else 0.0
    if psf > 0:
        N = _blur(Y, faces, r_out, psf, w0)
    else:
        N = np.stack([np.stack([np.interp(r_out, centres, row) for row in Yv]) for Yv in Y])
    pl = np.einsum("v,vtr->tr", model.radiative_rates_per_ps(), N)
    return SpatialSolution(t_out, r_out, model.names, N, pl, "pde")


def _blur(Y: np.ndarray, faces: np.ndarray, r_out: np.ndarray, psf: float, w0: float):
    """Apply the Gaussian PSF in Hankel space to cell-averaged profiles Y (V, T, C)."""
    k, wk = hankel_grid(min(w0, psf) if psf > 0 else w0, float(max(faces[-1], r_out.max())))
    vol = np.pi * np.diff(faces**2)
    centres = 0.5 * (faces[:-1] + faces[1:])
    forward = vol[None, :] * j0(np.outer(k, centres))  # (K, C): Ñ(k) = Σ N_i V_i J0(k r_i)
    Nk = np.einsum("kc,vtc->vtk", forward, Y) * np.exp(-0.25 * k**2 * psf**2)
    back = (wk * k)[None, :] * j0(np.outer(r_out, k)) / (2.0 * np.pi)
    return np.einsum("rk,vtk->vtr", back, Nk)
