"""The MODEL.toml schema of the valley model: read, validate, write.

:func:`parse` turns the plain structure of a MODEL.toml (as ``tomllib`` gives it) into the
parts of :mod:`fitdiff.solvers.components`, naming every bad key by its key path;
:func:`validate` checks an assembled model's values (the same messages on construction and in
:meth:`~fitdiff.solvers.model.ValleyModel.with_parameters`); :func:`to_dict` writes the
structure back. :class:`~fitdiff.solvers.model.ValleyModel` exposes these as
``from_dict``/``from_toml``/``to_dict``.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

from ..common import check_keys
from ..errors import ConfigError, ModelError
from .components import Instrument, RenderSettings, Source, Transition, Valley

#: Valley names become parts of parameter names (``rate_KK_KKp_per_ps``), so no underscores.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
#: Keys of a valley's ``diffusivity`` table, passed to ``fitdiff.physics.d_total``.
_DIFFUSIVITY_KEYS = ("xi_eV", "rho_g_cm2", "s_cm_s", "tau_dis_ps", "tau_r_ps", "method")
_NOISE = ("none", "poisson", "camera")
_KINDS = ("streak", "stack")


def _check_keys(d: Any, allowed: tuple[str, ...], where: str) -> None:
    """:func:`fitdiff.common.check_keys` for model tables (a bad type is a model-key error)."""
    if not isinstance(d, dict):
        raise _fail(where, f"must be a table, got {type(d).__name__}")
    check_keys(d, allowed, where, what="model key")


def _fail(key: str, what: str) -> ConfigError:
    return ConfigError(f"model key {key!r}: {what}")


def _number(
    d: dict,
    key: str,
    where: str,
    default: Any = ...,
    *,
    lo: float | None = None,
    lo_open: bool = False,
    allow_inf: bool = False,
) -> Any:
    """Read ``d[key]`` as a float, checking it is finite and above ``lo`` (key path in errors)."""
    path = f"{where}.{key}" if where else key
    if key not in d:
        if default is ...:
            raise _fail(path, "is required")
        return default
    value = d[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(path, f"must be a number, got {value!r}")
    value = float(value)
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise _fail(path, f"must be finite, got {value}")
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise _fail(path, f"must be {'>' if lo_open else '>='} {lo:g}, got {value:g}")
    return value


def _grid(d: dict, key: str, where: str) -> tuple[float, float, int] | None:
    """Read ``[start, stop, count]`` (inclusive, ``count`` points) or None."""
    path = f"{where}.{key}"
    if key not in d:
        return None
    v = d[key]
    if not (isinstance(v, (list, tuple)) and len(v) == 3):
        raise _fail(path, f"must be [start, stop, count], got {v!r}")
    start, stop = (_number({"v": x}, "v", path) for x in v[:2])
    count = v[2]
    if isinstance(count, bool) or not isinstance(count, int) or count < 2:
        raise _fail(path, f"count must be an integer >= 2, got {count!r}")
    if not stop > start:
        raise _fail(path, f"needs stop > start, got {start:g}, {stop:g}")
    return (start, stop, count)


def parse(d: dict) -> dict[str, Any]:
    """Read the MODEL.toml structure into the keyword arguments of ``ValleyModel``.

    The structure is documented by example in ``analyses/simulate_example.toml``; the
    physical checks that need the whole model (transition order, source valley) are
    :func:`validate`'s.

    Raises
    ------
    ConfigError
        For unknown keys (named by key path), missing, non-numeric or unphysical values.
    """
    _check_keys(d, ("T_K", "valley", "transition", "source", "time", "instrument", "render"), "")
    T_K = _number(d, "T_K", "", lo=0.0, lo_open=True)
    raw_valleys = d.get("valley")
    if not isinstance(raw_valleys, list) or not raw_valleys:
        raise _fail("valley", "give at least one [[valley]] table")
    valleys = tuple(_valley_from_dict(v, f"valley[{i}]") for i, v in enumerate(raw_valleys))
    raw_tr = d.get("transition", [])
    if not isinstance(raw_tr, list):
        raise _fail("transition", "must be an array of [[transition]] tables")
    transitions = tuple(_transition_from_dict(t, f"transition[{i}]") for i, t in enumerate(raw_tr))
    src = d.get("source", {})
    _check_keys(src, ("valley", "w0_um", "t0_ps", "pulse_fwhm_ps", "excitons"), "source")
    default_valley = valleys[0].name
    source = Source(
        valley=str(src.get("valley", default_valley)),
        w0_um=_number(src, "w0_um", "source", 0.5, lo=0.0, lo_open=True),
        t0_ps=_number(src, "t0_ps", "source", 0.0),
        pulse_fwhm_ps=_number(src, "pulse_fwhm_ps", "source", 0.0, lo=0.0),
        excitons=_number(src, "excitons", "source", 1.0, lo=0.0, lo_open=True),
    )
    ins = d.get("instrument", {})
    _check_keys(ins, ("w_psf_um", "irf_fwhm_ps"), "instrument")
    instrument = Instrument(
        w_psf_um=_number(ins, "w_psf_um", "instrument", 0.0, lo=0.0),
        irf_fwhm_ps=_number(ins, "irf_fwhm_ps", "instrument", 0.0, lo=0.0),
    )
    tm = d.get("time", {})
    _check_keys(tm, ("t_ps",), "time")
    time_ps = _grid(tm, "t_ps", "time")
    render = _render_from_dict(d.get("render", {}))
    return {
        "T_K": T_K,
        "valleys": valleys,
        "transitions": transitions,
        "source": source,
        "instrument": instrument,
        "time_ps": time_ps,
        "render": render,
    }


def read_toml(path: str | Path) -> dict:
    """Read a MODEL.toml file into its plain structure; errors name the file."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: model file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return data


