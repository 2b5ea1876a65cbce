"""``load`` and ``save``: the one entry point to every reader and writer."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError, FitdiffError
from ._common import fail
from .calibration import apply_calibration
from .measurement import Measurement
from .sniff import sniff


def _reader(fmt: str):
    # Imported on demand so a missing optional extra only matters for its own format.
    if fmt == "hamamatsu-img":
        from .hamamatsu_img import read_img

        return read_img
    if fmt == "tiff":
        from .tiff import read_tiff

        return read_tiff
    if fmt == "sif":
        from .sif import read_sif

        return read_sif
    if fmt == "ptu":
        from .ptu import read_ptu

        return read_ptu
    from .text import read_text

    return read_text


def load(
    path: str | os.PathLike,
    *,
    x_um_per_px: float | None = None,
    y_um_per_px: float | None = None,
    x0_um: float | None = None,
    t_ps_per_px: float | None = None,
    t_ps_per_frame: float | None = None,
    t_first_ps: float | None = None,
    t_axis_ps=None,
    t0_ps: float | None = None,
) -> Measurement:
    """Read a measurement file, recognised by its content, into a :class:`Measurement`.

    Parameters
    ----------
    path : str or os.PathLike
        An HPD-TA ``.img``, a TIFF (HPD-TA export, ImageJ, OME, fitdiff), an Andor ``.sif``,
        a PicoQuant ``.ptu`` or a text table (CSV/TSV, Andor ASCII).
    x_um_per_px, y_um_per_px : float, optional
        Pixel size [µm/px] along x / y.
    x0_um : float, optional
        x coordinate of the first pixel [µm].
    t_ps_per_px : float, optional
        Time per image row [ps/px].
    t_ps_per_frame : float, optional
        Time per frame of a stack [ps].
    t_first_ps : float, optional
        Time of the first row or frame [ps] (not the time zero extraction subtracts).
    t_axis_ps : array_like, optional
        The full time axis [ps], one value per row/frame (may be non-uniform).
    t0_ps : float, optional
        Deprecated name of ``t_first_ps`` (warns).

    Returns
    -------
    Measurement
        Counts in the file's dtype; time in ps, space in µm, wavelength in nm, ``"px"``
        where uncalibrated.

    Raises
    ------
    LoadError
        The file is missing, empty, a directory, of unknown format, truncated or inconsistent.
    ConfigError
        A calibration override is invalid or names an axis the file does not have.
    MissingExtraError
        The format needs ``pip install 'fitdiff[formats]'`` (sif-parser, ptufile).
    """
    path = Path(path)
    fmt = sniff(path)
    reader = _reader(fmt)
    try:
        m = reader(path)
    except FitdiffError:
        raise
    except Exception as exc:  # noqa: BLE001
        # Readers check what they can; a corrupt file that still slips an unexpected error
        # out of numpy or a parser library must reach the user as a LoadError, not a traceback.
        raise fail(path, f"cannot be read as {fmt} ({type(exc).__name__}: {exc})") from None
    return apply_calibration(
        m,
        x_um_per_px=x_um_per_px,
        y_um_per_px=y_um_per_px,
        x0_um=x0_um,
        t_ps_per_px=t_ps_per_px,
        t_ps_per_frame=t_ps_per_frame,
        t_first_ps=t_first_ps,
        t0_ps=t0_ps,
        t_axis_ps=t_axis_ps,
    )


def save(m: Measurement, path: str | os.PathLike) -> Path:
    """Write ``m`` to ``path`` atomically; the suffix picks the format.

    ``.tif``/``.tiff``: every axis, unit and JSON-able metadata stored in the description
    (exact round trip). ``.img``: HPD-TA streak image, 2-D ``("t", "x"|"wavelength")``,
    uint8/16/32 counts, axis tables as float32 (round trip to ~1e-7 relative).

    Returns
    -------
    pathlib.Path
        The written path.

    Raises
    ------
    ConfigError
        Unknown suffix, or a measurement the chosen format cannot hold.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        from .tiff import write_tiff

        write_tiff(m, path)
    elif suffix == ".img":
        from .hamamatsu_img import write_img

        write_img(m, path)
    else:
        raise ConfigError(
            f"{path}: cannot save as {suffix or 'no suffix'!r}; allowed: .tif, .tiff, .img"
        )
    return path
