"""The compiled moment pass is the numpy moment pass; the auto rule picks the cheaper path.

Reference: :func:`fitdiff.extract.moments._numpy_moments` (array passes, tested against
analytic Gaussian moments in test_extract.py). The compiled pass sums left to right instead of
pairwise, so the two agree to rounding: 1e-9 relative on rows with signal (the background
subtraction cancels most of a faint row's sum, which amplifies rounding there).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from fitdiff.errors import ExtractionError
from fitdiff.extract import compiled
from fitdiff.extract.moments import edge_pixels, profile_moments, streak_moments
from fitdiff.extract.noise import NoiseModel

pytest.importorskip("numba")

RTOL = 1e-9


def _streak(seed: int):
    rng = np.random.default_rng(seed)
    x = np.linspace(-6.0, 6.0, 200)
    s2 = np.linspace(0.5, 3.0, 60)[:, None]
    mean = 400.0 * np.exp(-(x[None, :] ** 2) / (2 * s2)) + 3.0
    data = rng.poisson(mean).astype(float)
    return [x], data, np.maximum(data, 1.0)


def _stack(seed: int):
    rng = np.random.default_rng(seed)
    g = np.meshgrid(np.linspace(-3, 3, 31), np.linspace(-2, 2, 25), indexing="ij")
    coords = [c.ravel() for c in g]
    mean = 80.0 * np.exp(-(coords[0] ** 2 / 1.2 + coords[1] ** 2 / 0.8) / 2) + 2.0
    data = rng.poisson(np.tile(mean, (12, 1))).astype(float)
    return coords, data, data + 1.0


def _flat(d):
    return {k: np.asarray(v, float) for k, v in d.items()}


@pytest.mark.parametrize("case", ["streak", "stack"])
@pytest.mark.parametrize("with_edges", [True, False])
def test_compiled_pass_equals_numpy(case, with_edges):
    coords, data, var = _streak(1) if case == "streak" else _stack(2)
    edges = edge_pixels(coords, 0.1) if with_edges else None
    a = _flat(profile_moments(coords, data, var, edges, backend="numba"))
    b = _flat(profile_moments(coords, data, var, edges, backend="numpy"))
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=RTOL, atol=1e-12, err_msg=key)


def test_unknown_backend_is_named():
    coords, data, var = _streak(3)
    with pytest.raises(ExtractionError, match=r"backend = 'gpu'; allowed \('auto'"):
        profile_moments(coords, data, var, None, backend="gpu")


def test_auto_rule_rents_numpy_until_the_load_pays(monkeypatch):
    # a fresh process without numba loaded: the rule of fitdiff.extract.compiled, checked on
    # its own state (numba is loaded in this test process, so the import test is patched)
    monkeypatch.delenv("FITDIFF_NUMBA", raising=False)
    monkeypatch.setattr(compiled, "loaded", lambda: False)
    compiled.reset()
    try:
        small = 0.1 * compiled.LOAD_SECONDS
        assert not compiled.wanted(small)
        compiled.spent_numpy(small)
        assert not compiled.wanted(small)
        assert compiled.wanted(compiled.LOAD_SECONDS)  # one big call pays the load at once
        compiled.spent_numpy(compiled.LOAD_SECONDS)
        assert compiled.wanted(0.0)  # numpy already cost as much as the load
        monkeypatch.setenv("FITDIFF_NUMBA", "0")
        assert not compiled.wanted(10.0)
        compiled.reset()
        monkeypatch.setenv("FITDIFF_NUMBA", "1")
        assert compiled.wanted(0.0)
    finally:
        compiled.reset()


def test_first_extraction_in_a_new_process_stays_on_numpy():
    # a 256 x 256 streak costs the numpy path far less than loading numba: the first call of a
    # new process must not import numba (the cold-start rule); (FITDIFF_NUMBA=1 would)
    code = (
        "import sys, numpy as np\n"
        "from fitdiff.io.measurement import Measurement\n"
        "from fitdiff.extract import extract_widths\n"
        "rng = np.random.default_rng(0)\n"
        "t = np.linspace(0, 500, 256); x = np.linspace(-8, 8, 256)\n"
        "lam = 200 * np.exp(-x[None, :]**2 / (2 * (1 + t[:, None] / 100))) + 2\n"
        "m = Measurement(rng.poisson(lam), ('t', 'x'), {'t': t, 'x': x}, {'t': 'ps', 'x': 'um'})\n"
        "df = extract_widths(m)\n"
        "print(int(df['ok'].sum()), 'numba' in sys.modules)\n"
    )
    env_auto = {k: v for k, v in __import__("os").environ.items() if k != "FITDIFF_NUMBA"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env_auto, check=True
    ).stdout.split()
    assert int(out[0]) > 200 and out[1] == "False"


@pytest.mark.parametrize(
    ("setting", "predicted_s", "expect"), [("", 0.1, False), ("", 5.0, True), ("0", 5.0, False)]
)
def test_a_call_predicting_more_numpy_than_the_load_loads_numba_up_front(
    setting, predicted_s, expect
):
    # compiled.load_if_paying: the whole call's predicted numpy seconds against LOAD_SECONDS
    # (1.0): below it nothing is imported; above it numba is, before any numpy stage runs;
    # FITDIFF_NUMBA=0 never loads it
    pytest.importorskip("numba")
    code = (
        "import sys\n"
        "from fitdiff.extract import compiled\n"
        f"print(compiled.load_if_paying({predicted_s}), 'numba' in sys.modules)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "FITDIFF_NUMBA"}
    if setting:
        env["FITDIFF_NUMBA"] = setting
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    assert out == [str(expect), str(expect)]


@pytest.mark.parametrize(
    "noise", [NoiseModel(), NoiseModel(gain=2.0, read_noise=3.0, excess=2.0)], ids=str
)
def test_streak_kernel_with_noise_variance_equals_numpy(monkeypatch, noise):
    monkeypatch.setenv("FITDIFF_NUMBA", "1")
    # the fused kernel evaluates noise.variance(data + offset) itself and expands the σ²
    # error in powers of f = (x - centre)²; reference: the numpy pass on the variance array
    coords, data, _ = _streak(3)
    offset = np.linspace(0.0, 2.0, len(data))[:, None]  # one number per row
    edges = edge_pixels(coords, 0.1)
    a = _flat(streak_moments(coords[0], data, False, offset, noise, edges, numpy_seconds=5.0))
    b = _flat(profile_moments(coords, data, noise.variance(data + offset), edges, "numpy"))
    np.testing.assert_array_equal(a.pop("peak"), data.max(axis=1))
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=RTOL, atol=1e-12, err_msg=key)


def test_streak_kernel_declines_what_it_does_not_cover(monkeypatch):
    monkeypatch.setenv("FITDIFF_NUMBA", "1")
    coords, data, _ = _streak(4)
    edges = edge_pixels(coords, 0.1)
    nm = NoiseModel()
    assert streak_moments(coords[0], data, True, 0.0, nm, edges, 5.0) is None  # masked pixels
    per_pixel = np.linspace(0.0, 1.0, data.shape[1])  # an offset that varies along the row
    assert streak_moments(coords[0], data, False, per_pixel, nm, edges, 5.0) is None
