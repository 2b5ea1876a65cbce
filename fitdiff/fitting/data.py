"""Datasets a fit compares with a model: w²(t), PL(t) kinetics and D(T) tables.

Each dataset holds its abscissa, values, standard errors (and optionally a covariance) after
applying its mask and range; it is built from a DataFrame and never reads files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ConfigError


@dataclass
class Dataset:
    """Values ``y`` with errors ``y_err`` on the grid ``x`` (see subclasses for the units).

    Parameters
    ----------
    x, y, y_err : ndarray
        Grid, values and one-sigma errors after masking; ``y_err > 0``.
    cov : ndarray or None
        Full covariance of ``y`` (N×N, squared unit of ``y``); when given, the likelihood uses
        it instead of ``y_err`` (PHYSICS.md §4: the w² points of one measurement are correlated).
    label : str
        Name used in tables (``best_fit.csv`` column ``dataset``).
    """

    x: np.ndarray
    y: np.ndarray
    y_err: np.ndarray
    cov: np.ndarray | None = None
    label: str = "data"
    #: name of the grid column and of the value column in output tables
    x_name: str = field(default="t_ps", init=False)
    y_name: str = field(default="y", init=False)
    kind: str = field(default="", init=False)

    def __post_init__(self):
        self.x = np.asarray(self.x, dtype=float)
        self.y = np.asarray(self.y, dtype=float)
        self.y_err = np.asarray(self.y_err, dtype=float)
        if not (self.x.shape == self.y.shape == self.y_err.shape) or self.x.ndim != 1:
            raise ConfigError(f"dataset {self.label!r}: x, y, y_err must be 1-D of equal length")
        if self.x.size == 0:
            raise ConfigError(f"dataset {self.label!r}: no data points left after mask and range")
        if not np.all(np.isfinite(self.x) & np.isfinite(self.y)):
            raise ConfigError(f"dataset {self.label!r}: non-finite {self.x_name} or values")
        if not np.all(self.y_err > 0):
            raise ConfigError(f"dataset {self.label!r}: errors must be finite and > 0")
        if self.cov is not None:
            self.cov = np.asarray(self.cov, dtype=float)
            if self.cov.shape != (self.y.size, self.y.size):
                raise ConfigError(
                    f"dataset {self.label!r}: covariance shape {self.cov.shape} does not match "
                    f"{self.y.size} points"
                )

    def __len__(self) -> int:
        return self.y.size


#: Grid column → the configuration key of its window and its unit.
_RANGE_KEYS = {"t_ps": ("t_range_ps", "ps"), "T_K": ("T_range_K", "K")}


def _select(df: pd.DataFrame, cols: tuple[str, str, str], x_range, label: str):
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ConfigError(
            f"dataset {label!r}: table lacks column(s) {missing} (has {list(df.columns)})"
        )
    x = df[cols[0]].to_numpy(float)
    finite = np.isfinite(x) & np.isfinite(df[cols[1]].to_numpy(float))
    finite &= np.isfinite(df[cols[2]].to_numpy(float)) & (df[cols[2]].to_numpy(float) > 0)
    ok = df["ok"].astype(bool).to_numpy() if "ok" in df.columns else np.ones(len(df), bool)
    inside = np.ones(len(df), bool)
    if x_range is not None:
        lo, hi = x_range
        inside = (x >= lo) & (x <= hi)
    keep = finite & ok & inside
    if not keep.any():
        raise ConfigError(_nothing_left(df, cols, x_range, label, finite, ok, inside))
    sub = df.loc[keep]
    return keep, tuple(sub[c].to_numpy(float) for c in cols)


def _nothing_left(df, cols, x_range, label, finite, ok, inside) -> str:
    """Why no row survived: counts per cause, the data's span and the key to change."""
    key, unit = _RANGE_KEYS.get(cols[0], (f"{cols[0]} range", ""))
    x = df[cols[0]].to_numpy(float)
    usable = finite & ok
    parts = [f"dataset {label!r}: no data points left after mask and range ({len(df)} rows"]
    if (~ok).any():
        reasons = ""
        if "reason" in df.columns:
            counts = df.loc[~ok, "reason"].astype(str).str.split(":").str[0].value_counts()
            reasons = " (" + ", ".join(f"{n} {r}" for r, n in counts.items()) + ")"
        parts.append(f"; {int((~ok).sum())} not ok{reasons}")
    if (~finite).any():
        parts.append(f"; {int((~finite).sum())} with non-finite values or errors <= 0")
    if x_range is not None:
        parts.append(
            f"; {int((usable & ~inside).sum())} usable rows outside {key} = "
            f"[{x_range[0]:g}, {x_range[1]:g}] {unit}".rstrip()
        )
    parts.append(")")
    if usable.any():
        parts.append(
            f". The usable data span {x[usable].min():g}..{x[usable].max():g} {unit}".rstrip()
        )
        if x_range is not None:
            parts.append(f": widen [fit] {key} (or the dataset's {key})")
    elif np.isfinite(x).any():
        parts.append(
            f". The table spans {np.nanmin(x):g}..{np.nanmax(x):g} {unit} but no row is usable"
        )
    return "".join(parts)


