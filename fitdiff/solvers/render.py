"""Render a model as the measurement an instrument records (PHYSICS.md §3.4, §1).

PL(r, t) comes from :func:`~fitdiff.solvers.spatial.solve_spatial` with the instrument on (IRF
in time, PSF in space). A streak camera sees the PL through an entrance slit of width a at the
sample: I(x, t) = ∫_{|y|<a/2} PL(√(x² + y²), t) dy (a = inf: the projection, whose variance is
exactly w²/2; a = 0: the cut PL(|x|, t)). A stack samples PL at the pixel centres of a (y, x)
grid. Counts are scaled to ``peak_counts`` at the brightest pixel, the background added, and
noise drawn from a seeded ``numpy.random.Generator``.

A single diffusive valley with a tensor D (``D_cm2_s = [Dxx, Dyy, Dxy]``) is not radially
symmetric: its frames are rendered in real space from the exact Green's function, an
anisotropic Gaussian of covariance Σ(τ) = ½(w0² + w_psf²) I + 2 D τ times the population
e^{Kτ}, averaged over the Gaussian pulse ⊛ IRF by Gauss-Legendre quadrature in τ.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError
from ..io import Measurement
from ..units import UM2_PS_PER_CM2_S
from .model import RenderSettings, ValleyModel
from .spatial import solve_spatial

#: Radial sampling of PL(r) before interpolation onto pixels, as a fraction of w0.
_DR_PER_W0 = 1.0 / 200.0
#: Gauss-Legendre nodes for the integral across the slit.
_SLIT_NODES = 160


def _grid(spec: tuple[float, float, int]) -> np.ndarray:
    start, stop, count = spec
    return np.linspace(start, stop, int(count))


def _profiles(model: ValleyModel, t: np.ndarray, r_max: float, solver: str):
    """PL(r, t) on a fine radial grid (instrument applied) and the grid itself."""
    dr = model.source.w0_um * _DR_PER_W0
    r = np.arange(0.0, r_max + 2 * dr, dr)
    sol = solve_spatial(model, t, r, method=solver, instrument=True)
    return r, sol.pl


def _noisy(expected: np.ndarray, settings: RenderSettings, seed: int | None) -> np.ndarray:
    """Draw counts from the noise model of §1 (Poisson, or gain·Poisson + read noise)."""
    rng = np.random.default_rng(seed)
    if settings.noise == "none":
        return expected.astype(np.float32)
    if settings.noise == "poisson":
        counts = rng.poisson(expected)
        return counts.astype(np.uint16 if counts.max(initial=0) < 65535 else np.uint32)
    electrons = rng.poisson(expected / settings.gain)
    counts = settings.gain * electrons + rng.normal(0.0, settings.read_noise, expected.shape)
    return counts.astype(np.float32)


def _scale(image: np.ndarray, settings: RenderSettings) -> np.ndarray:
    # the quadrature of the back transform rings at the 1e-16 level in the far tails
    image = np.maximum(image, 0.0)
    peak = float(image.max(initial=0.0))
    if not peak > 0:
        raise ModelError("the model emits no PL (no bright valley with radiative_rate_per_ps > 0)")
    return settings.peak_counts * image / peak + settings.background


def _meta(model: ValleyModel, settings: RenderSettings, seed, solver: str) -> dict:
    return {
        "simulated": True,
        "solver": solver,
        "slit_um": settings.slit_um,
        "noise": settings.noise,
        "seed": seed,
        "model": model.to_dict(),
    }


def render_streak(
    model: ValleyModel,
    t_ps=None,
    x_um=None,
    *,
    slit_um: float | None = None,
    solver: str = "auto",
    seed: int | None = None,
    settings: RenderSettings | None = None,
) -> Measurement:
    """Render a streak image I(t, x) of ``model`` as a :class:`~fitdiff.io.Measurement`.

    Parameters
    ----------
    model : ValleyModel
        The model (its ``[render]`` table gives the defaults).
    t_ps : array_like, optional
        Row times in ps (default: the model's ``[time] t_ps``).
    x_um : array_like, optional
        Pixel centres along the slit in µm (default: ``render.x_um``).
    slit_um : float, optional
        Slit width at the sample in µm (default ``render.slit_um``; inf = wide, 0 = cut).
    solver : str
        ``"auto"``, ``"hankel"`` or ``"pde"`` (see :func:`solve_spatial`).
    seed : int, optional
        Noise seed (default ``render.seed``).
    settings : RenderSettings, optional
        Overrides ``model.render``.

    Returns
    -------
    Measurement
        dims ``("t", "x")`` in ps and µm, ``format == "simulated"``, the model in ``meta``.
    """
    st = settings or model.render
    if _tensor(model) is not None:
        raise ModelError(
            "a tensor D_cm2_s = [Dxx, Dyy, Dxy] is rendered as a stack only ([render] kind = "
            "'stack'): a streak's slit profile of a tilted ellipse is not modelled"
        )
    t = model.time_grid_ps() if t_ps is None else np.asarray(t_ps, dtype=float).ravel()
    x = _grid(st.x_um) if x_um is None else np.asarray(x_um, dtype=float).ravel()
    a = st.slit_um if slit_um is None else float(slit_um)
    if not (a >= 0):
        raise ModelError(f"slit_um must be >= 0 µm (inf = wide slit), got {a}")
    seed = st.seed if seed is None else seed
    # wide slit: integrate y until the profile has vanished (the solver's own reach)
    span = float(np.max(np.abs(x)))
    y_half = a / 2.0 if math.isfinite(a) else None
    r_probe = span if y_half is None else math.hypot(span, y_half)
    if y_half is None:
        D = model.diffusion_um2_ps().max(initial=0.0)
        w = math.sqrt(
            model.source.w0_um**2
            + model.instrument.w_psf_um**2
            + 4.0 * D * max(float(t.max()) - model.source.t0_ps, 0.0)
        )
        y_half = 7.0 * w
        r_probe = math.hypot(span, y_half)
    r, pl = _profiles(model, t, r_probe, solver)
    if y_half == 0.0:
        image = np.stack([np.interp(np.abs(x), r, row) for row in pl])
    else:
        u, wu = np.polynomial.legendre.leggauss(_SLIT_NODES)
        y = 0.5 * y_half * (u + 1.0)
        wy = 0.5 * y_half * wu
        rr = np.hypot(x[:, None], y[None, :])  # (X, Y)
        image = np.stack([2.0 * (np.interp(rr, r, row) @ wy) for row in pl])
    expected = _scale(image, st)
    counts = _noisy(expected, st, seed)
    meta = _meta(model, st, seed, solver)
    meta["slit_um"] = a
    return Measurement(
        counts=counts,
        dims=("t", "x"),
        coords={"t": t, "x": x},
        units={"t": "ps", "x": "um"},
        meta=meta,
        format="simulated",
    )


def render_stack(
    model: ValleyModel,
    t_ps=None,
    x_um=None,
    y_um=None,
    *,
    solver: str = "auto",
    seed: int | None = None,
    settings: RenderSettings | None = None,
) -> Measurement:
    """Render PL image frames I(t, y, x) of ``model`` (pixel-centre sampling).

    Parameters are those of :func:`render_streak`; ``y_um`` defaults to ``render.y_um`` or,
    when absent, to the x grid.

    Returns
    -------
    Measurement
        dims ``("t", "y", "x")`` in ps and µm.
    """
    st = settings or model.render
    t = model.time_grid_ps() if t_ps is None else np.asarray(t_ps, dtype=float).ravel()
    x = _grid(st.x_um) if x_um is None else np.asarray(x_um, dtype=float).ravel()
    if y_um is not None:
        y = np.asarray(y_um, dtype=float).ravel()
    else:
        y = _grid(st.y_um) if st.y_um is not None else x.copy()
    seed = st.seed if seed is None else seed
    if _tensor(model) is not None:
        image = tensor_frames(model, t, y, x)
    else:
        rr = np.hypot(y[:, None], x[None, :])
        r, pl = _profiles(model, t, float(rr.max()), solver)
        image = np.stack([np.interp(rr, r, row) for row in pl])
    counts = _noisy(_scale(image, st), st, seed)
    return Measurement(
        counts=counts,
        dims=("t", "y", "x"),
        coords={"t": t, "y": y, "x": x},
        units={"t": "ps", "y": "um", "x": "um"},
        meta=_meta(model, st, seed, solver),
        format="simulated",
    )


#: Gauss-Legendre nodes over the pulse ⊛ IRF window (±8 σ) of the anisotropic renderer.
_PULSE_NODES = 64


def _tensor(model: ValleyModel):
    return model.valleys[0].D_tensor_cm2_s if len(model.valleys) == 1 else None


def tensor_frames(model: ValleyModel, t_ps, y_um, x_um) -> np.ndarray:
    """PL frames (T, Y, X) of a single valley with a tensor D, instrument applied (PL/µm²).

    PL(r, t) = γ n_src ∫₀^∞ dτ φ(t − t0 − τ) e^{Kτ} G(r; Σ(τ)), Σ(τ) = ½(w0² + w_psf²) I + 2Dτ,
    G the normalised 2D Gaussian, φ the Gaussian of the pulse ⊛ IRF (σ = √(σ_pulse² + σ_IRF²));
    σ = 0 gives the Green's function at τ = t − t0 itself. Σ is in (x, y) order.
    """
    dxx, dyy, dxy = (v * UM2_PS_PER_CM2_S for v in _tensor(model))
    k = float(model.rate_matrix()[0, 0])
    amp = float(model.radiative_rates_per_ps()[0] * model.source_vector()[0])
    s0 = 0.5 * (model.source.w0_um**2 + model.instrument.w_psf_um**2)
    sigma = float(np.hypot(model.pulse_sigma_ps, model.irf_sigma_ps))
    t = np.asarray(t_ps, dtype=float).ravel()
    y = np.asarray(y_um, dtype=float).ravel()
    x = np.asarray(x_um, dtype=float).ravel()
    xx, yy = x[None, :], y[:, None]

    def green(tau):  # e^{Kτ} G(r; Σ(τ)) for one τ >= 0
        sxx, syy, sxy = s0 + 2 * dxx * tau, s0 + 2 * dyy * tau, 2 * dxy * tau
        det = sxx * syy - sxy * sxy
        q = (syy * xx * xx - 2 * sxy * xx * yy + sxx * yy * yy) / det
        return np.exp(k * tau - 0.5 * q) / (2 * np.pi * np.sqrt(det))

    u, wu = np.polynomial.legendre.leggauss(_PULSE_NODES)
    out = np.zeros((t.size, y.size, x.size))
    for i, ti in enumerate(t):
        tau = ti - model.source.t0_ps
        if sigma == 0.0:
            if tau >= 0:
                out[i] = green(tau)
            continue
        lo, hi = max(tau - 8 * sigma, 0.0), max(tau + 8 * sigma, 0.0)
        if hi <= lo:
            continue
        nodes = lo + 0.5 * (hi - lo) * (u + 1.0)
        weights = 0.5 * (hi - lo) * wu
        phi = np.exp(-0.5 * ((tau - nodes) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
        for tn, wn in zip(nodes, weights * phi, strict=True):
            out[i] += wn * green(tn)
    return amp * out
