"""The ``[parameters]`` tables of ANALYSIS.toml: model defaults merged with the file, priors
checked against bounds, shared or per-dataset names, expressions evaluated once.

A parameter written into ``[parameters]`` is free unless it says ``vary = false`` or has an
``expr``; parameters not mentioned keep the model's default. Global fits name per-dataset
parameters ``NAME__LABEL``.
"""

from __future__ import annotations

import math

import lmfit
import numpy as np

from ..common import check_keys
from ..errors import ConfigError
from ..fitting import prior_from_dict
from ..fitting.models import ParameterInfo
from .values import boolean, number

#: Keys of one ``[parameters.NAME]`` table.
PARAM_KEYS = ("value", "min", "max", "vary", "expr", "shared", "prior")


def param_spec(info: ParameterInfo, specs: list[tuple[str, dict]]) -> tuple[dict, object, str]:
    """Merge the model default with config tables (later wins); validate; return spec, prior."""
    out = {"value": info.default, "min": info.min, "max": info.max, "vary": info.vary, "expr": None}
    prior, prior_where, value_given, where = None, None, False, specs[-1][0] if specs else ""
    for where, spec in specs:
        for key in ("value", "min", "max"):
            if key in spec:
                out[key] = number(spec[key], f"{where}.{key}")
                value_given |= key == "value"
        if "vary" in spec:
            out["vary"] = boolean(spec["vary"], f"{where}.vary")
        if "expr" in spec:
            if not isinstance(spec["expr"], str) or not spec["expr"].strip():
                raise ConfigError(f"{where}.expr: expected an expression string")
            out["expr"], out["vary"] = spec["expr"], False
        if "prior" in spec:
            prior, prior_where = prior_from_dict(spec["prior"], f"{where}.prior"), f"{where}.prior"
            if "vary" not in spec:
                out["vary"] = True
    # The rule of DESIGN.md: written into [parameters] means free, unless vary = false or an
    # expr says otherwise; a parameter not mentioned keeps the model's default.
    if any(spec for _, spec in specs) and not any(
        "vary" in spec or "expr" in spec for _, spec in specs
    ):
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


def build_parameters(params_raw: dict, datasets: list[dict], table: dict):
    """The lmfit record, priors, per-dataset name mappings and resolved specs of ``[parameters]``.

    Parameters
    ----------
    params_raw : dict
        The ``[parameters]`` tables (already checked against the model's names).
    datasets : list of dict
        Resolved datasets with their ``values`` (per-dataset fixed values) and ``parameters``
        (per-dataset overrides).
    table : dict
        Model parameter name → :class:`~fitdiff.fitting.models.ParameterInfo`.

    Returns
    -------
    (lmfit.Parameters, dict, dict, dict)
        Parameters (shared ``NAME`` and per-dataset ``NAME__LABEL``), priors by name,
        ``{label: {model name: lmfit name}}``, and the resolved spec of every lmfit name.
    """
    global_fit = len(datasets) > 1 or datasets[0]["label"] != "data"
    params = lmfit.Parameters()
    exprs, priors, resolved = [], {}, {}
    mappings = {d["label"]: {} for d in datasets}
    for name, info in table.items():
        spec = params_raw.get(name, {})
        where = f"parameters.{name}"
        check_keys(spec, PARAM_KEYS, where)
        shared = boolean(spec.get("shared", True), f"{where}.shared")
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
            out, prior, pwhere = param_spec(info, specs)
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