def to_dict(model) -> dict:
    """Return the MODEL.toml structure of a model (JSON- and TOML-able; ``None`` omitted)."""
    out: dict[str, Any] = {"T_K": model.T_K, "valley": [], "transition": []}
    for v in model.valleys:
        out["valley"].append(_drop_none({f.name: getattr(v, f.name) for f in fields(v)}))
    for t in model.transitions:
        out["transition"].append(
            _drop_none(
                {
                    "from": t.from_,
                    "to": t.to,
                    "rate_per_ps": t.rate_per_ps,
                    "phonon_meV": t.phonon_meV,
                }
            )
        )
    out["source"] = {f.name: getattr(model.source, f.name) for f in fields(model.source)}
    out["instrument"] = {
        f.name: getattr(model.instrument, f.name) for f in fields(model.instrument)
    }
    if model.time_ps is not None:
        out["time"] = {"t_ps": list(model.time_ps)}
    r = _drop_none({f.name: getattr(model.render, f.name) for f in fields(model.render)})
    for key in ("x_um", "y_um"):
        if key in r:
            r[key] = list(r[key])
    if math.isinf(r["slit_um"]):
        del r["slit_um"]  # TOML has inf, JSON does not: omitted means a wide slit
    out["render"] = r
    return out


def validate(model) -> None:
    """Check every value of an assembled model; raise :class:`ModelError` naming the first bad one.

    Used by :class:`~fitdiff.solvers.model.ValleyModel` on construction and, when its quick
    check fails, by :meth:`~fitdiff.solvers.model.ValleyModel.with_parameters` (so both give
    the same messages).
    """
    if not (math.isfinite(model.T_K) and model.T_K > 0):
        raise ModelError(f"T_K must be > 0 K, got {model.T_K}")
    if not model.valleys:
        raise ModelError("the model needs at least one [[valley]]")
    names = [v.name for v in model.valleys]
    for i, v in enumerate(model.valleys):
        where = f"valley[{i}]"
        if not isinstance(v.name, str) or not _NAME.match(v.name):
            raise ModelError(
                f"{where}.name {v.name!r}: use letters and digits only, starting with a letter"
            )
        if names.count(v.name) > 1:
            raise ModelError(f"{where}.name {v.name!r} is used by more than one valley")
        _positive(v.M_m0, f"{where}.M_m0 (valley {v.name})", "m0")
        _positive(v.g, f"{where}.g (valley {v.name})", "")
        _finite(v.E_meV, f"{where}.E_meV (valley {v.name})")
        if v.D_cm2_s is None and v.diffusivity is None:
            raise ModelError(f"{where} (valley {v.name}) needs D_cm2_s or a diffusivity table")
        if v.D_cm2_s is not None:
            _nonneg(v.D_cm2_s, f"{where}.D_cm2_s (valley {v.name})")
        for key in (
            "radiative_rate_per_ps",
            "nonradiative_rate_per_ps",
            "tau_ps",
            "annihilation_cm2_s",
        ):
            _nonneg(getattr(v, key), f"{where}.{key} (valley {v.name})")
        if v.light_cone_meV is not None:
            _positive(v.light_cone_meV, f"{where}.light_cone_meV (valley {v.name})", "meV")
    pairs = set()
    for i, t in enumerate(model.transitions):
        where = f"transition[{i}]"
        for end in (t.from_, t.to):
            if end not in names:
                raise ModelError(f"{where}: unknown valley {end!r}; valleys are {names}")
        if t.from_ == t.to:
            raise ModelError(f"{where}: from and to are both {t.from_!r}")
        pair = frozenset((t.from_, t.to))
        if pair in pairs:
            raise ModelError(f"{where}: a transition between {t.from_} and {t.to} is given twice")
        pairs.add(pair)
        if model.valley(t.from_).E_meV < model.valley(t.to).E_meV:
            raise ModelError(
                f"{where}: rate_per_ps is the downhill rate, so E of 'from' ({t.from_}) must be "
                f">= E of 'to' ({t.to}); swap from and to"
            )
        _nonneg(t.rate_per_ps, f"{where}.rate_per_ps")
        if t.phonon_meV is not None:
            _positive(t.phonon_meV, f"{where}.phonon_meV", "meV")
    s = model.source
    if s.valley not in names:
        raise ModelError(f"source.valley {s.valley!r} is not a valley; valleys are {names}")
    _positive(s.w0_um, "source.w0_um", "µm")
    _finite(s.t0_ps, "source.t0_ps")
    _nonneg(s.pulse_fwhm_ps, "source.pulse_fwhm_ps")
    _positive(s.excitons, "source.excitons", "")
    _nonneg(model.instrument.w_psf_um, "instrument.w_psf_um")
    _nonneg(model.instrument.irf_fwhm_ps, "instrument.irf_fwhm_ps")


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


