"""fitdiff's stretch move is emcee's: the same chain bit for bit, with a faster acceptance step.

Reference: ``emcee.moves.StretchMove`` (emcee's default move) run from the same start and
random state; the chains, log-probabilities and acceptance counts must be identical.
"""

from __future__ import annotations

import emcee
import numpy as np
import pytest

from fitdiff.fitting.sampling import StretchMove


def _log_prob(x):
    # a correlated Gaussian with a hard wall (−inf beyond it: rejections happen)
    lp = -0.5 * (x[:, 0] ** 2 + 4.0 * (x[:, 1] - 0.5 * x[:, 0]) ** 2 + np.sum(x[:, 2:] ** 2, 1))
    return np.where(x[:, 0] < 1.5, lp, -np.inf)


@pytest.mark.parametrize("walkers, seed", [(8, 1), (16, 2), (33, 3)])
@pytest.mark.parametrize("direct", [False, True])
def test_same_chain_as_emcee_stretch_move(walkers, seed, direct):
    # direct: the move calls the stacked log-probability itself (how ``sample`` runs it)
    ndim = 4
    start = 0.1 * np.random.default_rng(seed).standard_normal((walkers, ndim))
    runs = []
    ours = StretchMove(log_prob_many=_log_prob if direct else None)
    for move in (emcee.moves.StretchMove(), ours):
        s = emcee.EnsembleSampler(walkers, ndim, _log_prob, vectorize=True, moves=move)
        s.random_state = np.random.RandomState(seed).get_state()
        s.run_mcmc(start, 150)
        runs.append(s)
    a, b = runs
    np.testing.assert_array_equal(b.get_chain(), a.get_chain())
    np.testing.assert_array_equal(b.get_log_prob(), a.get_log_prob())
    np.testing.assert_array_equal(b.backend.accepted, a.backend.accepted)
    assert 0.05 < np.mean(a.acceptance_fraction) < 0.95  # the test sees both outcomes


def test_direct_calls_keep_emcees_checks():
    # emcee's EnsembleSampler.compute_log_prob refuses non-finite positions and NaN results
    move = StretchMove(log_prob_many=_log_prob)
    with pytest.raises(ValueError, match="parameter value was infinite"):
        move._log_prob(None, np.array([[np.inf, 0.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="parameter value was NaN"):
        move._log_prob(None, np.array([[np.nan, 0.0, 0.0, 0.0]]))
    move = StretchMove(log_prob_many=lambda x: np.full(len(x), np.nan))
    with pytest.raises(ValueError, match="returned NaN"):
        move._log_prob(None, np.zeros((2, 4)))
