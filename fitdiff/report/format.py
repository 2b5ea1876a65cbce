"""Text formatting for report tables: numbers with uncertainties, units, parameter labels."""

from __future__ import annotations

import math

#: Unit spellings found in RUN files → how a reader expects to see them.
PRETTY_UNITS = {
    "um": "µm",
    "um2": "µm²",
    "ps": "ps",
    "ns": "ns",
    "K": "K",
    "meV": "meV",
    "eV": "eV",
    "m0": "m₀",
    "cm2_s": "cm²/s",
    "cm2/s": "cm²/s",
    "per_ps": "1/ps",
    "1/ps": "1/ps",
    "ps-1": "1/ps",
    "g_cm2": "g/cm²",
    "g/cm2": "g/cm²",
    "cm_s": "cm/s",
    "cm/s": "cm/s",
    "um2_ps": "µm²/ps",
    "um2/ps": "µm²/ps",
    "": "",
    "1": "",
}

#: Name suffixes carrying a unit (PHYSICS.md §0), longest first so ``_per_ps`` wins over ``_ps``.
_SUFFIX_UNITS = sorted(
    ["um", "um2", "ps", "K", "meV", "eV", "m0", "cm2_s", "per_ps", "g_cm2", "cm_s", "um2_ps"],
    key=len,
    reverse=True,
)


def pretty_unit(unit: str | None) -> str:
    """Return ``unit`` in display form (``cm2_s`` → ``cm²/s``); unknown spellings pass through."""
    if unit is None:
        return ""
    return PRETTY_UNITS.get(str(unit).strip(), str(unit).strip())


def unit_from_name(name: str) -> str:
    """Return the unit a fitdiff name carries in its suffix (``D_KK_cm2_s`` → ``cm2_s``), or ``""``."""
    name = name.partition("__")[0]  # a per-dataset copy (w0_2_um2__T75K) has its base's unit
    for suffix in _SUFFIX_UNITS:
        if name.endswith("_" + suffix):
            return suffix
    return ""


def parameter_unit(name: str, record: dict | None = None) -> str:
    """Display unit of a parameter: the ``unit`` its record states, else its name's suffix."""
    unit = (record or {}).get("unit")
    return pretty_unit(unit if unit is not None else unit_from_name(name))


#: Code name stem (unit suffix removed) → the symbol a paper prints. Per-dataset copies
#: (``w0_2_um2__T75K``) keep the symbol and gain the label as a subscript-like suffix.
SYMBOLS = {
    "D": "D",
    "w0_2": "w₀²",
    "xi": "ξ",
    "M": "M",
    "rho": "ρ",
    "s": "s",
    "tau_dis": "τ_dis",
    "tau_r": "τ_r",
    "tau_phi": "τ_φ",
    "tau": "τ",
    "T": "T",
    "t0": "t₀",
    "w0": "w₀",
    "w_psf": "w_PSF",
    "irf_fwhm": "IRF FWHM",
    "pulse_fwhm": "pulse FWHM",
    "pl_scale": "PL scale",
    "ln_f": "ln f",
    "n_x": "n_x",
    "a_B": "a_B",
    "E_B": "E_B",
    "C_xx": "C_xx",
}


def parameter_symbol(name: str) -> str:
    """The printed symbol of a parameter: ``D_cm2_s`` → ``D``, ``xi_eV`` → ``ξ``,
    ``w0_2_um2__T75K`` → ``w₀² [T75K]``, ``D_KK_cm2_s`` → ``D_KK``; unknown names lose only
    their unit suffix."""
    base, _, label = name.partition("__")
    unit = unit_from_name(base)
    stem = base[: -len(unit) - 1] if unit else base
    if stem in SYMBOLS:
        symbol = SYMBOLS[stem]
    else:
        head, _, rest = stem.partition("_")
        symbol = f"{SYMBOLS[head]}_{rest}" if head in SYMBOLS and rest else stem
    return f"{symbol} [{label}]" if label else symbol


def parameter_axis_label(name: str, record: dict | None = None) -> str:
    """``symbol (unit)`` for a figure axis or a table: ``D (cm²/s)``, ``w₀² (µm²)``, ``ξ (eV)``."""
    unit = parameter_unit(name, record)
    symbol = parameter_symbol(name)
    return f"{symbol} ({unit})" if unit else symbol


def axis_label(quantity: str, unit: str) -> str:
    """Return ``"quantity (unit)"`` with a display unit, or just the quantity when unitless."""
    unit = pretty_unit(unit)
    return f"{quantity} ({unit})" if unit else quantity


def fmt(value, digits: int = 4) -> str:
    """Format a scalar for a table: ``digits`` significant digits, ``—`` for missing/NaN.

    ASCII minus signs are kept so that a value copied from the report pastes into code.
    """
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(x):
        return "—" if math.isnan(x) else ("∞" if x > 0 else "−∞")
    return f"{x:.{digits}g}"


def fmt_err(value, err) -> str:
    """Format ``value ± err`` with the error to two significant digits and the value to match.

    Parameters
    ----------
    value, err : float or None
        The estimate and its standard error in the same unit; a missing or non-finite error
        gives the value alone.

    Examples
    --------
    >>> fmt_err(2.3456, 0.0123)
    '2.346 ± 0.012'
    >>> fmt_err(1.234e-5, 2.1e-7)
    '(1.234 ± 0.021)e-05'
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        return fmt(value)
    try:
        e = float(err)
    except (TypeError, ValueError):
        e = math.nan
    if not math.isfinite(v) or not math.isfinite(e) or e <= 0:
        return fmt(v)
    # Two significant digits of the error fix the last decimal place shown for both numbers.
    last = math.floor(math.log10(e)) - 1
    scale = max(abs(v), e)
    exponent = math.floor(math.log10(scale)) if scale > 0 else 0
    if -3 <= exponent < 5:
        decimals = max(-last, 0)
        text = f"{v:.{decimals}f} ± {e:.{decimals}f}"
    else:
        decimals = max(exponent - last, 0)
        text = (
            f"({v / 10**exponent:.{decimals}f} ± {e / 10**exponent:.{decimals}f})e{exponent:+03d}"
        )
    return text


def _decimals(spread: float) -> int | None:
    """Decimals that show ``spread`` to two significant digits (None: use scientific)."""
    if not math.isfinite(spread) or spread <= 0:
        return None
    return max(1 - math.floor(math.log10(spread)), 0)


def fmt_posterior(median, lo, hi, spread) -> tuple[str, str]:
    """Format a posterior median and one interval to the precision of ``spread``.

    Parameters
    ----------
    median, lo, hi : float
        Median and interval ends, in the parameter's unit.
    spread : float
        Half-width of the 68 % interval; it fixes the decimals (two significant digits), so
        the median and both intervals of one parameter are shown alike.

    Returns
    -------
    tuple of str
        ``(median, "[lo, hi]")``.
    """
    try:
        values = [float(median), float(lo), float(hi)]
    except (TypeError, ValueError):
        return fmt(median), f"[{fmt(lo)}, {fmt(hi)}]"
    decimals = _decimals(float(spread))
    scale = max(abs(v) for v in values) if all(math.isfinite(v) for v in values) else math.nan
    if decimals is None or not math.isfinite(scale) or not (1e-3 <= scale < 1e5 or scale == 0):
        return fmt(values[0]), f"[{fmt(values[1])}, {fmt(values[2])}]"
    m, a, b = (f"{v:.{decimals}f}" for v in values)
    return m, f"[{a}, {b}]"
