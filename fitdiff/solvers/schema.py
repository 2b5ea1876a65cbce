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

from ..errors import ConfigError, ModelError
from .checks import (
    check_table,
    key_error,
    number,
    require_finite,
    require_nonneg,
    require_positive,
    start_stop_count,
)
from .components import Instrument, RenderSettings, Source, Transition, Valley

#: Valley names become parts of parameter names (``rate_KK_KKp_per_ps``), so no underscores.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
#: Keys of a valley's ``diffusivity`` table, passed to ``fitdiff.physics.d_total``.
_DIFFUSIVITY_KEYS = ("xi_eV", "rho_g_cm2", "s_cm_s", "tau_dis_ps", "tau_r_ps", "method")
_NOISE = ("none", "poisson", "camera")
_KINDS = ("streak", "stack")


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
    check_table(d, ("T_K", "valley", "transition", "source", "time", "instrument", "render"), "")
    T_K = number(d, "T_K", "", lo=0.0, lo_open=True)
    raw_valleys = d.get("valley")
    if not isinstance(raw_valleys, list) or not raw_valleys:
        raise key_error("valley", "give at least one [[valley]] table")
    valleys = tuple(_valley_from_dict(v, f"valley[{i}]") for i, v in enumerate(raw_valleys))
    raw_tr = d.get("transition", [])
    if not isinstance(raw_tr, list):
        raise key_error("transition", "must be an array of [[transition]] tables")
    transitions = tuple(_transition_from_dict(t, f"transition[{i}]") for i, t in enumerate(raw_tr))
    src = d.get("source", {})
    check_table(src, ("valley", "w0_um", "t0_ps", "pulse_fwhm_ps", "excitons"), "source")
    default_valley = valleys[0].name
    source = Source(
        valley=str(src.get("valley", default_valley)),
        w0_um=number(src, "w0_um", "source", 0.5, lo=0.0, lo_open=True),
        t0_ps=number(src, "t0_ps", "source", 0.0),
        pulse_fwhm_ps=number(src, "pulse_fwhm_ps", "source", 0.0, lo=0.0),
        excitons=number(src, "excitons", "source", 1.0, lo=0.0, lo_open=True),
    )
    ins = d.get("instrument", {})
    check_table(ins, ("w_psf_um", "irf_fwhm_ps"), "instrument")
    instrument = Instrument(
        w_psf_um=number(ins, "w_psf_um", "instrument", 0.0, lo=0.0),
        irf_fwhm_ps=number(ins, "irf_fwhm_ps", "instrument", 0.0, lo=0.0),
    )
    tm = d.get("time", {})
    check_table(tm, ("t_ps",), "time")
    time_ps = start_stop_count(tm, "t_ps", "time")
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
        d = _drop_none({f.name: getattr(v, f.name) for f in fields(v)})
        if "D_tensor_cm2_s" in d:  # written back as MODEL.toml has it
            d["D_cm2_s"] = list(d.pop("D_tensor_cm2_s"))
        out["valley"].append(d)
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
        require_positive(v.M_m0, f"{where}.M_m0 (valley {v.name})", "m0")
        require_positive(v.g, f"{where}.g (valley {v.name})", "")
        require_finite(v.E_meV, f"{where}.E_meV (valley {v.name})")
        if v.D_cm2_s is None and v.diffusivity is None:
            raise ModelError(f"{where} (valley {v.name}) needs D_cm2_s or a diffusivity table")
        if v.D_cm2_s is not None:
            require_nonneg(v.D_cm2_s, f"{where}.D_cm2_s (valley {v.name})")
        for key in (
            "radiative_rate_per_ps",
            "nonradiative_rate_per_ps",
            "tau_ps",
            "annihilation_cm2_s",
        ):
            require_nonneg(getattr(v, key), f"{where}.{key} (valley {v.name})")
        if v.light_cone_meV is not None:
            require_positive(v.light_cone_meV, f"{where}.light_cone_meV (valley {v.name})", "meV")
        if v.D_tensor_cm2_s is not None:
            _check_tensor(v, where, len(model.valleys))
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
        require_nonneg(t.rate_per_ps, f"{where}.rate_per_ps")
        if t.phonon_meV is not None:
            require_positive(t.phonon_meV, f"{where}.phonon_meV", "meV")
    s = model.source
    if s.valley not in names:
        raise ModelError(f"source.valley {s.valley!r} is not a valley; valleys are {names}")
    require_positive(s.w0_um, "source.w0_um", "µm")
    require_finite(s.t0_ps, "source.t0_ps")
    require_nonneg(s.pulse_fwhm_ps, "source.pulse_fwhm_ps")
    require_positive(s.excitons, "source.excitons", "")
    require_nonneg(model.instrument.w_psf_um, "instrument.w_psf_um")
    require_nonneg(model.instrument.irf_fwhm_ps, "instrument.irf_fwhm_ps")


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


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
    check_table(d, keys, where)
    if "name" not in d:
        raise key_error(f"{where}.name", "is required")
    diffusivity = d.get("diffusivity")
    if diffusivity is not None:
        check_table(diffusivity, _DIFFUSIVITY_KEYS, f"{where}.diffusivity")
        for k in ("xi_eV", "rho_g_cm2", "s_cm_s"):
            number(diffusivity, k, f"{where}.diffusivity", lo=0.0, lo_open=True)
        for k in ("tau_dis_ps", "tau_r_ps"):
            number(
                diffusivity,
                k,
                f"{where}.diffusivity",
                math.inf,
                lo=0.0,
                lo_open=True,
                allow_inf=True,
            )
        diffusivity = dict(diffusivity)
    tensor = None
    if isinstance(d.get("D_cm2_s"), list):
        tensor = _tensor_from_list(d["D_cm2_s"], f"{where}.D_cm2_s")
        d = {**d, "D_cm2_s": 0.5 * (tensor[0] + tensor[1])}
    D = number(d, "D_cm2_s", where, None, lo=0.0)
    if D is None and diffusivity is None:
        raise key_error(f"{where}.D_cm2_s", "is required (or give a [valley.diffusivity] table)")
    if D is not None and diffusivity is not None:
        raise key_error(f"{where}.D_cm2_s", "give either D_cm2_s or a diffusivity table, not both")
    return Valley(
        name=str(d["name"]),
        E_meV=number(d, "E_meV", where, 0.0),
        M_m0=number(d, "M_m0", where, 0.5, lo=0.0, lo_open=True),
        g=number(d, "g", where, 1.0, lo=0.0, lo_open=True),
        D_cm2_s=D,
        diffusivity=diffusivity,
        radiative_rate_per_ps=number(d, "radiative_rate_per_ps", where, 0.0, lo=0.0),
        light_cone_meV=number(d, "light_cone_meV", where, None, lo=0.0, lo_open=True),
        nonradiative_rate_per_ps=number(d, "nonradiative_rate_per_ps", where, 0.0, lo=0.0),
        tau_ps=number(d, "tau_ps", where, 0.0, lo=0.0),
        annihilation_cm2_s=number(d, "annihilation_cm2_s", where, 0.0, lo=0.0),
        D_tensor_cm2_s=tensor,
    )


