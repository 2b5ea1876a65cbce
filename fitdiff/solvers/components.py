"""The parts of a multivalley model: valleys, transitions, source, instrument, rendering.

Plain frozen dataclasses with units in every field name or docstring (PHYSICS.md §3.1-3.3);
:class:`~fitdiff.solvers.model.ValleyModel` assembles and validates them and
:mod:`fitdiff.solvers.schema` reads and writes them in the MODEL.toml schema.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Valley:
    """One exciton valley (internal state) of the model.

    Attributes
    ----------
    name : str
        Identifier (letters and digits; ``KKp`` for KK').
    E_meV : float
        Energy of the valley minimum in meV (any common zero).
    M_m0 : float
        Translational mass in units of m0 (enters detailed balance and the D(T) model).
    g : float
        Degeneracy (enters detailed balance through the density of states g·M).
    D_cm2_s : float or None
        Diffusion coefficient in cm²/s; None when ``diffusivity`` computes it.
    diffusivity : dict or None
        Keyword arguments of ``fitdiff.physics.d_total`` (``xi_eV``, ``rho_g_cm2``, ``s_cm_s``,
        optional ``tau_dis_ps``, ``tau_r_ps``, ``method``); the valley's mass and ``T_K`` are
        added. Used only when ``D_cm2_s`` is None.
    radiative_rate_per_ps : float
        Radiative rate γ0 in 1/ps (0 = dark valley).
    light_cone_meV : float or None
        Light-cone energy E_lc in meV; when given the effective radiative rate is
        γ0 (1 − exp(−E_lc / kB T)) (PHYSICS.md §3.1), else γ0 itself.
    nonradiative_rate_per_ps : float
        Non-radiative decay rate in 1/ps.
    tau_ps : float
        Momentum relaxation time in ps for the ballistic start (§3.2); 0 = purely diffusive.
    annihilation_cm2_s : float
        Exciton-exciton annihilation coefficient R_A in cm²/s (−R_A N² in this valley).
    """

    name: str
    E_meV: float = 0.0
    M_m0: float = 0.5
    g: float = 1.0
    D_cm2_s: float | None = 1.0
    diffusivity: dict | None = None
    radiative_rate_per_ps: float = 0.0
    light_cone_meV: float | None = None
    nonradiative_rate_per_ps: float = 0.0
    tau_ps: float = 0.0
    annihilation_cm2_s: float = 0.0


@dataclass(frozen=True)
class Transition:
    """A pair of valleys exchanging excitons; ``rate_per_ps`` is the downhill rate from→to.

    Attributes
    ----------
    from_ : str
        Upper valley (``E_from >= E_to``).
    to : str
        Lower valley.
    rate_per_ps : float
        Downhill rate Γ0 in 1/ps; the uphill rate follows from detailed balance (§3.1).
    phonon_meV : float or None
        Phonon energy ħΩ in meV; when given the downhill rate is Γ0 [n_B(ħΩ, T) + 1].
    """

    from_: str
    to: str
    rate_per_ps: float
    phonon_meV: float | None = None


@dataclass(frozen=True)
class Source:
    """The excitation: a Gaussian spot exp(−r²/w0²)/(π w0²) times a Gaussian (or delta) pulse.

    Attributes
    ----------
    valley : str
        Valley the excitons are created in.
    w0_um : float
        Initial width in µm (w0² = ⟨r²⟩ of the spot).
    t0_ps : float
        Pulse centre in ps.
    pulse_fwhm_ps : float
        Pulse FWHM in ps (0 = delta pulse).
    excitons : float
        Total number of excitons created; matters only with annihilation (densities in µm⁻²).
    """

    valley: str
    w0_um: float = 0.5
    t0_ps: float = 0.0
    pulse_fwhm_ps: float = 0.0
    excitons: float = 1.0


@dataclass(frozen=True)
class Instrument:
    """Instrument response: Gaussian PSF of squared width w_psf² (µm²) and Gaussian IRF (ps)."""

    w_psf_um: float = 0.0
    irf_fwhm_ps: float = 0.0


@dataclass(frozen=True)
class RenderSettings:
    """How ``render_streak`` / ``render_stack`` turn PL(r, t) into counts.

    Attributes
    ----------
    kind : str
        ``"streak"`` (dims t, x) or ``"stack"`` (dims t, y, x).
    x_um, y_um : tuple (start, stop, count)
        Pixel-centre grids in µm (``y_um`` for stacks; defaults to ``x_um``).
    slit_um : float
        Streak entrance slit width in µm at the sample; ``inf`` = wide slit (projection ∫dy,
        exact for second moments, §1), 0 = narrow cut N(x, 0).
    peak_counts : float
        Expected counts at the brightest pixel before background and noise.
    background : float
        Constant expected background counts per pixel.
    noise : str
        ``"none"``, ``"poisson"`` (photon counting) or ``"camera"`` (gain · Poisson + read noise).
    gain, read_noise : float
        Camera gain (counts per photoelectron) and read noise (counts rms) for ``"camera"``.
    seed : int or None
        Seed of the noise generator.
    """

    kind: str = "streak"
    x_um: tuple[float, float, int] = (-5.0, 5.0, 101)
    y_um: tuple[float, float, int] | None = None
    slit_um: float = math.inf
    peak_counts: float = 1000.0
    background: float = 0.0
    noise: str = "poisson"
    gain: float = 1.0
    read_noise: float = 0.0
    seed: int | None = None
