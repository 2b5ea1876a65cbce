"""The diffusion tensor: Σ(t) = Σ0 + 2 D t fitted to the three covariance components of a stack.

Convention (PHYSICS.md §1 generalised): Σ is the spatial covariance of the PL spot, per axis
σ² = w²/2, so an isotropic spot has Σ = (w²/2) I and tr Σ = w². Fick's law with a tensor D,
∂N/∂t = ∇·(D ∇N), spreads a Gaussian as Σ(t) = Σ0 + 2 D t; its trace gives
w²(t) = w0² + 2 tr(D) t, which is PHYSICS.md's w² = w0² + 4 D t with the isotropic D = ½ tr D.
The isotropic case is Dxx = Dyy = D, Dxy = 0.

The data are the rows of a ``shape="rotated"`` widths table (``sigma2_{xx,yy,xy}_um2``, their
errors and, when present, their per-slice covariances ``cov_sigma2_*_um4``); the three series
are stacked component-major into one vector whose covariance is block-structured (the three
components of one slice are correlated, slices are independent), so the Objective's Cholesky
whitening fits them jointly for least squares and emcee alike.

Derived quantities: the principal values of D, D_major ≥ D_minor, and the angle of the major
axis from +x towards +y, θ = ½ atan2(2 Dxy, Dxx − Dyy) in degrees, (−90, 90].
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..units import UM2_PS_PER_CM2_S
from .data import Dataset, _select
from .models import ForwardModel, ParameterInfo

COMPONENTS = ("xx", "yy", "xy")
#: the (row, column) of each pair of components in a slice's 3 × 3 covariance, and its column
_COV_COLUMNS = {(0, 1): "cov_sigma2_xx_yy_um4", (0, 2): "cov_sigma2_xx_xy_um4"}
_COV_COLUMNS[(1, 2)] = "cov_sigma2_yy_xy_um4"


class TensorData(Dataset):
    """Σ components over time: ``x`` = t [ps] (repeated per component), ``y`` = Σ [µm²].

    ``component`` (N,) holds ``"xx"``, ``"yy"`` or ``"xy"`` for each entry.
    """

    def __init__(self, x, y, y_err, component, cov=None, label="tensor"):
        self.component = np.asarray(component, dtype=object)
        super().__init__(x, y, y_err, cov=cov, label=label)

    def __post_init__(self):
        self.x_name, self.y_name, self.kind = "t_ps", "sigma2_tensor_um2", "tensor"
        super().__post_init__()

    @classmethod
    def from_frame(cls, df: pd.DataFrame, *, t_range_ps=None, label="tensor"):
        """Build from a ``shape="rotated"`` widths table (rows with ``ok`` False dropped).

        Parameters
        ----------
        df : DataFrame
            Columns ``t_ps``, ``sigma2_{xx,yy,xy}_um2`` and ``sigma2_{xx,yy,xy}_err_um2``;
            optional ``cov_sigma2_{xx_yy,xx_xy,yy_xy}_um4`` (without them the components are
            taken as uncorrelated) and ``ok``.
        t_range_ps : (float, float), optional
            Inclusive time window [ps].
        """
        keep = np.ones(len(df), dtype=bool)
        for c in COMPONENTS:
            cols = ("t_ps", f"sigma2_{c}_um2", f"sigma2_{c}_err_um2")
            keep &= _select(df, cols, t_range_ps, label)[0]
        sub = df.loc[keep]
        t = sub["t_ps"].to_numpy(float)
        n = t.size
        y = np.concatenate([sub[f"sigma2_{c}_um2"].to_numpy(float) for c in COMPONENTS])
        err = np.concatenate([sub[f"sigma2_{c}_err_um2"].to_numpy(float) for c in COMPONENTS])
        cov = np.diag(err**2)
        for (a, b), col in _COV_COLUMNS.items():
            if col in sub.columns:
                v = sub[col].to_numpy(float)
                if not np.all(np.isfinite(v)):
                    raise ConfigError(f"dataset {label!r}: non-finite {col} on a kept row")
                idx = np.arange(n)
                cov[a * n + idx, b * n + idx] = v
                cov[b * n + idx, a * n + idx] = v
        comp = np.repeat(np.array(COMPONENTS, dtype=object), n)
        return cls(np.tile(t, 3), y, err, comp, cov=cov, label=label)


def principal(dxx, dyy, dxy):
    """(major, minor, angle_deg) of the symmetric tensor [[dxx, dxy], [dxy, dyy]]."""
    half = 0.5 * (dxx - dyy)
    rho = np.hypot(half, dxy)
    mean = 0.5 * (dxx + dyy)
    return mean + rho, mean - rho, np.degrees(0.5 * np.arctan2(dxy, half))


class TensorModel(ForwardModel):
    """Anisotropic Fick's law Σ(t) = Σ0 + 2 D t (module docstring: conventions).

    Parameters ``sigma2_0_{xx,yy,xy}_um2`` (Σ0, µm²) and ``D{xx,yy,xy}_cm2_s`` (cm²/s).
    """

    kind = "tensor"
    datasets = ("tensor",)
    references = (
        "PHYSICS.md §1 (σ² = w²/2 per axis, w² = w0² + 4Dt) with Fick's law for a tensor D: "
        "Σ(t) = Σ0 + 2Dt",
    )
    DERIVED = ("D_major_cm2_s", "D_minor_cm2_s", "angle_deg")

    def parameter_table(self):
        inf = math.inf
        return [
            ParameterInfo("sigma2_0_xx_um2", "µm²", 1.0, 0.0, inf, True, "Σ0 xx"),
            ParameterInfo("sigma2_0_yy_um2", "µm²", 1.0, 0.0, inf, True, "Σ0 yy"),
            ParameterInfo("sigma2_0_xy_um2", "µm²", 0.0, -inf, inf, True, "Σ0 xy"),
            ParameterInfo("Dxx_cm2_s", "cm²/s", 1.0, -inf, inf, True, "D xx"),
            ParameterInfo("Dyy_cm2_s", "cm²/s", 1.0, -inf, inf, True, "D yy"),
            ParameterInfo("Dxy_cm2_s", "cm²/s", 0.0, -inf, inf, True, "D xy"),
        ]

    def predict(self, values, dataset):
        if not isinstance(dataset, TensorData):
            raise ConfigError(f"model 'tensor' needs a tensor dataset, got {dataset.kind!r}")
        out = np.empty(dataset.y.shape)
        for c in COMPONENTS:
            sel = dataset.component == c
            D = values[f"D{c}_cm2_s"] * UM2_PS_PER_CM2_S
            out[sel] = values[f"sigma2_0_{c}_um2"] + 2.0 * D * dataset.x[sel]
        return out

    def extra_columns(self, values, dataset):
        return {"component_index": np.array([COMPONENTS.index(c) for c in dataset.component])}

    def derived(self, values: dict) -> dict[str, float]:
        """D_major_cm2_s, D_minor_cm2_s and angle_deg of the fitted tensor."""
        major, minor, angle = principal(
            values["Dxx_cm2_s"], values["Dyy_cm2_s"], values["Dxy_cm2_s"]
        )
        return {
            "D_major_cm2_s": float(major),
            "D_minor_cm2_s": float(minor),
            "angle_deg": float(angle),
        }


def derived_units() -> dict[str, str]:
    return {"D_major_cm2_s": "cm²/s", "D_minor_cm2_s": "cm²/s", "angle_deg": "deg"}


def derived_from_fit(fn, theta, covar) -> dict:
    """Derived quantities with first-order errors from the fit covariance (``results.json``).

    ``fn(theta)`` returns the derived values (see :meth:`TensorModel.derived`) for the free
    parameter vector ``theta``; ``covar`` is the free parameters' covariance (or None). The
    gradient is taken by central differences (steps of 1e-6 of each parameter's scale), so an
    error is the delta method's √(gᵀ C g).
    """
    theta = np.asarray(theta, dtype=float)
    base = fn(theta)
    grads = {k: np.zeros(theta.size) for k in base}
    for i in range(theta.size):
        h = 1e-6 * max(abs(theta[i]), 1e-3)
        up, dn = theta.copy(), theta.copy()
        up[i] += h
        dn[i] -= h
        fu, fd = fn(up), fn(dn)
        for k in base:
            delta = fu[k] - fd[k]
            if k == "angle_deg":  # the branch cut at ±90° is not a derivative
                delta = (delta + 90.0) % 180.0 - 90.0
            grads[k][i] = delta / (2 * h)
    units = derived_units()
    out = {}
    for k, v in base.items():
        err = None
        if covar is not None:
            g = grads[k]
            err = float(np.sqrt(max(g @ np.asarray(covar) @ g, 0.0)))
        out[k] = {"value": v, "stderr": err, "unit": units[k]}
    return out


def derived_from_samples(model: TensorModel, samples: np.ndarray) -> dict:
    """Percentile summaries (as ``posterior.json`` parameters) of the derived quantities.

    ``samples`` (S, 3) holds (Dxx, Dyy, Dxy) in cm²/s per posterior sample. The angle is
    unwrapped around the mean direction first (the doubled angle is the circular variable),
    so a posterior straddling ±90° is not split in two.
    """
    vals = {k: [] for k in model.DERIVED}
    for dxx, dyy, dxy in samples:
        d = {"Dxx_cm2_s": dxx, "Dyy_cm2_s": dyy, "Dxy_cm2_s": dxy}
        for k, x in model.derived(d).items():
            vals[k].append(x)
    units = derived_units()
    out = {}
    for k, xs in vals.items():
        x = np.asarray(xs)
        if k == "angle_deg":
            two = np.radians(2 * x)
            ref = 0.5 * np.degrees(np.arctan2(np.mean(np.sin(two)), np.mean(np.cos(two))))
            x = ref + ((x - ref + 90.0) % 180.0 - 90.0)
        q = np.percentile(x, [2.5, 16, 50, 84, 97.5])
        out[k] = {
            "p2_5": float(q[0]),
            "p16": float(q[1]),
            "median": float(q[2]),
            "p84": float(q[3]),
            "p97_5": float(q[4]),
            "mean": float(np.mean(x)),
            "sd": float(np.std(x, ddof=1)) if x.size > 1 else math.nan,
            "unit": units[k],
        }
    return out
