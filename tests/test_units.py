"""Pin every unit conversion (PHYSICS.md §0)."""

import pytest

from fitdiff import units


def test_cm2_s_in_um2_ps():
    # 1 cm²/s = 1e8 µm² / 1e12 ps = 1e-4 µm²/ps (PHYSICS.md §0)
    assert units.UM2_PS_PER_CM2_S == pytest.approx(1e-4, rel=1e-15)


def test_hbar_over_mass():
    # PHYSICS.md §0: hbar/M = 2.3154 cm²/s for M = 0.5 m0
    assert units.hbar_over_mass_cm2_s(0.5) == pytest.approx(2.3154, rel=5e-5)


def test_time_units():
    assert units.PS_PER_TIME_UNIT["us"] == pytest.approx(1e6, rel=0)
    assert units.PS_PER_TIME_UNIT["ns"] == pytest.approx(1e3, rel=0)


def test_boltzmann_mev():
    # CODATA kB = 8.617333262e-5 eV/K
    assert units.KB_MEV_PER_K == pytest.approx(8.617333262e-2, rel=1e-9)
