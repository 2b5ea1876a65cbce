"""Reading and writing measurement files; the :class:`Measurement` container."""

from .measurement import Measurement

__all__ = ["Measurement"]
