"""Spatial solvers: exact Hankel solution, method of lines, annihilation."""

from __future__ import annotations

import numpy as np
import pytest

from fitdiff.errors import ModelError
from fitdiff.solvers import ValleyModel, solve_moments, solve_spatial
from fitdiff.testing import two_valley
from fitdiff.units import UM2_PS_PER_CM2_S

R = np.linspace(0.0, 8.0, 1601)


def single(**source) -> ValleyModel:
    return ValleyModel.from_dict(
        {
            "T_K": 300.0,
            "valley": [{"name": "X", "D_cm2_s": 3.0, "radiative_rate_per_ps": 0.01}],
            "source": {"w0_um": 0.5, **source},
        }
    )


@pytest.mark.parametrize("method", ["hankel", "pde"])
def test_single_valley_fick(method):
    t = np.array([0.0, 20.0, 100.0, 300.0])
    sol = solve_spatial(single(), t, R, method=method)
    # w² = w0² + 4Dt (PHYSICS.md §3.4); Hankel to the Simpson r-quadrature error (~1e-9 at
    # dr = 0.005 µm), the PDE to its discretisation error (dr = w0/40)
    expected = 0.25 + 4.0 * 3.0 * UM2_PS_PER_CM2_S * t
    rtol = 1e-8 if method == "hankel" else 1e-3
    np.testing.assert_allclose(sol.w2_um2()[0], expected, rtol=rtol, atol=0)
    np.testing.assert_allclose(sol.w2_pl_um2(), expected, rtol=rtol, atol=0)


def test_hankel_profile_is_the_gaussian():
    # Fick's law keeps N = n exp(−r²/w²)/(π w²) with w² = w0² + 4Dt (seed 001, below eq. 3)
    t = np.array([50.0])
    sol = solve_spatial(single(), t, R)
    w2 = 0.25 + 4.0 * 3.0 * UM2_PS_PER_CM2_S * 50.0
    n = np.exp(-0.01 * 50.0)
    np.testing.assert_allclose(
        sol.N[0, 0], n * np.exp(-(R**2) / w2) / (np.pi * w2), rtol=0, atol=1e-12
    )


@pytest.mark.parametrize("case", ["two_valley_20K", "three_valley_77K"])
def test_moments_agree_with_hankel(case, model2, model3):
    # both cases have the bright valley as a < 1 % minority at late times (test_moments.py)
    model = model2 if case == "two_valley_20K" else model3
    t = np.array([1.0, 10.0, 30.0, 60.0, 150.0])
    mom = solve_moments(model, t, instrument=False)
    sp = solve_spatial(model, t, R)
    # PHYSICS.md §3.3: agreement to 1e-6 relative, for every valley including the minority
    np.testing.assert_allclose(sp.w2_um2(), mom.w2_um2, rtol=1e-6, atol=0)
    np.testing.assert_allclose(sp.w2_pl_um2(), mom.w2_pl_um2, rtol=1e-6, atol=0)
    np.testing.assert_allclose(sp.populations(), mom.n, rtol=1e-6, atol=0)


def test_moments_agree_with_hankel_with_instrument(model3):
    m = model3.with_parameters(irf_fwhm_ps=4.0, w_psf_um=0.35)
    t = np.array([2.0, 8.0, 40.0, 120.0])
    mom = solve_moments(m, t)
    sp = solve_spatial(m, t, R, instrument=True)
    np.testing.assert_allclose(sp.w2_pl_um2(), mom.w2_pl_um2, rtol=1e-6, atol=0)


@pytest.mark.parametrize("case", ["two_valley_20K", "three_valley_77K"])
def test_moments_agree_with_pde(case, model2, model3):
    model = model2 if case == "two_valley_20K" else model3
    t = np.array([10.0, 30.0, 60.0, 150.0])
    mom = solve_moments(model, t, instrument=False)
    sp = solve_spatial(model, t, R, method="pde")
    # PHYSICS.md §3.3 / issue 5: 1e-3 relative for the finite-volume PDE
    np.testing.assert_allclose(sp.w2_um2(), mom.w2_um2, rtol=1e-3, atol=0)
    np.testing.assert_allclose(sp.w2_pl_um2(), mom.w2_pl_um2, rtol=1e-3, atol=0)


def test_conservation_without_decay():
    d = two_valley()
    d["valley"][0]["radiative_rate_per_ps"] = 0.0
    m = ValleyModel.from_dict(d)
    t = np.array([0.0, 50.0, 200.0])
    # the Hankel k = 0 mode is the exact population; the PDE conserves ∫N through zero-flux
    # faces, so the sum of cell contents stays 1 up to the integrator's linear algebra
    from fitdiff.solvers.pde import _radial_grid, pde_operator

    faces = _radial_grid(m, 200.0, 8.0, None)
    A = pde_operator(m, faces)
    vol = np.tile(np.pi * np.diff(faces**2), 2)
    # column sums of vol-weighted A vanish: d/dt Σ vol N = 0 exactly
    np.testing.assert_allclose(vol @ A, 0.0, rtol=0, atol=1e-10 * np.abs(A).max())
    sol = solve_spatial(m, t, R, method="pde")
    np.testing.assert_allclose(sol.populations().sum(axis=0), 1.0, rtol=0, atol=1e-4)


def annihilating(excitons: float) -> ValleyModel:
    return ValleyModel.from_dict(
        {
            "T_K": 300.0,
            "valley": [
                {
                    "name": "X",
                    "D_cm2_s": 1.0,
                    "radiative_rate_per_ps": 0.01,
                    "annihilation_cm2_s": 1.0,
                }
            ],
            "source": {"w0_um": 0.5, "excitons": excitons},
        }
    )


def test_annihilation_raises_effective_D_and_flattens():
    # Kulig et al., PRL 120, 207401 (cited in PHYSICS.md §3.1): annihilation removes the dense
    # centre first, so the apparent D grows with density and the profile flattens (kurtosis < 0)
    t = np.array([0.0, 20.0, 50.0])
    r = np.linspace(0.0, 5.0, 501)
    d_eff, kurt = [], []
    for excitons in (1.0, 1e3, 1e4):
        sol = solve_spatial(annihilating(excitons), t, r)
        assert sol.method == "pde"
        d_eff.append((sol.w2_um2()[0, -1] - 0.25) / (4 * 50.0) / UM2_PS_PER_CM2_S)
        kurt.append(sol.kurtosis_excess("X")[-1])
    # low density: the linear limit D = 1 cm²/s and a Gaussian (the PDE's 1e-3 accuracy)
    assert d_eff[0] == pytest.approx(1.0, rel=0.05, abs=0)
    assert abs(kurt[0]) < 0.01
    assert d_eff[0] < d_eff[1] < d_eff[2]
    assert kurt[2] < kurt[1] < -0.1


def test_unsupported_combinations_are_refused(model2):
    with pytest.raises(ModelError, match=r"ballistic start \(tau_ps > 0\).*solve_moments"):
        solve_spatial(model2.with_parameters(tau_KK_ps=1.0), [1.0], R)
    with pytest.raises(ModelError, match=r"annihilation is nonlinear.*method='pde'"):
        solve_spatial(annihilating(10.0), [1.0], R, method="hankel")
    with pytest.raises(ModelError, match=r"method must be 'auto', 'hankel' or 'pde'"):
        solve_spatial(model2, [1.0], R, method="fd")
    with pytest.raises(ModelError, match=r"r_um must be a non-empty array of radii >= 0"):
        solve_spatial(model2, [1.0], [-1.0, 1.0])
