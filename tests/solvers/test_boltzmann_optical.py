"""Γ-point optical phonons and optical intervalley modes on the Boltzmann rung (TOPRUNG.md §2.2).

An intravalley optical mode is a ``[[channel]]`` with ``from == to`` (n_final = 1): the
intervalley formula with v' = v, N = 1, isotropic (R⁽¹⁾ = 0), exact energy-interval overlap.
Expected numbers: TOPRUNG.md §2.2, §7 (A1, A2) and §8 (the "300 K + optical" row), or the
analytic limit named at the assertion.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from boltzmann_cases import seed000, ws2

from fitdiff.errors import ConfigError
from fitdiff.solvers.boltzmann import BoltzmannModel, build_generator, formation, solve
from fitdiff.solvers.boltzmann.rates import intervalley_rate, kT_meV

#: Γ-point optical A′1 of monolayer WS2 (TOPRUNG.md §4), and the §8 optical variant's modes:
#: an intervalley 45 meV mode added to every channel and an intravalley 52 meV mode in every
#: valley, all with D = 4 eV/Å = 40 eV/nm.
HW_INTRA = 52.0
HW_IV = 45.0
D_OPT = 40.0


def _optical(d: dict, valleys=("KK", "KL", "KKp")) -> dict:
    for c in d["channel"]:
        c["modes"].append([HW_IV, D_OPT])
    for v in valleys:
        d["channel"].append({"from": v, "to": v, "modes": [[HW_INTRA, D_OPT]]})
    return d


def _closed(d: dict) -> dict:
    for v in d["valley"]:
        v["radiative_rate_per_ps"] = 0.0
    return d


def _one_valley_optical(T_K: float) -> BoltzmannModel:
    """Seed-000 valley with the acoustic coupling off and one Γ-point optical mode."""
    d = seed000(T_K, 1.0)
    d["valley"][0]["xi_eV"] = 0.0
    d["channel"] = [{"from": "X", "to": "X", "modes": [[HW_INTRA, D_OPT]]}]
    return BoltzmannModel.from_dict(d)


def test_optical_channel_syntax_and_errors():
    m = BoltzmannModel.from_dict(_optical(ws2(300.0, 1.0)))
    intra = [c for c in m.channels if c.intravalley]
    assert [c.from_ for c in intra] == ["KK", "KL", "KKp"]
    assert all(c.n_final == 1.0 for c in intra)
    # flat parameter of the optical channel, and the model round-trips through its dict
    assert m.parameter_values()["Div_KK_KK_eV_per_nm"] == D_OPT
    assert BoltzmannModel.from_dict(m.to_dict()) == m
    bad = [
        (lambda d: d["channel"][3].update(n_final=2), r"'channel\[3\]\.n_final'.*intravalley"),
        (
            lambda d: d["channel"].append(dict(d["channel"][3])),
            r"channel\[6\] \(KK->KK\): the pair is given twice",
        ),
        (lambda d: d["channel"][3].update(modes=[[0.0, 40.0]]), r"channel\[3\]\.modes\[0\]"),
    ]
    for change, match in bad:
        d = _optical(ws2(300.0, 1.0))
        change(d)
        with pytest.raises(ConfigError, match=match):
            BoltzmannModel.from_dict(d)


@pytest.mark.parametrize("T_K", [20.0, 300.0])
def test_a1_a2_with_optical_channels(T_K):
    m = BoltzmannModel.from_dict(_closed(_optical(ws2(T_K, 1.0))))
    gen = build_generator(m)
    A0 = gen.A0
    # A1: column sums of A0 vanish to rel. < 1e-12 (TOPRUNG.md §7)
    assert np.max(np.abs(A0.sum(axis=0))) / np.max(np.abs(A0)) < 1e-12
    pi = gen.grid.weight
    off = ~np.eye(gen.grid.size, dtype=bool)
    for R in (gen.R0, gen.R1):
        F = R * pi[None, :]
        # A2: π_j R_ij = π_i R_ji to rel. < 1e-12 (TOPRUNG.md §7)
        assert np.max(np.abs(F - F.T)[off]) / np.max(np.abs(F)) < 1e-12
    np.testing.assert_allclose(A0 @ pi, 0.0, atol=1e-12 * np.max(np.abs(A0)) * pi.max())
    # the optical kernels are isotropic (zero-order coupling, TOPRUNG.md §1.3): R⁽¹⁾ is the
    # acoustic kernel alone, identical to the model without optical modes on the same grid
    plain = build_generator(BoltzmannModel.from_dict(_closed(ws2(T_K, 1.0))), gen.grid)
    np.testing.assert_array_equal(gen.R1, plain.R1)
    # the optical modes do add intravalley rates (R⁽⁰⁾ changes inside each valley)
    same = gen.grid.valley[:, None] == gen.grid.valley[None, :]
    assert np.max(np.abs((gen.R0 - plain.R0)[same & off])) > 0


def test_a1_population_conserved_in_time_with_optical():
    # A1: Σ n constant in time for a closed system (TOPRUNG.md §7), optical channels on
    # 20 K: the weights span > 1e13 and the grid is small (561 unknowns at ΔQ = k_s)
    m = BoltzmannModel.from_dict(_closed(_optical(ws2(20.0, 1.0, time={"t_ps": [0, 50, 6]}))))
    sol = solve(m)
    np.testing.assert_allclose(sol.n.sum(axis=0)[1:], 1.0, rtol=1e-9)


def test_intravalley_optical_rate_is_the_intervalley_formula():
    # TOPRUNG.md §2.2 last line: Γ = N M D²/(2ρħ ħω)[n_B + ½ ± ½] with v' = v, N = 1
    T_K = 300.0
    m = _one_valley_optical(T_K)
    gen = build_generator(m)
    g = gen.grid
    kT = kT_meV(T_K)
    em = intervalley_rate(1.0, 0.5, D_OPT, HW_INTRA, m.rho_kg_m2, kT, emission=True)
    ab = intervalley_rate(1.0, 0.5, D_OPT, HW_INTRA, m.rho_kg_m2, kT, emission=False)
    top = g.eps_hi.max()
    below = g.eps_hi < HW_INTRA - 0.5  # absorption only
    above = (g.eps_lo > HW_INTRA + 0.5) & (g.eps_hi < top - HW_INTRA - 0.5)  # both
    assert below.sum() > 20 and above.sum() > 20
    # per shell the flux symmetrisation of §2.3 moves rates by the shell-misalignment error
    # (measured ≤ 1.7 % at ΔQ = k_s); the tolerance allows that and catches a missing ½ ± ½
    np.testing.assert_allclose(gen.gamma_out[below], ab, rtol=2.5e-2)
    np.testing.assert_allclose(gen.gamma_out[above], em + ab, rtol=2.5e-2)
    # the thermal average is exact under the symmetrisation (it keeps Σ π_j Γ_out,j):
    # detailed balance makes the emission flux equal the absorption flux, ⟨Γ_out⟩ = 2 n_B Γ0
    pi = g.weight
    avg = (pi * gen.gamma_out).sum() / pi.sum()
    assert avg == pytest.approx(2.0 * ab, rel=1e-3)
    # isotropic: no first harmonic at all (R⁽¹⁾ = 0, TOPRUNG.md §1.3)
    assert not np.any(gen.R1)
    # an intravalley channel adds nothing to the intervalley part (seed 001's D^interv)
    assert not np.any(gen.R0_inter)


def test_hot_source_absorbs_the_optical_phonon():
    # TOPRUNG.md §5: from Q = 0 only absorption is allowed; the optical mode adds
    # Γ0 n_B(ħω) to the formation rate and deposits at ε = ħω
    kT = kT_meV(300.0)
    opt = BoltzmannModel.from_dict(_optical(ws2(300.0, 1.0), valleys=("KK",)))
    iv_only = BoltzmannModel.from_dict(_optical(ws2(300.0, 1.0), valleys=()))
    grid = build_generator(opt).grid
    g_opt, r_opt = formation(opt, grid)
    _, r_iv = formation(iv_only, build_generator(iv_only).grid)
    ab = intervalley_rate(1.0, 0.6, D_OPT, HW_INTRA, opt.rho_kg_m2, kT, emission=False)
    assert r_opt - r_iv == pytest.approx(ab, rel=1e-12)
    kk = grid.slice(0)
    hit = (grid.eps_lo[kk] <= HW_INTRA) & (grid.eps_hi[kk] > HW_INTRA)
    assert g_opt[kk][hit].item() * r_opt >= ab * (1 - 1e-12)


def test_section8_300K_optical_row():
    # TOPRUNG.md §8, row "300 K + optical (iv 45 meV & intra 52 meV, 4 eV/Å)": the §4 baseline
    # at 300 K, ΔQ = k_s, plus a 45 meV mode in every intervalley channel and a 52 meV
    # Γ-point mode in every valley, all D = 4 eV/Å: D(200 ps) = 1.88 cm²/s (one D for all
    # valleys). 1.88 is given to 2 decimals: ±0.005.
    m = BoltzmannModel.from_dict(_optical(ws2(300.0, 1.0, time={"t_ps": [0.0, 200.0, 3]})))
    sol = solve(m)
    np.testing.assert_allclose(sol.D_cm2_s[:, -1], 1.88, atol=0.005)
    np.testing.assert_allclose(sol.D_pl_cm2_s[-1], 1.88, atol=0.005)
    assert math.isclose(np.ptp(sol.D_cm2_s[:, -1]), 0.0, abs_tol=1e-4)


def test_thermal_validity_figure_and_fit_warning():
    from fitdiff.fitting.boltzmann import BoltzmannValleysModel
    from fitdiff.solvers.boltzmann.solver import thermal_kT_tau_over_hbar

    # TOPRUNG.md §4: k_BTτ/ħ from the kernel ≈ 2.9 (KK), 2.0 (KΛ), 2.5 (KK′) at 20 and 300 K
    # (its valley order KK, KL, KKp is ours), without solving in time
    for T in (20.0, 300.0):
        m = BoltzmannModel.from_dict(ws2(T, 1.0))
        np.testing.assert_allclose(
            thermal_kT_tau_over_hbar(m, build_generator(m)), [2.9, 2.0, 2.5], atol=0.15
        )
    fit_model = BoltzmannValleysModel.from_dict(ws2(300.0, 1.0))
    values = {p.name: p.default for p in fit_model.parameter_table()}
    assert fit_model.validity_warnings(values) == []
    # τ ∝ 1/Ξ² (C_v ∝ Ξ², §2.1): Ξ = 20 eV divides it by 16, k_BTτ/ħ ≈ 0.12–0.18 < 1
    strong = {**values, "xi_eV_KK": 20.0, "xi_eV_KL": 20.0, "xi_eV_KKp": 20.0}
    texts = fit_model.validity_warnings(strong)
    assert [t.split(":")[1].strip() for t in texts] == ["valley KK", "valley KL", "valley KKp"]
    assert all("<= 1 at thermal equilibrium (T = 300 K)" in t for t in texts)
