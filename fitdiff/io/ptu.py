"""PicoQuant unified TTTR ``.ptu`` files through ptufile (extra ``formats``).

A T3 image (scanned TCSPC, spatially resolved TRPL) becomes ``("y", "x", "t")``: photons of
all frames and channels summed into one histogram per pixel, x and y in µm from
``ImgHdr_PixResol``, t the TCSPC micro time in ps (bin width ``MeasDesc_Resolution``). A T3
point measurement becomes a decay ``("t",)``. T2 files have no micro time (no sync), so no
decay can be formed: they raise :class:`~fitdiff.errors.LoadError` saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LoadError, MissingExtraError
from ..units import PS_PER_S, UM_PER_M
from ._common import check_alloc, fail, file_size
from .measurement import Measurement

MAGIC = b"PQTTTR\0\0"
#: ptufile's histograms are dense; refuse header-declared sizes beyond this many bins.
_MAX_BINS = 1 << 16
_MIN_HIST_LIMIT = 256 * 1024**2


def _ptufile():
    try:
        import ptufile
    except ImportError:
        raise MissingExtraError("ptufile", "formats", "reading PicoQuant .ptu files") from None
    return ptufile


def read_ptu(path: Path) -> Measurement:
    """Read a PicoQuant ``.ptu`` T3 image or point measurement."""
    size = file_size(path)
    ptufile = _ptufile()
    try:
        # Hand ptufile an open handle: when its constructor rejects a file it does not
        # close a file it opened itself (ResourceWarning under the fuzz test).
        with open(path, "rb") as fh, ptufile.PtuFile(fh) as ptu:
            return _read(path, ptu, size)
    except LoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - a corrupt file may trip any error inside ptufile
        raise fail(path, f"PTU file cannot be decoded ({type(exc).__name__}: {exc})") from None


def _read(path: Path, ptu, size: int) -> Measurement:
    meta = _metadata(ptu)
    if not ptu.is_t3:
        raise fail(
            path,
            f"is a T2 (time-tagged, record type {getattr(ptu.record_type, 'name', ptu.record_type)}) file: it has "
            "no TCSPC micro time, so fitdiff cannot form a decay or a TRPL image; "
            "record in T3 mode, or histogram the photon times with ptufile",
        )
    # ptufile's H axis runs to the last bin holding a photon, which may lie one past the
    # nominal period (z1: 133 vs 132, PROVENANCE.md §4); keep it so no photon is dropped.
    n_bins = int(ptu.shape[-1])
    if not 0 < n_bins <= _MAX_BINS:
        raise fail(path, f"number of TCSPC bins {n_bins} is outside 1..{_MAX_BINS}")
    bin_ps = float(ptu.tcspc_resolution) * PS_PER_S
    if not (np.isfinite(bin_ps) and bin_ps > 0):
        raise fail(path, f"MeasDesc_Resolution {ptu.tcspc_resolution!r} s is not a positive time")
    t = np.arange(n_bins) * bin_ps
    if ptu.is_image:
        ny, nx = int(ptu.shape[1]), int(ptu.shape[2])
        # A dense histogram is legitimately larger than the sparse photon list that fills
        # it, but not without bound: 64x the file or 256 MiB, whichever is larger.
        check_alloc(
            path,
            (ny, nx, n_bins),
            4,
            "TCSPC image histogram",
            limit=max(64 * size, _MIN_HIST_LIMIT),
        )
        # Integrate frames (T) and channels (C); uint32 so summed frames cannot overflow.
        hist = ptu.decode_image(frame=-1, channel=-1, dtype=np.uint32, keepdims=False)
        counts = np.asarray(hist).reshape(ny, nx, -1)[:, :, :n_bins]
        if counts.shape[2] != n_bins:
            raise fail(path, f"decoded {counts.shape[2]} TCSPC bins, expected {n_bins}")
        coords = {"t": t}
        units = {"t": "ps", "x": "px", "y": "px"}
        for dim, key in (("x", "X"), ("y", "Y")):
            values = np.asarray(ptu.coords.get(key, []), dtype=float)
            if values.size == counts.shape[1 if dim == "x" else 0] and np.any(values):
                coords[dim] = values * UM_PER_M
                units[dim] = "um"
        meta["n_frames_summed"] = int(ptu.shape[0])
        return Measurement(
            counts=counts,
            dims=("y", "x", "t"),
            coords=coords,
            units=units,
            meta=meta,
            format="ptu",
            source=path,
        )
    check_alloc(path, (n_bins,), 4, "TCSPC histogram")
    hist = np.asarray(ptu.decode_histogram(dtype=np.uint32))
    counts = hist.reshape(-1, hist.shape[-1]).sum(axis=0)[:n_bins]
    return Measurement(
        counts=counts,
        dims=("t",),
        coords={"t": t[: counts.size]},
        units={"t": "ps"},
        meta=meta,
        format="ptu",
        source=path,
    )


def _metadata(ptu) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for name, getter in (
        ("record_type", lambda: getattr(ptu.record_type, "name", str(ptu.record_type))),
        ("measurement_mode", lambda: int(ptu.measurement_mode)),
        ("number_records", lambda: int(ptu.number_records)),
        ("acquisition_time_s", lambda: float(ptu.acquisition_time)),
        ("sync_rate_hz", lambda: float(ptu.syncrate)),
        ("global_resolution_s", lambda: float(ptu.global_resolution)),
        ("tcspc_resolution_s", lambda: float(ptu.tcspc_resolution)),
        ("bins_per_period", lambda: int(ptu.number_bins_in_period)),
        ("date", lambda: ptu.datetime.isoformat() if ptu.datetime else None),
        ("pixel_size_um", lambda: float(ptu.tags["ImgHdr_PixResol"])),
    ):
        try:
            value = getter()
        except Exception:  # noqa: BLE001, S112 - optional tags: absent or undecodable is fine
            continue
        if value is not None:
            meta[name] = value
    return meta
