"""Number and unit formatting of report tables."""

from __future__ import annotations

import math

import pytest

from fitdiff.report.format import fmt, fmt_err, fmt_posterior, pretty_unit, unit_from_name


@pytest.mark.parametrize(
    ("value", "err", "expected"),
    [
        # Two significant digits of the error, value rounded to the same decimal place.
        (2.3456, 0.0123, "2.346 ± 0.012"),
        (-0.546, 0.05, "-0.546 ± 0.050"),
        (1.234e-5, 2.1e-7, "(1.234 ± 0.021)e-05"),
        (123456.0, 789.0, "(1.2346 ± 0.0079)e+05"),
        (3.37, None, "3.37"),
        (3.37, math.nan, "3.37"),
    ],
)
def test_fmt_err(value, err, expected):
    assert fmt_err(value, err) == expected


def test_fmt_missing_and_special_values():
    assert fmt(None) == "—"
    assert fmt(math.nan) == "—"
    assert fmt(math.inf) == "∞"
    assert fmt(True) == "yes"
    assert fmt(26) == "26"


def test_fmt_posterior_uses_precision_of_the_68_interval():
    # half-width (5.005 - 4.883)/2 = 0.061 -> 3 decimals (two significant digits)
    median, ci = fmt_posterior(4.94321, 4.883, 5.005, 0.061)
    assert (median, ci) == ("4.943", "[4.883, 5.005]")


@pytest.mark.parametrize(
    ("name", "unit"),
    [
        ("D_KK_cm2_s", "cm2_s"),
        ("rate_KK_KKp_per_ps", "per_ps"),
        ("w0_um", "um"),
        ("E_KKp_meV", "meV"),
        ("M_m0", "m0"),
        ("w0_2_um2", "um2"),
        ("ln_f", ""),
    ],
)
def test_unit_from_name_follows_physics_section_0(name, unit):
    assert unit_from_name(name) == unit


def test_pretty_unit():
    assert pretty_unit("cm2_s") == "cm²/s"
    assert pretty_unit("per_ps") == "1/ps"
    assert pretty_unit("furlong") == "furlong"
