"""Batched Levenberg-Marquardt with model-based noise weights, for many small fits at once.

Every time slice of a streak image is an independent 4-parameter fit. scipy's least-squares
routines solve one problem per call, so a Python loop over 1000 rows costs ~1000 calls; here all
rows advance together as (B, N) numpy arrays and the (B, P, P) normal equations are solved with
one batched ``numpy.linalg.solve``. Rows drop out of the active set as they converge.

That batch needs ~45 passes over (B, N) arrays per iteration, which caps it at a few times the
speed of a per-row ``scipy.optimize.curve_fit`` loop. Models that carry a compiled kernel
(``BatchedModel.fast``: the 1D Gaussian of a streak, the 2D Gaussians of a stack frame)
therefore run, when numba is installed (extra ``fast``), the same iteration per row in
:mod:`fitdiff.extract.lm_numba` (1D) or :mod:`fitdiff.extract.box2d_numba` (2D); this numpy
batch is the fallback and serves every other model. Set ``FITDIFF_NUMBA=0`` or pass
``backend="numpy"`` to force the fallback.

The weights are re-evaluated at the current model each iteration (iteratively reweighted least
squares). For a Poisson noise model the fixed point solves the Poisson score equation
J^T (d - mu)/mu = 0, i.e. this is Fisher scoring of the likelihood, and (J^T W J)^-1 at the
solution is the inverse Fisher information: the per-slice covariance.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import ExtractionError, MissingExtraError
from . import compiled
from .noise import NoiseModel

BACKENDS = ("auto", "numpy", "numba")


@dataclass
class BatchedModel:
    """A model evaluated for a batch of parameter vectors on shared pixel coordinates.

    ``evaluate(p) -> (mu, cache)`` gives the (B, N) model for parameters p (B, P);
    ``jacobian(p, cache) -> J`` its (B, P, N) derivatives, reusing the cache (the exponential);
    ``admissible(p) -> bool (B,)`` rejects steps into nonsense (negative width);
    ``fast`` names a compiled kernel of the same model, ``("gauss1d", x)`` or
    ``("gauss2d", shape, y, x)``, or is None.
    """

    evaluate: Callable[[np.ndarray], tuple[np.ndarray, object]]
    jacobian: Callable[[np.ndarray, object], np.ndarray]
    admissible: Callable[[np.ndarray], np.ndarray]
    fast: tuple | None = None


@dataclass
class LMResult:
    """Per-row outcome of :func:`batched_lm`.

    Attributes
    ----------
    p : (B, P) best parameters; cov : (B, P, P) covariance (NaN where singular);
    chi2 : (B,) weighted residual sum at the solution; nfree : (B,) degrees of freedom;
    converged : (B,) bool; niter : (B,) iterations used; backend : "numpy" or "numba".
    """

    p: np.ndarray
    cov: np.ndarray
    chi2: np.ndarray
    nfree: np.ndarray
    converged: np.ndarray
    niter: np.ndarray
    backend: str = "numpy"


def _normal_equations(jac, w, resid):
    # jac is (B, P, N) so both products are batched BLAS calls on contiguous rows
    wj = jac * w[:, None, :]
    hess = np.matmul(wj, jac.transpose(0, 2, 1))
    grad = np.matmul(wj, resid[:, :, None])[:, :, 0]
    return hess, grad


def batched_lm(
    model: BatchedModel,
    p0: np.ndarray,
    data: np.ndarray,
    valid: np.ndarray,
    variance: Callable[[np.ndarray], np.ndarray] | NoiseModel,
    offset: np.ndarray | float = 0.0,
    *,
    max_iter: int = 60,
    tol: float = 1e-2,
    dtype=np.float64,
    backend: str = "auto",
    frames: np.ndarray | None = None,
) -> LMResult:
    """Fit ``model`` to every row of ``data`` with damped, reweighted Gauss-Newton steps.

    Parameters
    ----------
    model : BatchedModel
    p0 : ndarray (B, P)
        Starting parameters (from moments).
    data : ndarray (B, N)
        Counts after background subtraction (invalid pixels may hold anything finite).
    valid : ndarray of bool (B, N)
        Pixels that take part (mask applied: weight zero).
    variance : callable or NoiseModel
        Noise variance (counts²) of a pixel with expected raw value ``mu + offset``. The
        compiled path needs a :class:`NoiseModel` (or its bound ``variance`` method), whose
        parameters it reads; any other callable uses the numpy batch.
    offset : ndarray or float
        What was subtracted from the raw counts before fitting (background), counts.
    max_iter : int
        Iteration cap; rows still moving are reported ``converged = False``.
    tol : float
        Converged when every parameter step is below ``tol`` times its standard error.
    dtype : numpy dtype
        Precision of the per-pixel arrays while iterating (the final covariance and chi² are
        always float64). float32 was measured no faster here and converges more erratically.
        Anything but float64 uses the numpy batch.
    frames : ndarray of int, optional
        Fit the rows ``data[frames]`` (``p0``, ``valid`` and ``offset`` are given per fitted
        row already); the box-restricted 2D kernel reads them in place, saving the copy of
        the fitted frames of a large stack. Default: every row of ``data``.
    backend : {"auto", "numpy", "numba"}
        "auto": the compiled kernel when the model has one, the noise is a NoiseModel, numba
        is importable and loading it pays (:mod:`fitdiff.extract.compiled`: numba already
        loaded, or enough numpy work in this process; ``FITDIFF_NUMBA=1`` always, ``=0``
        never), else numpy. "numba" insists (MissingExtraError without numba,
        ExtractionError for an unsupported model).
    """
    if isinstance(variance, NoiseModel):
        variance = variance.variance
    size = np.size(valid)  # rows × pixels of this call
    kernel = _fast_kernel(model, variance, dtype, backend, size)
    if kernel is not None and model.fast[0] == "gauss2d":
        noise = variance.__self__
        return _run_numba2d(kernel, model, p0, data, valid, noise, offset, max_iter, tol, frames)
    if frames is not None:
        data = data[frames]
    if kernel is not None:
        return _run_numba(kernel, model, p0, data, valid, variance.__self__, offset, max_iter, tol)
    if backend == "auto" and _why_not(model, variance, dtype) is None:
        compiled.spent_numpy(NUMPY_SECONDS_PER_PIXEL * size)
    return _numpy_lm(model, p0, data, valid, variance, offset, max_iter, tol, dtype)


def _numpy_lm(model, p0, data, valid, variance, offset, max_iter, tol, dtype) -> LMResult:
    """The numpy batch of :func:`batched_lm` (all rows advance together)."""
    p = np.array(p0, dtype=float)
    nrow, npar = p.shape
    offset = np.broadcast_to(np.asarray(offset, dtype=float), data.shape)
    data_it, offset_it = data.astype(dtype), offset.astype(dtype)
    validf = valid.astype(dtype)
    lam = np.full(nrow, 1e-3)
    converged = np.zeros(nrow, dtype=bool)
    niter = np.zeros(nrow, dtype=int)
    active = np.flatnonzero(model.admissible(p) & (valid.sum(axis=1) > npar))
    mu, cache = model.evaluate(p[active], dtype)
    d, off, vf = data_it[active], offset_it[active], validf[active]
    for _ in range(max_iter):
        if active.size == 0:
            break
        pa = p[active]
        w = vf / variance(mu + off)
        resid = d - mu
        chi2 = np.einsum("bn,bn->b", w * resid, resid, dtype=float)
        jac = model.jacobian(pa, cache)
        hess, grad = _normal_equations(jac, w, resid)
        hess, grad = hess.astype(float), grad.astype(float)
        diag = np.diagonal(hess, axis1=1, axis2=2)
        damped = hess + (lam[active, None] * diag)[:, :, None] * np.eye(npar)
        step = _solve(damped, grad)
        trial = pa + step
        ok_step = np.all(np.isfinite(step), axis=1) & model.admissible(trial)
        trial[~ok_step] = pa[~ok_step]
        mu_t, cache_t = model.evaluate(trial, dtype)
        resid_t = d - mu_t
        # compared with the *same* weights, so the test is a descent test of one quadratic
        chi2_t = np.einsum("bn,bn->b", w * resid_t, resid_t, dtype=float)
        better = ok_step & (chi2_t <= chi2)
        niter[active] += 1
        lam[active] = np.where(better, lam[active] * 0.1, lam[active] * 10.0)
        lam = np.clip(lam, 1e-9, 1e9)
        p[active[better]] = trial[better]
        # a step is "small" when it moves every parameter by < tol standard errors
        se = np.sqrt(np.abs(1.0 / np.where(diag > 0, diag, np.inf)))
        # (1/sqrt(H_kk) <= the marginal error, so this test is conservative). A rejected step
        # that small is a row already at its minimum, where rounding decides chi2_t <= chi2.
        small = np.all(np.abs(step) <= tol * se, axis=1) & np.all(np.isfinite(step), axis=1)
        stuck = ~better & (lam[active] >= 1e9)
        done = small | stuck
        converged[active[small]] = True
        mu = np.where(better[:, None], mu_t, mu)
        cache = _merge_cache(cache, cache_t, better)
        if done.any():  # shrink the working arrays only when a row has finished
            keep = ~done
            active = active[keep]
            mu, d, off, vf = mu[keep], d[keep], off[keep], vf[keep]
            cache = _take_cache(cache, keep)
    cov, chi2_all = _covariance(model, p, data, valid, variance, offset)
    nfree = valid.sum(axis=1) - npar
    return LMResult(p=p, cov=cov, chi2=chi2_all, nfree=nfree, converged=converged, niter=niter)


def numba_available() -> bool:
    """True when the compiled path can be used (numba importable, not disabled by env)."""
    return os.environ.get("FITDIFF_NUMBA", "1") != "0" and _import_kernels() is not None


_KERNELS: list = []
_KERNELS_2D: list = []


def _import_kernels():
    # imported lazily: numba adds ~0.5 s to start-up, which a moment-only run need not pay
    if not _KERNELS:
        try:
            from . import lm_numba
        except ImportError:
            lm_numba = None
        _KERNELS.append(lm_numba)
    return _KERNELS[0]


def _import_kernels_2d():
    if not _KERNELS_2D:
        kernels = None
        if _import_kernels() is not None:
            from . import box2d_numba as kernels
        _KERNELS_2D.append(kernels)
    return _KERNELS_2D[0]


#: Seconds per (row × pixel) of the numpy batch (531 × 1024 streak rows in ~150 ms on the
#: idle 2-core CI box, docs/guide/performance.md): what ``auto`` predicts it would cost.
NUMPY_SECONDS_PER_PIXEL = 2.8e-7


def _fast_kernel(model, variance, dtype, backend, pixels: int = 0):
    """The compiled kernel to use, or None for the numpy batch (see ``backend``).

    ``auto`` takes the kernel only when :func:`fitdiff.extract.compiled.wanted` says loading
    it pays for ``pixels`` (rows × pixels of this call).
    """
    if backend not in BACKENDS:
        raise ExtractionError(f"backend = {backend!r}; allowed {BACKENDS}")
    if backend == "numpy":
        return None
    why_not = _why_not(model, variance, dtype)
    load = _import_kernels if why_not or model.fast[0] == "gauss1d" else _import_kernels_2d
    if backend == "auto":
        if why_not or not compiled.wanted(NUMPY_SECONDS_PER_PIXEL * pixels):
            return None
        return None if not numba_available() else load()
    if why_not:
        raise ExtractionError(f"backend = 'numba' impossible: {why_not}")
    if load() is None:
        raise MissingExtraError("numba", "fast", "backend = 'numba'")
    return load()


def _why_not(model, variance, dtype) -> str | None:
    """Why the compiled kernel cannot fit this model (None: it can)."""
    why_not = None
    if model.fast is None or model.fast[0] not in ("gauss1d", "gauss2d"):
        why_not = "the model has no compiled kernel (only the 1D and 2D Gaussians have)"
    elif getattr(variance, "__func__", None) is not NoiseModel.variance:
        why_not = "the variance is not a NoiseModel"
    elif np.dtype(dtype) != np.float64:
        why_not = f"dtype = {np.dtype(dtype)}; the kernel is float64"
    return why_not


def _run_numba(kernel, model, p0, data, valid, noise, offset, max_iter, tol) -> LMResult:
    # one layout for every caller (C order, writeable, float64): each distinct array type is
    # a separate compilation of several seconds
    def req(a, dtype=np.float64):
        return np.require(a, dtype, ["C_CONTIGUOUS", "WRITEABLE", "ALIGNED"])

    x = req(model.fast[1])
    data = req(data)
    offc = row_offsets(offset, data.shape)
    shared = valid.strides[0] == 0  # one row of flags for all rows
    if offc is not None:  # one offset number per row: the box-restricted passes
        fit, off = kernel.fit_gauss1d_box, req(offc)
        valid = valid[:1] if shared else valid
    else:
        fit, off = kernel.fit_gauss1d, req(np.broadcast_to(offset, data.shape))
    p, cov, chi2, converged, niter = fit(
        x,
        kernel.uniform_step(x),
        data,
        req(valid, np.bool_),
        off,
        req(np.array(p0, dtype=np.float64)),
        float(noise.excess * noise.gain),
        float(noise.read_noise**2),
        float(noise.floor),
        int(max_iter),
        float(tol),
    )
    nfree = np.broadcast_to(valid.sum(axis=1), (len(p),)) - p.shape[1]
    return LMResult(
        p=p, cov=cov, chi2=chi2, nfree=nfree, converged=converged, niter=niter, backend="numba"
    )


def row_offsets(offset, shape: tuple[int, int]) -> np.ndarray | None:
    """The offset as one number per row (B,) when it is constant along each row of ``shape``
    (B, N), else None. A frame shared by every row (stride 0) is tested once."""
    off = np.broadcast_to(np.asarray(offset, dtype=float), shape)
    if off.shape[1] == 0:
        return np.zeros(shape[0])
    head = off[:1] if off.strides[0] == 0 else off
    if off.strides[1] != 0 and not (head == head[:, :1]).all():
        return None
    return np.ascontiguousarray(off[:, 0])


def _run_numba2d(
    kernel, model, p0, data, valid, noise, offset, max_iter, tol, frames=None
) -> LMResult:
    def req(a, dtype=np.float64):
        return np.require(a, dtype, ["C_CONTIGUOUS", "WRITEABLE", "ALIGNED"])

    _, shape, y, x = model.fast
    x = req(x)
    nrow = len(valid)
    offset = np.broadcast_to(np.asarray(offset, dtype=float), valid.shape)
    if offset.strides[0] == 0:  # one frame for all (the usual case): no (B, N) copy
        offset = offset[:1]
    # one offset number per frame (no background, a constant): the passes can skip the
    # pixels the spot does not reach (box2d_numba.fit_gauss2d_box)
    flat = offset.shape[1] == 0 or bool((offset == offset[:, :1]).all())
    head = (req(y), x, _import_kernels().uniform_step(x))
    tail = (
        req(np.array(p0, dtype=np.float64)),
        kernel.SHAPE_CODES[shape],
        float(noise.excess * noise.gain),
        float(noise.read_noise**2),
        float(noise.floor),
        int(max_iter),
        float(tol),
    )
    if flat:
        rows = np.arange(nrow) if frames is None else np.asarray(frames, dtype=np.int64)
        offc = np.broadcast_to(offset[:, 0] if offset.shape[1] else 0.0, (nrow,))
        p, cov, chi2, converged, niter = kernel.fit_gauss2d_box(
            *head, req(data), rows, req(valid, np.bool_), req(offc), *tail
        )
    else:
        from . import lm2d_numba

        data = data if frames is None else data[frames]
        p, cov, chi2, converged, niter = lm2d_numba.fit_gauss2d(
            *head, req(data), req(valid, np.bool_), req(offset), *tail
        )
    nfree = valid.sum(axis=1) - p.shape[1]
    return LMResult(
        p=p, cov=cov, chi2=chi2, nfree=nfree, converged=converged, niter=niter, backend="numba"
    )


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched solve that leaves NaN (instead of raising) for singular rows."""
    try:
        return np.linalg.solve(a, b[..., None])[..., 0]
    except np.linalg.LinAlgError:
        out = np.full_like(b, np.nan)
        for i in range(a.shape[0]):  # only after a singular row, which is rare
            try:
                out[i] = np.linalg.solve(a[i], b[i])
            except np.linalg.LinAlgError:
                pass
        return out


