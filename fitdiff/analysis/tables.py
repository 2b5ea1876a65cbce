"""The data of an analysis: its tables read (or extracted from images), its covariance files
checked, and the datasets joined with the model and parameters into one objective.

File reading happens here, at the orchestration layer, so that :mod:`fitdiff.fitting` never
reads files.
"""

from __future__ import annotations

import copy

import lmfit
import numpy as np
import pandas as pd

from ..errors import ConfigError, FitdiffError, LoadError
from ..fitting import DiffusivityData, KineticsData, Objective, Term, WidthsData
from ..fitting.tensor import TensorData
from .covariance import read_covariance
from .schema import Analysis


def _read_table(path: str, where: str) -> pd.DataFrame:
    from ..extract import read_table_csv

    try:
        return read_table_csv(path)
    except FitdiffError:
        raise
    except (OSError, ValueError) as exc:
        raise LoadError(f"{where}: cannot read table {path}: {exc}") from None


def load_tables(analysis: Analysis, widths=None) -> dict[str, dict[str, pd.DataFrame]]:
    """Read (or extract) every dataset's tables: ``{label: {"widths"|"pl"|"table": df}}``.

    Parameters
    ----------
    widths : DataFrame or dict of str to DataFrame, optional
        Already-extracted widths tables (single dataset, or per label); they replace reading
        ``widths`` files or extracting ``file`` images.
    """
    if widths is not None and not isinstance(widths, dict):
        widths = {analysis.labels[0]: widths}
    widths = widths or {}
    out = {}
    for i, d in enumerate(analysis.config["datasets"]):
        where = "data" if d["label"] == "data" else f"dataset[{i}]"
        tables = {}
        if d["label"] in widths:
            tables["widths"] = widths[d["label"]]
        elif "widths" in d:
            tables["widths"] = _read_table(d["widths"], f"{where}.widths")
        elif "file" in d:
            from .. import io
            from ..extract import extract_widths

            m = io.load(d["file"], **d["calibration"])
            tables["widths"] = extract_widths(m, **analysis.config["extract"])
        if "pl" in d:
            tables["pl"] = _read_table(d["pl"], f"{where}.pl")
        elif "file" in d and analysis.model.kind == "valleys":
            tables["pl"] = tables["widths"]  # extract_widths also gives intensity(t)
        if "table" in d:
            tables["table"] = _read_table(d["table"], f"{where}.table")
        out[d["label"]] = tables
    return out


def build_objective(analysis: Analysis, tables: dict) -> Objective:
    """Datasets from ``tables`` (see :func:`load_tables`) joined into one objective."""
    cfg = analysis.config
    wanted = {
        "linear": ("widths",),
        "ballistic": ("widths",),
        "diffusivity": ("table",),
        "valleys": tuple(cfg["model"].get("observables", ())),
        "tensor": ("tensor",),
    }[analysis.model.kind]
    terms = []
    for i, d in enumerate(cfg["datasets"]):
        label = d["label"]
        where = "data" if label == "data" else f"dataset[{i}]"
        t_range = d.get("t_range_ps", cfg["fit"].get("t_range_ps"))
        T_range = d.get("T_range_K", cfg["fit"].get("T_range_K"))
        tabs = tables.get(label, {})
        for kind in wanted:
            if kind == "tensor" and "widths" in tabs:  # the rotated widths table holds Σ
                tabs = {**tabs, "tensor": tabs["widths"]}
            if kind not in tabs:
                continue
            tag = label if len(wanted) == 1 else f"{label}_{kind}"
            try:
                if kind == "widths":
                    cov = (
                        read_covariance(d["covariance"], f"{where}.covariance")
                        if "covariance" in d
                        else None
                    )
                    data = WidthsData.from_frame(tabs[kind], t_range_ps=t_range, cov=cov, label=tag)
                elif kind == "pl":
                    data = KineticsData.from_frame(tabs[kind], t_range_ps=t_range, label=tag)
                elif kind == "tensor":
                    data = TensorData.from_frame(tabs[kind], t_range_ps=t_range, label=tag)
                else:
                    data = DiffusivityData.from_frame(tabs[kind], T_range_K=T_range, label=tag)
            except ConfigError as exc:
                raise ConfigError(f"{where}.{kind}: {exc}") from None
            terms.append(
                Term(analysis.model, data, dict(analysis.mappings[label]), analysis.ln_f.get(label))
            )
    if not terms:
        raise ConfigError(f"data: no table matches the model's observables {list(wanted)}")
    params = analysis.parameters
    if analysis.model.kind == "valleys" and "pl_scale" not in analysis.raw.get("parameters", {}):
        params = free_pl_scale(terms, params)
    return Objective.from_terms(terms, params, analysis.priors)


def free_pl_scale(terms: list[Term], params: lmfit.Parameters) -> lmfit.Parameters:
    """Free the PL amplitude ``pl_scale`` where PL(t) is fitted, started at its optimum.

    PL is recorded in arbitrary counts, so a fixed amplitude of 1 compares model excitons/ps
    with counts (χ²/ν in the thousands). The model is linear in the amplitude, so its
    weighted least-squares value for the start parameters is exact:
    s = Σ y m / σ² / Σ m² / σ² (m: the model PL at s = 1). A ``[parameters.pl_scale]`` table
    in the analysis overrides all of this; without PL data the amplitude stays fixed (the
    data do not constrain it).
    """
    params = copy.deepcopy(params)
    values = {name: p.value for name, p in params.items()}
    for term in terms:
        name = term.mapping.get("pl_scale")
        if name is None or term.data.kind != "pl" or params[name].expr:
            continue
        m = np.asarray(
            term.model.predict({**term.model_values(values), "pl_scale": 1.0}, term.data), float
        )
        w = 1.0 / term.data.y_err**2
        denominator = float(np.sum(w * m * m))
        if denominator > 0 and np.isfinite(denominator):
            scale = float(np.sum(w * term.data.y * m)) / denominator
            params[name].set(value=max(scale, 1e-300), vary=True)
    return params
