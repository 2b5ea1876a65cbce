"""A sampler's announcement of its evaluations loads the compiled moment pass only when it pays.

The rule is :mod:`fitdiff.extract.compiled`'s rent-or-buy: numpy time predicted for the run
(``NUMPY_SECONDS_PER_VALUE`` × sets × valleys × times) against the load cost of numba
(``LOAD_SECONDS``). The numbers below are that arithmetic, not measurements.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fitdiff.extract import compiled
from fitdiff.fitting import Objective, WidthsData, make_parameters
from fitdiff.fitting import valleys as valleys_mod
from fitdiff.fitting.valleys import ValleysModel
from fitdiff.solvers import ValleyModel, moments_many
from fitdiff.testing import three_valley


def _objective():
    model = ValleysModel(ValleyModel.from_dict(three_valley()))
    t = np.linspace(0.0, 100.0, 200)
    widths = pd.DataFrame({"t_ps": t, "w2_um2": 1.0 + 0.01 * t, "w2_err_um2": 0.01})
    params = make_parameters(model)
    params["D_KK_cm2_s"].set(vary=True)
    return Objective(model, WidthsData.from_frame(widths, label="w"), params)


def test_loads_the_compiled_pass_only_when_the_run_pays_for_it(monkeypatch):
    loads = []
    monkeypatch.setattr(moments_many, "load_compiled", lambda: loads.append(1))
    monkeypatch.setattr(compiled, "loaded", lambda: False)
    monkeypatch.delenv("FITDIFF_NUMBA", raising=False)
    monkeypatch.setattr(compiled, "installed", lambda: True)
    compiled.reset()
    try:
        obj = _objective()
        per_set = valleys_mod.NUMPY_SECONDS_PER_VALUE * 3 * 200  # 3 valleys x 200 times
        small = int(0.1 * compiled.LOAD_SECONDS / per_set)
        obj.prepare_many(small)  # a tenth of the load: numpy, and counted
        assert not loads
        assert abs(compiled._numpy_seconds[0] - small * per_set) <= 1e-12
        obj.prepare_many(int(compiled.LOAD_SECONDS / per_set) + 1)  # a whole load: buy
        assert loads == [1]
        monkeypatch.setenv("FITDIFF_NUMBA", "0")  # disabled: never
        obj.prepare_many(10**9)
        assert loads == [1]
    finally:
        compiled.reset()
