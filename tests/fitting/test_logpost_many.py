"""The log-posterior on a stack of parameter sets and the buffered chain file.

Reference for ``logpost_many``: ``Objective.logpost`` one set at a time (tested against
scipy.stats formulas in test_fitting_objective.py); rows must agree to 1e-12 relative and be
−inf exactly where ``logpost`` is. Reference for the buffered chain: an uninterrupted run with
the same seed (emcee stores the random state, so a resumed chain equals it bit for bit).
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pandas as pd
import pytest

from fitdiff.fitting import (
    GlobalObjective,
    KineticsData,
    LinearModel,
    Normal,
    Objective,
    WidthsData,
    make_parameters,
    posterior_predictive,
    sample,
)
from fitdiff.fitting.valleys import ValleysModel
from fitdiff.solvers import ValleyModel, solve_moments
from fitdiff.testing import THREE_VALLEYS, linear_widths

RTOL = 1e-12


def _same_rows(obj, thetas):
    many = obj.logpost_many(np.asarray(thetas, float))
    one = np.array([obj.logpost(t) for t in thetas])
    assert np.array_equal(np.isfinite(many), np.isfinite(one))
    fin = np.isfinite(one)
    np.testing.assert_allclose(many[fin], one[fin], rtol=RTOL, atol=0)
    return many


def _linear(ln_f=False, cov=None, priors=None):
    data = WidthsData.from_frame(linear_widths(0), cov=cov)
    model = LinearModel()
    params = make_parameters(model, D_cm2_s=1.0)
    params["D_cm2_s"].set(max=20.0)
    if ln_f:
        params.add("ln_f", value=-2.0, min=-10.0, max=1.0)
    return Objective(model, data, params, priors, ln_f="ln_f" if ln_f else None)


@pytest.mark.parametrize("ln_f", [False, True])
def test_linear_rows_with_priors_bounds_and_inflation(ln_f):
    obj = _linear(ln_f=ln_f, priors={"D_cm2_s": Normal(1.4, 0.2)})
    rng = np.random.default_rng(0)
    thetas = obj.theta0 + 0.1 * rng.standard_normal((12, obj.ndim))
    thetas[3, 1] = 25.0  # D above its max 20: −inf
    thetas[5, 0] = math.nan  # NaN: out of bounds
    many = _same_rows(obj, thetas)
    assert many[3] == -math.inf and many[5] == -math.inf


def test_correlated_data_rows():
    n = len(linear_widths(0))
    idx = np.arange(n)
    cov = 0.02**2 * (0.5 ** np.abs(idx[:, None] - idx[None, :]))  # AR(1) correlated points
    for ln_f in (False, True):
        obj = _linear(ln_f=ln_f, cov=cov)
        thetas = obj.theta0 + 0.05 * np.random.default_rng(1).standard_normal((6, obj.ndim))
        _same_rows(obj, thetas)


def test_expressions_are_evaluated_per_set():
    model = LinearModel()
    params = make_parameters(model)
    params.add("D_half", value=0.7, min=0)
    params["D_cm2_s"].set(expr="2 * D_half")
    obj = Objective(model, WidthsData.from_frame(linear_widths(3)), params)
    thetas = np.array([[1.0, 0.7], [1.1, 0.75], [0.9, 0.8]])
    _same_rows(obj, thetas)
    np.testing.assert_allclose(obj.values_many(thetas)["D_cm2_s"], 2 * thetas[:, 1], rtol=0)


def _valleys_objective():
    base = ValleyModel.from_dict(THREE_VALLEYS)
    t = np.linspace(-10.0, 300.0, 120)
    sol = solve_moments(base, t)
    rng = np.random.default_rng(0)
    w_err = np.full(t.size, 0.01)
    c = 1e6 * sol.pl
    widths = pd.DataFrame(
        {"t_ps": t, "w2_um2": sol.w2_pl_um2 + w_err * rng.standard_normal(t.size)}
    ).assign(w2_err_um2=w_err)
    pl = pd.DataFrame({"t_ps": t, "intensity": c, "intensity_err": 0.02 * c + 1.0})
    model = ValleysModel(base)
    params = make_parameters(model, pl_scale=1e6)
    for n in ("D_KK_cm2_s", "D_KKp_cm2_s", "rate_KK_KKp_per_ps", "pl_scale"):
        params[n].set(vary=True)
    objs = [
        Objective(model, WidthsData.from_frame(widths, label="w"), params),
        Objective(model, KineticsData.from_frame(pl, label="pl"), params),
    ]
    return GlobalObjective(objs)


def test_valleys_global_rows_share_one_batched_solve():
    obj = _valleys_objective()
    rng = np.random.default_rng(2)
    thetas = obj.theta0 * (1 + 0.05 * rng.standard_normal((8, obj.ndim)))
    thetas[2, 0] = -0.5  # a negative D: outside the bounds (>= 0)
    many = _same_rows(obj, thetas)
    assert many[2] == -math.inf


def test_vectorized_sampling_matches_one_walker_at_a_time(tmp_path):
    # a process pool evaluates one walker at a time; the default path stacks them: the
    # proposals are emcee's in both, so the chains agree bit for bit
    obj = _linear()
    stacked = sample(obj, backend_path=None, walkers=8, steps=30, burn=5, seed=9)
    pooled = sample(obj, backend_path=tmp_path / "p.h5", walkers=8, steps=30, burn=5, seed=9,
                    pool=_SerialPool())  # fmt: skip
    np.testing.assert_array_equal(stacked.chain, pooled.chain)


class _SerialPool:
    """An emcee pool that maps one walker at a time in this process."""

    def map(self, fn, items):
        return list(map(fn, items))


def test_posterior_predictive_bands_equal_one_draw_at_a_time():
    obj = _linear()
    post = sample(obj, backend_path=None, walkers=8, steps=40, burn=10, seed=4)
    bands = posterior_predictive(obj, post, draws=70, seed=1)
    rng = np.random.default_rng(1)
    idx = rng.choice(post.samples.shape[0], size=70, replace=False)
    preds = np.array([obj.terms[0].predict(obj.values(post.samples[i])) for i in idx])
    q = np.percentile(preds, [2.5, 16, 50, 84, 97.5], axis=0)
    for name, row in zip(["p2_5", "p16", "p50", "p84", "p97_5"], q, strict=True):
        np.testing.assert_allclose(bands[name].to_numpy(), row, rtol=RTOL, atol=0)


_KILLED = textwrap.dedent(
    """
    import os
    from fitdiff.testing import linear_widths
    from fitdiff.fitting import LinearModel, Objective, WidthsData, make_parameters, sample
    from fitdiff.fitting import sampling

    sampling.FLUSH_STEPS, sampling.FLUSH_SECONDS = 5, 1e9  # blocks of 5 steps, never by time


    class Dying(Objective):
        calls = 0

        def logpost_many(self, thetas):
            type(self).calls += 1
            if type(self).calls == 2 * 23 + 2:  # start + 23 steps (2 half-steps each) done
                os._exit(9)  # no clean-up, no flush: as SIGKILL
            return super().logpost_many(thetas)


    model = LinearModel()
    params = make_parameters(model, D_cm2_s=1.0)
    params["D_cm2_s"].set(max=20.0)  # the objective of _linear(): the same chain identity
    obj = Dying(model, WidthsData.from_frame(linear_widths(0)), params)
    sample(obj, backend_path={path!r}, walkers=8, steps=60, burn=5, seed=11)
    """
)


def test_a_kill_loses_at_most_the_unwritten_block_and_resume_is_exact(tmp_path):
    path = tmp_path / "chain.h5"
    code = _KILLED.format(path=str(path))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    with h5py.File(path, "r") as f:
        done = int(f["mcmc"].attrs["iteration"])
        stored = f["mcmc/chain"][:done].copy()
    # 23 steps finished, written in blocks of 5: the first 20 are on disk, 3 were in memory
    assert done == 20
    resumed = sample(_linear(), backend_path=path, walkers=8, steps=60, burn=5, seed=11)
    assert resumed.resumed_from == 20 and resumed.steps == 60
    np.testing.assert_array_equal(resumed.chain[:20], stored)
    ref = sample(_linear(), backend_path=tmp_path / "ref.h5", walkers=8, steps=60, burn=5,
                 seed=11)  # fmt: skip
    np.testing.assert_array_equal(resumed.chain, ref.chain)
