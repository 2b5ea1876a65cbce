"""Read and validate ANALYSIS.toml; run the ``fit`` and ``sample`` stages into a RUN directory.

This is orchestration: it reads files (the TOML, widths/kinetics/D(T) tables, images through
:func:`fitdiff.io.load` and :func:`fitdiff.extract.extract_widths`), builds datasets and
objectives from :mod:`fitdiff.fitting`, runs them and writes the RUN-directory files atomically.
It never prints; progress bars are opt-in (``progress=True``).

Stage functions (what ``fitdiff fit``, ``fitdiff sample`` and ``fitdiff.pipeline`` call)
-------------------------------------------------------------------------------------------
``load_analysis(path) -> Analysis``
    Parse and validate; every error is a :class:`~fitdiff.errors.ConfigError` naming the key
    path (``parameters.D_cm2_s.prior.sigma``). Relative paths resolve against the TOML's folder.
    ``Analysis.config`` is the resolved configuration (JSON-able, absolute paths),
    ``Analysis.digest`` its SHA-256 (stage reuse can key on it plus input file hashes).
``analysis_from_dict(raw, base_dir, path=None) -> Analysis``
    The same from an already-parsed TOML dict (relative paths against ``base_dir``).
``load_tables(analysis, widths=None) -> dict[label, dict[kind, DataFrame]]``
    Read (or extract) the input tables; ``widths`` injects already-extracted widths tables
    (a DataFrame for a single dataset, or ``{label: DataFrame}``), skipping extraction.
``build_objective(analysis, tables) -> Objective | GlobalObjective``
``run_fit(analysis, run_dir, widths=None, tables=None) -> FitResult``
    Writes ``analysis.json``, ``results.json``, ``best_fit.csv``.
``run_sample(analysis, run_dir, widths=None, tables=None, fit=None, progress=False,
steps=None) -> Posterior``
    Writes ``analysis.json``, ``chain.h5`` (emcee HDFBackend, resumed when the objective's
    fingerprint matches), ``posterior.json``, ``posterior_predictive.csv``.

Schema (every section is optional except ``[model]`` and the data; unknown keys are errors)
-------------------------------------------------------------------------------------------
::

    [data]                       # one measurement; or use [[dataset]] tables (not both)
    widths = "widths.csv"        # widths table (t_ps, w2_um2, w2_err_um2[, ok]) read with
                                 #   fitdiff.extract.read_table_csv
    pl = "kinetics.csv"          # PL(t) table: t_ps, intensity, intensity_err (valleys model)
    table = "dT.csv"             # D(T) table: T_K, D_cm2_s, D_err_cm2_s (diffusivity model)
    file = "streak.img"          # an image: extracted first with the [extract] settings
    calibration = { x_um_per_px = 0.2 }   # fitdiff.load keywords for `file`
    covariance = "cov.npy"       # optional w² covariance (µm⁴, N×N .npy, rows after masking)

    [extract]                    # keywords of fitdiff.extract.extract_widths (used with `file`)
    method = "gauss"             # "gauss" | "moment"; other keys passed through unchanged:
                                 #   t_range_ps, x_range_um, bin_t, bin_x, background, noise, t0_ps

    [transient]                  # keywords of fitdiff.extract.transient_diffusion (pipeline)
    window = 7                   # also: t_range_ps, method = "local" | "savgol"

    [model]
    kind = "linear"              # "linear" | "ballistic" | "diffusivity" | "valleys"
    method = "log"               # diffusivity only: "classical" | "log" | "cooperon"
    model = "MODEL.toml"         # valleys only: the fitdiff-simulate MODEL.toml
    noise_inflation = false      # true adds the parameter ln_f: σ² → σ² + f² model²

    [parameters.D_cm2_s]         # one table per model parameter (names: the model's table)
    value = 1.0                  # start value / fixed value (default: the model's default)
    min = 0.0                    # bounds (default: the model's limits)
    max = 50.0
    vary = true                  # false fixes it
    expr = "2 * D_other"         # tie to other parameters (lmfit expression); implies vary=false
    shared = true                # global fits: one value for all datasets (default) or one
                                 #   per dataset (false), named NAME__LABEL
    prior = { kind = "normal", mu = 1.0, sigma = 0.2 }
    # prior kinds: uniform {min, max}; log_uniform {min, max} (> 0);
    # normal {mu, sigma}; truncated_normal {mu, sigma, min, max}. A prior's range must lie
    # inside [min, max]; without a prior the parameter is uniform within its bounds.

    [fit]
    t_range_ps = [0.0, 500.0]    # time window of widths and PL data (inclusive)
    T_range_K = [4.0, 300.0]     # temperature window of D(T) tables
    scale_covar = false          # true rescales stderr by sqrt(redchi) (lmfit's default);
                                 #   false trusts the data errors (calibrated 68 % intervals)
    max_nfev = 20000

    [sample]
    walkers = 32                 # ≥ 2 × number of free parameters
    steps = 2000                 # total chain length; a rerun resumes/extends up to this
    burn = 500                   # discarded steps (< steps)
    thin = 1
    seed = 12345
    workers = 1                  # > 1: a multiprocessing pool
    predictive_draws = 200       # posterior-predictive draws for posterior_predictive.csv

    [report]                     # read by fitdiff.report; validated here
    title = "WS2 at 10 K"
    formats = ["html", "md"]
    figures = true
    corner = true
    dpi = 150

Global fits over several measurements use ``[[dataset]]`` tables instead of ``[data]``::

    [[dataset]]
    label = "T10K"               # identifier: letters, digits, underscore
    widths = "w_10K.csv"         # same data keys as [data]
    t_range_ps = [0, 300]        # optional per-dataset window (overrides [fit])
    T_K = 10.0                   # per-dataset fixed value of any model parameter
    [dataset.parameters.D_cm2_s] # per-dataset override of value/min/max/vary/prior/expr
    value = 2.0

Each parameter is either shared (one lmfit parameter ``NAME``) or per dataset
(``NAME__LABEL``, from ``shared = false`` or a per-dataset value/override). Expressions may refer
to any of these names. A temperature series sharing ``xi_eV`` and ``tau_dis_ps`` is several
``[[dataset]]`` tables each with its ``T_K``; a fluence series sharing ``D_cm2_s`` has
``[parameters.w0_2_um2] shared = false``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import lmfit
import numpy as np
import pandas as pd

from .atomic import write_json
from .errors import ConfigError, FitdiffError, LoadError
from .fitting import (
    DiffusivityData,
    FitResult,
    ForwardModel,
    KineticsData,
    Objective,
    Posterior,
    Term,
    WidthsData,
    best_fit_table,
    least_squares,
    posterior_predictive,
    prior_from_dict,
    sample,
)
from .fitting.models import BallisticModel, DiffusivityModel, LinearModel, ParameterInfo
from .io.calibration import CALIBRATION_KEYS as _CALIBRATION_KEYS

_SECTIONS = (
    "data",
    "dataset",
    "extract",
    "transient",
    "model",
    "parameters",
    "fit",
    "sample",
    "report",
)
_DATA_FILES = ("widths", "pl", "table", "file")
_DATA_KEYS = (*_DATA_FILES, "calibration", "covariance")
_DATASET_KEYS = (*_DATA_KEYS, "label", "t_range_ps", "T_range_K", "parameters")
_MODEL_KEYS = {
    "linear": ("kind", "noise_inflation", "diffusivity"),
    "ballistic": ("kind", "noise_inflation"),
    "diffusivity": ("kind", "noise_inflation", "method"),
    "valleys": ("kind", "noise_inflation", "model", "observables"),
}
_PARAM_KEYS = ("value", "min", "max", "vary", "expr", "shared", "prior")
_FIT_KEYS = ("t_range_ps", "T_range_K", "scale_covar", "max_nfev", "method", "level", "likelihood")
_SAMPLE_DEFAULTS = {
    "walkers": 32,
    "steps": 2000,
    "burn": 500,
    "thin": 1,
    "seed": 12345,
    "workers": 1,
    "predictive_draws": 200,
}
_REPORT_KEYS = ("title", "formats", "figures", "corner", "dpi")
_TRANSIENT_KEYS = ("window", "t_range_ps", "method")
#: noise-inflation parameter added by ``[model] noise_inflation = true`` (PHYSICS.md §4)
LN_F = ParameterInfo("ln_f", "", -3.0, -20.0, 3.0, True, "ln of the fractional noise inflation")


# --- small validators ---------------------------------------------------------------------
def _extract_keys() -> tuple[str, ...]:
    """Keyword arguments of fitdiff.extract.extract_widths (the [extract] keys)."""
    import inspect

    from .extract import extract_widths

    params = inspect.signature(extract_widths).parameters
    return tuple(n for n in params if n != "m")


def _check_keys(table, allowed, where: str) -> None:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table, got {table!r}")
    for key in table:
        if key not in allowed:
            raise ConfigError(
                f"{where}.{key}: unknown key (allowed: {', '.join(allowed)})"
                if where
                else f"{key}: unknown section (allowed: {', '.join(allowed)})"
            )


def _number(value, where: str, *, lo=-math.inf, hi=math.inf, integer=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if integer and not float(value).is_integer():
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(f"{where}: {value} outside the allowed range [{lo}, {hi}]")
    return int(value) if integer else float(value)


def _bool(value, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    return value


def _range(value, where: str) -> list[float]:
    if not (isinstance(value, list) and len(value) == 2):
        raise ConfigError(f"{where}: expected [min, max], got {value!r}")
    lo, hi = (_number(v, f"{where}[{i}]") for i, v in enumerate(value))
    if not lo < hi:
        raise ConfigError(f"{where}: min ({lo}) must be < max ({hi})")
    return [lo, hi]


def _path(value, where: str, base: Path) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: expected a file path, got {value!r}")
    p = Path(value).expanduser()
    p = p if p.is_absolute() else base / p
    if not p.is_file():
        raise ConfigError(f"{where}: file not found: {p}")
    return str(p.resolve())


# --- the validated analysis ---------------------------------------------------------------
@dataclass
class Analysis:
    """A validated ANALYSIS.toml.

    Attributes
    ----------
    path : Path
        The TOML file (absolute).
    config : dict
        Resolved configuration: absolute paths, defaults filled in; written to analysis.json.
    model : ForwardModel
        The forward model of ``[model]``.
    parameters : lmfit.Parameters
        The full parameter record (shared names and ``NAME__LABEL`` per-dataset names).
    priors : dict
        Name → :class:`~fitdiff.fitting.Prior` of free parameters with an explicit prior.
    mappings : dict
        Dataset label → (model parameter name → lmfit parameter name).
    """

    path: Path
    config: dict
    model: ForwardModel
    parameters: lmfit.Parameters
    priors: dict
    mappings: dict[str, dict[str, str]]
    ln_f: dict[str, str | None] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.config, sort_keys=True).encode()).hexdigest()

    @property
    def labels(self) -> list[str]:
        return [d["label"] for d in self.config["datasets"]]


def load_analysis(path) -> Analysis:
    """Read and validate ANALYSIS.toml (see the module docstring for the schema).

    Raises
    ------
    ConfigError
        Unreadable TOML, unknown key (named by its key path), value out of range, missing data
        file, min > max, prior outside the bounds, bad expression.
    """
    path = Path(path).expanduser().resolve()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"analysis file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return analysis_from_dict(raw, base_dir=path.parent, path=path)


def analysis_from_dict(raw: dict, *, base_dir, path=None) -> Analysis:
    """Validate an already-parsed configuration; relative paths resolve against ``base_dir``."""
    base = Path(base_dir)
    _check_keys(raw, _SECTIONS, "")
    model, model_cfg = _model(raw.get("model"), base)
    table = {p.name: p for p in model.parameter_table()}
    if model_cfg["noise_inflation"]:
        table["ln_f"] = LN_F
    fit_cfg = _fit(raw.get("fit", {}))
    if fit_cfg["level"] == "image":
        from .image_level import IMAGE_PARAMETERS

        if "widths" not in model.datasets:
            raise ConfigError(
                f"fit.level = 'image' needs a model of w²(t); model {model.kind!r} predicts "
                f"{list(model.datasets)}"
            )
        for info in IMAGE_PARAMETERS:
            table[info.name] = info
        given = raw.get("parameters", {})
        fit_cfg["centre_from_data"] = [
            n for n in ("x0_um", "y0_um") if "value" not in given.get(n, {})
        ]
    datasets = _datasets(raw, base, model, table)
    if fit_cfg["level"] == "image" and (len(datasets) > 1 or datasets[0]["label"] != "data"):
        # each image has its own spot centre unless the file says otherwise
        raw = {**raw, "parameters": {k: dict(v) for k, v in raw.get("parameters", {}).items()}}
        params_raw = raw["parameters"]
        for n in ("x0_um", "y0_um"):
            params_raw.setdefault(n, {}).setdefault("shared", False)
    sample_cfg = _sample(raw.get("sample", {}))
    extract_cfg = dict(raw.get("extract", {}))
    _check_keys(raw.get("extract", {}), _extract_keys(), "extract")
    for key in ("t_range_ps", "x_range_um", "y_range_um", "background_t_range_ps"):
        if key in extract_cfg:
            extract_cfg[key] = _range(extract_cfg[key], f"extract.{key}")
    transient_cfg = raw.get("transient", {})
    _check_keys(transient_cfg, _TRANSIENT_KEYS, "transient")
    report_cfg = _report(raw.get("report", {}))
    params_raw = raw.get("parameters", {})
    _check_keys(params_raw, tuple(table), "parameters")
    params, priors, mappings, resolved = _parameters(params_raw, datasets, table)
    config = {
        "source": str(path) if path else None,
        "datasets": datasets,
        "extract": extract_cfg,
        "transient": dict(transient_cfg),
        "model": model_cfg,
        "parameters": resolved,
        "fit": fit_cfg,
        "sample": sample_cfg,
        "report": report_cfg,
    }
    ln_f = {d["label"]: mappings[d["label"]].pop("ln_f", None) for d in datasets}
    return Analysis(
        Path(path) if path else base / "ANALYSIS.toml",
        config,
        model,
        params,
        priors,
        mappings,
        ln_f,
    )


def _model(cfg, base: Path) -> tuple[ForwardModel, dict]:
    if cfg is None:
        raise ConfigError(
            "model: missing section; set [model] kind = 'linear' (or ballistic, "
            "diffusivity, valleys)"
        )
    if not isinstance(cfg, dict):
        raise ConfigError("model: expected a table")
    kind = cfg.get("kind")
    if kind not in _MODEL_KEYS:
        raise ConfigError(f"model.kind: {kind!r} is not one of {list(_MODEL_KEYS)}")
    _check_keys(cfg, _MODEL_KEYS[kind], "model")
    out = {
        "kind": kind,
        "noise_inflation": _bool(cfg.get("noise_inflation", False), "model.noise_inflation"),
    }
    if kind == "linear":
        out["diffusivity"] = cfg.get("diffusivity")
        try:
            return LinearModel(out["diffusivity"]), out
        except ConfigError as exc:
            raise ConfigError(str(exc).replace("model.diffusivity", "model.diffusivity")) from None
    if kind == "ballistic":
        return BallisticModel(), out
    if kind == "diffusivity":
        out["method"] = cfg.get("method", "log")
        return DiffusivityModel(out["method"]), out
    from .fitting.valleys import ValleysModel

    if "model" not in cfg:
        raise ConfigError("model.model: the valleys model needs model = 'MODEL.toml'")
    out["model"] = _path(cfg["model"], "model.model", base)
    obs = cfg.get("observables", ["widths", "pl"])
    if not (isinstance(obs, list) and obs and set(obs) <= {"widths", "pl"}):
        raise ConfigError(f"model.observables: expected a subset of ['widths', 'pl'], got {obs!r}")
    out["observables"] = list(obs)
    return ValleysModel.from_toml(out["model"]), out


def _data_entry(entry: dict, where: str, base: Path, model: ForwardModel) -> dict:
    out = {}
    for key in _DATA_FILES:
        if key in entry:
            out[key] = _path(entry[key], f"{where}.{key}", base)
    if "covariance" in entry:
        out["covariance"] = _path(entry["covariance"], f"{where}.covariance", base)
    cal = entry.get("calibration", {})
    _check_keys(cal, _CALIBRATION_KEYS, f"{where}.calibration")
    out["calibration"] = {
        k: (
            _range(v, f"{where}.calibration.{k}")
            if isinstance(v, list)
            else _number(v, f"{where}.calibration.{k}")
        )
        for k, v in cal.items()
    }
    wanted = {
        "linear": ("widths", "file"),
        "ballistic": ("widths", "file"),
        "diffusivity": ("table",),
        "valleys": ("widths", "pl", "file"),
    }[model.kind]
    if not any(k in out for k in wanted):
        raise ConfigError(
            f"{where}: model {model.kind!r} needs one of {list(wanted)} "
            f"(got {[k for k in _DATA_FILES if k in out] or 'none'})"
        )
    if "widths" in out and "file" in out:
        raise ConfigError(f"{where}: give either widths (a table) or file (an image), not both")
    unused = [k for k in _DATA_FILES if k in out and k not in wanted]
    if unused:
        raise ConfigError(
            f"{where}.{unused[0]}: model {model.kind!r} does not use it (it uses {list(wanted)})"
        )
    return out


def _datasets(raw: dict, base: Path, model: ForwardModel, table: dict) -> list[dict]:
    if "data" in raw and "dataset" in raw:
        raise ConfigError("dataset: give either [data] or [[dataset]] tables, not both")
    if "data" in raw:
        _check_keys(raw["data"], _DATA_KEYS, "data")
        return [
            {
                "label": "data",
                **_data_entry(raw["data"], "data", base, model),
                "values": {},
                "parameters": {},
            }
        ]
    entries = raw.get("dataset")
    if not entries:
        raise ConfigError(
            "data: missing; add a [data] section (widths/pl/table/file = path) "
            "or [[dataset]] tables"
        )
    if not isinstance(entries, list):
        raise ConfigError("dataset: expected [[dataset]] tables")
    out, seen = [], set()
    for i, entry in enumerate(entries):
        where = f"dataset[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a table")
        label = entry.get("label", f"d{i}")
        if not (isinstance(label, str) and label.isidentifier()) or label in seen:
            raise ConfigError(
                f"{where}.label: {label!r} must be a unique identifier "
                "(letters, digits, underscore)"
            )
        seen.add(label)
        where = f"dataset[{i}]"
        values = {}
        for key in entry:
            if key in _DATASET_KEYS:
                continue
            if key in table:
                values[key] = _number(entry[key], f"{where}.{key}")
            else:
                raise ConfigError(
                    f"{where}.{key}: unknown key (allowed: {', '.join(_DATASET_KEYS)}"
                    f" or a model parameter: {', '.join(table)})"
                )
        d = {"label": label, **_data_entry(entry, where, base, model), "values": values}
        for key in ("t_range_ps", "T_range_K"):
            if key in entry:
                d[key] = _range(entry[key], f"{where}.{key}")
        overrides = entry.get("parameters", {})
        _check_keys(overrides, tuple(table), f"{where}.parameters")
        for name, spec in overrides.items():
            _check_keys(
                spec, tuple(k for k in _PARAM_KEYS if k != "shared"), f"{where}.parameters.{name}"
            )
        d["parameters"] = overrides
        out.append(d)
    return out


def _fit(cfg) -> dict:
    _check_keys(cfg, _FIT_KEYS, "fit")
    from .fitting.image import LIKELIHOODS
    from .image_level import LEVELS

    out = {
        "scale_covar": _bool(cfg.get("scale_covar", False), "fit.scale_covar"),
        "method": cfg.get("method", "leastsq"),
        "level": cfg.get("level", "widths"),
        "likelihood": cfg.get("likelihood", "auto"),
    }
    if out["level"] not in LEVELS:
        raise ConfigError(f"fit.level = {out['level']!r}; allowed {list(LEVELS)}")
    if out["likelihood"] not in LIKELIHOODS:
        raise ConfigError(f"fit.likelihood = {out['likelihood']!r}; allowed {list(LIKELIHOODS)}")
    if not isinstance(out["method"], str):
        raise ConfigError(f"fit.method: expected an lmfit method name, got {out['method']!r}")
    for key in ("t_range_ps", "T_range_K"):
        if key in cfg:
            out[key] = _range(cfg[key], f"fit.{key}")
    if "max_nfev" in cfg:
        out["max_nfev"] = _number(cfg["max_nfev"], "fit.max_nfev", lo=1, integer=True)
    return out


def _sample(cfg) -> dict:
    _check_keys(cfg, tuple(_SAMPLE_DEFAULTS), "sample")
    out = dict(_SAMPLE_DEFAULTS)
    limits = {
        "walkers": 2,
        "steps": 1,
        "burn": 0,
        "thin": 1,
        "seed": 0,
        "workers": 1,
        "predictive_draws": 1,
    }
    for key, value in cfg.items():
        out[key] = _number(value, f"sample.{key}", lo=limits[key], integer=True)
    if "burn" not in cfg:
        out["burn"] = min(out["burn"], out["steps"] // 4)
    if out["burn"] >= out["steps"]:
        raise ConfigError(f"sample.burn: {out['burn']} must be < sample.steps ({out['steps']})")
    return out


def _report(cfg) -> dict:
    _check_keys(cfg, _REPORT_KEYS, "report")
    out = dict(cfg)
    if "title" in out and not isinstance(out["title"], str):
        raise ConfigError("report.title: expected a string")
    if "formats" in out and not (
        isinstance(out["formats"], list) and set(out["formats"]) <= {"html", "md"}
    ):
        raise ConfigError(
            f"report.formats: expected a subset of ['html', 'md'], got {out['formats']!r}"
        )
    for key in ("figures", "corner"):
        if key in out:
            _bool(out[key], f"report.{key}")
    if "dpi" in out:
        _number(out["dpi"], "report.dpi", lo=10, hi=1200, integer=True)
    return out


# --- parameters ---------------------------------------------------------------------------
def _param_spec(info: ParameterInfo, specs: list[tuple[str, dict]]) -> tuple[dict, object, str]:
    """Merge the model default with config tables (later wins); validate; return spec, prior."""
    out = {"value": info.default, "min": info.min, "max": info.max, "vary": info.vary, "expr": None}
    prior, prior_where, value_given, where = None, None, False, specs[-1][0] if specs else ""
    for where, spec in specs:
        for key in ("value", "min", "max"):
            if key in spec:
                out[key] = _number(spec[key], f"{where}.{key}")
                value_given |= key == "value"
        if "vary" in spec:
            out["vary"] = _bool(spec["vary"], f"{where}.vary")
        if "expr" in spec:
            if not isinstance(spec["expr"], str) or not spec["expr"].strip():
                raise ConfigError(f"{where}.expr: expected an expression string")
            out["expr"], out["vary"] = spec["expr"], False
        if "prior" in spec:
            prior, prior_where = prior_from_dict(spec["prior"], f"{where}.prior"), f"{where}.prior"
            if "vary" not in spec:
                out["vary"] = True
    if not out["min"] < out["max"]:
        raise ConfigError(f"{where}: min ({out['min']}) must be < max ({out['max']})")
    if prior is not None:
        if not out["vary"] or out["expr"]:
            raise ConfigError(
                f"{prior_where}: a prior needs a free parameter (vary = true, no expr)"
            )
        lo, hi = prior.support
        center = getattr(prior, "mu", None)
        if (
            lo < out["min"]
            or hi > out["max"]
            or (center is not None and not out["min"] <= center <= out["max"])
        ):
            raise ConfigError(
                f"{prior_where}: prior {prior.to_dict()} lies outside the parameter bounds "
                f"[{out['min']}, {out['max']}]"
            )
        if not value_given and not lo <= out["value"] <= hi:
            out["value"] = (
                center
                if center is not None and lo <= center <= hi
                else (
                    math.sqrt(lo * hi)
                    if prior.to_dict()["kind"] == "log_uniform"
                    else 0.5 * (lo + hi)
                )
            )
        lo, hi = max(lo, out["min"]), min(hi, out["max"])
    else:
        lo, hi = out["min"], out["max"]
    if not out["expr"] and not lo <= out["value"] <= hi:
        raise ConfigError(f"{where}.value: {out['value']} outside [{lo}, {hi}]")
    return out, prior, where


def _parameters(params_raw: dict, datasets: list[dict], table: dict):
    global_fit = len(datasets) > 1 or datasets[0]["label"] != "data"
    params = lmfit.Parameters()
    exprs, priors, resolved = [], {}, {}
    mappings = {d["label"]: {} for d in datasets}
    for name, info in table.items():
        spec = params_raw.get(name, {})
        where = f"parameters.{name}"
        _check_keys(spec, _PARAM_KEYS, where)
        shared = _bool(spec.get("shared", True), f"{where}.shared")
        per = global_fit and (
            not shared or any(name in d["values"] or name in d["parameters"] for d in datasets)
        )
        targets = []
        if per:
            for d in datasets:
                specs = [(where, spec)]
                if name in d["parameters"]:
                    specs.append(
                        (f"dataset[{datasets.index(d)}].parameters.{name}", d["parameters"][name])
                    )
                if name in d["values"]:
                    specs.append(
                        (
                            f"dataset[{datasets.index(d)}].{name}",
                            {"value": d["values"][name], "vary": False},
                        )
                    )
                targets.append((f"{name}__{d['label']}", [d["label"]], specs))
        else:
            targets.append((name, [d["label"] for d in datasets], [(where, spec)]))
        for gname, labels, specs in targets:
            out, prior, pwhere = _param_spec(info, specs)
            for label in labels:
                mappings[label][name] = gname
            resolved[gname] = {
                **out,
                "unit": info.unit,
                "prior": None if prior is None else prior.to_dict(),
            }
            if out["expr"]:
                exprs.append((gname, out, pwhere))
            else:
                params.add(
                    gname, value=out["value"], min=out["min"], max=out["max"], vary=out["vary"]
                )
            if prior is not None:
                priors[gname] = prior
    for gname, out, _ in exprs:
        params.add(gname, value=out["value"], min=out["min"], max=out["max"])
    for gname, out, pwhere in exprs:
        try:
            params[gname].set(expr=out["expr"])
            params.update_constraints()
            value = params[gname].value
        except (NameError, SyntaxError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"{pwhere}.expr: cannot evaluate {out['expr']!r}: {exc} "
                f"(known names: {', '.join(params)})"
            ) from None
        if value is None or not np.isfinite(value):
            raise ConfigError(f"{pwhere}.expr: {out['expr']!r} evaluates to {value}")
    if not any(p.vary and not p.expr for p in params.values()):
        raise ConfigError("parameters: no free parameter; set vary = true for at least one")
    return params, priors, mappings, resolved


# --- tables and objectives ----------------------------------------------------------------
def _read_table(path: str, where: str) -> pd.DataFrame:
    from .extract import read_table_csv

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
            from . import io
            from .extract import extract_widths

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
    }[analysis.model.kind]
    terms = []
    for i, d in enumerate(cfg["datasets"]):
        label = d["label"]
        where = "data" if label == "data" else f"dataset[{i}]"
        t_range = d.get("t_range_ps", cfg["fit"].get("t_range_ps"))
        T_range = d.get("T_range_K", cfg["fit"].get("T_range_K"))
        tabs = tables.get(label, {})
        for kind in wanted:
            if kind not in tabs:
                continue
            tag = label if len(wanted) == 1 else f"{label}_{kind}"
            try:
                if kind == "widths":
                    cov = np.load(d["covariance"]) if "covariance" in d else None
                    data = WidthsData.from_frame(tabs[kind], t_range_ps=t_range, cov=cov, label=tag)
                elif kind == "pl":
                    data = KineticsData.from_frame(tabs[kind], t_range_ps=t_range, label=tag)
                else:
                    data = DiffusivityData.from_frame(tabs[kind], T_range_K=T_range, label=tag)
            except ConfigError as exc:
                raise ConfigError(f"{where}.{kind}: {exc}") from None
            terms.append(
                Term(analysis.model, data, dict(analysis.mappings[label]), analysis.ln_f.get(label))
            )
    if not terms:
        raise ConfigError(f"data: no table matches the model's observables {list(wanted)}")
    return Objective.from_terms(terms, analysis.parameters, analysis.priors)


def _tables(analysis, widths, tables):
    return tables if tables is not None else load_tables(analysis, widths)


def objective_for(analysis: Analysis, widths=None, tables=None) -> Objective:
    """The objective of ``[fit] level``: widths tables (default) or the images themselves."""
    if analysis.config["fit"]["level"] == "image":
        from .image_level import build_image_objective

        if widths is not None and not isinstance(widths, dict):
            widths = {analysis.labels[0]: widths}
        return build_image_objective(analysis, widths)
    return build_objective(analysis, _tables(analysis, widths, tables))


def write_analysis_json(analysis: Analysis, run_dir) -> None:
    """Write ``RUN/analysis.json``: the validated, resolved configuration."""
    write_json(Path(run_dir) / "analysis.json", {**analysis.config, "digest": analysis.digest})


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    from .extract import write_table_csv  # every fitdiff table goes through it (atomic)

    write_table_csv(df, path)


def fit_objective(analysis: Analysis, objective: Objective) -> FitResult:
    """Least squares with the ``[fit]`` settings."""
    f = analysis.config["fit"]
    return least_squares(
        objective, method=f["method"], scale_covar=f["scale_covar"], max_nfev=f.get("max_nfev")
    )


def run_fit(analysis: Analysis, run_dir, widths=None, tables=None) -> FitResult:
    """The ``fit`` stage: least squares; writes analysis.json, results.json, best_fit.csv."""
    run_dir = Path(run_dir)
    objective = objective_for(analysis, widths, tables)
    result = fit_objective(analysis, objective)
    write_analysis_json(analysis, run_dir)
    level = analysis.config["fit"]["level"]
    write_json(
        run_dir / "results.json",
        {
            **result.to_dict(),
            "level": level,
            "config": analysis.config,
            "analysis_digest": analysis.digest,
        },
    )
    _write_csv(best_fit_table(objective, result.theta), run_dir / "best_fit.csv")
    if level == "image":
        import io as _io

        from .atomic import write_bytes
        from .image_level import image_arrays

        buf = _io.BytesIO()
        np.savez_compressed(buf, **image_arrays(objective, result.theta))
        write_bytes(run_dir / "image_fit.npz", buf.getvalue())
    return result


def run_sample(
    analysis: Analysis,
    run_dir,
    widths=None,
    tables=None,
    *,
    fit: FitResult = None,
    steps: int | None = None,
    progress: bool = False,
) -> Posterior:
    """The ``sample`` stage: emcee from the least-squares optimum into ``RUN/chain.h5``.

    Writes analysis.json, chain.h5 (resumed when model, data and priors are unchanged),
    posterior.json and posterior_predictive.csv.

    Parameters
    ----------
    fit : FitResult, optional
        Least-squares result to start the walkers around (computed when absent).
    steps : int, optional
        Overrides ``[sample] steps`` (e.g. from ``--steps``).
    progress : bool
        Show a progress bar (the CLI passes ``sys.stderr.isatty()``).
    """
    run_dir = Path(run_dir)
    s = dict(analysis.config["sample"])
    if steps is not None:
        s["steps"] = steps
        if s["burn"] >= steps:
            raise ConfigError(f"--steps {steps} must exceed sample.burn ({s['burn']})")
    objective = objective_for(analysis, widths, tables)
    start = fit if fit is not None else fit_objective(analysis, objective)
    write_analysis_json(analysis, run_dir)
    kwargs = dict(
        backend_path=run_dir / "chain.h5",
        walkers=s["walkers"],
        steps=s["steps"],
        burn=s["burn"],
        thin=s["thin"],
        seed=s["seed"],
        start=start,
        progress=progress,
    )
    post = sample(objective, workers=s["workers"], **kwargs)
    write_json(
        run_dir / "posterior.json",
        {
            **post.to_dict(),
            "level": analysis.config["fit"]["level"],
            "config": analysis.config,
            "analysis_digest": analysis.digest,
        },
    )
    pp = posterior_predictive(objective, post, draws=s["predictive_draws"], seed=s["seed"])
    _write_csv(pp, run_dir / "posterior_predictive.csv")
    return post


def copy_parameters(analysis: Analysis) -> lmfit.Parameters:
    """A copy of the analysis' parameter record (for callers that want to modify it)."""
    return copy.deepcopy(analysis.parameters)
