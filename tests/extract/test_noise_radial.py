"""The noise model (PHYSICS.md §1) and the radial profile of a stack."""

from __future__ import annotations

import numpy as np
import pytest

from fitdiff.errors import ExtractionError
from fitdiff.extract import NoiseModel, radial_profile
from fitdiff.extract.noise import resolve_noise
from fitdiff.testing import stack


def test_variance_formula():
    # PHYSICS.md §1: variance = excess · gain · counts + read_noise² (EM excess factor 2)
    nm = NoiseModel(gain=2.0, read_noise=3.0, excess=2.0)
    np.testing.assert_allclose(nm.variance(np.array([0.0, 10.0])), [9.0, 49.0], rtol=1e-12, atol=0)
    # Poisson: variance = mean, floored at 0.01 so zero-model tails keep finite weights
    np.testing.assert_allclose(
        NoiseModel().variance(np.array([-1.0, 0.0, 5.0])), [0.01, 0.01, 5.0], rtol=1e-12, atol=0
    )


def test_resolve_noise_sources_and_errors():
    assert resolve_noise(None, {"noise": {"gain": 3.0}}) == NoiseModel(gain=3.0)
    assert resolve_noise(None, {}) == NoiseModel()
    with pytest.raises(ExtractionError, match="gain = -1.0; allowed > 0"):
        NoiseModel(gain=-1.0)
    with pytest.raises(ExtractionError, match="noise='meta' but the measurement has no"):
        resolve_noise("meta", {})
    with pytest.raises(ExtractionError, match="noise = 'gaussian'; allowed 'poisson'"):
        resolve_noise("gaussian")


def test_radial_profile_of_gaussian_spot():
    # an isotropic Gaussian of σ² = 2 µm² centred at (0.4, -0.3): the ring means follow
    # A exp(-r²/(2σ²)) + bg; fitted ratio of the first two rings checks the shape, and the
    # profile's centre estimate is the rendered one
    m, fx, _ = stack(3, sx2=2.0, sy2=2.0, growth=0.0, photons=4e6, bg=0.0)
    prof = radial_profile(m, center_um=(0.4, -0.3), bin_um=0.25)
    first = prof[prof["t_ps"] == 0.0]
    r = first["r_um"].to_numpy()
    near = r < 2.0
    model = np.exp(-(r[near] ** 2) / (2 * fx[0]))
    ratio = first["counts"].to_numpy()[near] / model
    # 6 %: averaging exp(-r²/2σ²) over a 0.25 µm ring, plus Poisson noise of ~1e3 counts/px
    np.testing.assert_allclose(ratio / ratio[2:].mean(), 1.0, rtol=0.06, atol=0)
    assert set(prof.columns) == {"t_ps", "r_um", "counts", "counts_err", "npix"}
    with pytest.raises(ExtractionError, match="bin_um = -1.0; allowed > 0"):
        radial_profile(m, bin_um=-1.0)
