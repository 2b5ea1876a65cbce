"""Radial profiles: the :class:`SpatialSolution` container and the Hankel quadrature grid.

Shared by the exact Hankel solver (:mod:`fitdiff.solvers.spatial`) and the method-of-lines
solver (:mod:`fitdiff.solvers.pde`, which convolves with the PSF in Hankel space), so neither
imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import simpson

#: ĝ(k) = exp(−k² w0²/4) is below exp(−_KMAX_EXP) at k_max (negligible against 1e-16).
_KMAX_EXP = 40.0


@dataclass(frozen=True)
class SpatialSolution:
    """Radial profiles of every valley and of the PL.

    Attributes
    ----------
    t_ps : numpy.ndarray
        Times in ps, shape (T,).
    r_um : numpy.ndarray
        Radii in µm, shape (R,).
    valleys : list of str
        Valley names.
    N : numpy.ndarray
        Densities N_v(r, t) in excitons/µm², shape (V, T, R).
    pl : numpy.ndarray
        PL(r, t) = Σ γ_v N_v in excitons/(µm² ps), shape (T, R).
    method : str
        ``"hankel"`` or ``"pde"``.
    """

    t_ps: np.ndarray
    r_um: np.ndarray
    valleys: list[str]
    N: np.ndarray
    pl: np.ndarray
    method: str

    def _radial_moment(self, y: np.ndarray, power: int) -> np.ndarray:
        """∫ r^power y 2πr dr on the r grid (Simpson; the grid should start at r = 0)."""
        return simpson(2.0 * np.pi * self.r_um ** (power + 1) * y, x=self.r_um, axis=-1)

    def populations(self) -> np.ndarray:
        """n_v(t) = ∫N_v d²r, shape (V, T)."""
        return self._radial_moment(self.N, 0)

    def w2_um2(self) -> np.ndarray:
        """w_v² = ∫r²N_v / ∫N_v in µm², shape (V, T)."""
        return self._radial_moment(self.N, 2) / self._radial_moment(self.N, 0)

    def w2_pl_um2(self) -> np.ndarray:
        """Second-moment width of the PL in µm², shape (T,)."""
        return self._radial_moment(self.pl, 2) / self._radial_moment(self.pl, 0)

    def kurtosis_excess(self, which: str = "pl") -> np.ndarray:
        """Excess kurtosis of the 1-D projection ∫ dy of a profile (0 for a Gaussian).

        For an isotropic 2-D density ⟨x²⟩ = ⟨r²⟩/2 and ⟨x⁴⟩ = 3⟨r⁴⟩/8, so the projection's
        excess kurtosis is 1.5 ⟨r⁴⟩/⟨r²⟩² − 3. ``which`` is ``"pl"`` or a valley name.
        """
        y = self.pl if which == "pl" else self.N[self.valleys.index(which)]
        m0, m2, m4 = (self._radial_moment(y, p) for p in (0, 2, 4))
        return 1.5 * m4 * m0 / m2**2 - 3.0


def hankel_grid(w_min_um: float, r_max_um: float) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights in k (1/µm) for the inverse Hankel transform.

    Parameters
    ----------
    w_min_um : float
        Smallest width in the problem (the spot w0) in µm: sets k_max.
    r_max_um : float
        Largest radius evaluated in µm: sets the number of nodes (J0(k r) oscillations).
    """
    kmax = 2.0 * np.sqrt(_KMAX_EXP) / w_min_um
    nodes = int(0.5 * kmax * r_max_um) + 120
    x, w = np.polynomial.legendre.leggauss(nodes)
    return 0.5 * kmax * (x + 1.0), 0.5 * kmax * w
