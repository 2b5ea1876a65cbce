"""Andor Solis ``.sif`` files: a thin wrapper over the sif-parser package (extra ``formats``).

sif-parser parses the version-dependent header; this module guards it against truncated files
(its word reader loops forever at end of file), checks the declared data size against the file
length before reading, computes the wavelength axis itself (1-based polynomial over the
*width*: sif-parser's helper uses width × height for images, PROVENANCE.md §3) and drops the
fields PROVENANCE.md lists as unreliable (``RamanExWavelength`` outside Raman files,
``GateDelay`` below version 65567 or when 0).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MissingExtraError
from ._common import check_alloc, fail, file_size
from .measurement import Measurement

MAGIC = b"Andor Technology Multi-Channel File"
#: Header fields copied into ``meta`` under these names, with their units.
_FIELDS = {
    "ExperimentTime": "experiment_time_unix_s",
    "DetectorTemperature": "detector_temperature_C",
    "ExposureTime": "exposure_time_s",
    "CycleTime": "cycle_time_s",
    "AccumulatedCycles": "accumulations",
    "GainDAC": "gain",
    "GateWidth": "gate_width_s",
    "DetectorType": "detector",
    "SifVersion": "sif_version",
    "NumberOfFrames": "n_frames",
    "xbin": "xbin",
    "ybin": "ybin",
}


class _GuardedFile(io.RawIOBase):
    """A read-only file whose reads past the end raise EOFError instead of returning ``b""``.

    sif-parser's ``_read_until`` loops until it sees a separator; at end of file ``read(1)``
    returns ``b""`` forever, so a truncated header would hang the loader.
    """

    def __init__(self, fh):
        self._fh = fh

    def read(self, n=-1):
        data = self._fh.read(n)
        if n != 0 and not data:
            raise EOFError("unexpected end of file in the SIF header")
        return data

    def readline(self, limit=-1):
        data = self._fh.readline(limit)
        if not data:
            raise EOFError("unexpected end of file in the SIF header")
        return data

    def seek(self, offset, whence=0):
        return self._fh.seek(offset, whence)

    def tell(self):
        return self._fh.tell()


def _parser():
    try:
        from sif_parser import _sif_open
    except ImportError:
        raise MissingExtraError("sif-parser", "formats", "reading Andor .sif files") from None
    return _sif_open


def wavelength_axis(coefficients, width: int) -> np.ndarray | None:
    """λ(p) = c0 + c1 p + c2 p² + c3 p³ at 1-based pixels p = 1..width [nm]; None if uncalibrated.

    Parameters
    ----------
    coefficients : sequence of float
        Polynomial coefficients, lowest order first (nm, nm/px, ...).
    width : int
        Number of (binned) pixels along the horizontal axis.
    """
    if coefficients is None:
        return None
    coef = np.asarray([float(c) for c in coefficients][:4], dtype=float)
    # [0, 1, 0, 0] is Solis' "no calibration"; all zeros too.
    if (
        coef.size == 0
        or not np.all(np.isfinite(coef))
        or np.allclose(coef, [0, 1, 0, 0][: coef.size])
        or not np.any(coef)
    ):
        return None
    values = np.polynomial.polynomial.polyval(np.arange(1, width + 1, dtype=float), coef)
    steps = np.diff(values)
    if values.size > 1 and not (np.all(steps > 0) or np.all(steps < 0)):
        return None
    return values


def read_sif(path: Path) -> Measurement:
    """Read an Andor ``.sif`` file.

    Dims: ``("frame", "y", <h>)`` with singleton frame and y axes dropped, where ``<h>`` is
    ``"wavelength"`` (nm) when calibrated and ``"x"`` (px)
    otherwise. SIF has no spatial calibration: x and y stay in px unless overridden.
    """
    size = file_size(path)
    sif = _parser()
    with open(path, "rb") as fh:
        if fh.read(len(MAGIC)) != MAGIC:
            raise fail(
                path,
                "not an Andor SIF file (first line is not 'Andor Technology Multi-Channel File')",
            )
        fh.seek(0)
        try:
            _tile, sz, n_frames, info = sif._open(_GuardedFile(fh))
        except EOFError:
            raise fail(path, "truncated: the SIF header ends before its data block") from None
        except Exception as exc:  # noqa: BLE001 - a corrupt header may trip any error inside sif-parser
            raise fail(path, f"SIF header cannot be parsed ({type(exc).__name__}: {exc})") from None
        width, height = int(sz[0]), int(sz[1])
        n_frames = int(n_frames)
        offset = int(info["offset"])
        check_alloc(path, (n_frames, height, width), 4, "SIF data")
        need = offset + 4 * n_frames * height * width
        if need > size:
            raise fail(
                path,
                f"truncated: header declares {n_frames} frames of {height}x{width} "
                f"float32 ending at byte {need}, but the file has {size} bytes",
            )
        fh.seek(offset)
        data = np.fromfile(fh, dtype="<f4", count=n_frames * height * width)
    counts = data.reshape(n_frames, height, width).astype(np.float32)
    meta = _metadata(info)
    frame_axis = _decode(info.get("FrameAxis"))
    coef = info.get("Calibration_data")
    if coef is None and "Calibration_data_for_frame_1" in info:
        coef = info["Calibration_data_for_frame_1"]
        meta["calibration_per_frame"] = True
    wl = wavelength_axis(coef, width)
    dims: list[str] = ["frame", "y"]
    coords: dict[str, np.ndarray] = {}
    units: dict[str, str] = {"frame": "index", "y": "px"}
    if wl is not None:
        dims.append("wavelength")
        coords["wavelength"] = wl
        # The polynomial is in nm even when Solis displays a Raman shift (DD58_785: 790-895
        # nm at 785 nm excitation); the shift is left to the user with raman_excitation_nm.
        units["wavelength"] = "nm"
        meta["wavelength_coefficients"] = [float(c) for c in coef]
    else:
        dims.append("x")
        units["x"] = "px"
    keep = [i for i, n in enumerate(counts.shape) if n > 1 or i == 2]
    counts = counts.reshape([counts.shape[i] for i in keep])
    dims = [dims[i] for i in keep]
    meta["frame_axis"] = frame_axis
    meta["data_type"] = _decode(info.get("DataType"))
    meta["image_axis"] = _decode(info.get("ImageAxis"))
    return Measurement(
        counts=counts,
        dims=tuple(dims),
        coords=coords,
        units={d: units[d] for d in dims},
        meta=meta,
        format="sif",
        source=path,
    )


def _decode(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1").strip()
    return str(value or "").strip()


def _metadata(info: dict) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for key, name in _FIELDS.items():
        value = info.get(key)
        if value is None:
            continue
        meta[name] = (
            _decode(value)
            if isinstance(value, (bytes, str))
            else (value.item() if hasattr(value, "item") else value)
        )
    raman = info.get("RamanExWavelength")
    frame_axis = _decode(info.get("FrameAxis")).lower()
    # Position-based parsing gives 422/433 for non-Raman files (PROVENANCE.md §3): keep it
    # only when the frame axis is a Raman shift.
    if raman is not None and np.isfinite(raman) and "raman" in frame_axis:
        meta["raman_excitation_nm"] = float(raman)
    delay = info.get("GateDelay")
    if delay and int(info.get("SifVersion", 0)) >= 65567:
        meta["gate_delay_s"] = float(delay)
    return meta
