"""The ANALYSIS.toml schema: parse, validate and resolve an analysis file into an
:class:`Analysis` (resolved configuration, forward model, lmfit parameters, priors).

Every error is a :class:`~fitdiff.errors.ConfigError` naming the key path
(``parameters.D_cm2_s.prior.sigma``) and what is allowed. Relative paths resolve against the
TOML's folder; paths in caller overrides against the working directory.

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
                                 #   t_range_ps, x_range_um, bin_t, bin_x, background, noise,
                                 #   time_zero_ps (number or "rise"; t0_ps: deprecated)

    [transient]                  # keywords of fitdiff.extract.transient_diffusion (pipeline)
    window = 7                   # also: t_range_ps, method = "local" | "savgol"

    [model]
    kind = "linear"              # "linear" | "ballistic" | "diffusivity" | "valleys" | "tensor"
                                 #   tensor: Σ(t) = Σ0 + 2Dt on a stack extracted with
                                 #   shape = "rotated" (the default for it; fitdiff.fitting.tensor)
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

    [evidence]                   # nested sampling (fitdiff evidence; fitdiff run when present)
    n_live = 500                 # dynesty live points (≥ 10); ln Z error ~ sqrt(H / n_live)
    dlogz = 0.1                  # stop when the remaining volume adds < dlogz to ln Z (nats)
    seed = 12345
    bound = "multi"              # dynesty's bounding region: "multi" ellipsoids or "single"
    sample = "auto"              # dynesty's sampler: auto, unif, rwalk, slice, rslice
    # every free parameter needs a proper prior: finite [min, max] or a normal prior

    [report]                     # read by fitdiff.report; validated here
    title = "WS2 at 10 K"
    formats = ["html", "md"]
    figures = true
    corner = true
    dpi = 150
    raw_scale = "row"            # raw streak colours: "row" (each row / its max), "log", "linear"

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

from dataclasses import dataclass, field
from pathlib import Path

import lmfit

from ..common import check_keys, hash_json
from ..errors import ConfigError
from ..fitting import ForwardModel
from ..fitting.models import BallisticModel, DiffusivityModel, LinearModel, ParameterInfo
from ..fitting.tensor import TensorModel
from ..io.calibration import CALIBRATION_KEYS as _CALIBRATION_KEYS
from .covariance import read_covariance
from .parameters import PARAM_KEYS, build_parameters
from .values import boolean, file_path, number, span

_SECTIONS = (
    "data",
    "dataset",
    "extract",
    "transient",
    "model",
    "parameters",
    "fit",
    "sample",
    "evidence",
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
    "tensor": ("kind", "noise_inflation"),
}
_FIT_KEYS = (
    "t_range_ps",
    "T_range_K",
    "scale_covar",
    "max_nfev",
    "method",
    "level",
    "likelihood",
)
_SAMPLE_DEFAULTS = {
    "walkers": 32,
    "steps": 2000,
    "burn": 500,
    "thin": 1,
    "seed": 12345,
    "workers": 1,
    "predictive_draws": 200,
}
#: ``[evidence]``: dynesty live points, stopping tolerance on ln Z (nats), seed, bounding region
#: and sampling method
_EVIDENCE_DEFAULTS = {
    "n_live": 500,
    "dlogz": 0.1,
    "seed": 12345,
    "bound": "multi",
    "sample": "auto",
}
_REPORT_KEYS = ("title", "formats", "figures", "corner", "dpi", "raw_scale")
#: Colour scales of the raw streak (fitdiff.report.figures.RAW_SCALES).
_RAW_SCALES = ("row", "log", "linear")
_TRANSIENT_KEYS = ("window", "t_range_ps", "method")
#: noise-inflation parameter added by ``[model] noise_inflation = true`` (PHYSICS.md §4)
LN_F = ParameterInfo("ln_f", "", -3.0, -20.0, 3.0, True, "ln of the fractional noise inflation")


def _extract_keys() -> tuple[str, ...]:
    """Keyword arguments of fitdiff.extract.extract_widths (the [extract] keys)."""
    import inspect

    from ..extract import extract_widths

    params = inspect.signature(extract_widths).parameters
    return tuple(n for n in params if n != "m")


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
    ln_f : dict
        Dataset label → name of its noise-inflation parameter (None: no inflation).
    raw : dict
        The parsed TOML (overrides merged in) it was resolved from: which sections the file
        gives (the pipeline samples only with ``[sample]``), and the base of
        :func:`fitdiff.analysis.with_steps`.
    """

    path: Path
    config: dict
    model: ForwardModel
    parameters: lmfit.Parameters
    priors: dict
    mappings: dict[str, dict[str, str]]
    ln_f: dict[str, str | None] = field(default_factory=dict)
    raw: dict = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return hash_json(self.config)

    @property
    def labels(self) -> list[str]:
        return [d["label"] for d in self.config["datasets"]]


