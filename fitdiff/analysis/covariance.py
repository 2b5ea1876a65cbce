"""Read a w² covariance file (``covariance = "cov.npy"``) and refuse one the likelihood cannot
use: not square, not finite, not symmetric or not positive-definite (PHYSICS.md §4 whitens the
residuals with its Cholesky factor, which then does not exist).

Checked when the analysis is read, so a bad file is a :class:`~fitdiff.errors.ConfigError`
naming it (CLI exit 2), not a linear-algebra traceback in the middle of a fit.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError

#: Largest |C − Cᵀ| / max|C| accepted as a symmetric covariance (float round-off of a file
#: written from a symmetric matrix; anything larger is a wrong file, not round-off).
_SYMMETRY_RTOL = 1e-10


def read_covariance(path: str, where: str) -> np.ndarray:
    """Read a w² covariance matrix (``.npy``, µm⁴) and refuse one the likelihood cannot use.

    Parameters
    ----------
    path : str
        The ``.npy`` file.
    where : str
        Key path of the file in ANALYSIS.toml (``data.covariance``), for the message.

    Raises
    ------
    ConfigError
        Unreadable, not a square matrix, non-finite, not symmetric or not positive-definite
        (the Cholesky factor of PHYSICS.md §4 does not exist); the message names the file.
    """
    try:
        cov = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot read covariance {path}: {exc}") from None
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or cov.shape[0] == 0:
        raise ConfigError(
            f"{where}: covariance {path} must be a square N×N matrix (µm⁴), got shape {cov.shape}"
        )
    try:
        cov = np.asarray(cov, float)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: covariance {path} is not numeric ({cov.dtype})") from None
    if not np.isfinite(cov).all():
        raise ConfigError(f"{where}: covariance {path} holds NaN or infinite entries")
    asym = float(np.max(np.abs(cov - cov.T)))
    if asym > _SYMMETRY_RTOL * float(np.max(np.abs(cov))):
        raise ConfigError(
            f"{where}: covariance {path} is not symmetric (max |C - C^T| = {asym:.3g}); "
            "a covariance matrix must equal its transpose"
        )
    try:
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        smallest = float(np.linalg.eigvalsh(cov).min())
        raise ConfigError(
            f"{where}: covariance {path} is not positive-definite (smallest eigenvalue "
            f"{smallest:.3g}); every eigenvalue must be > 0"
        ) from None
    return cov
