"""Precision forecast: the Cramér–Rao bound on D and w0 of a planned streak measurement.

The planned image is PHYSICS.md §1's line profile,

    mu(t, x) = A(t) exp(−(x − x0)² / W(t)) + c(t),   W(t) = w0² + 4 D t + w_psf²,
    A(t) = peak · e^(−t/τ) · sqrt(W(0) / W(t))        (the population decays with τ),

on pixels with the camera variance v(mu) = excess·gain·mu + read² (PHYSICS.md §1). The Fisher
information of pixels with mean mu and variance v is Jᵀ diag(1/v) J (exact for Poisson counts;
for an analog camera it is the information of the Gaussian approximation without the part
carried by the variance's dependence on mu, which a fit does not use either).

Two routes:

* **image**: every pixel at once with (D, w0, x0) shared and (A, c) free per slice — what
  ``[fit] level = "image"`` fits. The per-slice nuisances are eliminated by the Schur
  complement, so σ_D is the bound with them free.
* **widths**: each slice fitted alone (A, x0, σ², c free: what the extractor fits), giving the
  bound on its w² (:mod:`fitdiff.extract.fisher`), then the weighted line w² = w0² + 4Dt
  through all slices with those (model) weights — the best the two-stage route can do when
  every slice is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import erf

from ..errors import ConfigError
from ..extract.fisher import predicted_errors
from ..extract.noise import NoiseModel
from ..units import UM2_PS_PER_CM2_S

EXPERIMENT_KEYS = {
    "D_cm2_s",
    "w0_um",
    "lifetime_ps",
    "peak_counts",
    "cnr",
    "background_counts",
    "noise",
    "x_um",
    "t_ps",
    "psf_um",
}
TARGET_KEYS = {"relative_precision"}


@dataclass(frozen=True)
class Experiment:
    """A planned streak measurement (see the module docstring for the model).

    Attributes
    ----------
    D_cm2_s : float       diffusion coefficient (cm²/s).
    w0_um : float         1/e half-width at t = 0 of exp(−x²/w0²) (µm); w0² = 2σ0².
    lifetime_ps : float   population lifetime τ (ps).
    peak_counts : float   counts above background at t = 0, x = x0.
    background_counts : float  constant background per pixel (counts).
    noise : NoiseModel    camera model of one pixel.
    x_um, t_ps : ndarray  pixel centres (µm) and slice times (ps).
    psf_um : float        1/e half-width of a Gaussian PSF (µm); it adds psf_um² to w².
    """

    D_cm2_s: float
    w0_um: float
    lifetime_ps: float
    peak_counts: float
    background_counts: float
    noise: NoiseModel
    x_um: np.ndarray
    t_ps: np.ndarray
    psf_um: float = 0.0

    @property
    def cnr(self) -> float:
        """Peak over the noise SD of the peak pixel at t = 0 (DICE's definition: for white
        noise the SD is the same everywhere)."""
        return cnr_of(self.peak_counts, self.background_counts, self.noise)

    def with_peak(self, peak: float) -> Experiment:
        return Experiment(**{**self.__dict__, "peak_counts": float(peak)})

    def w2(self) -> np.ndarray:
        """Measured W(t) = w0² + 4 D t + w_psf² (µm²)."""
        return self.w0_um**2 + 4.0 * self.D_cm2_s * UM2_PS_PER_CM2_S * self.t_ps + self.psf_um**2

    def amplitude(self) -> np.ndarray:
        w2 = self.w2()
        return self.peak_counts * np.exp(-self.t_ps / self.lifetime_ps) * np.sqrt(w2[0] / w2)


def cnr_of(peak: float, background: float, noise: NoiseModel) -> float:
    """peak / sqrt(v(peak + background)) for the camera model ``noise``."""
    return float(peak / math.sqrt(float(noise.variance(np.array([peak + background]))[0])))


def peak_for_cnr(cnr: float, background: float, noise: NoiseModel) -> float:
    """Peak counts whose :func:`cnr_of` is ``cnr`` (root of peak² = cnr² v(peak + bg))."""
    eg = noise.excess * noise.gain
    c2 = cnr * cnr
    peak = 0.5 * (
        c2 * eg + math.sqrt((c2 * eg) ** 2 + 4.0 * c2 * (eg * background + noise.read_noise**2))
    )
    # the variance floor can only matter at < 1 % of a photoelectron; refine on the exact model
    return float(
        brentq(lambda p: cnr_of(p, background, noise) - cnr, 0.5 * peak, 2.0 * peak + 1e-9)
    )


def _variance(exp: Experiment, mu: np.ndarray) -> np.ndarray:
    return exp.noise.variance(mu + exp.background_counts)


def image_bound(exp: Experiment) -> dict[str, float]:
    """Cramér–Rao σ of D (cm²/s) and w0 (µm) of the image-level fit (A, c free per slice)."""
    x = exp.x_um[None, :]
    w2 = exp.w2()[:, None]
    amp = exp.amplitude()[:, None]
    g = np.exp(-(x * x) / w2)
    mu = amp * g
    wt = 1.0 / _variance(exp, mu)
    dmu_dw2 = amp * g * (x * x) / (w2 * w2)
    d_um2_ps = 4.0 * exp.t_ps[:, None] * UM2_PS_PER_CM2_S  # ∂W/∂D (D in cm²/s)
    jg = np.stack(
        [dmu_dw2 * d_um2_ps, dmu_dw2 * 2.0 * exp.w0_um, amp * g * 2.0 * x / w2], axis=1
    )  # (T, 3, X): D, w0, x0
    jl = np.stack([g, np.ones_like(g)], axis=1)  # (T, 2, X): A_t, c_t
    fgg = np.einsum("tax,tx,tbx->tab", jg, wt, jg)
    fgl = np.einsum("tax,tx,tbx->tab", jg, wt, jl)
    fll = np.einsum("tax,tx,tbx->tab", jl, wt, jl)
    # Schur complement: the information left for (D, w0, x0) once A_t, c_t are free
    eff = (fgg - fgl @ np.linalg.solve(fll, fgl.transpose(0, 2, 1))).sum(0)
    cov = np.linalg.inv(eff)
    return {
        "sigma_D_cm2_s": float(math.sqrt(cov[0, 0])),
        "sigma_w0_um": float(math.sqrt(cov[1, 1])),
    }


def widths_bound(exp: Experiment) -> dict[str, float]:
    """σ of D (cm²/s) and w0 (µm) of per-slice Gaussian fits followed by the weighted line."""
    w2 = exp.w2()
    amp = exp.amplitude()
    nt = len(exp.t_ps)
    # the extractor's layout (A, x0, σ², c) with exp(−(x−x0)²/(2σ²)): σ² = W/2
    p = np.column_stack([amp, np.zeros(nt), w2 / 2.0, np.zeros(nt)])
    err = predicted_errors(
        [exp.x_um], p, exp.noise, offset=np.full((nt, 1), exp.background_counts)
    )["w2_err"]
    X = np.column_stack([np.ones(nt), 4.0 * exp.t_ps * UM2_PS_PER_CM2_S])
    cov = np.linalg.inv((X / err[:, None] ** 2).T @ X)
    return {
        "sigma_D_cm2_s": float(math.sqrt(cov[1, 1])),
        "sigma_w0_um": float(math.sqrt(cov[0, 0]) / (2.0 * exp.w0_um)),
    }


ROUTES = {"image": image_bound, "widths": widths_bound}


def probability_within(sigma: float, half_width: float) -> float:
    """P(|D̂ − D| < half_width) for a Gaussian estimate of SD ``sigma``."""
    return float(erf(half_width / (sigma * math.sqrt(2.0))))


def required_peak(exp: Experiment, route: str, relative: float) -> float:
    """Peak counts at which the route's σ_D/D equals ``relative`` (nan if out of reach)."""
    bound = ROUTES[route]

    def f(logp):
        return math.log(
            bound(exp.with_peak(math.exp(logp)))["sigma_D_cm2_s"] / exp.D_cm2_s
        ) - math.log(relative)

    lo, hi = math.log(exp.peak_counts) - 30.0, math.log(exp.peak_counts) + 30.0
    if not f(lo) > 0 > f(hi):
        return math.nan
    return float(math.exp(brentq(f, lo, hi, xtol=1e-6)))


