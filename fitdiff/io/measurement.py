"""The :class:`Measurement` container: counts with calibrated axes, metadata and a mask."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LoadError

#: Dimension names a measurement may carry, in no particular order.
KNOWN_DIMS = ("t", "x", "y", "wavelength", "frame", "z", "channel")
#: Units each dimension may be expressed in ("px" = uncalibrated).
ALLOWED_UNITS = {
    "t": ("ps", "px"),
    "x": ("um", "px"),
    "y": ("um", "px"),
    "z": ("um", "px"),
    "wavelength": ("nm", "px", "cm-1"),
    "frame": ("px", "ps", "index"),
    "channel": ("index",),
}


@dataclass
class Measurement:
    """Counts on calibrated axes, as loaded from one file.

    Attributes
    ----------
    counts : numpy.ndarray
        The pixel values in the file's own dtype, one array axis per entry of ``dims``.
    dims : tuple of str
        Axis names, from :data:`KNOWN_DIMS` (``t`` time, ``x``/``y`` space, ``wavelength``,
        ``frame`` for an uncalibrated stack index).
    coords : dict of str to numpy.ndarray
        One 1-D float array per dimension, in the unit of ``units``: ps for ``t``, µm for
        ``x``/``y``, nm for ``wavelength``, or pixel index where uncalibrated. Non-uniform
        axes stay non-uniform: nothing is resampled on load.
    units : dict of str to str
        ``"ps"``, ``"um"``, ``"nm"``, or ``"px"`` where the file carries no calibration.
    meta : dict
        The file's metadata, parsed into typed values where sensible.
    format : str
        Short name of the file format (``"hamamatsu-img"``, ``"tiff"``, ``"sif"``, ...).
    source : pathlib.Path or None
        The file this came from (None for synthetic data).
    mask : numpy.ndarray of bool or None
        Pixels that must not be used (saturated, hot, NaN), same shape as ``counts``;
        True means *bad*. None means every pixel is usable.
    """

    counts: np.ndarray
    dims: tuple[str, ...]
    coords: dict[str, np.ndarray]
    units: dict[str, str]
    meta: dict[str, Any] = field(default_factory=dict)
    format: str = "unknown"
    source: Path | None = None
    mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.dims = tuple(self.dims)
        self.counts = np.asarray(self.counts)
        where = f"{self.source}" if self.source is not None else "measurement"
        if self.counts.ndim != len(self.dims):
            raise LoadError(
                f"{where}: counts have {self.counts.ndim} axes but dims are {self.dims}"
            )
        if len(set(self.dims)) != len(self.dims):
            raise LoadError(f"{where}: repeated dimension name in {self.dims}")
        coords = {}
        for axis, dim in enumerate(self.dims):
            if dim not in KNOWN_DIMS:
                raise LoadError(f"{where}: unknown dimension {dim!r}; allowed: {KNOWN_DIMS}")
            size = self.counts.shape[axis]
            values = self.coords.get(dim)
            if values is None:
                values = np.arange(size, dtype=float)
                self.units.setdefault(dim, "px")
            values = np.asarray(values, dtype=float)
            if values.shape != (size,):
                raise LoadError(
                    f"{where}: axis {dim!r} has {values.size} coordinates for {size} pixels"
                )
            coords[dim] = values
            unit = self.units.get(dim)
            if unit not in ALLOWED_UNITS[dim]:
                raise LoadError(
                    f"{where}: axis {dim!r} has unit {unit!r}; allowed: {ALLOWED_UNITS[dim]}"
                )
        self.coords = coords
        self.units = {d: self.units[d] for d in self.dims}
        if self.mask is not None:
            self.mask = np.asarray(self.mask, dtype=bool)
            if self.mask.shape != self.counts.shape:
                raise LoadError(
                    f"{where}: mask shape {self.mask.shape} differs from counts {self.counts.shape}"
                )

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of ``counts``."""
        return self.counts.shape

    def axis(self, dim: str) -> int:
        """Return the array axis index of dimension ``dim``."""
        try:
            return self.dims.index(dim)
        except ValueError:
            raise LoadError(
                f"{self.source or 'measurement'} has no {dim!r} axis; it has {self.dims}"
            ) from None

    def is_uniform(self, dim: str, rtol: float = 1e-6) -> bool:
        """True when the coordinates of ``dim`` are equally spaced within ``rtol`` of the step."""
        values = self.coords[dim]
        if values.size < 3:
            return True
        steps = np.diff(values)
        # Instrument axis tables are often float32 (HPD-TA .img): allow their rounding, a few
        # float32 epsilons of the largest coordinate, on top of the relative tolerance.
        atol = 4 * np.finfo(np.float32).eps * float(np.max(np.abs(values)))
        return bool(np.allclose(steps, steps.mean(), rtol=rtol, atol=atol))

    def transpose(self, *dims: str) -> Measurement:
        """Return a copy with the axes in the order ``dims``."""
        order = [self.axis(d) for d in dims]
        return Measurement(
            counts=np.transpose(self.counts, order),
            dims=tuple(dims),
            coords={d: self.coords[d].copy() for d in dims},
            units={d: self.units[d] for d in dims},
            meta=dict(self.meta),
            format=self.format,
            source=self.source,
            mask=None if self.mask is None else np.transpose(self.mask, order),
        )

    def to_xarray(self):
        """Return the measurement as an ``xarray.DataArray`` (needs the optional xarray)."""
        try:
            import xarray as xr
        except ImportError:  # pragma: no cover - depends on the environment
            from ..errors import MissingExtraError

            raise MissingExtraError("xarray", "xarray", "Measurement.to_xarray()") from None
        coords = {
            d: xr.Variable(d, self.coords[d], attrs={"units": self.units[d]}) for d in self.dims
        }
        attrs = {"format": self.format, "source": str(self.source or "")}
        attrs.update({k: v for k, v in self.meta.items() if isinstance(v, (str, int, float))})
        return xr.DataArray(self.counts, dims=self.dims, coords=coords, attrs=attrs)
