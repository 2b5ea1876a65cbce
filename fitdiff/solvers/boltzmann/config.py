"""The Boltzmann model definition (TOPRUNG.md §9): validated, immutable, with flat parameters.

Built from the MODEL.toml structure as a dict (:meth:`BoltzmannModel.from_dict`); reading the
file is the caller's job (``fitdiff.io.read_model_file``), so this layer touches no file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from ...errors import ConfigError, ModelError
from ..checks import (
    check_table,
    key_error,
    number,
    number_at,
    require_finite,
    require_nonneg,
    require_positive,
    start_stop_count,
)
from ..components import Instrument

_TOP_KEYS = (
    "solver",
    "T_K",
    "valley",
    "channel",
    "phonons",
    "light_cone",
    "grid",
    "source",
    "time",
    "instrument",
    "render",
)
_VALLEY_KEYS = (
    "name",
    "E_meV",
    "M_m0",
    "g",
    "xi_eV",
    "bright",
    "radiative_rate_per_ps",
    "nonradiative_rate_per_ps",
)
_CHANNEL_KEYS = ("from", "to", "n_final", "modes")
_SOURCE_KINDS = ("hot", "thermal")
#: FWHM of a Gaussian in units of its standard deviation.
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


@dataclass(frozen=True)
class BValley:
    """One valley: band minimum, mass, degeneracy and its exciton-LA deformation potential.

    Attributes
    ----------
    name : str
        Valley name (column suffix).
    E_meV : float
        Energy of the valley minimum in meV.
    M_m0 : float
        Exciton mass in m0.
    g : float
        Number of equivalent valleys of this type (equilibrium weight g M e^(−E/kT)).
    xi_eV : float
        Exciton LA deformation potential |Ξc − Ξv| in eV (0: no intravalley scattering).
    bright : bool
        Whether the light-cone states of this valley radiate.
    radiative_rate_per_ps : float
        γ of the light-cone states in 1/ps (bright valleys).
    nonradiative_rate_per_ps : float
        Non-radiative decay rate of every state in 1/ps.
    """

    name: str
    E_meV: float
    M_m0: float
    g: float
    xi_eV: float
    bright: bool = False
    radiative_rate_per_ps: float = 0.0
    nonradiative_rate_per_ps: float = 0.0


@dataclass(frozen=True)
class Channel:
    """Scattering by dispersionless phonons with a constant deformation potential (TOPRUNG.md §2.2).

    ``from_ != to``: intervalley scattering by zone-edge phonons. ``from_ == to``: intravalley
    Γ-point optical phonons (zero-order coupling), the same rate with v' = v and N = 1; like the
    intervalley kernel it is isotropic (R⁽¹⁾ = 0).

    Attributes
    ----------
    from_, to : str
        Valley names; the reverse direction is built with N = g_from n_final / g_to (none for an
        intravalley channel: it is its own reverse).
    n_final : float
        Equivalent final valleys reached from one initial valley (1 for an intravalley channel).
    modes : tuple of (float, float)
        (ħΩ in meV, D in eV/nm) per phonon mode.
    """

    from_: str
    to: str
    n_final: float
    modes: tuple[tuple[float, float], ...]

    @property
    def intravalley(self) -> bool:
        """Whether this is a Γ-point optical channel inside one valley."""
        return self.from_ == self.to


@dataclass(frozen=True)
class BSource:
    """Excitation: valley, kind (``hot`` golden-rule branching or ``thermal``), spot, pulse."""

    valley: str
    kind: str = "hot"
    w0_um: float = 0.3
    t0_ps: float = 0.0
    pulse_fwhm_ps: float = 0.0


@dataclass(frozen=True)
class BoltzmannModel:
    """A validated Boltzmann (top-rung) model, TOPRUNG.md §9.

    Attributes
    ----------
    T_K : float
        Lattice temperature in K.
    valleys : tuple of BValley
    channels : tuple of Channel
    rho_kg_m2 : float
        Areal mass density in kg/m².
    s_m_s : float
        LA sound velocity in m/s.
    k0_per_nm : float
        Light-cone radius in nm⁻¹.
    dQ_over_ks : float
        Shell width in units of k_s = M s/ħ of the (first) bright valley.
    form_factor_aB_nm : float or None
        Exciton form factor F(q)² = [1 + (q a_B/4)²]^(−3) when given (§2.1); None: F = 1.
    source : BSource
    instrument : Instrument
    time_ps : (start, stop, count) or None
    render : dict
        ``[render]`` table passed through to the image writer (validated there).
    """

    T_K: float
    valleys: tuple[BValley, ...]
    channels: tuple[Channel, ...]
    rho_kg_m2: float
    s_m_s: float
    k0_per_nm: float
    source: BSource
    dQ_over_ks: float = 0.5
    form_factor_aB_nm: float | None = None
    instrument: Instrument = field(default_factory=Instrument)
    time_ps: tuple[float, float, int] | None = None
    render: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self._validate()

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        require_positive(self.T_K, "T_K", "K")
        if not self.valleys:
            raise ModelError("a Boltzmann model needs at least one [[valley]]")
        names = [v.name for v in self.valleys]
        if len(set(names)) != len(names):
            raise ModelError(f"valley names must be unique, got {names}")
        for i, v in enumerate(self.valleys):
            where = f"valley[{i}]"
            require_positive(v.M_m0, f"{where}.M_m0 (valley {v.name})", "m0")
            require_positive(v.g, f"{where}.g (valley {v.name})")
            require_finite(v.E_meV, f"{where}.E_meV (valley {v.name})")
            for attr in ("xi_eV", "radiative_rate_per_ps", "nonradiative_rate_per_ps"):
                require_nonneg(getattr(v, attr), f"{where}.{attr} (valley {v.name})")
        if not any(v.bright for v in self.valleys):
            raise ModelError("no valley is bright: set bright = true on the light-cone valley")
        seen = set()
        for i, c in enumerate(self.channels):
            where = f"channel[{i}] ({c.from_}->{c.to})"
            for end in (c.from_, c.to):
                if end not in names:
                    raise ModelError(f"{where}: unknown valley {end!r}; valleys are {names}")
            if c.intravalley and c.n_final != 1:
                # Γ-point phonons keep the exciton in its own valley: one final valley (§2.2)
                raise ModelError(
                    f"{where}: an intravalley (Γ-point optical) channel has n_final = 1, "
                    f"got {c.n_final:g}"
                )
            pair = frozenset((c.from_, c.to))
            if pair in seen:
                raise ModelError(f"{where}: the pair is given twice (the reverse is implied)")
            seen.add(pair)
            require_positive(c.n_final, f"{where}.n_final")
            if not c.modes:
                raise ModelError(f"{where}: modes must list at least one [hw_meV, Div_eV_per_nm]")
            for k, (hw, D) in enumerate(c.modes):
                require_positive(hw, f"{where}.modes[{k}][0] (hw_meV)", "meV")
                require_nonneg(D, f"{where}.modes[{k}][1] (Div_eV_per_nm)")
        for attr, unit in (
            ("rho_kg_m2", "kg/m²"),
            ("s_m_s", "m/s"),
            ("k0_per_nm", "1/nm"),
            ("dQ_over_ks", ""),
        ):
            require_positive(getattr(self, attr), attr, unit)
        if self.form_factor_aB_nm is not None:
            require_positive(self.form_factor_aB_nm, "grid.form_factor_aB_nm", "nm")
        s = self.source
        if s.valley not in names:
            raise ModelError(f"source.valley {s.valley!r} is not a valley; valleys are {names}")
        if s.kind not in _SOURCE_KINDS:
            raise ModelError(f"source.kind {s.kind!r} is not one of {list(_SOURCE_KINDS)}")
        require_positive(s.w0_um, "source.w0_um", "µm")
        require_finite(s.t0_ps, "source.t0_ps")
        require_nonneg(s.pulse_fwhm_ps, "source.pulse_fwhm_ps")
        require_nonneg(self.instrument.w_psf_um, "instrument.w_psf_um")
        require_nonneg(self.instrument.irf_fwhm_ps, "instrument.irf_fwhm_ps")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, d: dict) -> BoltzmannModel:
        """Build the model from the MODEL.toml structure of TOPRUNG.md §9.

        Raises
        ------
        ConfigError
            Unknown keys (named by key path), missing, non-numeric or unphysical values.
        """
        check_table(d, _TOP_KEYS, "")
        if d.get("solver", "boltzmann") != "boltzmann":
            raise key_error("solver", f"must be 'boltzmann' for this model, got {d['solver']!r}")
        T_K = number(d, "T_K", "", lo=0.0, lo_open=True)
        raw = d.get("valley")
        if not isinstance(raw, list) or not raw:
            raise key_error("valley", "give at least one [[valley]] table")
        valleys = tuple(_valley(v, f"valley[{i}]") for i, v in enumerate(raw))
        raw_ch = d.get("channel", [])
        if not isinstance(raw_ch, list):
            raise key_error("channel", "must be an array of [[channel]] tables")
        channels = tuple(_channel(c, f"channel[{i}]") for i, c in enumerate(raw_ch))
        ph = check_table(d.get("phonons", {}), ("rho_kg_m2", "s_m_s"), "phonons")
        lc = check_table(d.get("light_cone", {}), ("k0_per_nm", "E_X_eV"), "light_cone")
        if "k0_per_nm" in lc and "E_X_eV" in lc:
            raise key_error("light_cone", "give k0_per_nm or E_X_eV, not both")
        if "E_X_eV" in lc:
            from .rates import k0_from_photon_energy

            k0 = k0_from_photon_energy(number(lc, "E_X_eV", "light_cone", lo=0.0, lo_open=True))
        else:
            k0 = number(lc, "k0_per_nm", "light_cone", lo=0.0, lo_open=True)
        gr = check_table(d.get("grid", {}), ("dQ_over_ks", "form_factor_aB_nm"), "grid")
        src = check_table(
            d.get("source", {}), ("valley", "kind", "w0_um", "t0_ps", "pulse_fwhm_ps"), "source"
        )
        bright = [v.name for v in valleys if v.bright]
        source = BSource(
            valley=str(src.get("valley", bright[0] if bright else valleys[0].name)),
            kind=str(src.get("kind", "hot")),
            w0_um=number(src, "w0_um", "source", 0.3, lo=0.0, lo_open=True),
            t0_ps=number(src, "t0_ps", "source", 0.0),
            pulse_fwhm_ps=number(src, "pulse_fwhm_ps", "source", 0.0, lo=0.0),
        )
        ins = check_table(d.get("instrument", {}), ("w_psf_um", "irf_fwhm_ps"), "instrument")
        instrument = Instrument(
            w_psf_um=number(ins, "w_psf_um", "instrument", 0.0, lo=0.0),
            irf_fwhm_ps=number(ins, "irf_fwhm_ps", "instrument", 0.0, lo=0.0),
        )
        tm = check_table(d.get("time", {}), ("t_ps",), "time")
        time_ps = start_stop_count(tm, "t_ps", "time")
        render = d.get("render", {})
        if not isinstance(render, dict):
            raise key_error("render", "must be a table")
        try:
            return cls(
                T_K=T_K,
                valleys=valleys,
                channels=channels,
                rho_kg_m2=number(ph, "rho_kg_m2", "phonons", lo=0.0, lo_open=True),
                s_m_s=number(ph, "s_m_s", "phonons", lo=0.0, lo_open=True),
                k0_per_nm=k0,
                source=source,
                dQ_over_ks=number(gr, "dQ_over_ks", "grid", 0.5, lo=0.0, lo_open=True),
                form_factor_aB_nm=number(
                    gr, "form_factor_aB_nm", "grid", None, lo=0.0, lo_open=True
                ),
                instrument=instrument,
                time_ps=time_ps,
                render=dict(render),
            )
        except ModelError as exc:  # from a configuration, an unphysical value is a config error
            raise ConfigError(str(exc)) from None

    def to_dict(self) -> dict:
        """The MODEL.toml structure (JSON- and TOML-able)."""
        out: dict[str, Any] = {"solver": "boltzmann", "T_K": self.T_K, "valley": []}
        for v in self.valleys:
            out["valley"].append({f.name: getattr(v, f.name) for f in fields(v)})
        out["channel"] = [
            {"from": c.from_, "to": c.to, "n_final": c.n_final, "modes": [list(m) for m in c.modes]}
            for c in self.channels
        ]
        out["phonons"] = {"rho_kg_m2": self.rho_kg_m2, "s_m_s": self.s_m_s}
        out["light_cone"] = {"k0_per_nm": self.k0_per_nm}
        out["grid"] = {"dQ_over_ks": self.dQ_over_ks}
        if self.form_factor_aB_nm is not None:
            out["grid"]["form_factor_aB_nm"] = self.form_factor_aB_nm
        out["source"] = {f.name: getattr(self.source, f.name) for f in fields(self.source)}
        out["instrument"] = {
            f.name: getattr(self.instrument, f.name) for f in fields(self.instrument)
        }
        if self.time_ps is not None:
            out["time"] = {"t_ps": list(self.time_ps)}
        if self.render:
            out["render"] = dict(self.render)
        return out

    # ------------------------------------------------------------------ flat parameters
    def _div_names(self) -> list[tuple[str, int, int | None]]:
        """(name, channel index, mode index or None for 'all modes') of the D_iv parameters."""
        out = []
        for ci, c in enumerate(self.channels):
            Ds = {D for _, D in c.modes}
            if len(Ds) == 1:
                out.append((f"Div_{c.from_}_{c.to}_eV_per_nm", ci, None))
            else:
                for mi in range(len(c.modes)):
                    out.append((f"Div_{c.from_}_{c.to}_m{mi}_eV_per_nm", ci, mi))
        return out

    def parameter_values(self) -> dict[str, float]:
        """Flat parameter names (units in every name, TOPRUNG.md §9) and their values."""
        out: dict[str, float] = {"T_K": self.T_K}
        for v in self.valleys:
            n = v.name
            out[f"xi_eV_{n}"] = v.xi_eV
            out[f"M_{n}_m0"] = v.M_m0
            out[f"E_{n}_meV"] = v.E_meV
            if v.bright:
                out[f"krad_{n}_per_ps"] = v.radiative_rate_per_ps
            out[f"knr_{n}_per_ps"] = v.nonradiative_rate_per_ps
        for name, ci, mi in self._div_names():
            out[name] = self.channels[ci].modes[0 if mi is None else mi][1]
        out.update(
            rho_kg_m2=self.rho_kg_m2,
            s_m_s=self.s_m_s,
            k0_per_nm=self.k0_per_nm,
            w0_um=self.source.w0_um,
            t0_ps=self.source.t0_ps,
            pulse_fwhm_ps=self.source.pulse_fwhm_ps,
            w_psf_um=self.instrument.w_psf_um,
            irf_fwhm_ps=self.instrument.irf_fwhm_ps,
        )
        return out

    def parameter_names(self) -> list[str]:
        """Names accepted by :meth:`with_parameters`."""
        return list(self.parameter_values())

    def with_parameters(self, **values: float) -> BoltzmannModel:
        """A copy with flat parameters changed (ModelError names an unknown one)."""
        known = self.parameter_values()
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ModelError(
                f"unknown Boltzmann-model parameter(s) {unknown}; known: {list(known)}"
            )
        valleys = list(self.valleys)
        for i, v in enumerate(valleys):
            n = v.name
            changes = {}
            for key, attr in (
                (f"xi_eV_{n}", "xi_eV"),
                (f"M_{n}_m0", "M_m0"),
                (f"E_{n}_meV", "E_meV"),
                (f"krad_{n}_per_ps", "radiative_rate_per_ps"),
                (f"knr_{n}_per_ps", "nonradiative_rate_per_ps"),
            ):
                if key in values:
                    changes[attr] = float(values[key])
            if changes:
                valleys[i] = replace(v, **changes)
        channels = list(self.channels)
        for name, ci, mi in self._div_names():
            if name in values:
                c = channels[ci]
                D = float(values[name])
                modes = tuple(
                    (hw, D) if mi is None or k == mi else (hw, Dk)
                    for k, (hw, Dk) in enumerate(c.modes)
                )
                channels[ci] = replace(c, modes=modes)
        source = self.source
        s_changes = {
            k: float(values[k]) for k in ("w0_um", "t0_ps", "pulse_fwhm_ps") if k in values
        }
        if s_changes:
            source = replace(source, **s_changes)
        instrument = self.instrument
        i_changes = {k: float(values[k]) for k in ("w_psf_um", "irf_fwhm_ps") if k in values}
        if i_changes:
            instrument = replace(instrument, **i_changes)
        top = {
            k: float(values[k]) for k in ("T_K", "rho_kg_m2", "s_m_s", "k0_per_nm") if k in values
        }
        return replace(
            self,
            valleys=tuple(valleys),
            channels=tuple(channels),
            source=source,
            instrument=instrument,
            **top,
        )

    # ------------------------------------------------------------------ helpers
    @property
    def names(self) -> list[str]:
        """Valley names in order."""
        return [v.name for v in self.valleys]

    def index(self, name: str) -> int:
        """Position of valley ``name``."""
        return self.names.index(name)

    @property
    def bright_index(self) -> int:
        """The first bright valley: its k_s sets the shell width (TOPRUNG.md §6)."""
        return next(i for i, v in enumerate(self.valleys) if v.bright)

    @property
    def sigma_ps(self) -> float:
        """Standard deviation of pulse ⊛ IRF in ps (0: delta)."""
        return math.hypot(self.source.pulse_fwhm_ps, self.instrument.irf_fwhm_ps) / FWHM_PER_SIGMA

    def time_grid_ps(self) -> np.ndarray:
        """The ``[time] t_ps`` grid (ConfigError when the model has none)."""
        if self.time_ps is None:
            raise ConfigError("model has no [time] t_ps = [start, stop, count]")
        start, stop, count = self.time_ps
        return np.linspace(start, stop, count)


def _valley(d: Any, where: str) -> BValley:
    check_table(d, _VALLEY_KEYS, where)
    if "name" not in d or not isinstance(d["name"], str) or not d["name"].isidentifier():
        raise key_error(f"{where}.name", "is required: a name made of letters, digits and _")
    if "g" not in d:
        # PHYSICS.md §3.5: the degeneracy enters the equilibrium weights; it must be stated
        raise key_error(f"{where}.g", "is required: state the valley degeneracy (e.g. 2 for KK)")
    bright = d.get("bright", False)
    if not isinstance(bright, bool):
        raise key_error(f"{where}.bright", f"must be true or false, got {bright!r}")
    return BValley(
        name=d["name"],
        E_meV=number(d, "E_meV", where),
        M_m0=number(d, "M_m0", where, lo=0.0, lo_open=True),
        g=number(d, "g", where, lo=0.0, lo_open=True),
        xi_eV=number(d, "xi_eV", where, lo=0.0),
        bright=bright,
        radiative_rate_per_ps=number(d, "radiative_rate_per_ps", where, 0.0, lo=0.0),
        nonradiative_rate_per_ps=number(d, "nonradiative_rate_per_ps", where, 0.0, lo=0.0),
    )


def _channel(d: Any, where: str) -> Channel:
    check_table(d, _CHANNEL_KEYS, where)
    for key in ("from", "to"):
        if not isinstance(d.get(key), str):
            raise key_error(f"{where}.{key}", "is required: a valley name")
    modes = d.get("modes")
    if not isinstance(modes, list) or not modes:
        raise key_error(f"{where}.modes", "give [[hw_meV, Div_eV_per_nm], ...] (at least one mode)")
    parsed = []
    for k, m in enumerate(modes):
        if not (isinstance(m, list) and len(m) == 2):
            raise key_error(f"{where}.modes[{k}]", f"must be [hw_meV, Div_eV_per_nm], got {m!r}")
        hw = number_at(m[0], f"{where}.modes[{k}][0] (hw_meV)", lo=0.0, lo_open=True)
        D = number_at(m[1], f"{where}.modes[{k}][1] (Div_eV_per_nm)", lo=0.0)
        parsed.append((hw, D))
    n_final = number(d, "n_final", where, 1.0, lo=0.0, lo_open=True)
    if d["from"] == d["to"] and n_final != 1.0:
        raise key_error(
            f"{where}.n_final",
            f"from == to is an intravalley (Γ-point optical) channel: n_final is 1, got {n_final:g}",
        )
    return Channel(
        from_=d["from"],
        to=d["to"],
        n_final=n_final,
        modes=tuple(parsed),
    )
