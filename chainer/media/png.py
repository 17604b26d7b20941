"""PNG header facts without decoding: width and height from the IHDR chunk.

A downloaded last frame is untrusted: its dimensions are checked from the first 33 bytes (against
the clip's size and a pixel cap) before any decoder allocates memory for it.
"""
from __future__ import annotations

import os
import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SIDE = 16384            # larger than any Seedance output; a bigger header is refused


def png_dimensions(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` from ``path``'s IHDR chunk; ValueError when the file does not start
    like a PNG (signature, IHDR first, CRC) or states a size of 0 or over :data:`MAX_SIDE`."""
    with open(path, "rb") as fh:
        head = fh.read(33)
    if len(head) < 33 or not head.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG file (bad signature)")
    length, ctype = struct.unpack(">I4s", head[8:16])
    if ctype != b"IHDR" or length != 13:
        raise ValueError("not a PNG file (no IHDR chunk first)")
    data = head[16:29]
    (crc,) = struct.unpack(">I", head[29:33])
    if zlib.crc32(ctype + data) & 0xFFFFFFFF != crc:
        raise ValueError("corrupt PNG header (IHDR checksum)")
    width, height = struct.unpack(">II", data[:8])
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise ValueError(f"PNG header states {width}x{height} (allowed 1..{MAX_SIDE} per side)")
    return width, height
