"""The moment solver on a stack of parameter sets against one ``solve_moments`` per set.

Reference: :func:`fitdiff.solvers.solve_moments` on ``ValleyModel.with_parameters`` copies, the
one-at-a-time path that is itself tested against quadrature, an ODE solver and the frozen
straightforward solver (test_moments.py, test_fast_path.py). The batched path must give the
same curves to 1e-12 relative (D(t) relative to its largest magnitude, since it crosses zero)
and NaN rows with ``ok`` False exactly where ``with_parameters`` refuses the values.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_fast_path import CASES

from fitdiff.errors import ConfigError
from fitdiff.solvers import ValleyModel, solve_moments
from fitdiff.solvers.moments_many import solve_moments_many
from fitdiff.testing import three_valley, two_valley

RTOL = 1e-12


def _close(a, b, what):
    ok = np.isfinite(b)
    assert np.array_equal(ok, np.isfinite(a)), what
    np.testing.assert_allclose(a[ok], b[ok], rtol=RTOL, atol=0, err_msg=what)


def _check(model, t, values, **kw):
    stack = solve_moments_many(model, t, values, **kw)
    P = stack.ok.size
    given = {k: np.broadcast_to(np.asarray(v, float), (P,)) for k, v in values.items()}
    for p in range(P):
        try:
            m = model.with_parameters(**{k: float(a[p]) for k, a in given.items()})
        except ValueError:
            assert not stack.ok[p]
            assert np.isnan(stack.pl[p]).all() and np.isnan(stack.w2_pl_um2[p]).all()
            continue
        assert stack.ok[p]
        ref = solve_moments(m, t, **kw)
        _close(stack.pl[p], ref.pl, "pl")
        _close(stack.w2_pl_um2[p], ref.w2_pl_um2, "w2_pl")
        _close(stack.n[p], ref.n, "n")
        _close(stack.m_um2[p], ref.m_um2, "m")
        _close(stack.w2_um2[p], ref.w2_um2, "w2")
        if not t.size:
            continue
        D = np.vstack([stack.D_cm2_s[p], stack.D_pl_cm2_s[p]])
        Dr = np.vstack([ref.D_cm2_s, ref.D_pl_cm2_s])
        fin = np.isfinite(Dr)
        assert np.array_equal(fin, np.isfinite(D))
        dev = np.where(fin, np.abs(D - Dr), 0.0).max(axis=1)
        assert np.all(dev <= RTOL * np.where(fin, np.abs(Dr), 0.0).max(axis=1))
    return stack


def _jitter(model: ValleyModel, P: int, seed: int) -> dict:
    """Random D, rate, w0 and t0 per set around the model's values (fixed seed)."""
    rng = np.random.default_rng(seed)
    v0 = model.valleys[0]
    out = {
        f"D_{v0.name}_cm2_s": (v0.D_cm2_s or 1.0) * (1 + 0.3 * rng.random(P)),
        "w0_um": model.source.w0_um * (1 + 0.2 * rng.random(P)),
    }
    if model.transitions:
        tr = model.transitions[0]
        out[f"rate_{tr.from_}_{tr.to}_per_ps"] = tr.rate_per_ps * (1 + 0.2 * rng.random(P))
    return out


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("instrument", [True, False])
def test_stack_matches_one_at_a_time(name, instrument):
    # the models of the fast-path golden file: one valley, ballistic starts, the 20 K bright
    # minority, phonon + light cone, degenerate and nearly degenerate rates, no decay
    model = CASES[name][1]
    t = np.linspace(-5.0, 300.0, 400)
    _check(model, t, _jitter(model, 5, seed=3), instrument=instrument)


def test_per_set_pulse_irf_t0_and_temperature():
    model = ValleyModel.from_dict(three_valley()).with_parameters(irf_fwhm_ps=3.0, w_psf_um=0.3)
    t = np.linspace(0.0, 200.0, 300)
    values = {
        "t0_ps": [0.0, 3.0, -2.0, 5.0],
        "irf_fwhm_ps": [3.0, 1.0, 0.5, 4.0],
        "pulse_fwhm_ps": [2.0, 0.0, 1.0, 2.0],
        "w_psf_um": [0.3, 0.1, 0.0, 0.5],
        "T_K": [77.0, 150.0, 300.0, 20.0],
        "E_KL_meV": [-30.5, -25.0, -40.0, -30.5],
    }
    _check(model, t, values)


def test_delta_pulse_rows_and_mixed_ballistic_rows():
    # a delta pulse (no pulse, no IRF) takes its own branch of the pulse response, and sets
    # with and without a ballistic start take different solvers: all in one stack
    model = ValleyModel.from_dict(three_valley())
    t = np.linspace(-2.0, 100.0, 250)
    values = {
        "pulse_fwhm_ps": [0.0, 2.0, 0.0, 2.0],
        "tau_KK_ps": [0.0, 0.0, 0.3, 0.3],
        "tau_KL_ps": [0.0, 0.2, 0.0, 0.2],
    }
    _check(model, t, values, instrument=False)