@dataclass
class WidthsData(Dataset):
    """Squared PL width w²(t): ``x`` = t [ps], ``y`` = w² [µm²], errors [µm²]."""

    def __post_init__(self):
        self.x_name, self.y_name, self.kind = "t_ps", "w2_um2", "widths"
        super().__post_init__()

    @classmethod
    def from_frame(cls, df: pd.DataFrame, *, t_range_ps=None, cov=None, label="widths"):
        """Build from a widths table (columns ``t_ps, w2_um2, w2_err_um2`` and optional ``ok``).

        The errors are ``w2_err_model_um2`` when the table has it (finite on every kept row;
        the extractor's model-based errors), else ``w2_err_um2``.

        Parameters
        ----------
        df : DataFrame
            The table of :func:`fitdiff.extract.extract_widths`; rows with ``ok`` False,
            non-finite values or non-positive errors are dropped.
        t_range_ps : (float, float), optional
            Inclusive time window [ps].
        cov : ndarray, optional
            Covariance [µm⁴] of the rows of ``df`` (full table); sliced to the kept rows.
        """
        keep, (t, y, e) = _select(df, ("t_ps", "w2_um2", "w2_err_um2"), t_range_ps, label)
        if "w2_err_model_um2" in df.columns:
            # model-based errors (fitdiff.extract.weights): the slices' own errors move with
            # their own w² fluctuation and bias a fit of w²(t); the extractor's model column
            # does not (it is finite wherever the fit is ok)
            em = df["w2_err_model_um2"].to_numpy(float)[keep]
            if em.size and np.all(np.isfinite(em) & (em > 0)):
                e = em
        if cov is not None:
            cov = np.asarray(cov, float)
            if cov.shape == (keep.size, keep.size):
                cov = cov[np.ix_(keep, keep)]
        return cls(t, y, e, cov=cov, label=label)


@dataclass
class KineticsData(Dataset):
    """PL kinetics PL(t): ``x`` = t [ps], ``y`` = intensity [counts or a.u.], errors (same)."""

    def __post_init__(self):
        self.x_name, self.y_name, self.kind = "t_ps", "intensity", "pl"
        super().__post_init__()

    @classmethod
    def from_frame(cls, df: pd.DataFrame, *, t_range_ps=None, label="pl"):
        """Build from a table with columns ``t_ps, intensity, intensity_err`` (optional ``ok``)."""
        _, (t, y, e) = _select(df, ("t_ps", "intensity", "intensity_err"), t_range_ps, label)
        return cls(t, y, e, label=label)


@dataclass
class DiffusivityData(Dataset):
    """D(T) table: ``x`` = T [K], ``y`` = D [cm²/s], errors [cm²/s]."""

    def __post_init__(self):
        self.x_name, self.y_name, self.kind = "T_K", "D_cm2_s", "table"
        super().__post_init__()

    @classmethod
    def from_frame(cls, df: pd.DataFrame, *, T_range_K=None, label="table"):
        """Build from a table with columns ``T_K, D_cm2_s, D_err_cm2_s`` (optional ``ok``)."""
        _, (T, y, e) = _select(df, ("T_K", "D_cm2_s", "D_err_cm2_s"), T_range_K, label)
        return cls(T, y, e, label=label)
