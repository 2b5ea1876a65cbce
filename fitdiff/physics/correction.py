"""Weak-localization correction δD to the exciton diffusion coefficient (seed 000).

Two methods (PHYSICS.md §2):

``log``
    Seed eq. (9), logarithmic accuracy: δD = −(ħ/2πM) ln(tau_cut/tau), with the upper
    cut-off tau_cut⁻¹ = tau_phi⁻¹ + tau_phi,xx⁻¹ + tau_r⁻¹ (every dephasing or loss channel
    ends the interference; the seed's eq. (9) is the tau_r, tau_phi,xx → ∞ case) and the
    lower cut-off the total momentum time tau. Where tau_cut <= tau there is no diffusive
    loop to interfere on, and δD = 0.

``cooperon``
    The Boltzmann-averaged Cooperon integral of seed eqs. (S11)–(S13):

        δD = −(ħ/2πM) ⟨L(ε)⟩,
        L(ε) = ∫_tau^∞ dt/t exp(−Γ t − 2 t³/tau_phi(ε)³),   Γ = 1/tau_r + 1/tau_phi,xx,
        tau_phi(ε)³ = 6 ħ² tau_ph / (M s² ε) = 6 tau_phi³ kB T / ε,
        ⟨f⟩ = ∫_0^∞ f(ε) exp(−ε/kB T) dε / kB T.

    The energy average is done exactly before the time integral (Fubini; the integrand is
    positive): ⟨exp(−2t³/tau_phi(ε)³)⟩ = 1 / (1 + t³/(3 tau_phi³)). Hence

        ⟨L⟩ = ∫_tau^∞ dt/t exp(−Γ t) / (1 + t³ / (3 tau_phi³)).

    For Γ = 0 this is elementary: ⟨L⟩ = ⅓ ln(1 + 3 (tau_phi/tau)³), which tends to
    ln(tau_phi/tau) + ln(3)/3 (ln 3 / 3 = 0.366, the constant quoted in PHYSICS.md §2) for
    tau_phi >> tau and to 0 for tau_phi << tau. For Γ > 0 the remaining one-dimensional
    integral is done by composite Gauss–Legendre quadrature in s = ln(t/tau) (see
    :func:`cooperon_log_average`).
"""

from __future__ import annotations

import numpy as np

from ..units import hbar_over_mass_cm2_s

#: ln(3)/3: the constant by which the Cooperon average exceeds the log of eq. (9).
COOPERON_OFFSET = np.log(3.0) / 3.0

# Composite Gauss-Legendre rule on [0, s_max] in s = ln(t/tau): the integrand is analytic with
# poles at Im(s) = ±π/3 (from 1 + κ e^{3s} = 0), so panels of width <~ 3 with 10 nodes each
# converge fast: 16 panels x 10 nodes agree with scipy.integrate.quad to ~2e-12 relative for
# tau_phi/tau in [0.03, 1e5] and Γ tau in [1e-8, 100] (12 x 8 nodes: 1e-8).
_PANELS = 16
_NODES_PER_PANEL = 10
_GL_X, _GL_W = np.polynomial.legendre.leggauss(_NODES_PER_PANEL)
# Past s_Γ + 4 the factor exp(-Γ tau e^s) < exp(-e^4) ≈ 2e-24; past s_c + 12 the factor
# 1/(1 + κ e^{3s}) < e^{-36}: the neglected tail is below 1e-15 of the result.
_GAMMA_MARGIN = 4.0
_PHI_MARGIN = 12.0
_CHUNK = 2048


def hbar_over_2pi_mass_cm2_s(M_m0) -> np.ndarray:
    """Return ħ/(2πM) in cm²/s, the prefactor of δD.

    Parameters
    ----------
    M_m0 : array_like
        Exciton mass in m0.
    """
    return hbar_over_mass_cm2_s(np.asarray(M_m0, dtype=float)) / (2.0 * np.pi)


def delta_d_log(*, tau_ps, tau_phi_ps, M_m0, tau_r_ps=np.inf, tau_phi_xx_ps=np.inf):
    """Quantum correction by the ``log`` method, seed eq. (9), in cm²/s.

    Parameters
    ----------
    tau_ps : array_like
        Total momentum relaxation time (lower cut-off) in ps.
    tau_phi_ps : array_like
        Phonon phase-relaxation time, seed eq. (9), in ps.
    M_m0 : array_like
        Exciton mass in m0.
    tau_r_ps : array_like, optional
        Exciton lifetime in ps (``inf``: none).
    tau_phi_xx_ps : array_like, optional
        Exciton-exciton dephasing time in ps (``inf``: none).

    Returns
    -------
    ndarray
        δD in cm²/s (<= 0; exactly 0 where the upper cut-off does not exceed tau).
    """
    rate = 1.0 / np.asarray(tau_phi_ps, float) + 1.0 / np.asarray(tau_r_ps, float)
    rate = rate + 1.0 / np.asarray(tau_phi_xx_ps, float)
    ratio = 1.0 / (rate * np.asarray(tau_ps, float))
    # ln of a ratio <= 1 would make δD positive: the correction is absent there instead.
    return -hbar_over_2pi_mass_cm2_s(M_m0) * np.log(np.maximum(ratio, 1.0))