def test_refused_sets_are_nan_rows():
    model = ValleyModel.from_dict(two_valley())
    t = np.linspace(0.0, 100.0, 50)
    values = {
        "D_KK_cm2_s": [1.0, -1.0, 2.0, np.nan, 1.0, 1.0],
        "w0_um": [0.5, 0.5, 0.0, 0.5, 0.5, 0.5],
        # KK must stay above KKp (the transition's 'from' valley)
        "E_KK_meV": [10.0, 10.0, 10.0, 10.0, -20.0, 10.0],
        "T_K": [20.0, 20.0, 20.0, 20.0, 20.0, -1.0],
    }
    stack = _check(model, t, values)
    assert stack.ok.tolist() == [True, False, False, False, False, False]


def test_diffusivity_table_follows_temperature():
    # a valley whose D comes from the D(T) table: each set's D is the table at its own T
    d = two_valley()
    d["valley"][1].pop("D_cm2_s")
    d["valley"][1]["diffusivity"] = {"xi_eV": 7.0, "rho_g_cm2": 4.46e-7, "s_cm_s": 4.1e5}
    model = ValleyModel.from_dict(d)
    t = np.linspace(0.0, 100.0, 80)
    _check(model, t, {"T_K": [20.0, 50.0, 120.0]})


def test_pl_only_and_no_derivatives_are_the_same_rows(monkeypatch):
    # the numpy path: the compiled PL-only pass agrees to rounding instead (test below)
    monkeypatch.setenv("FITDIFF_NUMBA", "0")
    model = ValleyModel.from_dict(three_valley()).with_parameters(irf_fwhm_ps=3.0)
    t = np.linspace(0.0, 200.0, 100)
    values = _jitter(model, 4, seed=5)
    full = solve_moments_many(model, t, values)
    lean = solve_moments_many(model, t, values, derivatives=False, valleys=False)
    assert lean.n is None and lean.D_pl_cm2_s is None
    np.testing.assert_array_equal(lean.pl, full.pl)
    np.testing.assert_array_equal(lean.w2_pl_um2, full.w2_pl_um2)
    mid = solve_moments_many(model, t, values, valleys=False)
    np.testing.assert_array_equal(mid.D_pl_cm2_s, full.D_pl_cm2_s)


def test_bad_stack_arguments_are_named():
    model = ValleyModel.from_dict(two_valley())
    t = np.linspace(0.0, 10.0, 5)
    with pytest.raises(ConfigError, match="unknown model parameter 'D_X_cm2_s'"):
        solve_moments_many(model, t, {"D_X_cm2_s": [1.0]})
    with pytest.raises(ConfigError, match="'w0_um' has 3 values, other parameters have 2"):
        solve_moments_many(model, t, {"D_KK_cm2_s": [1.0, 2.0], "w0_um": [0.1, 0.2, 0.3]})


def test_a_changed_copy_does_not_reuse_the_originals_values():
    # the base values are cached per model instance; with_parameters copies must not see them
    model = ValleyModel.from_dict(two_valley())
    t = np.linspace(0.0, 50.0, 20)
    solve_moments_many(model, t, {"D_KK_cm2_s": [1.0, 2.0]})
    other = model.with_parameters(w0_um=0.9)
    stack = solve_moments_many(other, t, {"D_KK_cm2_s": [1.0, 2.0]})
    ref = solve_moments(other.with_parameters(D_KK_cm2_s=2.0), t)
    np.testing.assert_allclose(stack.w2_pl_um2[1], ref.w2_pl_um2, rtol=RTOL, atol=0)


@pytest.mark.parametrize("t", [np.array([]), np.array([7.0]), np.array([50.0, -2.0, 10.0])])
def test_empty_single_and_unsorted_time_grids(t):
    model = ValleyModel.from_dict(three_valley()).with_parameters(irf_fwhm_ps=3.0)
    for m in (model, model.with_parameters(tau_KK_ps=0.3)):
        stack = _check(m, t, {"D_KK_cm2_s": [1.0, 3.0]})
        assert stack.pl.shape == (2, t.size)


def _kernel_calls(monkeypatch):
    """Count the compiled pass's calls (skips the test without numba)."""
    pytest.importorskip("numba")
    from fitdiff.solvers import moments_many_numba

    calls = []
    run = moments_many_numba.diffusive_rows
    monkeypatch.setattr(moments_many_numba, "diffusive_rows", lambda *a: calls.append(1) or run(*a))
    return calls


