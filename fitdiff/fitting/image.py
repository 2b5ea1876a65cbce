"""Image-level fits: the raw (t, x) streak or (t, y, x) stack against a model of w²(t).

The forward model is PHYSICS.md §1 slice by slice,

    mu(t, r) = A(t) · exp(−|r − r0|² / w²(t)) + c(t)      (+ the counts subtracted before),

with w²(t) from any width model (``linear``, ``ballistic``, ``diffusivity`` through D(T),
``valleys``' w²_PL) and one centre r0 for the whole image. The amplitude A(t) and background
c(t) of each slice enter linearly, so they are profiled out: for given nonlinear parameters,
each slice's (A, c) maximises the likelihood, found by three passes of reweighted linear least
squares (Fisher scoring on two parameters, started from the unweighted solution). What is
fitted or sampled is then the profile likelihood of the width parameters and r0.

The likelihood is the camera's (PHYSICS.md §4): Poisson for photon counting (no read noise, no
excess; counts / gain are photoelectrons), written as deviance residuals so ½ Σ r² =
−log L + const; otherwise Gaussian with the model variance v(mu) = excess·gain·mu + read², whose
−½ Σ ln v enters as one extra residual sqrt(Σ ln(v / v_floor)) (real: v ≥ v_floor). Both
engines use these through :class:`~fitdiff.fitting.objective.Objective` like any dataset.

A Gaussian PSF of squared width w_psf² convolves exp(−r²/w²) into the same shape with
w² + w_psf² (PHYSICS.md §1: the PSF adds to w²), so ``psf_w2_um2`` is an additive term.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import gammaln

from ..errors import ConfigError, ModelError
from ..extract.noise import NoiseModel
from .data import Dataset, WidthsData
from .models import ForwardModel, ParameterInfo

LIKELIHOODS = ("auto", "poisson", "gaussian")

#: Passes of reweighted linear least squares that profile (A, c) of each slice.
PROFILE_PASSES = 3


@dataclass
class ImageData(Dataset):
    """Raw counts of an image: ``y`` are the usable pixels, flattened (t-major).

    Build with :meth:`from_arrays`. ``x`` holds each pixel's time (ps), so tables keyed on
    ``t_ps`` still make sense; ``y_err`` the noise SD at the data (for display only: the
    likelihood uses the model variance).
    """

    t_ps: np.ndarray = field(default=None, repr=False)
    coords: list = field(default=None, repr=False)
    counts: np.ndarray = field(default=None, repr=False)
    valid: np.ndarray = field(default=None, repr=False)
    offset: np.ndarray = field(default=None, repr=False)
    noise: NoiseModel = field(default=None)
    likelihood: str = "gaussian"

    def __post_init__(self):
        self.x_name, self.y_name, self.kind = "t_ps", "counts", "image"
        super().__post_init__()

    @classmethod
    def from_arrays(
        cls,
        t_ps: np.ndarray,
        coords: dict[str, np.ndarray],
        counts: np.ndarray,
        noise: NoiseModel,
        *,
        valid: np.ndarray | None = None,
        offset: np.ndarray | float = 0.0,
        likelihood: str = "auto",
        label: str = "image",
    ) -> ImageData:
        """An image dataset from (T, X) or (T, Y, X) counts.

        Parameters
        ----------
        t_ps : ndarray (T,)
            Slice times (ps).
        coords : dict
            ``{"x": (X,)}`` or ``{"y": (Y,), "x": (X,)}`` pixel centres (µm).
        counts : ndarray
            Counts after any subtraction (``offset`` says what was subtracted).
        noise : NoiseModel
            Camera model of one (binned) pixel, evaluated at the raw level mu + offset.
        valid : ndarray of bool, optional
            Pixels to use (default: all finite).
        offset : float or ndarray
            Counts subtracted from each pixel before (background frames), broadcastable.
        likelihood : {"auto", "poisson", "gaussian"}
            "auto": Poisson when the camera has no read noise and no excess, else Gaussian.
        label : str
            Dataset name.
        """
        if likelihood not in LIKELIHOODS:
            raise ConfigError(f"fit.likelihood = {likelihood!r}; allowed {LIKELIHOODS}")
        poisson_ok = noise.read_noise == 0 and noise.excess == 1 and noise.gain > 0
        if likelihood == "auto":
            likelihood = "poisson" if poisson_ok else "gaussian"
        elif likelihood == "poisson" and not poisson_ok:
            raise ConfigError(
                "fit.likelihood = 'poisson' needs a photon-counting noise model (read_noise = 0, "
                f"excess = 1, gain > 0); the noise model is {noise.to_dict()}"
            )
        t_ps = np.asarray(t_ps, float)
        axes = [a for a in ("y", "x") if a in coords]
        grid = np.meshgrid(*[np.asarray(coords[a], float) for a in axes], indexing="ij")
        raw_shape = np.shape(counts)
        offset = np.broadcast_to(np.asarray(offset, float), raw_shape).reshape(len(t_ps), -1)
        counts = np.asarray(counts, float).reshape(len(t_ps), -1)
        if counts.shape[1] != grid[0].size:
            raise ConfigError(f"image {label!r}: counts do not match the pixel axes")
        valid = (
            np.isfinite(counts) if valid is None else np.asarray(valid, bool).reshape(counts.shape)
        )
        valid = valid & np.isfinite(counts)
        offset = np.ascontiguousarray(offset)
        y = counts[valid]
        sd = np.sqrt(noise.variance(np.maximum(y + offset[valid], 0.0)))
        x = np.broadcast_to(t_ps[:, None], counts.shape)[valid]
        return cls(
            x,
            y,
            sd,
            label=label,
            t_ps=t_ps,
            coords=[g.ravel() for g in grid],
            counts=np.where(valid, counts, 0.0),
            valid=valid,
            offset=offset,
            noise=noise,
            likelihood=likelihood,
        )

    @property
    def shape(self) -> tuple[int, int]:
        return self.counts.shape

    def _poisson_cache(self):
        # data-only pieces of the deviance, computed once: n = counts / gain, n ln n
        cache = getattr(self, "_pcache", None)
        if cache is None:
            g = self.noise.gain
            n = np.maximum((self.y + self.offset[self.valid]) / g, 0.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                nlogn = np.where(n > 0, n * np.log(n), 0.0)
            cache = self._pcache = (n, nlogn - n, self.offset[self.valid] / g)
        return cache

    def whiten(self, mu: np.ndarray) -> tuple[np.ndarray, float]:
        """(residuals r, extra) with log L = −½ Σ r² − extra − :meth:`norm_const`."""
        if self.likelihood == "poisson":
            n, nlogn_n, off = self._poisson_cache()
            kernels = _kernels()
            if kernels is not None:
                return kernels.poisson_residuals(mu, n, nlogn_n, off, float(self.noise.gain)), 0.0
            lam = mu / self.noise.gain
            lam += off
            np.maximum(lam, 1e-12, out=lam)
            # deviance 2 [λ − n + n ln n − n ln λ]: real and >= 0 up to rounding
            dev = np.log(lam)
            dev *= -n
            dev += lam
            dev += nlogn_n
            dev *= 2.0
            np.maximum(dev, 0.0, out=dev)
            return np.copysign(np.sqrt(dev, out=dev), n - lam), 0.0
        v = self.noise.variance(mu + self.offset[self.valid])
        extra = 0.5 * float(np.sum(np.log(v / self.noise.floor)))
        return (self.y - mu) / np.sqrt(v), extra

    def norm_const(self) -> float:
        """The data-only part of −log L (so the log-likelihood is normalised)."""
        if self.likelihood == "poisson":
            g = self.noise.gain
            n = np.maximum((self.y + self.offset[self.valid]) / g, 0.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                nlogn = np.where(n > 0, n * np.log(n), 0.0)
            # −log L = Σ [λ − n ln λ + ln n!] (+ N ln g for the counts-to-electrons Jacobian);
            # ½ deviance = Σ [λ − n + n ln(n/λ)], so the rest is Σ [ln n! − n ln n + n]
            return float(np.sum(gammaln(n + 1.0) - nlogn + n) + n.size * math.log(g))
        return 0.5 * self.y.size * math.log(2.0 * math.pi * self.noise.floor)


def profile_amplitudes(
    shape_tn: np.ndarray, data: ImageData, passes: int = PROFILE_PASSES
) -> tuple[np.ndarray, np.ndarray]:
    """Per-slice (A, c) that best fit ``A·shape + c`` to the data, weights from the model.

    Parameters
    ----------
    shape_tn : ndarray (T, N)
        Unit-amplitude profile of each slice on every pixel.
    data : ImageData
    passes : int
        Reweighting passes after the unweighted start.

    Returns
    -------
    A, c : ndarray (T,)
    """
    d, valid = data.counts, data.valid
    w = valid.astype(float)
    for i in range(passes + 1):
        wg = w * shape_tn
        sw = w.sum(1)
        sg = wg.sum(1)
        sgg = np.einsum("tn,tn->t", wg, shape_tn)
        sd = np.einsum("tn,tn->t", w, d)
        sgd = np.einsum("tn,tn->t", wg, d)
        det = sw * sgg - sg * sg
        with np.errstate(divide="ignore", invalid="ignore"):
            amp = np.nan_to_num((sw * sgd - sg * sd) / det)
            c = np.nan_to_num((sgg * sd - sg * sgd) / det)
        if i < passes:
            mu = shape_tn * amp[:, None]
            mu += c[:, None]
            mu += data.offset
            w = data.noise.variance(mu)
            np.divide(valid, w, out=w)
    return amp, c


_KERNELS: list = []


def _kernels():
    """The compiled kernels (:mod:`.image_numba`) when numba is usable, else None."""
    if not _KERNELS:
        from ..extract.lm import numba_available

        mod = None
        if numba_available():
            try:
                from . import image_numba as mod
            except ImportError:
                mod = None
        _KERNELS.append(mod)
    return _KERNELS[0]


class ImageModel(ForwardModel):
    """The image of a width model: slice profiles exp(−|r − r0|²/(w²(t) + w_psf²)).

    Parameters
    ----------
    widths_model : ForwardModel
        A model predicting w²(t) on a ``widths`` dataset (``linear``, ``ballistic``,
        ``valleys`` ...); its parameters are this model's, plus ``x0_um`` (and ``y0_um`` for a
        stack) and the fixed ``psf_w2_um2``.
    """

    kind = "image"
    datasets = ("image",)
    references = ("PHYSICS.md §1 (profile, w² = 2σ², PSF adds w_psf²) and §4 (image likelihood)",)

    def __init__(self, widths_model: ForwardModel, ndim: int = 1):
        if "widths" not in widths_model.datasets:
            raise ConfigError(
                f"fit.level = 'image' needs a model of w²(t); {widths_model.kind!r} predicts "
                f"{list(widths_model.datasets)}"
            )
        self.inner = widths_model
        self.ndim = ndim
        self._tgrid: dict[int, WidthsData] = {}

    def parameter_table(self):
        table = list(self.inner.parameter_table())
        centres = [ParameterInfo("x0_um", "µm", 0.0, -math.inf, math.inf, True, "spot centre x")]
        if self.ndim == 2:
            centres.append(
                ParameterInfo("y0_um", "µm", 0.0, -math.inf, math.inf, True, "spot centre y")
            )
        psf = ParameterInfo("psf_w2_um2", "µm²", 0.0, 0.0, math.inf, False, "PSF w² (added)")
        return table + centres + [psf]

    def validity_warnings(self, values: dict) -> list[str]:
        """The width model's own validity warnings (e.g. D(T) flags of a valley model)."""
        return self.inner.validity_warnings({k: values[k] for k in self.inner.parameter_names()})

    def _times(self, data: ImageData) -> WidthsData:
        key = id(data)
        if key not in self._tgrid:
            t = data.t_ps
            self._tgrid = {key: WidthsData(t, np.zeros_like(t), np.ones_like(t), label="t")}
        return self._tgrid[key]

    def w2(self, values: dict, data: ImageData) -> np.ndarray:
        """Model w²(t) at the image's slice times (µm²), PSF included."""
        inner = {k: values[k] for k in self.inner.parameter_names()}
        w2 = np.asarray(self.inner.predict(inner, self._times(data)), float)
        return w2 + values.get("psf_w2_um2", 0.0)

    def shapes(self, values: dict, data: ImageData) -> np.ndarray:
        """Unit-amplitude profiles (T, N)."""
        w2 = self.w2(values, data)
        if not np.all(np.isfinite(w2) & (w2 > 0)):
            raise ModelError(f"image model: w²(t) not positive (min {np.nanmin(w2):g} µm²)")
        r2 = (data.coords[-1] - values["x0_um"]) ** 2
        if len(data.coords) == 2:
            r2 = r2 + (data.coords[0] - values["y0_um"]) ** 2
        return np.exp(-r2[None, :] / w2[:, None])

    def image(self, values: dict, data: ImageData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Model image (T, N) with (A, c) profiled, and the per-slice A and c."""
        kernels = _kernels() if len(data.coords) == 1 else None
        if kernels is not None:
            w2 = self.w2(values, data)
            if not np.all(np.isfinite(w2) & (w2 > 0)):
                raise ModelError(f"image model: w²(t) not positive (min {np.nanmin(w2):g} µm²)")
            nm = data.noise
            return kernels.streak_model(
                data.coords[0],
                float(values["x0_um"]),
                np.ascontiguousarray(w2, dtype=float),
                data.counts,
                data.valid,
                data.offset,
                float(nm.excess * nm.gain),
                float(nm.read_noise**2),
                float(nm.floor),
                PROFILE_PASSES,
            )
        g = self.shapes(values, data)
        amp, c = profile_amplitudes(g, data)
        return amp[:, None] * g + c[:, None], amp, c

    def predict(self, values, dataset):
        mu, _, _ = self.image(values, dataset)
        return mu[dataset.valid]

    def fingerprint(self):
        return {**super().fingerprint(), "inner": self.inner.fingerprint(), "ndim": self.ndim}
