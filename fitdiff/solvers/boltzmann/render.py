"""A synthetic measurement from the Boltzmann rung's PL moments.

The rung gives the exact PL(t) and second moment w²_PL(t) of the light-cone states (with IRF
and PSF), not the radial profile. The image is drawn as the isotropic Gaussian with those
moments, N(r, t) = PL(t) e^(−r²/w²)/(π w²): exact for every second-moment quantity (a wide-slit
streak's variance is w²/2 for any radial profile, PHYSICS.md §1), an assumption for the shape
(the meta records it). Scaling, background and noise are those of :mod:`fitdiff.solvers.render`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

from ...errors import ModelError
from ...io import Measurement
from ..model import RenderSettings, ValleyModel
from ..render import _noisy, _scale
from .config import BoltzmannModel
from .solver import BoltzmannSolution


def render_settings(model: BoltzmannModel) -> RenderSettings:
    """The model's ``[render]`` table as :class:`RenderSettings` (ConfigError names the key).

    Parsed by the valley model's own schema (one parser of ``[render]``), through a
    placeholder valley.
    """
    stub = {"T_K": model.T_K, "valley": [{"name": "X", "D_cm2_s": 0.0}], "render": model.render}
    return ValleyModel.from_dict(stub).render


def render_boltzmann(
    model: BoltzmannModel, sol: BoltzmannSolution, settings: RenderSettings, seed=None
) -> Measurement:
    """Render ``sol`` (computed with the instrument) as a streak (t, x) or stack (t, y, x)."""
    if not sol.instrument:
        raise ModelError("render the solution computed with the instrument (IRF and PSF)")
    seed = settings.seed if seed is None else seed
    t = sol.t_ps
    x = np.linspace(*settings.x_um[:2], int(settings.x_um[2]))
    pl = np.nan_to_num(sol.pl, nan=0.0)
    w2 = np.where(np.isfinite(sol.w2_pl_um2) & (sol.w2_pl_um2 > 0), sol.w2_pl_um2, 1.0)
    meta = {
        "simulated": True,
        "solver": "boltzmann",
        "profile": "Gaussian with the exact PL second moment",
        "noise": settings.noise,
        "seed": seed,
        "model": model.to_dict(),
    }
    if settings.kind == "streak":
        a = settings.slit_um
        if math.isinf(a):  # projection ∫dy
            image = pl[:, None] / np.sqrt(np.pi * w2[:, None]) * np.exp(-(x**2) / w2[:, None])
        elif a == 0:  # the cut N(x, 0)
            image = pl[:, None] / (np.pi * w2[:, None]) * np.exp(-(x**2) / w2[:, None])
        else:  # ∫_{|y| < a/2}
            w = np.sqrt(w2)[:, None]
            image = pl[:, None] / np.sqrt(np.pi) / w * np.exp(-(x**2) / w**2) * erf(0.5 * a / w)
        meta["slit_um"] = a
        dims, coords = ("t", "x"), {"t": t, "x": x}
        units = {"t": "ps", "x": "um"}
    else:
        y = np.linspace(*settings.y_um[:2], int(settings.y_um[2])) if settings.y_um else x
        rr = y[:, None] ** 2 + x[None, :] ** 2
        image = pl[:, None, None] / (np.pi * w2[:, None, None]) * np.exp(-rr / w2[:, None, None])
        dims, coords = ("t", "y", "x"), {"t": t, "y": y, "x": x}
        units = {"t": "ps", "y": "um", "x": "um"}
    counts = _noisy(_scale(image, settings), settings, seed)
    return Measurement(
        counts=counts, dims=dims, coords=coords, units=units, meta=meta, format="simulated"
    )
