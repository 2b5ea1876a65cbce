"""``fitdiff info FILE [--json]``: what a file holds (format, shape, axes, key metadata)."""

from __future__ import annotations

import argparse
import json

import numpy as np

from ._args import add_calibration_flags, calibration_kwargs

#: Metadata keys shown in the text summary (all keys are in --json).
_KEY_META = (
    "date",
    "time",
    "software",
    "camera",
    "streak_camera",
    "streak_mode",
    "mcp_gain",
    "time_range",
    "time_range_ps",
    "exposure_time_s",
    "n_exposures",
    "integration_time_s",
    "acquisition_mode",
    "spectrograph",
    "center_wavelength_nm",
    "detector",
    "accumulations",
    "gain",
    "record_type",
    "acquisition_time_s",
    "pixel_size_um",
    "calibration_overrides",
)


def register(subparsers) -> None:
    """Add the ``info`` sub-command."""
    parser = subparsers.add_parser(
        "info",
        help="show a measurement file's format, axes and metadata",
        description="Load FILE (format recognised by content) and describe it.",
    )
    parser.add_argument("file", help="measurement file (.img, .tif, .sif, .ptu, .csv, .asc ...)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    parser.add_argument(
        "--noise",
        action="store_true",
        help="also estimate the noise SD and CNR (edge pixels; flat high-frequency spectrum)",
    )
    add_calibration_flags(parser)
    parser.set_defaults(func=run)


def describe(m) -> dict:
    """Return the ``--json`` summary of a :class:`~fitdiff.io.Measurement`."""
    axes = []
    for dim in m.dims:
        values = m.coords[dim]
        axes.append(
            {
                "name": dim,
                "unit": m.units[dim],
                "size": int(values.size),
                "first": float(values[0]),
                "last": float(values[-1]),
                "uniform": bool(m.is_uniform(dim)),
            }
        )
    metadata = {k: v for k, v in m.meta.items() if k != "hpdta"}
    return {
        "format": m.format,
        "shape": list(m.shape),
        "dtype": str(m.counts.dtype),
        "axes": axes,
        "metadata": _plain(metadata),
    }


def _plain(obj):
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None  # strict JSON has no NaN/inf
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    return str(obj)


def run(args: argparse.Namespace) -> int:
    """Print the description of ``args.file``; return 0."""
    from ..io import load

    m = load(args.file, **calibration_kwargs(args))
    info = describe(m)
    if args.noise:
        from ..extract.noise_estimate import estimate_noise

        info["noise"] = estimate_noise(m)
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"{args.file}")
    print(f"  format  {info['format']}")
    print(f"  shape   {tuple(info['shape'])} {info['dtype']}")
    for ax in info["axes"]:
        step = "uniform" if ax["uniform"] else "non-uniform"
        print(
            f"  axis {ax['name']:<10} {ax['size']:>6} x {ax['unit']:<5} "
            f"{ax['first']:.6g} .. {ax['last']:.6g} ({step})"
        )
    for key in _KEY_META:
        if key in info["metadata"]:
            print(f"  {key:<22} {info['metadata'][key]}")
    if args.noise:
        n = info["noise"]
        print(
            f"  noise SD (edge pixels)          {n['sd_edge']:.4g} counts -> CNR {n['cnr_edge']:.3g}"
        )
        print(
            f"  noise SD (high-frequency power) {n['sd_highfreq']:.4g} counts -> "
            f"CNR {n['cnr_highfreq']:.3g}"
        )
        print(f"  peak above background {n['peak']:.4g} counts (background {n['background']:.4g})")
    return 0
