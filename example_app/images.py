"""Deterministic PNG generation with the standard library only."""

import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def solid_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """Return an 8-bit RGB PNG filled with one colour."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    scanline = b"\x00" + bytes(rgb) * width  # filter byte 0 ("None") then the pixels
    # Level 0 (stored blocks) gives the same bytes with every zlib implementation,
    # so the monolith and a split function on another runtime answer identically.
    pixels = zlib.compress(scanline * height, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", pixels)
        + _chunk(b"IEND", b"")
    )
