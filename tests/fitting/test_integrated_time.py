"""The batched τ_int estimate of ``fitdiff sample`` is emcee's estimate.

Reference: ``emcee.autocorr.integrated_time(chain, tol=0)`` (what ``sample`` called before, one
walker and parameter at a time), on random-walk and AR(1) chains of the shapes a run makes.
The batched inverse FFT may round differently in the last bit: equal to 1e-12 relative.
"""

from __future__ import annotations

import emcee
import numpy as np
import pytest
import scipy.signal

from fitdiff.fitting.sampling import integrated_time


@pytest.mark.parametrize("shape", [(45, 32, 5), (60, 16, 3), (1000, 8, 2), (7, 6, 1)])
def test_equals_emcee_on_random_walks(shape):
    x = np.cumsum(np.random.default_rng(5).standard_normal(shape), axis=0)
    ref = emcee.autocorr.integrated_time(x, tol=0, quiet=True)
    np.testing.assert_allclose(integrated_time(x), ref, rtol=1e-12, atol=0)


def test_equals_emcee_on_an_ar1_chain_and_finds_its_tau():
    # AR(1) with coefficient φ has ρ(t) = φ^|t|, so emcee's τ = 1 + 2 Σ_(t≥1) ρ(t) (emcee's
    # autocorrelation tutorial) is (1 + φ)/(1 − φ) = 9 for φ = 0.8, analytically; 20000 steps
    # × 16 walkers estimate it to a few per cent
    rng = np.random.default_rng(7)
    phi, n, w = 0.8, 20000, 16
    e = np.sqrt(1 - phi**2) * rng.standard_normal((n, w, 1))
    e[0] = rng.standard_normal((w, 1))
    x = scipy.signal.lfilter([1.0], [1.0, -phi], e, axis=0)  # x_i = φ x_(i−1) + e_i
    tau = integrated_time(x)
    np.testing.assert_allclose(tau, emcee.autocorr.integrated_time(x, tol=0), rtol=1e-12, atol=0)
    np.testing.assert_allclose(tau, [9.0], rtol=0.05)