def forecast(exp: Experiment, relative_precision: float | None = None) -> dict:
    """Bounds of both routes, their probability of landing within ±p, and the peak needed.

    Returns a JSON-able dict: ``cnr``, ``peak_counts``, ``sigma_D_cm2_s_{image,widths}``,
    ``rel_sigma_D_{image,widths}``, ``sigma_w0_um_{image,widths}`` and, with a target,
    ``p_within_{image,widths}``, ``peak_counts_needed_{route}``, ``cnr_needed_{route}``.
    """
    out: dict = {
        "cnr": exp.cnr,
        "peak_counts": exp.peak_counts,
        "D_cm2_s": exp.D_cm2_s,
        "w0_um": exp.w0_um,
    }
    for route, bound in ROUTES.items():
        b = bound(exp)
        out[f"sigma_D_cm2_s_{route}"] = b["sigma_D_cm2_s"]
        out[f"rel_sigma_D_{route}"] = b["sigma_D_cm2_s"] / exp.D_cm2_s
        out[f"sigma_w0_um_{route}"] = b["sigma_w0_um"]
    if relative_precision is not None:
        out["relative_precision"] = relative_precision
        for route in ROUTES:
            out[f"p_within_{route}"] = probability_within(
                out[f"sigma_D_cm2_s_{route}"], relative_precision * exp.D_cm2_s
            )
            peak = required_peak(exp, route, relative_precision)
            out[f"peak_counts_needed_{route}"] = peak
            out[f"cnr_needed_{route}"] = (
                cnr_of(peak, exp.background_counts, exp.noise) if math.isfinite(peak) else math.nan
            )
    return out


