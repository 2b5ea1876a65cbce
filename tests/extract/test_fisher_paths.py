"""The compiled Fisher information of streak rows is the numpy one.

Reference: :func:`fitdiff.extract.fisher.gauss_covariance` on the numpy path
(``FITDIFF_NUMBA=0``), which forms Jᵀ diag(1/v) J from the model's own Jacobian (itself tested
against the scatter of fits in test_honest_weights.py). The compiled sweep sums the same
terms in another order with the fitter's Gaussian recurrence (~1e-13 relative), so the
covariances agree to 1e-9 relative.
"""

from __future__ import annotations

import numpy as np
import pytest

from fitdiff.extract.fisher import gauss_covariance, predicted_errors
from fitdiff.extract.noise import NoiseModel

pytest.importorskip("numba")

RTOL = 1e-9


def _rows(rng, B, x):
    amp = 10 ** rng.uniform(0.5, 3.0, B)
    x0 = rng.uniform(x[0] / 2, x[-1] / 2, B)
    s2 = rng.uniform(0.5, 8.0, B)
    c = rng.uniform(0.0, 3.0, B)
    p = np.column_stack([amp, x0, s2, c])
    p[3, 2] = -1.0  # inadmissible (σ² < 0): NaN on both paths
    return p


def _close(got, ref):
    """Entries agree to RTOL of sqrt(cov_ii cov_jj): off-diagonal terms that vanish by
    symmetry (centre against width) are rounding noise on both paths."""
    d = np.sqrt(np.abs(np.diagonal(ref, axis1=1, axis2=2)))
    scale = d[:, :, None] * d[:, None, :]
    ok = ~np.isnan(ref)
    assert np.all(np.abs(got - ref)[ok] <= RTOL * scale[ok])


def _both(monkeypatch, *args, **kw):
    out = []
    for setting in ("0", "1"):
        monkeypatch.setenv("FITDIFF_NUMBA", setting)
        out.append(gauss_covariance(*args, **kw))
    return out


@pytest.mark.parametrize("grid", ["uniform", "non-uniform"])
@pytest.mark.parametrize(
    "noise", [NoiseModel(), NoiseModel(gain=2.0, read_noise=3.0, excess=2.0)], ids=str
)
def test_compiled_information_matches_numpy(monkeypatch, grid, noise):
    rng = np.random.default_rng(11)
    x = np.linspace(-12.0, 12.0, 300)
    if grid == "non-uniform":
        x = np.sort(x + rng.uniform(-0.01, 0.01, x.size))  # h = 0: exact exp per pixel
    B = 24
    p = _rows(rng, B, x)
    offsets = [0.0, rng.uniform(0, 5, (B, 1)), rng.uniform(0, 5, (B, x.size))]
    valid = rng.random((B, x.size)) > 0.1
    for off in offsets:
        for v in (None, valid):
            ref, got = _both(monkeypatch, [x], p, noise, offset=off, valid=v)
            assert np.array_equal(np.isnan(ref), np.isnan(got))
            assert np.isnan(ref[3]).all()
            _close(got, ref)


def test_predicted_errors_through_the_compiled_path(monkeypatch):
    rng = np.random.default_rng(12)
    x = np.linspace(-10.0, 10.0, 201)
    p = _rows(rng, 10, x)
    p[3, 2] = 2.0  # every row admissible here
    out = []
    for setting in ("0", "1"):
        monkeypatch.setenv("FITDIFF_NUMBA", setting)
        out.append(predicted_errors([x], p, NoiseModel(), offset=np.full((10, 1), 1.5)))
    for key in ("w2_err", "intensity_err"):
        np.testing.assert_allclose(out[1][key], out[0][key], rtol=RTOL, atol=0)


@pytest.mark.parametrize(
    "noise", [NoiseModel(), NoiseModel(gain=2.0, read_noise=3.0, excess=2.0)], ids=str
)
def test_lattice_sums_match_every_pixel(monkeypatch, noise):
    # a profile many pixels wide, inside its row: the compiled pass sums every k-th pixel of its
    # box (times k); Poisson summation bounds the difference by ~exp(-50) of the sums, so the
    # numpy path over every pixel agrees to rounding. Peaks from 1e-2 to 1e6 over their
    # background and negative amplitudes (weights with poles near the real axis) included.
    from fitdiff.extract import fisher_numba, lm_numba

    rng = np.random.default_rng(13)
    x = np.linspace(-12.0, 12.0, 1024)
    B = 40
    p = np.column_stack(
        [
            10 ** rng.uniform(-2, 6, B) * np.where(np.arange(B) % 5 == 0, -0.2, 1.0),
            rng.uniform(-2.0, 2.0, B),
            rng.uniform(0.5, 2.0, B),
            10 ** rng.uniform(-1, 2, B),
        ]
    )
    off = rng.uniform(0, 2, (B, 1))
    h = lm_numba.uniform_step(x)
    ge, read2 = noise.excess * noise.gain, noise.read_noise**2
    lattice = 0
    for (a, x0, s, c), o in zip(p, off[:, 0], strict=True):
        half = np.sqrt(2 * s * lm_numba._cut(a, c, o, ge, read2, noise.floor))  # the box
        inside = x[0] <= x0 - half and x0 + half <= x[-1]
        k = fisher_numba._alias_free_step(h, a, s, c, o, ge, read2, noise.floor)
        lattice += inside and k >= 4
    assert lattice >= 15  # most rows take the lattice
    ref, got = _both(monkeypatch, [x], p, noise, offset=off)
    assert np.array_equal(np.isnan(ref), np.isnan(got))
    _close(got, ref)