def _finite(x: float, what: str) -> None:
    if not math.isfinite(x):
        raise ModelError(f"{what} must be finite, got {x}")


def _nonneg(x: float, what: str) -> None:
    if not (math.isfinite(x) and x >= 0):
        raise ModelError(f"{what} must be finite and >= 0, got {x}")


def _positive(x: float, what: str, unit: str) -> None:
    if not (math.isfinite(x) and x > 0):
        raise ModelError(f"{what} must be finite and > 0 {unit}".rstrip() + f", got {x}")


def _valley_from_dict(d: dict, where: str) -> Valley:
    keys = (
        "name",
        "E_meV",
        "M_m0",
        "g",
        "D_cm2_s",
        "diffusivity",
        "radiative_rate_per_ps",
        "light_cone_meV",
        "nonradiative_rate_per_ps",
        "tau_ps",
        "annihilation_cm2_s",
    )
    _check_keys(d, keys, where)
    if "name" not in d:
        raise _fail(f"{where}.name", "is required")
    diffusivity = d.get("diffusivity")
    if diffusivity is not None:
        _check_keys(diffusivity, _DIFFUSIVITY_KEYS, f"{where}.diffusivity")
        for k in ("xi_eV", "rho_g_cm2", "s_cm_s"):
            _number(diffusivity, k, f"{where}.diffusivity", lo=0.0, lo_open=True)
        for k in ("tau_dis_ps", "tau_r_ps"):
            _number(
                diffusivity,
                k,
                f"{where}.diffusivity",
                math.inf,
                lo=0.0,
                lo_open=True,
                allow_inf=True,
            )
        diffusivity = dict(diffusivity)
    D = _number(d, "D_cm2_s", where, None, lo=0.0)
    if D is None and diffusivity is None:
        raise _fail(f"{where}.D_cm2_s", "is required (or give a [valley.diffusivity] table)")
    if D is not None and diffusivity is not None:
        raise _fail(f"{where}.D_cm2_s", "give either D_cm2_s or a diffusivity table, not both")
    return Valley(
        name=str(d["name"]),
        E_meV=_number(d, "E_meV", where, 0.0),
        M_m0=_number(d, "M_m0", where, 0.5, lo=0.0, lo_open=True),
        g=_number(d, "g", where, 1.0, lo=0.0, lo_open=True),
        D_cm2_s=D,
        diffusivity=diffusivity,
        radiative_rate_per_ps=_number(d, "radiative_rate_per_ps", where, 0.0, lo=0.0),
        light_cone_meV=_number(d, "light_cone_meV", where, None, lo=0.0, lo_open=True),
        nonradiative_rate_per_ps=_number(d, "nonradiative_rate_per_ps", where, 0.0, lo=0.0),
        tau_ps=_number(d, "tau_ps", where, 0.0, lo=0.0),
        annihilation_cm2_s=_number(d, "annihilation_cm2_s", where, 0.0, lo=0.0),
    )


