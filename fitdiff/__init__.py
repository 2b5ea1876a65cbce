"""fitdiff: exciton-transport measurements to physics.

Public entry points (imported lazily so that ``import fitdiff`` stays fast):

* :func:`load` - read a streak-camera or PL file into a :class:`~fitdiff.io.Measurement`;
* :func:`extract_widths`, :func:`transient_diffusion`, :func:`linear_diffusion` - w²(t), D(t);
* :mod:`fitdiff.physics` - D(T) models and material presets;
* :mod:`fitdiff.solvers` - the multivalley bright/dark transport solver;
* :mod:`fitdiff.fitting` - lmfit least squares and emcee posteriors.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "load": ("fitdiff.io", "load"),
    "save": ("fitdiff.io", "save"),
    "Measurement": ("fitdiff.io", "Measurement"),
    "extract_widths": ("fitdiff.extract", "extract_widths"),
    "transient_diffusion": ("fitdiff.extract", "transient_diffusion"),
    "linear_diffusion": ("fitdiff.extract", "linear_diffusion"),
    "diffusivity": ("fitdiff.physics", "diffusivity"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    if name in {"io", "extract", "physics", "solvers", "fitting", "report", "pipeline", "batch"}:
        return importlib.import_module(f"fitdiff.{name}")
    raise AttributeError(f"module 'fitdiff' has no attribute {name!r}")
