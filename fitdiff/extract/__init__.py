"""From a Measurement to w²(t), PL(t) and the transient D(t) (PHYSICS.md §1)."""

from .noise import NoiseModel
from .radial import radial_profile
from .table import read_table_csv, write_table_csv
from .transient import LinearDiffusion, linear_diffusion, transient_diffusion
from .widths import extract_widths

__all__ = [
    "LinearDiffusion",
    "NoiseModel",
    "extract_widths",
    "linear_diffusion",
    "radial_profile",
    "read_table_csv",
    "transient_diffusion",
    "write_table_csv",
]
