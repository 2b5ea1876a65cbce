"""The top rung (PHYSICS.md §3.5, TOPRUNG.md): seed 001's Boltzmann equation over valley × |Q|,
reduced exactly to the spatial moments (n, p, m) on shells of |Q|.

* :class:`BoltzmannModel` - the model file of TOPRUNG.md §9 (from a dict), flat parameters;
* :func:`build_grid`, :func:`build_generator` - shells and the sparse generator with exact
  detailed balance (golden-rule rates, :mod:`.rates`);
* :func:`solve` - closed form from two ``eigh`` (fast) or ``expm_multiply`` (reference), with
  pulse and IRF convolved before ratios; :class:`BoltzmannSolution` - the §9 columns.
"""

from .config import BoltzmannModel, BSource, BValley, Channel
from .generator import Generator, build_generator
from .grid import Grid, build_grid
from .solver import BoltzmannSolution, solve
from .source import formation, source_vector

__all__ = [
    "BSource",
    "BValley",
    "BoltzmannModel",
    "BoltzmannSolution",
    "Channel",
    "Generator",
    "Grid",
    "build_generator",
    "build_grid",
    "formation",
    "solve",
    "source_vector",
]
