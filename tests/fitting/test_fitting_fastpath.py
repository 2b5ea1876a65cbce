"""The sampling fast path: open-file chain backend, reused start log-posteriors, float objective."""

from __future__ import annotations

import math

import emcee
import numpy as np
import pytest
from scipy import stats

from fitdiff.fitting import LinearModel, Normal, Objective, WidthsData, make_parameters, sample
from fitdiff.fitting.sampling import ChainBackend
from fitdiff.testing import linear_widths


def _objective(priors=None):
    model = LinearModel()
    params = make_parameters(model)
    params["D_cm2_s"].set(min=0.0, max=20.0)
    return Objective(model, WidthsData.from_frame(linear_widths(4)), params, priors or {})


class _Counting(Objective):
    """Counts log-posterior evaluations."""

    calls = 0

    def logpost(self, theta):
        type(self).calls += 1
        return super().logpost(theta)

    __call__ = logpost


def test_chain_file_is_emcee_layout_and_equals_the_in_memory_chain(tmp_path):
    path = tmp_path / "chain.h5"
    on_disk = sample(_objective(), backend_path=path, walkers=8, steps=30, burn=5, seed=2)
    in_memory = sample(_objective(), backend_path=None, walkers=8, steps=30, burn=5, seed=2)
    # independent reader: emcee's own HDFBackend must read the file unchanged
    plain = emcee.backends.HDFBackend(str(path), name="mcmc", read_only=True)
    assert plain.iteration == 30
    np.testing.assert_array_equal(plain.get_chain(), in_memory.chain)
    np.testing.assert_array_equal(plain.get_chain(), on_disk.chain)
    np.testing.assert_array_equal(plain.get_log_prob()[5:].ravel(), in_memory.log_prob)
    # accepted counts / iterations is the acceptance fraction the summary reports
    np.testing.assert_allclose(
        np.mean(plain.accepted) / 30, in_memory.acceptance_fraction, rtol=0, atol=1e-15
    )


def test_extending_a_stored_chain_by_one_step_continues_the_generator_exactly(tmp_path):
    # emcee resumes from the random state stored with the last step: entries the backend
    # skipped as unchanged must still hold the generator's current value.
    path = tmp_path / "chain.h5"
    sample(_objective(), backend_path=path, walkers=8, steps=40, burn=5, seed=6)
    stored = emcee.backends.HDFBackend(str(path), read_only=True).random_state
    assert stored[0] == "MT19937" and len(stored) == 5
    resumed = sample(_objective(), backend_path=path, walkers=8, steps=41, burn=5, seed=6)
    longer = sample(_objective(), backend_path=None, walkers=8, steps=41, burn=5, seed=6)
    assert resumed.resumed_from == 40
    np.testing.assert_array_equal(resumed.chain, longer.chain)


def test_a_state_of_the_wrong_shape_is_refused(tmp_path):
    backend = ChainBackend(str(tmp_path / "c.h5"))
    backend.reset(4, 2)
    backend.grow(1, None)
    bad = emcee.State(np.zeros((4, 3)), log_prob=np.zeros(4), random_state=None)
    with pytest.raises(ValueError, match=r"state of shape \(4, 3\).*chain of shape \(4, 2\)"):
        backend.save_step(bad, np.zeros(4, bool))
    assert backend.iteration == 0


def test_start_log_posteriors_are_not_evaluated_twice():
    _Counting.calls = 0
    model = LinearModel()
    obj = _Counting(model, WidthsData.from_frame(linear_widths(4)), make_parameters(model))
    sample(obj, backend_path=None, walkers=8, steps=10, burn=2, seed=1)
    # one check of the centre, one per walker start, then one per walker and step
    assert _Counting.calls == 1 + 8 + 8 * 10


def test_logpost_equals_independent_normal_formula_and_refuses_outside_bounds():
    obj = _objective({"D_cm2_s": Normal(1.5, 0.2)})
    theta = np.array([1.0, 1.4])
    d = obj.terms[0].data
    m = theta[0] + 4.0 * theta[1] * 1e-4 * d.x  # PHYSICS.md §1, 1 cm²/s = 1e-4 µm²/ps
    # independent program: scipy.stats.norm for the likelihood and the prior
    expected = float(np.sum(stats.norm.logpdf(d.y, m, d.y_err))) + stats.norm.logpdf(1.4, 1.5, 0.2)
    assert obj.logpost(theta) == pytest.approx(expected, rel=1e-12, abs=1e-9)
    assert obj.logpost([1.0, 1.4]) == pytest.approx(expected, rel=1e-12, abs=1e-9)
    assert obj.logpost(np.array([1.0, 25.0])) == -math.inf  # D above its max 20
    assert obj.logpost(np.array([math.nan, 1.4])) == -math.inf
    with pytest.raises(ValueError, match="zip"):
        obj.logpost(np.array([1.0, 1.4, 2.0]))


def test_a_chain_too_short_for_tau_says_so_instead_of_failing():
    post = sample(_objective(), backend_path=None, walkers=8, steps=2, burn=0, seed=1)
    # 2 steps: emcee's τ estimate degenerates (zero or NaN window), no τ_int exists
    assert post.steps == 2 and not post.converged
    assert "τ_int is undefined after 2 kept steps" in post.message
