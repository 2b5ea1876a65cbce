"""When the compiled (numba) extraction kernels pay for loading them.

Importing numba and loading the cached kernels costs about a second in a new process
(docs/guide/performance.md), more than the numpy path needs for a 1024 × 1024 streak. So the
``auto`` choice is a rent-or-buy rule: while the kernels are not loaded, a call runs on numpy
unless its predicted numpy time, plus what numpy already cost this process, reaches the load
cost; from then on (or when numba is already imported) the compiled path runs. A process
that extracts one image pays at most the numpy time; one that extracts many pays at most
twice the load on top of the compiled time.

``FITDIFF_NUMBA=0`` disables the compiled path, ``FITDIFF_NUMBA=1`` uses it whenever numba is
installed (the benchmarks' steady state); unset means the rule above.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading

#: Seconds to import numba and load the cached kernels in a new process (2-core CI box,
#: idle; docs/guide/performance.md). The rule is insensitive to it within a factor of ~2.
LOAD_SECONDS = 1.0

_lock = threading.Lock()
_numpy_seconds = [0.0]


def _setting() -> str:
    return os.environ.get("FITDIFF_NUMBA", "").strip()


def installed() -> bool:
    """True when numba can be imported (without importing it)."""
    return "numba" in sys.modules or importlib.util.find_spec("numba") is not None


def loaded() -> bool:
    """True when numba is already imported in this process (its load is paid)."""
    return "numba" in sys.modules


def wanted(predicted_numpy_seconds: float) -> bool:
    """Whether an ``auto`` call should take the compiled path.

    Parameters
    ----------
    predicted_numpy_seconds : float
        What the numpy path is expected to cost for this call (s).
    """
    setting = _setting()
    if setting == "0":
        return False
    if setting == "1" or loaded():
        return installed()
    with _lock:
        spent = _numpy_seconds[0]
    return spent + predicted_numpy_seconds >= LOAD_SECONDS and installed()


def load_if_paying(predicted_numpy_seconds: float) -> bool:
    """Import numba now when a whole call's numpy cost is predicted to reach the load.

    For a caller that knows its total up front (``extract_widths`` on a streak): deciding
    stage by stage would run the first stages on numpy and then pay the load anyway.

    Returns
    -------
    bool
        Whether numba is loaded afterwards.
    """
    if not loaded() and _setting() != "0" and wanted(predicted_numpy_seconds):
        try:
            import numba  # noqa: F401
        except ImportError:
            return False
    return loaded()


def spent_numpy(seconds: float) -> None:
    """Record the predicted time of an ``auto`` call that ran on numpy (counts towards the
    load). Predicted, not measured: both sides of the rule are then idle-machine seconds,
    so a loaded machine does not tip it."""
    with _lock:
        _numpy_seconds[0] += seconds


def reset() -> None:
    """Forget the numpy time spent (tests)."""
    with _lock:
        _numpy_seconds[0] = 0.0