@pytest.mark.parametrize("name", list(CASES))
def test_compiled_pass_matches_numpy_and_one_at_a_time(name, monkeypatch):
    # reference: the numpy path (FITDIFF_NUMBA=0), itself equal to one solve_moments per set
    # (tests above); the compiled pass does the same elementwise operations, so n, m, w² and
    # the PL row agree to rounding (1e-12 relative, the batched path's tolerance)
    calls = _kernel_calls(monkeypatch)
    model = CASES[name][1].with_parameters(irf_fwhm_ps=2.0)
    t = np.linspace(-5.0, 300.0, 400)
    values = _jitter(model, 5, seed=4)
    values["t0_ps"] = np.linspace(-1.0, 2.0, 5)  # per-set pulse centres
    for valleys in (False, True):
        monkeypatch.setenv("FITDIFF_NUMBA", "0")
        ref = solve_moments_many(model, t, values, derivatives=False, valleys=valleys)
        monkeypatch.setenv("FITDIFF_NUMBA", "1")
        before = len(calls)
        got = solve_moments_many(model, t, values, derivatives=False, valleys=valleys)
        fields = ("pl", "w2_pl_um2") + (("n", "m_um2", "w2_um2") if valleys else ())
        for f in fields:
            _close(getattr(got, f), getattr(ref, f), f)
        ballistic = any(vl.tau_ps > 0 for vl in model.valleys)
        # the compiled pass ran unless the case needs the chain or the Taylor branch
        assert len(calls) > before or ballistic or "degenerate" in name
    # a stack that shares the pulse (no t0 given) takes the shared-τ layout of the kernel
    del values["t0_ps"]
    monkeypatch.setenv("FITDIFF_NUMBA", "0")
    ref = solve_moments_many(model, t, values, derivatives=False, valleys=False)
    monkeypatch.setenv("FITDIFF_NUMBA", "1")
    got = solve_moments_many(model, t, values, derivatives=False, valleys=False)
    _close(got.w2_pl_um2, ref.w2_pl_um2, "w2_pl shared pulse")


def test_time_derivatives_stay_on_the_numpy_path(monkeypatch):
    # D(t) is a difference of nearly equal products: it keeps the numpy path's exact
    # operations (bit-equal rows), whatever FITDIFF_NUMBA says
    calls = _kernel_calls(monkeypatch)
    model = ValleyModel.from_dict(three_valley()).with_parameters(irf_fwhm_ps=3.0)
    t = np.linspace(0.0, 200.0, 100)
    values = _jitter(model, 4, seed=6)
    monkeypatch.setenv("FITDIFF_NUMBA", "0")
    ref = solve_moments_many(model, t, values)
    monkeypatch.setenv("FITDIFF_NUMBA", "1")
    got = solve_moments_many(model, t, values)
    assert not calls
    np.testing.assert_array_equal(got.D_pl_cm2_s, ref.D_pl_cm2_s)
    np.testing.assert_array_equal(got.w2_pl_um2, ref.w2_pl_um2)


def test_compiled_plan_follows_the_grid_the_names_and_the_copy(monkeypatch):
    # the compiled pass caches per model what does not change between calls (τ = t − t0, σ,
    # the thermal factors); a new grid, other varying names and a with_parameters copy (new
    # t0, pulse, IRF and T) must each get their own. Reference: one solve_moments per set.
    calls = _kernel_calls(monkeypatch)
    monkeypatch.setenv("FITDIFF_NUMBA", "1")
    model = ValleyModel.from_dict(three_valley()).with_parameters(irf_fwhm_ps=3.0, w_psf_um=0.3)
    values = {"D_KK_cm2_s": [3.0, 4.0, 5.0], "rate_KK_KL_per_ps": [0.4, 0.5, 0.6]}
    grids = [np.linspace(0.0, 200.0, 300), np.linspace(-20.0, 100.0, 250), None]
    for t in grids:
        m = model
        if t is None:  # a copy made after the original filled its caches (it copies them)
            m = model.with_parameters(t0_ps=3.0, pulse_fwhm_ps=1.0, irf_fwhm_ps=2.0, T_K=30.0)
            t = grids[1]
        for names in (values, {**values, "T_K": [40.0, 77.0, 150.0]}):
            before = len(calls)
            stack = solve_moments_many(m, t, names, derivatives=False)
            assert len(calls) == before + 1  # the compiled pass made these rows
            for p in range(3):
                ref = solve_moments(m.with_parameters(**{k: v[p] for k, v in names.items()}), t)
                for f in ("pl", "w2_pl_um2", "n", "m_um2", "w2_um2"):
                    _close(getattr(stack, f)[p], getattr(ref, f), f)
