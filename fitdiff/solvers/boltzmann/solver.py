"""Solve the moment ODE of the Boltzmann rung: closed form from two ``eigh`` (fast) or
``scipy.sparse.linalg.expm_multiply`` (reference). TOPRUNG.md §6, issue 15 item 4.

In the scaled variables X̃ = Π^(−½) X the blocks Ã0, Ã1 are symmetric: Ã0 = U0 Λ U0ᵀ,
Ã1 = U1 M U1ᵀ. For a delta source b = (g, 0, w0² g) at t0 (a = U0ᵀ Π^(−½) g):

    ñ(t) = U0 e^(Λt) a
    p̂(t) = U1ᵀ p̃ = Ĉ e^(Λt) a − e^(Mt) Ĉ a,   Ĉ_kl = (U1ᵀ V U0)_kl / (λ_l − μ_k)
    m̂(t) = U0ᵀ m̃:  m̂_i' = λ_i m̂_i + Σ_l F_il e^(λ_l t) + Σ_k G_ik e^(μ_k t)

with F = 2(U1ᵀVU0)ᵀ Ĉ diag(a), G = −2(U1ᵀVU0)ᵀ diag(Ĉa). Any observable cᵀm(t) is therefore
Σ_i (α_i + β_i t) e^(λ_i t) + Σ_k γ_k e^(μ_k t): the divided differences (e^(λ_i t) − e^(λ_l t))/
(λ_i − λ_l) split into single exponentials, and coincident λ_i = λ_l (the secular 4Dt term)
give t e^(λ_i t). The coefficients cost O(N²) per observable, the time grid O(N T), so the
triple tables of ``linear.chain_response`` (O(N³T)) never appear. Pulse ⊛ IRF (Gaussian)
enters through the exponentially modified Gaussian of :func:`fitdiff.solvers.linear.pulse_terms`
and its λ-derivative, before any ratio is formed. Where a λ_l nearly coincides with a μ_k
(the Sylvester solve Ĉ would lose digits) the expm_multiply path is used instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import ModelError
from ...units import HBAR_MEV_PS, UM2_PS_PER_CM2_S
from ..linear import pulse_terms
from .config import FWHM_PER_SIGMA, BoltzmannModel
from .generator import Generator, build_generator
from .rates import kT_meV
from .source import formation

#: |λ_i − λ_l| · t_max below which a pair is treated as coincident (t e^(λt) term).
_COINCIDENT = 1e-9
#: min |λ_l − μ_k| · t_max below which the closed form hands over to expm_multiply.
_RESONANT = 1e-6
_METHODS = ("eigen", "expm")
#: Output points per expm_multiply interval call.
_EXPM_PIECE = 50


@dataclass(frozen=True)
class BoltzmannSolution:
    """Observables of the Boltzmann rung on a time grid (TOPRUNG.md §9 columns).

    Attributes
    ----------
    t_ps : numpy.ndarray
        Times in ps, shape (T,).
    valleys : list of str
    n : numpy.ndarray
        Valley populations (excitons; one exciton formed), shape (V, T).
    m_um2 : numpy.ndarray
        Second moments Σ_j m_j per valley in µm² × excitons, shape (V, T).
    w2_um2, D_cm2_s : numpy.ndarray
        Valley widths w_v² (µm²) and D_v = (ṁn − mṅ)/(4n²) (cm²/s), shape (V, T).
    D_interv_cm2_s : numpy.ndarray
        Seed 001's scattering-induced part: the intervalley part of ṁ and ṅ in D, shape (V, T).
    kT_tau_over_hbar : numpy.ndarray
        k_BT⟨τ⟩/ħ per valley, ⟨τ⟩ = population average of 1/Γ_out^intra (intravalley
        out-scattering: acoustic, plus Γ-point optical when the model has it) over the current
        shells
        (seed 000 eq. 2: < 1–3 means the Boltzmann picture is marginal), shape (V, T).
    pl : numpy.ndarray
        PL(t) = Σ γ φ_j n_j in excitons/ps (light cone of the bright valleys), shape (T,).
    w2_pl_um2, D_pl_cm2_s : numpy.ndarray
        Width of the light-cone states Σφm/Σφn (+ w_psf² with the instrument) and its D.
    instrument : bool
        Whether IRF (all curves) and PSF (PL width) are included.
    info : dict
        unknowns, method used, formation rate (1/ps), grid size per valley.
    """

    t_ps: np.ndarray
    valleys: list
    n: np.ndarray
    m_um2: np.ndarray
    w2_um2: np.ndarray
    D_cm2_s: np.ndarray
    D_interv_cm2_s: np.ndarray
    kT_tau_over_hbar: np.ndarray
    pl: np.ndarray
    w2_pl_um2: np.ndarray
    D_pl_cm2_s: np.ndarray
    instrument: bool = True
    info: dict = field(default_factory=dict)

    @property
    def pl_over_plmax(self) -> np.ndarray:
        """PL / max PL on this grid: how dim the bright signal is (TOPRUNG.md §8 caveat)."""
        peak = np.nanmax(self.pl) if np.any(self.pl > 0) else 1.0
        return self.pl / peak

    def to_frame(self):
        """The ``fitdiff simulate --solver boltzmann`` CSV table (TOPRUNG.md §9)."""
        import pandas as pd

        cols: dict = {"t_ps": self.t_ps}
        for i, v in enumerate(self.valleys):
            cols[f"n_{v}"] = self.n[i]
            cols[f"w2_{v}_um2"] = self.w2_um2[i]
            cols[f"D_{v}_cm2_s"] = self.D_cm2_s[i]
        cols["pl"] = self.pl
        cols["w2_pl_um2"] = self.w2_pl_um2
        cols["D_pl_cm2_s"] = self.D_pl_cm2_s
        cols["pl_over_plmax"] = self.pl_over_plmax
        for i, v in enumerate(self.valleys):
            cols[f"D_interv_{v}_cm2_s"] = self.D_interv_cm2_s[i]
        for i, v in enumerate(self.valleys):
            cols[f"kT_tau_over_hbar_{v}"] = self.kT_tau_over_hbar[i]
        df = pd.DataFrame(cols)
        df.attrs["instrument"] = self.instrument
        return df


def observable_rows(model: BoltzmannModel, gen: Generator) -> np.ndarray:
    """Rows c (K × N) whose cᵀn and cᵀm the solution needs.

    Order: valley indicators (V), the PL weight γφ (1), the intervalley rows 1_vᵀ A0^interv (V),
    and 1_v/Γ_out (V) for the validity figure.
    """
    grid = gen.grid
    V = len(model.valleys)
    ind = np.zeros((V, grid.size))
    for v in range(V):
        ind[v, grid.slice(v)] = 1.0
    inter = ind @ gen.A0_inter
    return np.vstack([ind, gen.radiative[None, :], inter, ind * intravalley_tau_ps(gen)[None, :]])


def intravalley_tau_ps(gen: Generator) -> np.ndarray:
    """1/Γ_out^intra per shell in ps (0 where a shell does not scatter inside its valley).

    Seed 000's τ is the intravalley scattering time: TOPRUNG.md §4 quotes k_BTτ/ħ = 2.9 / 2.0 /
    2.5 for KK / KΛ / KK′ from the acoustic kernel (Γ-point optical modes, when present, add).
    """
    intra = gen.gamma_out - gen.R0_inter.sum(axis=0)
    with np.errstate(divide="ignore"):
        return np.where(intra > 0, 1.0 / intra, 0.0)


def thermal_kT_tau_over_hbar(model: BoltzmannModel, gen: Generator) -> np.ndarray:
    """k_BT⟨τ⟩/ħ per valley in thermal equilibrium (bin-integrated Boltzmann weights).

    The semiclassical validity figure of seed 000 eq. 2 without a time grid: < 1 means the
    Boltzmann picture is outside its regime, ≈ 1–3 marginal (TOPRUNG.md §4). Shape (V,).
    """
    grid = gen.grid
    tau = intravalley_tau_ps(gen)
    out = np.empty(len(model.valleys))
    for v in range(len(model.valleys)):
        sl = grid.slice(v)
        lw = grid.log_weight[sl]
        w = np.exp(lw - lw.max())  # per valley: a valley far above the others keeps its shape
        out[v] = kT_meV(model.T_K) / HBAR_MEV_PS * float(np.sum(w * tau[sl]) / np.sum(w))
    return out


def solve(
    model: BoltzmannModel,
    t_ps=None,
    *,
    method: str = "eigen",
    instrument: bool = True,
    generator: Generator | None = None,
) -> BoltzmannSolution:
    """Solve the Boltzmann rung of ``model`` on ``t_ps`` (default: the model's [time] grid).

    Parameters
    ----------
    model : BoltzmannModel
    t_ps : array_like, optional
        Output times in ps.
    method : {"eigen", "expm"}
        ``eigen``: closed form from two ``eigh`` of size N (fast; falls back to ``expm`` where a
        λ of A0 and a μ of A1 nearly coincide). ``expm``: ``scipy.sparse.linalg.expm_multiply``
        of the 3N×3N scaled generator on a uniform grid (the reference).
    instrument : bool
        Include the IRF (all curves) and the PSF (PL width).
    generator : Generator, optional
        A prebuilt generator of ``model`` (its rates depend on every parameter but w0, t0,
        pulse and instrument).
    """
    if method not in _METHODS:
        raise ModelError(f"method {method!r} is not one of {list(_METHODS)}")
    t = model.time_grid_ps() if t_ps is None else np.asarray(t_ps, dtype=float)
    if t.ndim != 1 or t.size < 2 or not np.all(np.isfinite(t)):
        raise ModelError("t_ps must be a 1-D array of at least 2 finite times")
    gen = build_generator(model) if generator is None else generator
    g, rate = formation(model, gen.grid)
    rows = observable_rows(model, gen)
    sigma = model.sigma_ps if instrument else model.source.pulse_fwhm_ps / FWHM_PER_SIGMA
    tau = t - model.source.t0_ps
    w0sq = model.source.w0_um**2
    used = method
    if method == "eigen":
        out = _eigen(gen, g, rows, tau, sigma, w0sq)
        if out is None:
            used = "expm (resonant spectra)"
    if method == "expm" or out is None:
        out = _expm(gen, g, rows, tau, sigma, w0sq)
    info = {
        "unknowns": 3 * gen.grid.size,
        "shells": [
            int(gen.grid.start[v + 1] - gen.grid.start[v]) for v in range(len(model.valleys))
        ],
        "method": used,
        "formation_rate_per_ps": rate,
    }
    return _assemble(model, t, out, instrument, info)


# ---------------------------------------------------------------------- closed form


def _eigen(gen: Generator, g, rows, tau, sigma, w0sq):
    """Observables (n, ṅ, m, ṁ; each K × T) from the closed form, or None when resonant."""
    A0s, A1s, s = gen.scaled_blocks()
    lam, U0 = np.linalg.eigh(A0s)
    mu, U1 = np.linalg.eigh(A1s)
    t_scale = max(float(np.max(np.abs(tau))), 1e-12)
    D_lm = lam[None, :] - mu[:, None]  # (k, l): λ_l − μ_k
    if np.min(np.abs(D_lm)) * t_scale < _RESONANT:
        return None
    with np.errstate(divide="ignore", under="ignore"):
        a = U0.T @ np.where(s > 0, g / np.where(s > 0, s, 1.0), 0.0)
    c_hat = (rows * s[None, :]) @ U0  # K × N
    C = U1.T @ (gen.grid.velocity[:, None] * U0)  # (k, l)
    Chat = C / D_lm
    B = 2.0 * C.T  # (i, k)
    F = B @ (Chat * a[None, :])  # (i, l)
    G = -B * (Chat @ a)[None, :]  # (i, k)
    D_ll = lam[:, None] - lam[None, :]
    same = np.abs(D_ll) * t_scale < _COINCIDENT
    FM = F / np.where(same, np.inf, D_ll)
    GM = G / (lam[:, None] - mu[None, :])
    alpha_m = w0sq * c_hat * a[None, :] + c_hat * (FM.sum(1) + GM.sum(1))[None, :] - c_hat @ FM
    beta_m = c_hat * np.where(same, F, 0.0).sum(1)[None, :]
    gamma_m = -(c_hat @ GM)
    alpha_n = c_hat * a[None, :]
    K = alpha_n.shape[0]
    if sigma == 0.0:
        # delta source: one exponential table per spectrum, the t e^(λt) terms as τ · (β @ H0),
        # and all λ-observables from one matrix product
        H0, M0 = _exp_table(lam, tau), _exp_table(mu, tau)
        coef = np.vstack(
            [alpha_n, alpha_n * lam, alpha_m, alpha_m * lam + beta_m, beta_m, beta_m * lam]
        )
        Y = coef @ H0
        Z = np.vstack([gamma_m, gamma_m * mu]) @ M0
        n, dn = Y[:K], Y[K : 2 * K]
        m = Y[2 * K : 3 * K] + tau * Y[4 * K : 5 * K] + Z[:K]
        dm = Y[3 * K : 4 * K] + tau * Y[5 * K :] + Z[K:]
        return n, dn, m, dm
    (H0, H1), f = pulse_terms(lam, tau, sigma, 1)
    (M0,), _ = pulse_terms(mu, tau, sigma, 0)
    n = alpha_n @ H0
    dn = (alpha_n * lam) @ H0 + np.outer(alpha_n.sum(1), f)
    m = alpha_m @ H0 + beta_m @ H1 + gamma_m @ M0
    dm = (
        (alpha_m * lam + beta_m) @ H0
        + (beta_m * lam) @ H1
        + (gamma_m * mu) @ M0
        + np.outer(alpha_m.sum(1) + gamma_m.sum(1), f)
    )
    return n, dn, m, dm


def _exp_table(rates: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """e^(λτ) for τ >= 0 and 0 before the (delta) source, shape (N, T).

    Arguments below −700 are set to 0 without calling exp (e^-700 ≈ 1e-304 is far below any
    observable, and exp's underflow path is slow).
    """
    arg = np.multiply.outer(rates, np.maximum(tau, 0.0))
    out = np.zeros_like(arg)
    np.exp(arg, out=out, where=arg > -700.0)
    out[:, tau < 0] = 0.0
    return out


# ---------------------------------------------------------------------- reference


def _expm(gen: Generator, g, rows, tau, sigma, w0sq):
    """Observables from expm_multiply on a uniform grid, convolved by quadrature when σ > 0."""
    from scipy.sparse.linalg import expm_multiply

    N = gen.grid.size
    A = gen.sparse(scaled=True)
    _, _, s = gen.scaled_blocks()
    x0 = np.zeros(3 * N)
    gs = np.where(s > 0, g / np.where(s > 0, s, 1.0), 0.0)
    x0[:N] = gs
    x0[2 * N :] = w0sq * gs
    tmax = float(np.max(tau)) + 6.0 * sigma  # the kernel reaches source times past τ
    if tmax <= 0:
        z = np.zeros((rows.shape[0], tau.size))
        return z, z, z, z
    steps = np.diff(np.sort(tau))
    h = float(np.min(steps[steps > 0])) if np.any(steps > 0) else tmax
    if sigma > 0:
        h = min(h, sigma / 20.0)
    num = int(np.ceil(tmax / h - 1e-9)) + 1  # the output grid itself when it is uniform
    u = np.linspace(0.0, tmax, num)
    # scipy's interval mode loses digits over long intervals (1e-3 relative on n_KK at 20 K
    # over 100 ps, checked against dense expm stepping); chained short pieces keep ~1e-12
    X = np.empty((num, 3 * N))
    X[0] = x0
    for k0 in range(0, num - 1, _EXPM_PIECE):
        k1 = min(k0 + _EXPM_PIECE, num - 1)
        X[k0 : k1 + 1] = expm_multiply(
            A, X[k0], start=0.0, stop=u[k1] - u[k0], num=k1 - k0 + 1, endpoint=True
        )
    dX = (A @ X.T).T
    rs = rows * s[None, :]
    Y = {
        "n": rs @ X[:, :N].T,
        "dn": rs @ dX[:, :N].T,
        "m": rs @ X[:, 2 * N :].T,
        "dm": rs @ dX[:, 2 * N :].T,
    }
    jump = {"n": rs @ x0[:N], "m": rs @ x0[2 * N :]}
    if sigma == 0:
        out = []
        for key in ("n", "dn", "m", "dm"):
            vals = np.array([np.interp(tau, u, y, left=0.0) for y in Y[key]])
            vals[:, tau < 0] = 0.0
            out.append(vals)
        return tuple(out)
    # Gaussian kernel of pulse ⊛ IRF by the trapezoid rule over the source time u >= 0
    wq = np.full(num, u[1] - u[0])
    wq[[0, -1]] *= 0.5
    K = np.exp(-0.5 * ((tau[:, None] - u[None, :]) / sigma) ** 2) / (np.sqrt(2 * np.pi) * sigma)
    K *= wq[None, :]
    f = np.exp(-0.5 * (tau / sigma) ** 2) / (np.sqrt(2 * np.pi) * sigma)
    n = Y["n"] @ K.T
    m = Y["m"] @ K.T
    dn = Y["dn"] @ K.T + np.outer(jump["n"], f)
    dm = Y["dm"] @ K.T + np.outer(jump["m"], f)
    return n, dn, m, dm


# ---------------------------------------------------------------------- assembly


def _assemble(model: BoltzmannModel, t, out, instrument, info) -> BoltzmannSolution:
    n_all, dn_all, m_all, dm_all = out
    V = len(model.valleys)
    n, dn, m, dm = n_all[:V], dn_all[:V], m_all[:V], dm_all[:V]
    npl, dnpl, mpl, dmpl = n_all[V], dn_all[V], m_all[V], dm_all[V]
    dn_iv, dm_iv = n_all[V + 1 : 2 * V + 1], m_all[V + 1 : 2 * V + 1]
    ntau = n_all[2 * V + 1 :]
    kT = kT_meV(model.T_K)
    with np.errstate(divide="ignore", invalid="ignore"):
        w2 = m / n
        D = (dm * n - m * dn) / (4.0 * n**2) / UM2_PS_PER_CM2_S
        D_iv = (dm_iv * n - m * dn_iv) / (4.0 * n**2) / UM2_PS_PER_CM2_S
        validity = kT * (ntau / n) / HBAR_MEV_PS
        w2_pl = mpl / npl
        D_pl = (dmpl * npl - mpl * dnpl) / (4.0 * npl**2) / UM2_PS_PER_CM2_S
    if instrument:
        w2_pl = w2_pl + model.instrument.w_psf_um**2
    return BoltzmannSolution(
        t_ps=t,
        valleys=model.names,
        n=n,
        m_um2=m,
        w2_um2=w2,
        D_cm2_s=D,
        D_interv_cm2_s=D_iv,
        kT_tau_over_hbar=validity,
        pl=npl,
        w2_pl_um2=w2_pl,
        D_pl_cm2_s=D_pl,
        instrument=instrument,
        info=info,
    )
