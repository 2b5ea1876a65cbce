"""The multivalley model definition: valleys, transitions, source, instrument, grids.

One validated, immutable :class:`ValleyModel` is the single description every solver reads
(PHYSICS.md §3.1-3.3). It is built from the MODEL.toml schema of ``fitdiff simulate``
(:meth:`ValleyModel.from_dict` / :meth:`ValleyModel.from_toml`, implemented in
:mod:`fitdiff.solvers.schema`), round-trips through :meth:`ValleyModel.to_dict`, exposes flat,
unit-carrying parameter names for fitting (:meth:`ValleyModel.parameter_names`,
:meth:`ValleyModel.with_parameters`) and the rates the solvers read (detailed balance, the
generator K). Its parts are the dataclasses of :mod:`fitdiff.solvers.components`.

Rates are in 1/ps, energies in meV, lengths in µm, diffusion coefficients in cm²/s at the
user's side (converted to µm²/ps only inside the solvers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, ModelError
from ..units import HBAR_MEV_PS, KB_MEV_PER_K, UM2_PS_PER_CM2_S, hbar_over_mass_cm2_s
from .components import Instrument, RenderSettings, Source, Transition, Valley
from .schema import parse, read_toml, to_dict, validate

__all__ = [
    "FWHM_PER_SIGMA",
    "Instrument",
    "RenderSettings",
    "Source",
    "Transition",
    "Valley",
    "ValleyModel",
]

#: Gaussian FWHM = this factor times sigma.
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
#: |δD|/D_cl above which a valley's weak-localisation correction is flagged. The correction is
#: first order in ħ/(k_BTτ) (seed 000 eq. 9), so one comparable to D_cl is beyond its accuracy;
#: the number 0.5 is fitdiff's convention, not seed 000's.
WL_CORRECTION_MAX = 0.5


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
        validate(self)

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_dict(cls, d: dict) -> ValleyModel:
        """Build a model from the MODEL.toml structure (see ``analyses/simulate_example.toml``).

        Raises
        ------
        ConfigError
            For unknown keys (named by key path), missing, non-numeric or unphysical values.
        """
        parts = parse(d)
        try:
            return cls(**parts)
        except ModelError as exc:  # from a configuration, an unphysical value is a config error
            raise ConfigError(str(exc)) from None

    @classmethod
    def from_toml(cls, path: str | Path) -> ValleyModel:
        """Read a MODEL.toml file; errors name the file."""
        data = read_toml(path)
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def to_dict(self) -> dict:
        """Return the MODEL.toml structure (JSON- and TOML-able; ``None`` values omitted)."""
        return to_dict(self)

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
            d_of_T = d_total
            if kwargs.get("method") == "classical":
                # PHYSICS.md §3.5: seed-001 comparisons use the classical D (no weak
                # localisation, which intervalley scattering suppresses anyway)
                from ..physics import d_classical as d_of_T

                kwargs.pop("method")
                kwargs.pop("tau_r_ps", None)
            value = float(np.asarray(d_of_T(self.T_K, M_m0=v.M_m0, **kwargs)))
            if not (math.isfinite(value) and value >= 0):
                raise ModelError(
                    f"valley {v.name}: the D(T) model gives D = {value} cm²/s at T = {self.T_K} K"
                )
            if v.tau_ps == 0:
                value = self._intervalley_limited(i, v, value)
            out[i] = value
        return out

    def _intervalley_limited(self, i: int, v: Valley, value: float) -> float:
        """PHYSICS.md §3.5: a D from a scattering time, in the diffusive rung, is
        D_eff = k_BT/[M(1/τ + Γ_out)]: an exciton that changes valley loses its momentum.

        The classical part D_cl = k_BT τ/M is replaced; a weak-localisation correction of the
        table is kept as it is.
        """
        from ..physics import d_classical

        K = self.rate_matrix()
        gamma_out = float(K[:, i].sum() - K[i, i])  # intervalley out-scattering of valley i
        if gamma_out <= 0:
            return value
        keys = ("xi_eV", "rho_g_cm2", "s_cm_s", "tau_dis_ps")
        kw = {k: v.diffusivity[k] for k in keys if k in v.diffusivity}
        d_cl = float(np.asarray(d_classical(self.T_K, M_m0=v.M_m0, **kw)))
        # D_cl = k_BT τ / M = (k_BT/ħ) τ (ħ/M) → τ in ps
        tau_ps = d_cl / (self.kT_meV / HBAR_MEV_PS * hbar_over_mass_cm2_s(v.M_m0))
        return value - d_cl + d_cl / (1.0 + tau_ps * gamma_out)

    def diffusivity_flags(self) -> dict[str, dict]:
        """Validity flags of every valley whose D comes from the D(T) model (PHYSICS.md §2,
        §3.5): ``kBT_tau_over_hbar``, ``kBT_over_Ms2``, ``tau_phi_over_tau``, ``valid``,
        ``note`` from :func:`fitdiff.physics.diffusivity` with that valley's mass, plus
        ``method`` and ``delta_D_over_D_classical`` (|δD|/D_cl of the weak-localisation
        correction; 0 with ``method = "classical"``, which leaves it out)."""
        from ..physics import diffusivity

        out = {}
        for v in self.valleys:
            if v.D_cm2_s is not None or v.diffusivity is None:
                continue
            kw = {k: val for k, val in v.diffusivity.items() if k != "method"}
            method = v.diffusivity.get("method", "log")
            row = diffusivity(
                self.T_K, method="log" if method == "classical" else method, M_m0=v.M_m0, **kw
            ).iloc[0]
            wl = 0.0
            if method != "classical" and row["D_classical_cm2_s"] > 0:
                wl = abs(float(row["delta_D_cm2_s"])) / float(row["D_classical_cm2_s"])
            out[v.name] = {
                "kBT_tau_over_hbar": float(row["kBT_tau_over_hbar"]),
                "kBT_over_Ms2": float(row["kBT_over_Ms2"]),
                "tau_phi_over_tau": float(row["tau_phi_over_tau"]),
                "delta_D_over_D_classical": wl,
                "method": method,
                "valid": bool(row["valid"]),
                "note": str(row["note"]),
            }
        return out

    def diffusivity_warnings(self) -> list[str]:
        """One sentence per valley whose D(T) is outside its validity (PHYSICS.md §3.5: an
        invalid valley is reported, never silently used): the flags of
        :meth:`diffusivity_flags` that fail, with their values. Empty when all hold."""
        out = []
        for name, f in self.diffusivity_flags().items():
            if not f["valid"]:
                out.append(
                    f"valley {name}: D(T) at T = {self.T_K:g} K outside its validity "
                    f"(kBT tau/hbar = {f['kBT_tau_over_hbar']:.3g}, needs > 1; "
                    f"kBT/(M s^2) = {f['kBT_over_Ms2']:.3g}, needs > 1; "
                    f"tau_phi/tau = {f['tau_phi_over_tau']:.3g}): {f['note']}"
                )
            if f["delta_D_over_D_classical"] > WL_CORRECTION_MAX:
                out.append(
                    f"valley {name}: weak-localisation correction |dD|/D_cl = "
                    f"{f['delta_D_over_D_classical']:.3g} > {WL_CORRECTION_MAX:g} at "
                    f"T = {self.T_K:g} K: the first-order correction (seed 000 eq. 9) is "
                    'unreliable there; consider method = "classical" or a D given directly'
                )
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
