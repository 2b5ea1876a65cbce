"""The camera noise model: the variance of a pixel as a function of its expected counts.

Photon counting is Poisson (variance = mean). An analog or EM-CCD camera reports
``counts = gain * photoelectrons`` plus read noise, so the variance of a pixel whose expected
value is ``mu`` counts is ``excess * gain * mu + read_noise**2`` (PHYSICS.md §1; the EM
excess factor is 2). The extractor evaluates this at the *model*, not at the data: at low counts
data-based weights (1/d) are biased toward the pixels that fluctuated low, while model-based
weights make the Gauss-Newton iteration a Fisher scoring of the Poisson likelihood.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..errors import ExtractionError


@dataclass(frozen=True)
class NoiseModel:
    """Variance of one pixel as a function of its expected value.

    Parameters
    ----------
    gain : float
        Counts per detected photoelectron (1 for photon counting). Dimensionless, >= 0; 0 means
        signal-independent (white) noise of SD ``read_noise``, which must then be > 0.
    read_noise : float
        Read-noise standard deviation in counts (0 for photon counting), >= 0.
    excess : float
        Excess noise factor F² multiplying the shot-noise variance: 1 for CCD/CMOS/TCSPC, 2 for
        an EM-CCD at high EM gain. >= 1.
    """

    gain: float = 1.0
    read_noise: float = 0.0
    excess: float = 1.0

    def __post_init__(self) -> None:
        checks = (
            ("gain", self.gain, self.gain >= 0, ">= 0"),
            ("read_noise", self.read_noise, self.read_noise >= 0, ">= 0"),
            ("excess", self.excess, self.excess >= 1, ">= 1"),
        )
        for name, value, good, allowed in checks:
            if not (np.isfinite(value) and good):
                raise ExtractionError(f"noise model: {name} = {value!r}; allowed {allowed}")
        if self.gain == 0 and not self.read_noise > 0:
            raise ExtractionError(
                "noise model: gain = 0 (white noise) needs read_noise > 0 (the noise SD, counts)"
            )

    @property
    def floor(self) -> float:
        """Smallest variance used (counts²), so a model that is zero in its tails keeps finite
        weights; a hundredth of one photoelectron's shot noise, or the read noise if larger."""
        return max(self.read_noise**2, 0.01 * self.excess * self.gain**2)

    def variance(self, mu: np.ndarray) -> np.ndarray:
        """Return the variance (counts²) of pixels whose expected value is ``mu`` counts."""
        # no clip of mu at 0 is needed: the floor is >= read_noise², which is what a negative
        # mu would be clipped to; three passes instead of four on the fitter's hot path
        var = mu * (self.excess * self.gain)
        var += self.read_noise**2
        return np.maximum(var, self.floor, out=var)

    def binned(self, n_summed: int) -> NoiseModel:
        """The model of a sum of ``n_summed`` pixels: shot noise adds through the summed mean,
        read noise adds in quadrature once per summed pixel (read² → n · read²)."""
        if n_summed == 1:
            return self
        return NoiseModel(self.gain, self.read_noise * float(np.sqrt(n_summed)), self.excess)

    def sd(self, mu: np.ndarray) -> np.ndarray:
        """Standard deviation (counts) of pixels whose expected value is ``mu`` counts."""
        return np.sqrt(self.variance(np.asarray(mu, dtype=float)))

    def to_dict(self) -> dict[str, float]:
        """JSON-able description, stored in the widths table settings."""
        return {k: float(v) for k, v in asdict(self).items()}


def resolve_noise(noise: Any, meta: dict | None = None) -> NoiseModel:
    """Turn the ``noise`` argument of :func:`~fitdiff.extract.extract_widths` into a model.

    Parameters
    ----------
    noise : None, "poisson", "meta", dict or NoiseModel
        ``None`` uses ``meta["noise"]`` when the loader put a dict there, else Poisson;
        ``"meta"`` requires it; a dict holds ``gain``, ``read_noise`` (counts), ``excess``.
    meta : dict, optional
        The measurement's metadata.
    """
    if isinstance(noise, NoiseModel):
        return noise
    meta = meta or {}
    if noise is None:
        noise = meta.get("noise", "poisson") if isinstance(meta.get("noise"), dict) else "poisson"
    if noise == "meta":
        if not isinstance(meta.get("noise"), dict):
            raise ExtractionError("noise='meta' but the measurement has no meta['noise'] dict")
        noise = meta["noise"]
    if isinstance(noise, str):
        if noise.lower() != "poisson":
            raise ExtractionError(
                f"noise = {noise!r}; allowed 'poisson', 'meta', a dict or a NoiseModel"
            )
        return NoiseModel()
    if isinstance(noise, dict):
        unknown = set(noise) - {"gain", "read_noise", "excess"}
        if unknown:
            raise ExtractionError(
                f"noise: unknown key(s) {sorted(unknown)}; allowed gain, read_noise, excess"
            )
        return NoiseModel(**{k: float(v) for k, v in noise.items()})
    raise ExtractionError(f"noise = {noise!r}; allowed 'poisson', 'meta', a dict or a NoiseModel")