def curve(exp: Experiment, cnrs: np.ndarray) -> dict[str, list[float]]:
    """σ_D/D of both routes at each CNR (the camera model and background kept)."""
    out: dict[str, list[float]] = {"cnr": [float(c) for c in cnrs]}
    for route, bound in ROUTES.items():
        out[route] = [
            bound(exp.with_peak(peak_for_cnr(c, exp.background_counts, exp.noise)))["sigma_D_cm2_s"]
            / exp.D_cm2_s
            for c in cnrs
        ]
    return out


def _positive(section: dict, key: str, where: str, allow_zero: bool = False) -> float:
    v = section.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ConfigError(f"{where}.{key} = {v!r}; allowed a number")
    if v < 0 or (v == 0 and not allow_zero):
        raise ConfigError(f"{where}.{key} = {v!r}; allowed {'>= 0' if allow_zero else '> 0'}")
    return float(v)


def _axis(section: dict, key: str, where: str) -> np.ndarray:
    v = section.get(key)
    ok = isinstance(v, list) and len(v) == 3 and all(isinstance(a, int | float) for a in v)
    if not ok or int(v[2]) != v[2] or v[2] < 3 or not v[1] > v[0]:
        raise ConfigError(
            f"{where}.{key} = {v!r}; allowed [start, stop, count] with stop > start, count >= 3"
        )
    return np.linspace(float(v[0]), float(v[1]), int(v[2]))


def experiment_from_config(config: dict, where: str = "plan") -> tuple[Experiment, float | None]:
    """Validate a plan (the parsed PLAN.toml) and return the experiment and target precision.

    ``[experiment]`` holds ``D_cm2_s``, ``w0_um``, ``lifetime_ps``, ``peak_counts`` or ``cnr``
    (one of them), ``background_counts`` (default 0), ``noise = {gain, read_noise[, excess]}``
    (default Poisson), ``x_um`` and ``t_ps`` as ``[start, stop, count]``, optional ``psf_um``;
    ``[target]`` optionally ``relative_precision``.
    """
    unknown = set(config) - {"experiment", "target"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown section(s) {sorted(unknown)}; allowed experiment, target"
        )
    e = config.get("experiment")
    if not isinstance(e, dict):
        raise ConfigError(f"{where}: missing [experiment]")
    w = f"{where}: experiment"
    bad = set(e) - EXPERIMENT_KEYS
    if bad:
        raise ConfigError(f"{w}: unknown key(s) {sorted(bad)}; allowed {sorted(EXPERIMENT_KEYS)}")
    if ("peak_counts" in e) == ("cnr" in e):
        raise ConfigError(f"{w}: give exactly one of peak_counts and cnr")
    noise_cfg = e.get("noise", {"gain": 1.0, "read_noise": 0.0})
    if not isinstance(noise_cfg, dict) or set(noise_cfg) - {"gain", "read_noise", "excess"}:
        raise ConfigError(f"{w}.noise = {noise_cfg!r}; allowed {{gain, read_noise, excess}}")
    try:
        noise = NoiseModel(**{k: float(v) for k, v in noise_cfg.items()})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{w}.noise: {exc}") from None
    bg = _positive(e, "background_counts", w, True) if "background_counts" in e else 0.0
    exp = Experiment(
        D_cm2_s=_positive(e, "D_cm2_s", w),
        w0_um=_positive(e, "w0_um", w),
        lifetime_ps=_positive(e, "lifetime_ps", w),
        peak_counts=1.0,
        background_counts=bg,
        noise=noise,
        x_um=_axis(e, "x_um", w),
        t_ps=_axis(e, "t_ps", w),
        psf_um=_positive(e, "psf_um", w, True) if "psf_um" in e else 0.0,
    )
    if "peak_counts" in e:
        exp = exp.with_peak(_positive(e, "peak_counts", w))
    else:
        exp = exp.with_peak(peak_for_cnr(_positive(e, "cnr", w), bg, noise))
    target = config.get("target", {})
    if not isinstance(target, dict) or set(target) - TARGET_KEYS:
        raise ConfigError(f"{where}: target: allowed keys {sorted(TARGET_KEYS)}")
    rel = None
    if "relative_precision" in target:
        rel = _positive(target, "relative_precision", f"{where}: target")
    return exp, rel
