"""emcee sampling: reproducible, resumable after SIGKILL, restarted when the posterior changes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from fitdiff.errors import FitError
from fitdiff.fitting import LinearModel, Normal, Objective, WidthsData, make_parameters, sample
from fitdiff.testing import linear_widths, write_linear_analysis

HERE = Path(__file__).resolve().parent


def _objective(prior_sigma=None):
    model = LinearModel()
    priors = {} if prior_sigma is None else {"D_cm2_s": Normal(1.5, prior_sigma)}
    return Objective(model, WidthsData.from_frame(linear_widths(4)), make_parameters(model), priors)


def test_same_seed_gives_the_same_chain_and_another_seed_does_not(tmp_path):
    a = sample(_objective(), backend_path=tmp_path / "a.h5", walkers=8, steps=40, burn=10, seed=3)
    b = sample(_objective(), backend_path=tmp_path / "b.h5", walkers=8, steps=40, burn=10, seed=3)
    c = sample(_objective(), backend_path=tmp_path / "c.h5", walkers=8, steps=40, burn=10, seed=4)
    np.testing.assert_array_equal(a.chain, b.chain)
    assert not np.allclose(a.chain, c.chain, rtol=0, atol=1e-12)
    assert a.chain.shape == (40, 8, 2)
    assert a.samples.shape == (30 * 8, 2)


def test_extending_resumes_and_a_changed_prior_starts_a_new_chain(tmp_path):
    path = tmp_path / "chain.h5"
    full = sample(
        _objective(), backend_path=tmp_path / "ref.h5", walkers=8, steps=60, burn=10, seed=5
    )
    first = sample(_objective(), backend_path=path, walkers=8, steps=25, burn=10, seed=5)
    assert first.message.startswith("new chain")
    more = sample(_objective(), backend_path=path, walkers=8, steps=60, burn=10, seed=5)
    assert more.message.startswith("resumed stored chain") and more.resumed_from == 25
    # emcee stores the random state with every step: resumed == uninterrupted, bit for bit.
    np.testing.assert_array_equal(more.chain, full.chain)
    changed = sample(
        _objective(prior_sigma=0.1), backend_path=path, walkers=8, steps=30, burn=10, seed=5
    )
    assert changed.message.startswith("model, data, parameters, priors or seed changed")
    assert changed.steps == 30 and changed.resumed_from == 0


def test_convergence_verdict_says_how_many_steps_are_needed():
    post = sample(_objective(), backend_path=None, walkers=8, steps=60, burn=10, seed=1)
    assert not post.converged
    assert "run ≥ 50 τ: set steps ≥" in post.message
    need = int(post.message.split("set steps ≥ ")[1].split(" ")[0])
    # need = ceil(50 τ_max) + burn (PHYSICS.md §4: converged means chain > 50 τ_int)
    assert need == int(np.ceil(50 * post.tau_int.max())) + 10
    ess = post.walkers * 50 / post.tau_int
    np.testing.assert_allclose(post.ess, ess, rtol=1e-12)


def test_bad_sampler_settings_are_refused():
    with pytest.raises(FitError, match=r"sample.walkers = 3 must be ≥ 2 × 2 free parameters"):
        sample(_objective(), backend_path=None, walkers=3, steps=10)
    with pytest.raises(FitError, match=r"sample.burn = 10 must be in \[0, steps = 10\)"):
        sample(_objective(), backend_path=None, walkers=8, steps=10, burn=10)


def _iteration(path: Path) -> int:
    try:
        with h5py.File(path, "r", locking=False) as f:
            return int(f["mcmc"].attrs["iteration"])
    except (OSError, KeyError):
        return 0


@pytest.mark.slow
def test_sigkill_mid_run_then_restart_ends_with_exactly_the_requested_steps(tmp_path):
    steps = 300
    toml = write_linear_analysis(tmp_path / "a", steps=steps, walkers=16)
    run = tmp_path / "run"
    env = {**os.environ, "HDF5_USE_FILE_LOCKING": "FALSE"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fitdiff.cli", "sample", str(toml), "-o", str(run), "-q"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while _iteration(run / "chain.h5") < 40 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = _iteration(run / "chain.h5")
    assert 40 <= done < steps, f"the child should be killed mid-run (at {done} of {steps} steps)"
    with h5py.File(run / "chain.h5", "r") as f:
        before = f["mcmc/chain"][:done].copy()

    from fitdiff.analysis import load_analysis, run_sample

    post = run_sample(load_analysis(toml), run)
    assert post.resumed_from == done and post.steps == steps
    assert post.chain.shape == (steps, 16, 2)
    np.testing.assert_array_equal(post.chain[:done], before)  # no lost samples
    # and the same seed run uninterrupted gives the same chain
    ref = run_sample(load_analysis(toml), tmp_path / "ref")
    np.testing.assert_array_equal(post.chain, ref.chain)


@pytest.mark.slow
def test_process_pool_gives_the_same_chain_as_serial(tmp_path):
    # emcee draws its proposals in the parent; workers only evaluate: same seed, same chain.
    serial = sample(_objective(), backend_path=None, walkers=8, steps=30, burn=5, seed=9)
    pooled = sample(
        _objective(), backend_path=tmp_path / "p.h5", walkers=8, steps=30, burn=5, seed=9, workers=2
    )
    np.testing.assert_array_equal(pooled.chain, serial.chain)