def analysis_from_dict(raw: dict, *, base_dir, path=None) -> Analysis:
    """Validate an already-parsed configuration; relative paths resolve against ``base_dir``."""
    base = Path(base_dir)
    check_keys(raw, _SECTIONS, "", what="section")
    model, model_cfg = _model(raw.get("model"), base)
    table = {p.name: p for p in model.parameter_table()}
    if model_cfg["noise_inflation"]:
        table["ln_f"] = LN_F
    fit_cfg = _fit(raw.get("fit", {}))
    if fit_cfg["level"] == "image":
        from ..image_level import IMAGE_PARAMETERS

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
        for n in ("x0_um", "y0_um"):
            raw["parameters"].setdefault(n, {}).setdefault("shared", False)
    sample_cfg = _sample(raw.get("sample", {}))
    evidence_cfg = _evidence(raw.get("evidence", {}))
    extract_cfg = dict(raw.get("extract", {}))
    check_keys(raw.get("extract", {}), _extract_keys(), "extract")
    for key in ("t_range_ps", "x_range_um", "y_range_um", "background_t_range_ps"):
        if key in extract_cfg:
            extract_cfg[key] = span(extract_cfg[key], f"extract.{key}")
    if model.kind == "tensor":  # the tensor needs the full covariance of every frame
        if extract_cfg.setdefault("shape", "rotated") != "rotated":
            raise ConfigError(
                f"extract.shape: {extract_cfg['shape']!r}; [model] kind = 'tensor' needs "
                "'rotated' (the default for it)"
            )
    transient_cfg = raw.get("transient", {})
    check_keys(transient_cfg, _TRANSIENT_KEYS, "transient")
    report_cfg = _report(raw.get("report", {}))
    params_raw = raw.get("parameters", {})
    check_keys(params_raw, tuple(table), "parameters")
    params, priors, mappings, resolved = build_parameters(params_raw, datasets, table)
    config = {
        "source": str(path) if path else None,
        "datasets": datasets,
        "extract": extract_cfg,
        "transient": dict(transient_cfg),
        "model": model_cfg,
        "parameters": resolved,
        "fit": fit_cfg,
        "sample": sample_cfg,
        "evidence": evidence_cfg,
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
        raw,
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
    check_keys(cfg, _MODEL_KEYS[kind], "model")
    out = {
        "kind": kind,
        "noise_inflation": boolean(cfg.get("noise_inflation", False), "model.noise_inflation"),
    }
    if kind == "linear":
        out["diffusivity"] = cfg.get("diffusivity")
        try:
            return LinearModel(out["diffusivity"]), out
        except ConfigError as exc:
            raise ConfigError(str(exc).replace("model.diffusivity", "model.diffusivity")) from None
    if kind == "ballistic":
        return BallisticModel(), out
    if kind == "tensor":
        return TensorModel(), out
    if kind == "diffusivity":
        out["method"] = cfg.get("method", "log")
        return DiffusivityModel(out["method"]), out
    from ..fitting.valleys import ValleysModel

    if "model" not in cfg:
        raise ConfigError("model.model: the valleys model needs model = 'MODEL.toml'")
    out["model"] = file_path(cfg["model"], "model.model", base)
    obs = cfg.get("observables", ["widths", "pl"])
    if not (isinstance(obs, list) and obs and set(obs) <= {"widths", "pl"}):
        raise ConfigError(f"model.observables: expected a subset of ['widths', 'pl'], got {obs!r}")
    out["observables"] = list(obs)
    return ValleysModel.from_toml(out["model"]), out


def _data_entry(entry: dict, where: str, base: Path, model: ForwardModel) -> dict:
    out = {}
    for key in _DATA_FILES:
        if key in entry:
            out[key] = file_path(entry[key], f"{where}.{key}", base)
    if "covariance" in entry:
        out["covariance"] = file_path(entry["covariance"], f"{where}.covariance", base)
        read_covariance(out["covariance"], f"{where}.covariance")  # refuse a bad one now
    cal = entry.get("calibration", {})
    check_keys(cal, _CALIBRATION_KEYS, f"{where}.calibration")
    out["calibration"] = {
        k: (
            span(v, f"{where}.calibration.{k}")
            if isinstance(v, list)
            else number(v, f"{where}.calibration.{k}")
        )
        for k, v in cal.items()
    }
    wanted = {
        "linear": ("widths", "file"),
        "ballistic": ("widths", "file"),
        "diffusivity": ("table",),
        "valleys": ("widths", "pl", "file"),
        "tensor": ("widths", "file"),
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
        check_keys(raw["data"], _DATA_KEYS, "data")
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
                values[key] = number(entry[key], f"{where}.{key}")
            else:
                raise ConfigError(
                    f"{where}.{key}: unknown key (allowed: {', '.join(_DATASET_KEYS)}"
                    f" or a model parameter: {', '.join(table)})"
                )
        d = {"label": label, **_data_entry(entry, where, base, model), "values": values}
        for key in ("t_range_ps", "T_range_K"):
            if key in entry:
                d[key] = span(entry[key], f"{where}.{key}")
        overrides = entry.get("parameters", {})
        check_keys(overrides, tuple(table), f"{where}.parameters")
        for name, spec in overrides.items():
            check_keys(
                spec, tuple(k for k in PARAM_KEYS if k != "shared"), f"{where}.parameters.{name}"
            )
        d["parameters"] = overrides
        out.append(d)
    return out


def _fit(cfg) -> dict:
    check_keys(cfg, _FIT_KEYS, "fit")
    from ..fitting.image import LIKELIHOODS
    from ..image_level import LEVELS

    out = {
        "scale_covar": boolean(cfg.get("scale_covar", False), "fit.scale_covar"),
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
            out[key] = span(cfg[key], f"fit.{key}")
    if "max_nfev" in cfg:
        out["max_nfev"] = number(cfg["max_nfev"], "fit.max_nfev", lo=1, integer=True)
    return out


def _sample(cfg) -> dict:
    check_keys(cfg, tuple(_SAMPLE_DEFAULTS), "sample")
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
        out[key] = number(value, f"sample.{key}", lo=limits[key], integer=True)
    if "burn" not in cfg:
        out["burn"] = min(out["burn"], out["steps"] // 4)
    if out["burn"] >= out["steps"]:
        raise ConfigError(f"sample.burn: {out['burn']} must be < sample.steps ({out['steps']})")
    return out


def _evidence(cfg) -> dict:
    from ..fitting.evidence import BOUNDS, SAMPLERS

    check_keys(cfg, tuple(_EVIDENCE_DEFAULTS), "evidence")
    out = dict(_EVIDENCE_DEFAULTS)
    if "n_live" in cfg:
        out["n_live"] = number(cfg["n_live"], "evidence.n_live", lo=10, integer=True)
    if "dlogz" in cfg:
        out["dlogz"] = number(cfg["dlogz"], "evidence.dlogz", lo=1e-6)
    if "seed" in cfg:
        out["seed"] = number(cfg["seed"], "evidence.seed", lo=0, integer=True)
    for key, allowed in (("bound", BOUNDS), ("sample", SAMPLERS)):
        if key in cfg:
            if cfg[key] not in allowed:
                raise ConfigError(f"evidence.{key}: {cfg[key]!r} is not one of {list(allowed)}")
            out[key] = cfg[key]
    return out


def _report(cfg) -> dict:
    check_keys(cfg, _REPORT_KEYS, "report")
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
            boolean(out[key], f"report.{key}")
    if "dpi" in out:
        number(out["dpi"], "report.dpi", lo=10, hi=1200, integer=True)
    if "raw_scale" in out and out["raw_scale"] not in _RAW_SCALES:
        raise ConfigError(
            f"report.raw_scale: {out['raw_scale']!r}; allowed {', '.join(_RAW_SCALES)}"
        )
    return out
