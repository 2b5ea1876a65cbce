"""The noise level and contrast-to-noise ratio of a measured image, two independent ways.

* **edge pixels**: the standard deviation of the outer ``edge_fraction`` of every line profile
  about its own edge mean (the background there; signal-free when the window is wide enough);
* **flat high-frequency power**: for white noise every Fourier coefficient of an N-pixel line
  has E|X_k|² = N σ² (Parseval: Σ|x_n|² = (1/N) Σ_k |X_k|² over all N coefficients). A smooth
  profile has no power in the upper half of the band, so σ² = mean over rows and over
  N/4 ≤ k ≤ N/2 of |X_k|² / N. This is the pixel variance averaged along the line (for Poisson
  noise, larger than at the edges). Counting the one-sided spectrum once more, or halving it,
  misstates σ² by 2 (a peer tool's FFT estimator overstates CNR by 2× through such a ½).

CNR = peak / σ with the peak the maximum of the 3-pixel-smoothed image above the median edge
level (DICE's definition: the peak over the noise SD, J. Chem. Phys. 160, 124201 (2024)).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..errors import ExtractionError
from ..io.measurement import Measurement


def high_frequency_sd(lines: np.ndarray) -> float:
    """Noise SD (counts) from the flat upper quarter-to-half of the lines' power spectra.

    Parameters
    ----------
    lines : ndarray (R, N)
        Rows of pixels along one spatial axis (R profiles of N pixels).
    """
    lines = np.asarray(lines, float)
    n = lines.shape[1]
    if n < 8:
        raise ExtractionError(f"noise estimate needs >= 8 pixels per line; got {n}")
    spec = np.abs(np.fft.rfft(lines - lines.mean(axis=1, keepdims=True), axis=1)) ** 2
    k = np.arange(spec.shape[1])
    band = (k >= n // 4) & (k <= n // 2)
    return float(np.sqrt(np.mean(spec[:, band]) / n))


def edge_sd(lines: np.ndarray, edge_fraction: float = 0.1) -> tuple[float, float]:
    """(SD about each line's edge mean, median edge level) of the outer pixels, counts."""
    n = lines.shape[1]
    k = max(2, int(round(edge_fraction * n)))
    edges = np.concatenate([lines[:, :k], lines[:, -k:]], axis=1)
    resid = edges - edges.mean(axis=1, keepdims=True)
    dof = edges.size - edges.shape[0]
    return float(np.sqrt(np.sum(resid**2) / dof)), float(np.median(edges))


def estimate_noise(m: Measurement, edge_fraction: float = 0.1) -> dict:
    """Noise SD and CNR of a streak (t, x) or stack (t, y, x), both estimators.

    Returns
    -------
    dict
        ``sd_edge``, ``sd_highfreq`` (counts), ``background`` (median edge level), ``peak``
        (counts above it), ``cnr_edge``, ``cnr_highfreq``, ``lines``, ``pixels_per_line``.
    """
    if "x" not in m.dims or "t" not in m.dims:
        raise ExtractionError(f"noise estimate needs dims 't' and 'x'; the file has {m.dims}")
    counts = np.asarray(m.counts, float)
    if m.mask is not None:
        counts = np.where(m.mask, np.nan, counts)
    counts = np.moveaxis(counts, m.dims.index("x"), -1)
    lines = counts.reshape(-1, counts.shape[-1])
    lines = lines[np.all(np.isfinite(lines), axis=1)]
    if len(lines) == 0:
        raise ExtractionError("noise estimate: every line has masked or non-finite pixels")
    sd_e, bg = edge_sd(lines, edge_fraction)
    sd_f = high_frequency_sd(lines)
    smooth = ndimage.uniform_filter(np.nan_to_num(counts, nan=bg), size=3, mode="nearest")
    peak = float(smooth.max() - bg)
    return {
        "sd_edge": sd_e,
        "sd_highfreq": sd_f,
        "background": bg,
        "peak": peak,
        "cnr_edge": peak / sd_e if sd_e > 0 else float("inf"),
        "cnr_highfreq": peak / sd_f if sd_f > 0 else float("inf"),
        "lines": int(len(lines)),
        "pixels_per_line": int(lines.shape[1]),
    }
