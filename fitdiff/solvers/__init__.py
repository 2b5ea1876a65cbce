"""Multivalley bright/dark exciton transport (PHYSICS.md §3).

* :class:`ValleyModel` - the validated model definition (MODEL.toml schema);
* :func:`solve_moments` - exact moments n_v, w_v², D_v(t) and the PL width (the fast path);
* :func:`solve_spatial` - profiles N_v(r, t), PL(r, t): exact Hankel solution for linear
  models, a conservative stiff method of lines with annihilation (:func:`solve_pde`);
* :func:`render_streak`, :func:`render_stack` - synthetic measurements.
"""

from .model import Instrument, RenderSettings, Source, Transition, Valley, ValleyModel
from .moments import MomentSolution, solve_moments
from .pde import solve_pde
from .render import render_stack, render_streak
from .spatial import SpatialSolution, solve_spatial

__all__ = [
    "Instrument",
    "MomentSolution",
    "RenderSettings",
    "SpatialSolution",
    "Source",
    "Transition",
    "Valley",
    "ValleyModel",
    "render_stack",
    "render_streak",
    "solve_moments",
    "solve_pde",
    "solve_spatial",
]