def _transition_from_dict(d: dict, where: str) -> Transition:
    _check_keys(d, ("from", "to", "rate_per_ps", "phonon_meV"), where)
    for k in ("from", "to"):
        if k not in d:
            raise _fail(f"{where}.{k}", "is required (a valley name)")
    return Transition(
        from_=str(d["from"]),
        to=str(d["to"]),
        rate_per_ps=_number(d, "rate_per_ps", where, lo=0.0),
        phonon_meV=_number(d, "phonon_meV", where, None, lo=0.0, lo_open=True),
    )


def _render_from_dict(d: dict) -> RenderSettings:
    keys = (
        "kind",
        "x_um",
        "y_um",
        "slit_um",
        "peak_counts",
        "background",
        "noise",
        "gain",
        "read_noise",
        "seed",
    )
    _check_keys(d, keys, "render")
    kind = d.get("kind", "streak")
    if kind not in _KINDS:
        raise _fail("render.kind", f"must be one of {_KINDS}, got {kind!r}")
    noise = d.get("noise", "poisson")
    if noise not in _NOISE:
        raise _fail("render.noise", f"must be one of {_NOISE}, got {noise!r}")
    seed = d.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise _fail("render.seed", f"must be a non-negative integer, got {seed!r}")
    return RenderSettings(
        kind=kind,
        x_um=_grid(d, "x_um", "render") or RenderSettings.x_um,
        y_um=_grid(d, "y_um", "render"),
        slit_um=_number(d, "slit_um", "render", math.inf, lo=0.0, allow_inf=True),
        peak_counts=_number(d, "peak_counts", "render", 1000.0, lo=0.0, lo_open=True),
        background=_number(d, "background", "render", 0.0, lo=0.0),
        noise=noise,
        gain=_number(d, "gain", "render", 1.0, lo=0.0, lo_open=True),
        read_noise=_number(d, "read_noise", "render", 0.0, lo=0.0),
        seed=seed,
    )