def _tensor_from_list(value: list, where: str) -> tuple[float, float, float]:
    """``[Dxx, Dyy, Dxy]`` in cm²/s, checked to be a positive semi-definite tensor."""
    if len(value) != 3 or any(
        isinstance(v, bool) or not isinstance(v, (int, float)) for v in value
    ):
        raise key_error(where, f"must be a number or [Dxx, Dyy, Dxy] (cm²/s), got {value!r}")
    dxx, dyy, dxy = (float(v) for v in value)
    if not all(math.isfinite(v) for v in (dxx, dyy, dxy)):
        raise key_error(where, f"must be finite, got {value!r}")
    if dxx < 0 or dyy < 0 or dxy * dxy > dxx * dyy:
        raise key_error(
            where,
            f"[Dxx, Dyy, Dxy] = {value!r} is not a diffusion tensor: need Dxx >= 0, Dyy >= 0 "
            "and Dxy² <= Dxx Dyy",
        )
    return (dxx, dyy, dxy)


def _check_tensor(v: Valley, where: str, n_valleys: int) -> None:
    """A tensor D is rendered exactly only for one purely diffusive, linear valley."""
    why = None
    if n_valleys > 1:
        why = "the model has several valleys"
    elif v.tau_ps > 0:
        why = "tau_ps > 0 (ballistic start)"
    elif v.annihilation_cm2_s > 0:
        why = "annihilation_cm2_s > 0"
    if why:
        raise ModelError(
            f"{where}.D_cm2_s (valley {v.name}): a tensor [Dxx, Dyy, Dxy] needs a single "
            f"diffusive valley without annihilation; {why}"
        )


def _transition_from_dict(d: dict, where: str) -> Transition:
    check_table(d, ("from", "to", "rate_per_ps", "phonon_meV"), where)
    for k in ("from", "to"):
        if k not in d:
            raise key_error(f"{where}.{k}", "is required (a valley name)")
    return Transition(
        from_=str(d["from"]),
        to=str(d["to"]),
        rate_per_ps=number(d, "rate_per_ps", where, lo=0.0),
        phonon_meV=number(d, "phonon_meV", where, None, lo=0.0, lo_open=True),
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
    check_table(d, keys, "render")
    kind = d.get("kind", "streak")
    if kind not in _KINDS:
        raise key_error("render.kind", f"must be one of {_KINDS}, got {kind!r}")
    noise = d.get("noise", "poisson")
    if noise not in _NOISE:
        raise key_error("render.noise", f"must be one of {_NOISE}, got {noise!r}")
    seed = d.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise key_error("render.seed", f"must be a non-negative integer, got {seed!r}")
    return RenderSettings(
        kind=kind,
        x_um=start_stop_count(d, "x_um", "render") or RenderSettings.x_um,
        y_um=start_stop_count(d, "y_um", "render"),
        slit_um=number(d, "slit_um", "render", math.inf, lo=0.0, allow_inf=True),
        peak_counts=number(d, "peak_counts", "render", 1000.0, lo=0.0, lo_open=True),
        background=number(d, "background", "render", 0.0, lo=0.0),
        noise=noise,
        gain=number(d, "gain", "render", 1.0, lo=0.0, lo_open=True),
        read_noise=number(d, "read_noise", "render", 0.0, lo=0.0),
        seed=seed,
    )
