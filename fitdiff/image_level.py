"""``[fit] level = "image"``: image datasets and the objective that fits them.

Each dataset's ``file`` is loaded and prepared exactly as the extractor would (orientation,
masks, time zero, background subtraction, ROI, binning: ``[extract]`` keys), and the raw
counts go to :class:`~fitdiff.fitting.image.ImageData` with the camera noise model of a
(binned) pixel. The model is :class:`~fitdiff.fitting.image.ImageModel` around the analysis'
width model, so the parameters are the same as at the widths level plus the spot centre
``x0_um`` (``y0_um`` for a stack; free, per dataset) and the fixed PSF term ``psf_w2_um2``.
"""

from __future__ import annotations

import copy
import inspect
from pathlib import Path

import numpy as np

from .errors import ConfigError
from .fitting import Objective, Term
from .fitting.image import ImageData, ImageModel
from .fitting.models import ParameterInfo

LEVELS = ("widths", "image")

#: Parameters the image level adds to the width model's table.
IMAGE_PARAMETERS = (
    ParameterInfo("x0_um", "µm", 0.0, -np.inf, np.inf, True, "spot centre x"),
    ParameterInfo("y0_um", "µm", 0.0, -np.inf, np.inf, True, "spot centre y (stacks)"),
    ParameterInfo("psf_w2_um2", "µm²", 0.0, 0.0, np.inf, False, "PSF w², added to w²(t)"),
)


def _prepare_kwargs(extract_cfg: dict) -> dict:
    from .extract.widths import prepare

    keys = set(inspect.signature(prepare).parameters) - {"m", "noise"}
    defaults = {
        "t_range_ps": None,
        "x_range_um": None,
        "y_range_um": None,
        "bin_t": 1,
        "bin_x": 1,
        "bin_y": 1,
        "background": "fit",
        "background_t_range_ps": None,
        "time_zero_ps": None,
        "saturation": None,
        "hot_pixel_sigma": None,
    }
    return {k: extract_cfg.get(k, defaults[k]) for k in keys}


def image_dataset(m, extract_cfg: dict, *, likelihood: str, t_range_ps=None, label="image"):
    """An :class:`ImageData` from a measurement, prepared with the ``[extract]`` settings.

    Slices before time zero (when ``time_zero_ps`` is set) and outside ``t_range_ps`` are left out.
    """
    from .extract.noise import resolve_noise
    from .extract.widths import prepare

    nm_pixel = resolve_noise(extract_cfg.get("noise"), m.meta)
    kwargs = _prepare_kwargs(extract_cfg)
    if isinstance(kwargs.get("t_range_ps"), list):
        kwargs["t_range_ps"] = tuple(kwargs["t_range_ps"])
    prep = prepare(m, noise=nm_pixel, **kwargs)
    nm = nm_pixel.binned(prep.settings["summed_pixels"])
    keep = np.ones(len(prep.t_ps), bool)
    if prep.settings.get("time_zero_ps") is not None:
        keep &= prep.t_ps >= 0
    if t_range_ps is not None:
        keep &= (prep.t_ps >= t_range_ps[0]) & (prep.t_ps <= t_range_ps[1])
    if keep.sum() < 3:
        raise ConfigError(f"dataset {label!r}: fewer than 3 time slices left for the image fit")
    return ImageData.from_arrays(
        prep.t_ps[keep],
        prep.coords,
        prep.data[keep],
        nm,
        valid=~prep.bad[keep],
        offset=np.broadcast_to(prep.offset, prep.data.shape)[keep],
        likelihood=likelihood,
        label=label,
    )


def _centre_start(data: ImageData, widths) -> list[float]:
    """Start values of the centre(s): the extractor's median centre, else the centroid."""
    starts = []
    cols = ["center_y_um", "center_um"] if len(data.coords) == 2 else ["center_um"]
    for axis, col in zip(data.coords, cols, strict=True):
        value = None
        if widths is not None and col in widths.columns and "ok" in widths.columns:
            c = widths.loc[widths["ok"].astype(bool), col].to_numpy(float)
            if np.isfinite(c).any():
                value = float(np.nanmedian(c))
        if value is None:
            prof = np.clip(data.counts.sum(0) - np.median(data.counts.sum(0)), 0, None)
            value = float(np.sum(prof * axis) / max(np.sum(prof), 1e-300))
        starts.append(value)
    return starts


def build_image_objective(analysis, widths: dict | None = None) -> Objective:
    """The image-level objective of ``analysis`` (one term per dataset with a ``file``).

    Parameters
    ----------
    analysis : fitdiff.analysis.Analysis
        With ``config["fit"]["level"] == "image"``.
    widths : dict of label to DataFrame, optional
        Widths tables already extracted (their median centre starts ``x0_um``).
    """
    from . import io

    cfg = analysis.config
    params = copy.deepcopy(analysis.parameters)
    terms = []
    for i, d in enumerate(cfg["datasets"]):
        where = "data" if d["label"] == "data" else f"dataset[{i}]"
        if "file" not in d:
            raise ConfigError(
                f"{where}: fit.level = 'image' needs the image ('file = ...'); a widths table "
                "can only be fitted at level 'widths'"
            )
        m = io.load(Path(d["file"]), **d["calibration"])
        t_range = d.get("t_range_ps", cfg["fit"].get("t_range_ps"))
        data = image_dataset(
            m,
            cfg["extract"],
            likelihood=cfg["fit"]["likelihood"],
            t_range_ps=t_range,
            label=d["label"],
        )
        ndim = len(data.coords)
        mapping = dict(analysis.mappings[d["label"]])
        model = ImageModel(analysis.model, ndim=ndim)
        starts = _centre_start(data, (widths or {}).get(d["label"]))
        names = ["y0_um", "x0_um"] if ndim == 2 else ["x0_um"]
        auto = cfg["fit"].get("centre_from_data", [])
        for name, start in zip(names, starts, strict=True):
            p = params[mapping[name]]
            if name in auto and not p.expr:  # no value in [parameters]: start from the data
                p.set(value=start)
        if ndim == 1 and not params[mapping["y0_um"]].expr:
            params[mapping["y0_um"]].set(vary=False)  # a streak has no y
        terms.append(Term(model, data, mapping, None))
    return Objective.from_terms(terms, params, analysis.priors)


def image_arrays(objective: Objective, theta) -> dict[str, np.ndarray]:
    """Data, model and normalised residual images of each term (for the report)."""
    vals = objective.values(theta)
    out = {}
    for k, t in enumerate(objective.terms):
        d = t.data
        mu, amp, c = t.model.image(t.model_values(vals), d)
        r, _ = d.whiten(mu[d.valid])
        resid = np.full(d.counts.shape, np.nan)
        resid[d.valid] = r
        shape = (len(d.t_ps), *[len(np.unique(a)) for a in d.coords])
        out[f"data_{k}"] = d.counts.reshape(shape)
        out[f"model_{k}"] = mu.reshape(shape)
        out[f"residual_{k}"] = resid.reshape(shape)
        out[f"t_ps_{k}"] = d.t_ps
        out[f"x_um_{k}"] = np.unique(d.coords[-1])
        out[f"w2_um2_{k}"] = t.model.w2(t.model_values(vals), d)
        out[f"amplitude_{k}"] = amp
        out[f"background_{k}"] = c
    return out
