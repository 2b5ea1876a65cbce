"""Recognise a file's format from its first bytes (never from its extension)."""

from __future__ import annotations

from pathlib import Path

from ._common import fail, file_size

#: (format name, magic prefix) in the order they are tried.
_MAGICS = (
    ("tiff", b"II*\0"),
    ("tiff", b"MM\0*"),
    ("tiff", b"II+\0"),
    ("tiff", b"MM\0+"),
    ("sif", b"Andor Technology Multi-Channel File"),
    ("ptu", b"PQTTTR\0\0"),
)
_SUPPORTED = "HPD-TA .img, TIFF/OME/ImageJ, Andor .sif, PicoQuant .ptu, CSV/TSV/Andor ASCII text"


def sniff(path: Path) -> str:
    """Return ``"hamamatsu-img"``, ``"tiff"``, ``"sif"``, ``"ptu"`` or ``"text"`` for ``path``.

    Raises
    ------
    LoadError
        If ``path`` is missing, a directory, empty, or matches no supported format.
    """
    file_size(path)
    with open(path, "rb") as fh:
        head = fh.read(4096)
    for name, magic in _MAGICS:
        if head.startswith(magic):
            return name
    # "IM" is only two bytes: also require a known file_type (0, 2, 3) at byte 12.
    if head[:2] == b"IM" and len(head) >= 14 and head[12:14] in (b"\0\0", b"\2\0", b"\3\0"):
        return "hamamatsu-img"
    if _is_text(head):
        if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"["):
            # A JSON document (a .truth.json, results.json, ...) is text but no table: the
            # text reader would turn it into a one-column "image" of its lines.
            raise fail(
                path,
                "is a JSON document, not a measurement (a .truth.json or a RUN's .json "
                f"describes data; load the measurement itself); supported: {_SUPPORTED}",
            )
        return "text"
    raise fail(path, f"unknown file format (first bytes {head[:8]!r}); supported: {_SUPPORTED}")


def _is_text(head: bytes) -> bool:
    if b"\0" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the 4096-byte boundary is still text.
        if exc.start < len(head) - 4:
            text = head.decode("latin-1")
        else:
            text = head[: exc.start].decode("utf-8")
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable >= 0.98 * max(len(text), 1)
