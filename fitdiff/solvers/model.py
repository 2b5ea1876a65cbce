"""The multivalley model definition: valleys, transitions, source, instrument, grids.

One validated, immutable :class:`ValleyModel` is the single description every solver reads
(PHYSICS.md §3.1-3.3). It is built from the MODEL.toml schema of ``fitdiff simulate``
(:meth:`ValleyModel.from_dict` / :meth:`ValleyModel.from_toml`), round-trips through
:meth:`ValleyModel.to_dict`, and exposes flat, unit-carrying parameter names for fitting
(:meth:`ValleyModel.parameter_names`, :meth:`ValleyModel.with_parameters`).

Rates are in 1/ps, energies in meV, lengths in µm, diffusion coefficients in cm²/s at the
user's side (converted to µm²/ps only inside the solvers).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from ..errors import ConfigError, ModelError
from ..units import KB_MEV_PER_K, UM2_PS_PER_CM2_S

#: Valley names become parts of parameter names (``rate_KK_KKp_per_ps``), so no underscores.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
#: Gaussian FWHM = this factor times sigma.
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
#: Keys of a valley's ``diffusivity`` table, passed to ``fitdiff.physics.d_total``.
_DIFFUSIVITY_KEYS = ("xi_eV", "rho_g_cm2", "s_cm_s", "tau_dis_ps", "tau_r_ps", "method")
_NOISE = ("none", "poisson", "camera")
_KINDS = ("streak", "stack")


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


def _check_keys(d: Any, allowed: tuple[str, ...], where: str) -> None:
    if not isinstance(d, dict):
        raise _fail(where, f"must be a table, got {type(d).__name__}")
    unknown = sorted(set(d) - set(allowed))
    if unknown:
        paths = ", ".join(f"{where}.{k}" if where else k for k in unknown)
        raise ConfigError(f"unknown model key(s) {paths}; allowed here: {', '.join(allowed)}")


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


@dataclass(frozen=True)
class Valley:
    """One exciton valley (internal state) of the model.

    Attributes
    ----------
    name : str
        Identifier (letters and digits; ``KKp`` for KK').
    E_meV : float
        Energy of the valley minimum in meV (any common zero).
    M_m0 : float
        Translational mass in units of m0 (enters detailed balance and the D(T) model).
    g : float
        Degeneracy (enters detailed balance through the density of states g·M).
    D_cm2_s : float or None
        Diffusion coefficient in cm²/s; None when ``diffusivity`` computes it. For a tensor
        this is the isotropic-equivalent ½ tr D, which the moment solvers use (w² = tr Σ).
    D_tensor_cm2_s : (float, float, float) or None
        (Dxx, Dyy, Dxy) in cm²/s of an anisotropic valley, given in MODEL.toml as
        ``D_cm2_s = [Dxx, Dyy, Dxy]`` (single diffusive valley only): the density spreads as
        Σ(t) = Σ0 + 2 D t, Σ its spatial covariance (PHYSICS.md §1 with σ² per axis = w²/2).
    diffusivity : dict or None
        Keyword arguments of ``fitdiff.physics.d_total`` (``xi_eV``, ``rho_g_cm2``, ``s_cm_s``,
        optional ``tau_dis_ps``, ``tau_r_ps``, ``method``); the valley's mass and ``T_K`` are
        added. Used only when ``D_cm2_s`` is None.
    radiative_rate_per_ps : float
        Radiative rate γ0 in 1/ps (0 = dark valley).
    light_cone_meV : float or None
        Light-cone energy E_lc in meV; when given the effective radiative rate is
        γ0 (1 − exp(−E_lc / kB T)) (PHYSICS.md §3.1), else γ0 itself.
    nonradiative_rate_per_ps : float
        Non-radiative decay rate in 1/ps.
    tau_ps : float
        Momentum relaxation time in ps for the ballistic start (§3.2); 0 = purely diffusive.
    annihilation_cm2_s : float
        Exciton-exciton annihilation coefficient R_A in cm²/s (−R_A N² in this valley).
    """

    name: str
    E_meV: float = 0.0
    M_m0: float = 0.5
    g: float = 1.0
    D_cm2_s: float | None = 1.0
    diffusivity: dict | None = None
    radiative_rate_per_ps: float = 0.0
    light_cone_meV: float | None = None
    nonradiative_rate_per_ps: float = 0.0
    tau_ps: float = 0.0
    annihilation_cm2_s: float = 0.0
    D_tensor_cm2_s: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class Transition:
    """A pair of valleys exchanging excitons; ``rate_per_ps`` is the downhill rate from→to.

    Attributes
    ----------
    from_ : str
        Upper valley (``E_from >= E_to``).
    to : str
        Lower valley.
    rate_per_ps : float
        Downhill rate Γ0 in 1/ps; the uphill rate follows from detailed balance (§3.1).
    phonon_meV : float or None
        Phonon energy ħΩ in meV; when given the downhill rate is Γ0 [n_B(ħΩ, T) + 1].
    """

    from_: str
    to: str
    rate_per_ps: float
    phonon_meV: float | None = None


@dataclass(frozen=True)
class Source:
    """The excitation: a Gaussian spot exp(−r²/w0²)/(π w0²) times a Gaussian (or delta) pulse.

    Attributes
    ----------
    valley : str
        Valley the excitons are created in.
    w0_um : float
        Initial width in µm (w0² = ⟨r²⟩ of the spot).
    t0_ps : float
        Pulse centre in ps.
    pulse_fwhm_ps : float
        Pulse FWHM in ps (0 = delta pulse).
    excitons : float
        Total number of excitons created; matters only with annihilation (densities in µm⁻²).
    """

    valley: str
    w0_um: float = 0.5
    t0_ps: float = 0.0
    pulse_fwhm_ps: float = 0.0
    excitons: float = 1.0


@dataclass(frozen=True)
class Instrument:
    """Instrument response: Gaussian PSF of squared width w_psf² (µm²) and Gaussian IRF (ps)."""

    w_psf_um: float = 0.0
    irf_fwhm_ps: float = 0.0


@dataclass(frozen=True)
class RenderSettings:
    """How ``render_streak`` / ``render_stack`` turn PL(r, t) into counts.

    Attributes
    ----------
    kind : str
        ``"streak"`` (dims t, x) or ``"stack"`` (dims t, y, x).
    x_um, y_um : tuple (start, stop, count)
        Pixel-centre grids in µm (``y_um`` for stacks; defaults to ``x_um``).
    slit_um : float
        Streak entrance slit width in µm at the sample; ``inf`` = wide slit (projection ∫dy,
        exact for second moments, §1), 0 = narrow cut N(x, 0).
    peak_counts : float
        Expected counts at the brightest pixel before background and noise.
    background : float
        Constant expected background counts per pixel.
    noise : str
        ``"none"``, ``"poisson"`` (photon counting) or ``"camera"`` (gain · Poisson + read noise).
    gain, read_noise : float
        Camera gain (counts per photoelectron) and read noise (counts rms) for ``"camera"``.
    seed : int or None
        Seed of the noise generator.
    """

    kind: str = "streak"
    x_um: tuple[float, float, int] = (-5.0, 5.0, 101)
    y_um: tuple[float, float, int] | None = None
    slit_um: float = math.inf
    peak_counts: float = 1000.0
    background: float = 0.0
    noise: str = "poisson"
    gain: float = 1.0
    read_noise: float = 0.0
    seed: int | None = None


@dataclass(frozen=True)
class ValleyModel:
    """A validated multivalley bright/dark transport model (PHYSICS.md §3.1-3.3).

    Build with :meth:`from_dict` or :meth:`from_toml`; change parameters with
    :meth:`with_parameters`. All attributes are immutable so a model can be shared between
    threads and hashed into run caches through :meth:`to_dict`.
    """

    T_K: float
    valleys: tuple[Valley, ...]
    transitions: tuple[Transition, ...]
    source: Source
    instrument: Instrument = field(default_factory=Instrument)
    time_ps: tuple[float, float, int] | None = None
    render: RenderSettings = field(default_factory=RenderSettings)

    def __post_init__(self) -> None:
        self._validate()

    # ---------------------------------------------------------------- validation
    def _validate(self) -> None:
        if not (math.isfinite(self.T_K) and self.T_K > 0):
            raise ModelError(f"T_K must be > 0 K, got {self.T_K}")
        if not self.valleys:
            raise ModelError("the model needs at least one [[valley]]")
        names = [v.name for v in self.valleys]
        for i, v in enumerate(self.valleys):
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
            if v.D_tensor_cm2_s is not None:
                _check_tensor(v, where, len(self.valleys))
        pairs = set()
        for i, t in enumerate(self.transitions):
            where = f"transition[{i}]"
            for end in (t.from_, t.to):
                if end not in names:
                    raise ModelError(f"{where}: unknown valley {end!r}; valleys are {names}")
            if t.from_ == t.to:
                raise ModelError(f"{where}: from and to are both {t.from_!r}")
            pair = frozenset((t.from_, t.to))
            if pair in pairs:
                raise ModelError(
                    f"{where}: a transition between {t.from_} and {t.to} is given twice"
                )
            pairs.add(pair)
            if self.valley(t.from_).E_meV < self.valley(t.to).E_meV:
                raise ModelError(
                    f"{where}: rate_per_ps is the downhill rate, so E of 'from' ({t.from_}) must be "
                    f">= E of 'to' ({t.to}); swap from and to"
                )
            _nonneg(t.rate_per_ps, f"{where}.rate_per_ps")
            if t.phonon_meV is not None:
                _positive(t.phonon_meV, f"{where}.phonon_meV", "meV")
        s = self.source
        if s.valley not in names:
            raise ModelError(f"source.valley {s.valley!r} is not a valley; valleys are {names}")
        _positive(s.w0_um, "source.w0_um", "µm")
        _finite(s.t0_ps, "source.t0_ps")
        _nonneg(s.pulse_fwhm_ps, "source.pulse_fwhm_ps")
        _positive(s.excitons, "source.excitons", "")
        _nonneg(self.instrument.w_psf_um, "instrument.w_psf_um")
        _nonneg(self.instrument.irf_fwhm_ps, "instrument.irf_fwhm_ps")

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_dict(cls, d: dict) -> ValleyModel:
        """Build a model from the MODEL.toml structure (see ``analyses/simulate_example.toml``).

        Raises
        ------
        ConfigError
            For unknown keys (named by key path), missing, non-numeric or unphysical values.
        """
        _check_keys(
            d, ("T_K", "valley", "transition", "source", "time", "instrument", "render"), ""
        )
        T_K = _number(d, "T_K", "", lo=0.0, lo_open=True)
        raw_valleys = d.get("valley")
        if not isinstance(raw_valleys, list) or not raw_valleys:
            raise _fail("valley", "give at least one [[valley]] table")
        valleys = tuple(_valley_from_dict(v, f"valley[{i}]") for i, v in enumerate(raw_valleys))
        raw_tr = d.get("transition", [])
        if not isinstance(raw_tr, list):
            raise _fail("transition", "must be an array of [[transition]] tables")
        transitions = tuple(
            _transition_from_dict(t, f"transition[{i}]") for i, t in enumerate(raw_tr)
        )
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
        try:
            return cls(T_K, valleys, transitions, source, instrument, time_ps, render)
        except ModelError as exc:  # from a configuration, an unphysical value is a config error
            raise ConfigError(str(exc)) from None

    @classmethod
    def from_toml(cls, path: str | Path) -> ValleyModel:
        """Read a MODEL.toml file; errors name the file."""
        path = Path(path)
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"{path}: model file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def to_dict(self) -> dict:
        """Return the MODEL.toml structure (JSON- and TOML-able; ``None`` values omitted)."""
        out: dict[str, Any] = {"T_K": self.T_K, "valley": [], "transition": []}
        for v in self.valleys:
            d = _drop_none({f.name: getattr(v, f.name) for f in fields(v)})
            if "D_tensor_cm2_s" in d:  # written back as MODEL.toml has it
                d["D_cm2_s"] = list(d.pop("D_tensor_cm2_s"))
            out["valley"].append(d)
        for t in self.transitions:
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
        out["source"] = {f.name: getattr(self.source, f.name) for f in fields(self.source)}
        out["instrument"] = {
            f.name: getattr(self.instrument, f.name) for f in fields(self.instrument)
        }
        if self.time_ps is not None:
            out["time"] = {"t_ps": list(self.time_ps)}
        r = _drop_none({f.name: getattr(self.render, f.name) for f in fields(self.render)})
        for key in ("x_um", "y_um"):
            if key in r:
                r[key] = list(r[key])
        if math.isinf(r["slit_um"]):
            del r["slit_um"]  # TOML has inf, JSON does not: omitted means a wide slit
        out["render"] = r
        return out

    # ---------------------------------------------------------------- flat parameters
    def parameter_names(self) -> list[str]:
        """Flat names accepted by :meth:`with_parameters` (units in every name)."""
        names = []
        for v in self.valleys:
            n = v.name
            names += [
                f"D_{n}_cm2_s",
                f"E_{n}_meV",
                f"krad_{n}_per_ps",
                f"knr_{n}_per_ps",
                f"tau_{n}_ps",
            ]
        names += [f"rate_{t.from_}_{t.to}_per_ps" for t in self.transitions]
        names += ["w0_um", "t0_ps", "pulse_fwhm_ps", "w_psf_um", "irf_fwhm_ps", "T_K"]
        return names

    def with_parameters(self, **values: float) -> ValleyModel:
        """Return a copy with the named flat parameters replaced (see :meth:`parameter_names`).

        Setting ``D_<valley>_cm2_s`` fixes that valley's D (dropping a ``diffusivity`` table).

        Raises
        ------
        ConfigError
            For a name the model does not have (the message lists the valid ones).
        ModelError
            For an unphysical value (the same message as constructing the model).
        """
        # Fits call this per likelihood evaluation: the name lookup is a cached table and the
        # copies bypass dataclass __init__; the structure (names, transitions) cannot change,
        # so only the values are checked (in full, with the usual messages, if a quick
        # check fails).
        slots = self._structure()["slots"]
        valleys = list(self.valleys)
        tlist = list(self.transitions)
        src, ins, T_K = self.source, self.instrument, self.T_K
        for name, value in values.items():
            value = float(value)
            slot = slots.get(name)
            if slot is None:
                raise ConfigError(
                    f"unknown model parameter {name!r}; known: {', '.join(self.parameter_names())}"
                )
            kind, i, attr = slot
            if kind == "valley":
                extra = {"diffusivity": None} if attr == "D_cm2_s" else {}
                valleys[i] = _copy_with(valleys[i], {attr: value, **extra})
            elif kind == "transition":
                tlist[i] = _copy_with(tlist[i], {attr: value})
            elif kind == "source":
                src = _copy_with(src, {attr: value})
            elif kind == "instrument":
                ins = _copy_with(ins, {attr: value})
            else:
                T_K = value
        new = _copy_with(
            self,
            {
                "T_K": T_K,
                "valleys": tuple(valleys),
                "transitions": tuple(tlist),
                "source": src,
                "instrument": ins,
            },
        )
        if not new._values_ok():
            new._validate()  # raises the message construction would give
        return new

    def _structure(self) -> dict:
        """Value-independent tables, built once and shared by :meth:`with_parameters` copies.

        ``slots`` maps each flat parameter name to (kind, index, attribute); ``from_idx`` and
        ``to_idx`` are the valley indices of each transition; ``source_idx`` the source valley.
        """
        cached = self.__dict__.get("_struct")
        if cached is not None:
            return cached
        slots: dict[str, tuple[str, int, str]] = {}
        for i, v in enumerate(self.valleys):
            n = v.name
            slots[f"D_{n}_cm2_s"] = ("valley", i, "D_cm2_s")
            slots[f"E_{n}_meV"] = ("valley", i, "E_meV")
            slots[f"krad_{n}_per_ps"] = ("valley", i, "radiative_rate_per_ps")
            slots[f"knr_{n}_per_ps"] = ("valley", i, "nonradiative_rate_per_ps")
            slots[f"tau_{n}_ps"] = ("valley", i, "tau_ps")
        for i, t in enumerate(self.transitions):
            slots[f"rate_{t.from_}_{t.to}_per_ps"] = ("transition", i, "rate_per_ps")
        for name in ("w0_um", "t0_ps", "pulse_fwhm_ps"):
            slots[name] = ("source", 0, name)
        for name in ("w_psf_um", "irf_fwhm_ps"):
            slots[name] = ("instrument", 0, name)
        slots["T_K"] = ("T_K", 0, "T_K")
        index = {v.name: i for i, v in enumerate(self.valleys)}
        struct = {
            "slots": slots,
            "from_idx": [index[t.from_] for t in self.transitions],
            "to_idx": [index[t.to] for t in self.transitions],
            "source_idx": index[self.source.valley],
        }
        # a private cache beside the frozen fields (not a field: not compared, not serialised)
        self.__dict__["_struct"] = struct
        return struct

    def _values_ok(self) -> bool:
        """Quick check that every value passes :meth:`_validate` (structure already valid).

        False means "run the full validation", which then names the offending value. A
        non-finite value makes the plain sum non-finite, so one ``isfinite`` covers them all.
        """
        s, v_all = self.source, self.valleys
        positive = [self.T_K, s.w0_um, s.excitons]
        nonneg = [s.pulse_fwhm_ps, self.instrument.w_psf_um, self.instrument.irf_fwhm_ps]
        finite = [s.t0_ps]
        for v in v_all:
            positive += (v.M_m0, v.g)
            finite.append(v.E_meV)
            nonneg += (
                v.radiative_rate_per_ps,
                v.nonradiative_rate_per_ps,
                v.tau_ps,
                v.annihilation_cm2_s,
            )
            if v.D_cm2_s is not None:
                nonneg.append(v.D_cm2_s)
            elif v.diffusivity is None:
                return False
            if v.light_cone_meV is not None:
                positive.append(v.light_cone_meV)
        struct = self._structure()
        for t, i, j in zip(self.transitions, struct["from_idx"], struct["to_idx"], strict=True):
            nonneg.append(t.rate_per_ps)
            if t.phonon_meV is not None:
                positive.append(t.phonon_meV)
            if not v_all[i].E_meV >= v_all[j].E_meV:
                return False
        try:
            total = sum(positive) + sum(nonneg) + sum(finite)
        except TypeError:
            return False
        return math.isfinite(total) and min(positive) > 0 and min(nonneg) >= 0

    # ---------------------------------------------------------------- derived physics
    @property
    def names(self) -> list[str]:
        """Valley names in model order."""
        return [v.name for v in self.valleys]

    def valley(self, name: str) -> Valley:
        """Return the valley called ``name``."""
        for v in self.valleys:
            if v.name == name:
                return v
        raise ModelError(f"no valley {name!r}; valleys are {self.names}")

    def index(self, name: str) -> int:
        """Position of valley ``name`` in the model order."""
        return self.names.index(self.valley(name).name)

    @property
    def kT_meV(self) -> float:
        """Thermal energy kB T in meV."""
        return KB_MEV_PER_K * self.T_K

    def equilibrium_weights(self) -> np.ndarray:
        """Boltzmann weights π_v ∝ g_v M_v exp(−E_v / kB T), normalised to sum 1 (§3.1)."""
        kT = self.kT_meV
        logw = [math.log(v.g * v.M_m0) - v.E_meV / kT for v in self.valleys]
        top = max(logw)
        w = np.array([math.exp(x - top) for x in logw])
        return w / w.sum()

    def radiative_rates_per_ps(self) -> np.ndarray:
        """Effective radiative rate γ_v(T) in 1/ps of each valley (light-cone form if given)."""
        out = np.empty(len(self.valleys))
        for i, v in enumerate(self.valleys):
            g = v.radiative_rate_per_ps
            if v.light_cone_meV is not None:
                g *= -math.expm1(-v.light_cone_meV / self.kT_meV)
            out[i] = g
        return out

    def diffusion_cm2_s(self) -> np.ndarray:
        """D_v in cm²/s: the given value, or ``fitdiff.physics.d_total`` at T with M_v."""
        out = np.empty(len(self.valleys))
        for i, v in enumerate(self.valleys):
            if v.D_cm2_s is not None:
                out[i] = v.D_cm2_s
                continue
            try:
                from ..physics import d_total
            except ImportError as exc:  # the D(T) layer is optional at run time
                raise ModelError(
                    f"valley {v.name}: a diffusivity table needs fitdiff.physics.d_total ({exc})"
                ) from None
            kwargs = dict(v.diffusivity)
            value = float(np.asarray(d_total(self.T_K, M_m0=v.M_m0, **kwargs)))
            if not (math.isfinite(value) and value >= 0):
                raise ModelError(
                    f"valley {v.name}: the D(T) model gives D = {value} cm²/s at T = {self.T_K} K"
                )
            out[i] = value
        return out

    def diffusion_um2_ps(self) -> np.ndarray:
        """D_v in µm²/ps (the solvers' internal unit)."""
        return self.diffusion_cm2_s() * UM2_PS_PER_CM2_S

    def rate_matrix(self, weights: np.ndarray | None = None) -> np.ndarray:
        """The linear generator K (1/ps) of dn/dt = K n (§3.1), detailed balance built in.

        ``K[v, v']`` (v ≠ v') is the rate v' → v; the diagonal holds minus every loss.
        ``weights`` may pass :meth:`equilibrium_weights` when the caller already has them.
        """
        V = len(self.valleys)
        K = np.zeros((V, V))
        pi = self.equilibrium_weights() if weights is None else weights
        struct = self._structure()
        for t, i, j in zip(self.transitions, struct["from_idx"], struct["to_idx"], strict=True):
            down = t.rate_per_ps
            if t.phonon_meV is not None:
                # n_B + 1 = 1 / (1 - exp(-ħΩ/kT)): stimulated + spontaneous emission
                down = down / -math.expm1(-t.phonon_meV / self.kT_meV)
            up = down * pi[i] / pi[j]
            K[j, i] += down
            K[i, i] -= down
            K[i, j] += up
            K[j, j] -= up
        loss = self.radiative_rates_per_ps() + np.array(
            [v.nonradiative_rate_per_ps for v in self.valleys]
        )
        K[np.diag_indices(V)] -= loss
        return K

    def _rate_inputs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(π, K, γ) as :meth:`equilibrium_weights`, :meth:`rate_matrix` and
        :meth:`radiative_rates_per_ps` give them, bit for bit, for the solvers' hot path.

        Same floating-point operations in the same order, but on Python floats with one
        array conversion at the end: for a handful of valleys numpy's per-element indexing
        costs more than the arithmetic.
        """
        kT = self.kT_meV
        vs = self.valleys
        logw = [math.log(v.g * v.M_m0) - v.E_meV / kT for v in vs]
        top = max(logw)
        w = [math.exp(x - top) for x in logw]
        total = 0.0
        for x in w:  # numpy sums this few elements left to right too
            total += x
        pi = [x / total for x in w]
        gamma = []
        for v in vs:
            g = v.radiative_rate_per_ps
            if v.light_cone_meV is not None:
                g *= -math.expm1(-v.light_cone_meV / kT)
            gamma.append(g)
        V = len(vs)
        K = [[0.0] * V for _ in range(V)]
        struct = self._structure()
        for t, i, j in zip(self.transitions, struct["from_idx"], struct["to_idx"], strict=True):
            down = t.rate_per_ps
            if t.phonon_meV is not None:
                down = down / -math.expm1(-t.phonon_meV / kT)
            up = down * pi[i] / pi[j]
            K[j][i] += down
            K[i][i] -= down
            K[i][j] += up
            K[j][j] -= up
        for i, v in enumerate(vs):
            K[i][i] -= gamma[i] + v.nonradiative_rate_per_ps
        return np.array(pi), np.array(K), np.array(gamma)

    def source_vector(self) -> np.ndarray:
        """Excitons created per valley (sums to ``source.excitons``)."""
        b = np.zeros(len(self.valleys))
        b[self._structure()["source_idx"]] = self.source.excitons
        return b

    @property
    def pulse_sigma_ps(self) -> float:
        """Standard deviation of the Gaussian pulse in ps (0 = delta)."""
        return self.source.pulse_fwhm_ps / FWHM_PER_SIGMA

    @property
    def irf_sigma_ps(self) -> float:
        """Standard deviation of the Gaussian IRF in ps (0 = none)."""
        return self.instrument.irf_fwhm_ps / FWHM_PER_SIGMA

    @property
    def has_annihilation(self) -> bool:
        """True when any valley annihilates (the moments no longer close, §3.1)."""
        return any(v.annihilation_cm2_s > 0 for v in self.valleys)

    @property
    def is_ballistic(self) -> bool:
        """True when any valley has a ballistic start (tau_ps > 0, §3.2)."""
        return any(v.tau_ps > 0 for v in self.valleys)

    def time_grid_ps(self) -> np.ndarray:
        """The ``[time] t_ps`` grid as an array (ConfigError when the model has none)."""
        if self.time_ps is None:
            raise ConfigError("model has no [time] t_ps = [start, stop, count]")
        start, stop, count = self.time_ps
        return np.linspace(start, stop, count)


def _copy_with(obj: Any, changes: dict) -> Any:
    """Copy a frozen dataclass with some attributes changed, without running ``__init__``.

    Hand-written instead of ``dataclasses.replace`` because the fitting hot path calls it
    per likelihood evaluation and ``replace`` re-runs ``__init__`` and ``__post_init__``;
    callers validate the values themselves (:meth:`ValleyModel.with_parameters`).
    """
    new = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__)
    new.__dict__.update(changes)
    return new


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
    tensor = None
    if isinstance(d.get("D_cm2_s"), list):
        tensor = _tensor_from_list(d["D_cm2_s"], f"{where}.D_cm2_s")
        d = {**d, "D_cm2_s": 0.5 * (tensor[0] + tensor[1])}
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
        D_tensor_cm2_s=tensor,
    )


def _tensor_from_list(value: list, where: str) -> tuple[float, float, float]:
    """``[Dxx, Dyy, Dxy]`` in cm²/s, checked to be a positive semi-definite tensor."""
    if len(value) != 3 or any(
        isinstance(v, bool) or not isinstance(v, (int, float)) for v in value
    ):
        raise _fail(where, f"must be a number or [Dxx, Dyy, Dxy] (cm²/s), got {value!r}")
    dxx, dyy, dxy = (float(v) for v in value)
    if not all(math.isfinite(v) for v in (dxx, dyy, dxy)):
        raise _fail(where, f"must be finite, got {value!r}")
    if dxx < 0 or dyy < 0 or dxy * dxy > dxx * dyy:
        raise _fail(
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
