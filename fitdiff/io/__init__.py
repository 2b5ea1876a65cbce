"""Reading and writing measurement files; the :class:`Measurement` container.

:func:`load` recognises the format by content and returns a :class:`Measurement` with
calibrated axes; :func:`save` writes TIFF or HPD-TA ``.img``.
"""

from .api import load, save
from .calibration import CALIBRATION_KEYS, apply_calibration
from .measurement import Measurement
from .sniff import sniff

__all__ = ["CALIBRATION_KEYS", "Measurement", "apply_calibration", "load", "save", "sniff"]