def _merge_cache(old, new, better):
    if isinstance(old, tuple):
        return tuple(_merge_cache(o, n, better) for o, n in zip(old, new, strict=True))
    shape = (-1,) + (1,) * (old.ndim - 1)
    return np.where(better.reshape(shape), new, old)


def _take_cache(cache, keep):
    if isinstance(cache, tuple):
        return tuple(_take_cache(c, keep) for c in cache)
    return cache[keep]


def _covariance(model, p, data, valid, variance, offset):
    """Covariance (J^T W J)^-1 and chi² at the final parameters, weights from the model."""
    mu, cache = model.evaluate(p, np.float64)
    w = valid / variance(mu + offset)
    resid = data - mu
    chi2 = np.einsum("bn,bn->b", w * resid, resid)
    hess, _ = _normal_equations(model.jacobian(p, cache), w, resid)
    cov = np.full_like(hess, np.nan)
    good = np.all(np.isfinite(hess), axis=(1, 2))
    cov[good] = _inverse(hess[good])
    # a covariance without a positive diagonal is no error estimate at all
    cov[~np.all(np.diagonal(cov, axis1=1, axis2=2) > 0, axis=1)] = np.nan
    return cov, chi2


def _inverse(hess: np.ndarray) -> np.ndarray:
    """Batched inverse; NaN for singular members instead of failing the whole batch."""
    try:
        return np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        out = np.full_like(hess, np.nan)
        for i in range(hess.shape[0]):  # only after a singular member, which is rare
            try:
                out[i] = np.linalg.inv(hess[i])
            except np.linalg.LinAlgError:
                pass
        return out
