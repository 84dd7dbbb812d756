"""Small files whose headers declare canvases far over every limit, crafted byte by byte.

Each is a few dozen to a few hundred bytes: a decoder that trusted the header would allocate
gigabytes for it. Checksums (PNG's CRCs) are right, so each file gets past a format's first checks.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares ``width`` × ``height`` RGB, with a few bytes of pixel data."""
    ihdr = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + ihdr + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _png_chunk(b"IEND", b"")


def apng(width: int, height: int, frames: int = 2) -> bytes:
    """An animated PNG (acTL, fcTL) whose canvas and first frame are ``width`` × ``height``."""
    ihdr = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    actl = _png_chunk(b"acTL", struct.pack(">II", frames, 0))
    fctl = _png_chunk(b"fcTL", struct.pack(">IIIIIHHBB", 0, width, height, 0, 0, 1, 10, 0, 0))
    return (b"\x89PNG\r\n\x1a\n" + ihdr + actl + fctl + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _png_chunk(b"IEND", b""))


_GIF_PIXEL = b"\x02\x02D\x01\x00"  # LZW code size 2, one sub-block coding one pixel, end of data


def _gif_frame(width: int, height: int, disposal: int = 0, delay: int = 10) -> bytes:
    control = b"!\xf9\x04" + bytes([disposal << 2]) + struct.pack("<H", delay) + b"\x00\x00"
    return control + b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + _GIF_PIXEL


def gif(width: int, height: int, frames: int = 2) -> bytes:
    """An animated GIF whose logical screen is ``width`` × ``height`` (each frame one pixel)."""
    head = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    loop = b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    return head + loop + b"".join(_gif_frame(1, 1) for _ in range(frames)) + b";"


def gif_still(width: int, height: int) -> bytes:
    """A 1×1 GIF whose only frame is ``width`` × ``height``, disposed to the background: Pillow's GIF
    reader allocates the disposal buffer as it opens the file."""
    head = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    return head + _gif_frame(width, height, disposal=2) + b";"


def gif_growing(width: int, height: int) -> bytes:
    """A 1×1 animated GIF whose second frame is ``width`` × ``height``, to be disposed to the
    background: Pillow enlarges the canvas and allocates the disposal buffer as it seeks to it."""
    head = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    return head + _gif_frame(1, 1) + _gif_frame(width, height, disposal=2) + b";"


def _vp8l_pixel() -> bytes:
    """A 1×1 lossless WebP bitstream chunk (VP8L), as Pillow writes it."""
    out = io.BytesIO()
    Image.new("RGB", (1, 1), "red").save(out, "WEBP", lossless=True)
    data = out.getvalue()
    start = data.index(b"VP8L")
    size = struct.unpack("<I", data[start + 4:start + 8])[0]
    return data[start:start + 8 + size + (size & 1)]


def _riff(body: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def _vp8x(width: int, height: int, flags: int) -> bytes:
    return (b"VP8X" + struct.pack("<I", 10) + bytes([flags, 0, 0, 0]) + (width - 1).to_bytes(3, "little")
            + (height - 1).to_bytes(3, "little"))


def webp_animated(width: int, height: int, frames: int = 2) -> bytes:
    """An animated WebP whose VP8X canvas is ``width`` × ``height`` (each frame one pixel)."""
    pixel = _vp8l_pixel()
    frame = bytes(12) + (100).to_bytes(3, "little") + b"\0" + pixel  # at 0,0, 1×1, 100 ms
    anmf = b"ANMF" + struct.pack("<I", len(frame)) + frame + b"\0" * (len(frame) & 1)
    anim = b"ANIM" + struct.pack("<I", 6) + bytes(6)
    return _riff(_vp8x(width, height, 0x02 | 0x10) + anim + anmf * frames)


def webp_still(width: int, height: int) -> bytes:
    """A still WebP whose VP8X canvas is ``width`` × ``height`` (one pixel of data)."""
    return _riff(_vp8x(width, height, 0) + _vp8l_pixel())


def tiff_pages(second: tuple[int, int]) -> bytes:
    """A two-page TIFF: an 8×8 first page, and a second whose tags declare ``second`` (width, height)."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, "TIFF", save_all=True, append_images=[Image.new("RGB", (8, 8))])
    data = bytearray(out.getvalue())
    first = struct.unpack("<I", data[4:8])[0]
    entries = struct.unpack("<H", data[first:first + 2])[0]
    page = struct.unpack("<I", data[first + 2 + 12 * entries:first + 6 + 12 * entries])[0]
    for index in range(struct.unpack("<H", data[page:page + 2])[0]):
        entry = page + 2 + 12 * index
        tag = struct.unpack("<H", data[entry:entry + 2])[0]
        if tag in (256, 257):  # ImageWidth, ImageLength: written as LONG
            data[entry + 2:entry + 12] = struct.pack("<HII", 4, 1, second[tag - 256])
    return bytes(data)


# Each upload of the tests, by name: what its header declares is far over the web's limits
# (IMPASTO_MAX_PIXELS 40,000,000; IMPASTO_MAX_CLIP_SIDE 1920 px), except the TIFF, whose huge
# page is its second (a picture is its first page: the second is never decoded).
HOSTILE = {
    "PNG 100000×100000": png_header(100_000, 100_000),
    "APNG 100000×100000": apng(100_000, 100_000),
    "GIF screen 65535×65535": gif(65535, 65535),
    "GIF frame 2 12000×12000": gif_growing(12000, 12000),
    "still GIF 9000×9000": gif_still(9000, 9000),  # under Pillow's own warning (89 million pixels)
    "animated WebP 16384×16384": webp_animated(16384, 16384),
    "animated WebP 12000×12000": webp_animated(12000, 12000),
    "still WebP 16384×16384": webp_still(16384, 16384),
    "TIFF page 2 100000×100000": tiff_pages((100_000, 100_000)),
}