def cooperon_log_average(tau_ps, tau_phi_ps, gamma_per_ps=0.0) -> np.ndarray:
    """Return ⟨L⟩ = ∫_tau^∞ dt/t exp(−Γt) / (1 + t³/(3 tau_phi³)) (dimensionless).

    Elementwise over broadcast inputs. Where Γ = 0 the closed form
    ⅓ ln(1 + 3 (tau_phi/tau)³) is used; elsewhere a fixed composite Gauss–Legendre rule
    (16 panels × 10 nodes) in s = ln(t/tau) on [0, s_max], with
    s_max = min(ln(1/(Γ tau)) + 4, ln(tau_phi/tau) + 12) (at least 1), beyond which the
    integrand is below e⁻³⁶ of its start. Hand-written rather than ``scipy.integrate.quad``
    because fits call it for many temperatures at once and it must stay vectorised; the tests
    compare it with ``quad``.

    Parameters
    ----------
    tau_ps : array_like
        Lower cut-off (total momentum time) in ps.
    tau_phi_ps : array_like
        Phonon phase-relaxation time of seed eq. (9) in ps.
    gamma_per_ps : array_like, optional
        Exponential loss/dephasing rate Γ = 1/tau_r + 1/tau_phi,xx in 1/ps.
    """
    tau, tphi, gamma = np.broadcast_arrays(
        np.asarray(tau_ps, float), np.asarray(tau_phi_ps, float), np.asarray(gamma_per_ps, float)
    )
    ratio3 = (tphi / tau) ** 3
    out = np.log1p(3.0 * ratio3) / 3.0
    lossy = gamma > 0
    if np.any(lossy):
        out = np.array(out, dtype=float, copy=True)
        out[lossy] = _lossy_average(tau[lossy], ratio3[lossy], gamma[lossy])
    return out


def _lossy_average(tau, ratio3, gamma):
    """Quadrature branch of :func:`cooperon_log_average` on 1-D arrays."""
    out = np.empty(tau.shape)
    # Chunks bound the (points, panels, nodes) work arrays to a few MB for large inputs.
    for start in range(0, tau.size, _CHUNK):
        part = slice(start, start + _CHUNK)
        out[part] = _lossy_chunk(tau[part], ratio3[part], gamma[part])
    return out


def _lossy_chunk(tau, ratio3, gamma):
    kappa = 1.0 / (3.0 * ratio3)  # t³/(3 tau_phi³) = κ e^{3s}
    gt = gamma * tau
    s_gamma = -np.log(gt) + _GAMMA_MARGIN
    s_phi = -np.log(kappa) / 3.0 + _PHI_MARGIN
    s_max = np.maximum(np.minimum(s_gamma, s_phi), 1.0)
    width = s_max / _PANELS
    # Node positions in units of s_max are the same for every point: (panels * nodes,).
    unit = ((np.arange(_PANELS)[:, None] + 0.5 * (_GL_X[None, :] + 1.0)) / _PANELS).ravel()
    es = np.exp(s_max[:, None] * unit[None, :])
    f = np.exp(-gt[:, None] * es) / (1.0 + kappa[:, None] * (es * es * es))
    return 0.5 * width * (f @ np.tile(_GL_W, _PANELS))


def delta_d_cooperon(*, tau_ps, tau_phi_ps, M_m0, tau_r_ps=np.inf, tau_phi_xx_ps=np.inf):
    """Quantum correction by the ``cooperon`` method (seed eqs. S11–S13), in cm²/s.

    Parameters
    ----------
    tau_ps : array_like
        Total momentum relaxation time (lower cut-off) in ps.
    tau_phi_ps : array_like
        Phonon phase-relaxation time of seed eq. (9) in ps (sets tau_phi(ε), module notes).
    M_m0 : array_like
        Exciton mass in m0.
    tau_r_ps : array_like, optional
        Exciton lifetime in ps (``inf``: none).
    tau_phi_xx_ps : array_like, optional
        Exciton-exciton dephasing time in ps (``inf``: none).

    Returns
    -------
    ndarray
        δD in cm²/s (always < 0, smoothly → 0 where tau_phi << tau).
    """
    gamma = 1.0 / np.asarray(tau_r_ps, float) + 1.0 / np.asarray(tau_phi_xx_ps, float)
    avg = cooperon_log_average(tau_ps, tau_phi_ps, gamma)
    return -hbar_over_2pi_mass_cm2_s(M_m0) * avg
