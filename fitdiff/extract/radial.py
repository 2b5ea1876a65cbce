"""Azimuthally averaged radial profiles of an image stack, every frame at once."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ExtractionError
from ..io.measurement import Measurement
from . import preprocess as pp
from .noise import resolve_noise


def radial_profile(
    m: Measurement,
    *,
    center_um: tuple[float, float] | None = None,
    bin_um: float | None = None,
    noise=None,
) -> pd.DataFrame:
    """Mean counts per pixel in rings around the spot centre, for each frame of a stack.

    Parameters
    ----------
    m : Measurement
        A ("t", "y", "x") stack, x/y in µm, t in ps.
    center_um : (float, float), optional
        Ring centre (x, y) in µm; default the intensity centroid of each frame (after the
        minimum frame value is subtracted, so a flat background does not pull it).
    bin_um : float, optional
        Ring width in µm; default the larger pixel step.
    noise : see :func:`~fitdiff.extract.extract_widths`.

    Returns
    -------
    DataFrame
        Long format: ``t_ps, r_um`` (ring centre), ``counts`` (mean per pixel), ``counts_err``,
        ``npix``; rings without pixels are left out.
    """
    m = pp.orient(m)
    if m.dims != ("t", "y", "x"):
        raise ExtractionError(f"radial_profile needs a ('t', 'y', 'x') stack; got {m.dims}")
    nm = resolve_noise(noise, m.meta)
    counts = np.asarray(m.counts, dtype=float)
    bad = pp.bad_pixels(counts, m.mask, None, None)
    counts = np.where(bad, 0.0, counts)
    y, x = m.coords["y"], m.coords["x"]
    step = max(np.ptp(x) / (len(x) - 1), np.ptp(y) / (len(y) - 1))
    bin_um = step if bin_um is None else float(bin_um)
    if not bin_um > 0:
        raise ExtractionError(f"bin_um = {bin_um!r}; allowed > 0")
    nt = counts.shape[0]
    if center_um is None:
        w = np.where(bad, 0.0, counts - counts.min(axis=(1, 2), keepdims=True))
        tot = w.sum(axis=(1, 2))
        cx = (w.sum(axis=1) * x).sum(axis=1) / tot
        cy = (w.sum(axis=2) * y).sum(axis=1) / tot
    else:
        cx = np.full(nt, float(center_um[0]))
        cy = np.full(nt, float(center_um[1]))
    r = np.hypot(x[None, None, :] - cx[:, None, None], y[None, :, None] - cy[:, None, None])
    nbin = int(np.floor(np.nanmax(r) / bin_um)) + 1
    ring = np.minimum(np.floor(np.nan_to_num(r, nan=0.0) / bin_um).astype(int), nbin - 1)
    key = (np.arange(nt)[:, None, None] * nbin + ring)[~bad]
    # one bincount over (frame, ring) pairs instead of a loop over frames and rings
    size = nt * nbin
    npix = np.bincount(key, minlength=size)
    total = np.bincount(key, weights=counts[~bad], minlength=size)
    var = np.bincount(key, weights=nm.variance(counts[~bad]), minlength=size)
    keep = npix > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / npix
        err = np.sqrt(var) / npix
    frame, rbin = np.divmod(np.arange(size), nbin)
    return pd.DataFrame(
        {
            "t_ps": m.coords["t"][frame[keep]],
            "r_um": (rbin[keep] + 0.5) * bin_um,
            "counts": mean[keep],
            "counts_err": err[keep],
            "npix": npix[keep],
        }
    )
