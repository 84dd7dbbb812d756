"""Animated GIF and WebP read at the byte level, before any decoder sees them: the largest canvas
their frames are drawn on, how many frames they hold, and the same file without its metadata.

Why by hand: Pillow learns a GIF's canvas frame by frame as it seeks (a frame may enlarge it, and
the seek allocates a disposal buffer the frame's size before the caller can look), so the largest
canvas is known to Pillow only after memory was spent on it. Both formats are plain lists of
blocks, walked here in one pass without decoding a pixel. The same walk drops what carries text
rather than pictures: GIF comments, XMP and every application block but the loop count; WebP's
EXIF, XMP, ICC and unknown chunks (frames keep only their pixels).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

GIF_TRAILER = 0x3B
_GIF_KEPT_APPS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")  # the loop count: how the clip plays
_WEBP_KEPT = (b"VP8X", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L")  # chunks that carry pictures
_VP8X_DROPPED_FLAGS = 0x20 | 0x08 | 0x04  # ICC, EXIF, XMP: their chunks are dropped


class Malformed(ValueError):
    """The blocks do not add up: cut short, or not the format at all."""


@dataclass(frozen=True)
class Layout:
    width: int  # the canvas, grown (as decoders grow it) to every frame's extent
    height: int
    frames: int


def layout(data: bytes, kind: str) -> Layout:
    """The canvas and frame count of a GIF or WebP (``kind``: 'gif' or 'webp'); Malformed if cut."""
    if kind == "gif":
        return _gif_layout(data)
    return _webp_layout(data)


def frame_count(data: bytes, kind: str) -> int:
    """Frames counted as far as the blocks can be walked (0 for what is not the format)."""
    if kind == "gif":
        return sum(label == b"," for label, _, _ in _gif_walk(data, strict=False)[1])
    try:
        return _webp_layout(data).frames
    except Malformed:
        return 0


def without_metadata(data: bytes, kind: str) -> bytes:
    """The same GIF or WebP with only the blocks that play (pixels, timing, loop count)."""
    if kind == "gif":
        start, blocks = _gif_walk(data, strict=True)
        kept = [data[s:e] for label, s, e in blocks if _gif_keeps(data, label, s)]
        return data[:start] + b"".join(kept) + bytes([GIF_TRAILER])
    body = b"".join(_webp_clean(data, fourcc, s, e) for fourcc, s, e in _webp_chunks(data, 12, _riff_end(data))
                    if fourcc in _WEBP_KEPT)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


# -- GIF: header, logical screen (+ colour table), then blocks up to the trailer -------------------------


def _gif_walk(data: bytes, strict: bool) -> tuple[int, list[tuple[bytes, int, int]]]:
    """(where the blocks start, [(label, start, end)]): label b',' for a frame, b'!' plus the
    extension's byte for an extension. ``strict``: Malformed where the walk breaks, else stop there."""
    start = pos = 13 + _colour_table(data[10]) if len(data) >= 13 else 13
    if len(data) < start or data[:6] not in (b"GIF87a", b"GIF89a"):
        if strict:
            raise Malformed("not a GIF, or cut short in its colour table")
        return 0, []
    blocks = []
    try:
        while pos < len(data) and data[pos] != GIF_TRAILER:
            begin = pos
            if data[pos] == 0x21:
                label, pos = data[pos:pos + 2], _sub_blocks(data, pos + 2)
            elif data[pos] == 0x2C and pos + 10 <= len(data):
                label, pos = b",", _sub_blocks(data, pos + 11 + _colour_table(data[pos + 9]))
            else:
                raise Malformed(f"unexpected byte {data[pos]:#04x} at {pos}")
            blocks.append((label, begin, pos))
    except Malformed:
        if strict:
            raise
    return start, blocks


def _colour_table(flags: int) -> int:
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def _sub_blocks(data: bytes, pos: int) -> int:
    """Where a chain of data sub-blocks (each a length byte, then that many bytes; 0 ends) ends."""
    while pos < len(data):
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos
    raise Malformed("cut short inside a block")


def _gif_layout(data: bytes) -> Layout:
    _, blocks = _gif_walk(data, strict=True)
    width, height = struct.unpack("<HH", data[6:10])
    frames = 0
    for label, start, _ in blocks:
        if label == b",":
            x, y, w, h = struct.unpack("<4H", data[start + 1:start + 9])
            width, height, frames = max(width, x + w), max(height, y + h), frames + 1
    return Layout(width, height, frames)


def _gif_keeps(data: bytes, label: bytes, start: int) -> bool:
    if label in (b",", b"!\xf9"):  # a frame, its graphic control (delay, disposal, transparency)
        return True
    return label == b"!\xff" and data[start + 3:start + 14] in _GIF_KEPT_APPS


# -- WebP: RIFF chunks; an animation is VP8X (canvas, flags), ANIM, then one ANMF per frame -------------


def _riff_end(data: bytes) -> int:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise Malformed("not a WebP")
    return min(len(data), 8 + struct.unpack("<I", data[4:8])[0])


def _webp_chunks(data: bytes, pos: int, end: int) -> list[tuple[bytes, int, int]]:
    """[(fourcc, start, end)] of the chunks between ``pos`` and ``end`` (padding to an even size included)."""
    chunks = []
    while pos + 8 <= end:
        size = struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if pos + 8 + size > end:
            raise Malformed("a chunk runs past the end")
        chunks.append((data[pos:pos + 4], pos, min(end, pos + 8 + size + (size & 1))))
        pos += 8 + size + (size & 1)
    return chunks


def _webp_layout(data: bytes) -> Layout:
    chunks = _webp_chunks(data, 12, _riff_end(data))
    if not chunks:
        raise Malformed("no chunks")
    fourcc, start, _ = chunks[0]
    head = data[start + 8:start + 18]
    if fourcc == b"VP8X" and len(head) == 10:  # the canvas: 24-bit width and height, less one
        frames = sum(c == b"ANMF" for c, _, _ in chunks) or 1
        return Layout(int.from_bytes(head[4:7], "little") + 1, int.from_bytes(head[7:10], "little") + 1, frames)
    if fourcc == b"VP8 " and head[3:6] == b"\x9d\x01\x2a":  # a lossy still: 14-bit sides after the start code
        width, height = struct.unpack("<HH", data[start + 14:start + 18])
        return Layout(width & 0x3FFF, height & 0x3FFF, 1)
    if fourcc == b"VP8L" and head[0:1] == b"\x2f":  # a lossless still: 14-bit sides less one, packed
        bits = struct.unpack("<I", head[1:5])[0]
        return Layout((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, 1)
    raise Malformed("no canvas size in the first chunk")


def _webp_clean(data: bytes, fourcc: bytes, start: int, end: int) -> bytes:
    """A kept chunk as written back: VP8X without the flags of dropped chunks; a frame (ANMF) with
    its 16-byte header and its picture chunks only."""
    if fourcc == b"VP8X":
        chunk = bytearray(data[start:end])
        chunk[8] &= ~_VP8X_DROPPED_FLAGS & 0xFF
        return bytes(chunk)
    if fourcc != b"ANMF":
        return data[start:end]
    size = struct.unpack("<I", data[start + 4:start + 8])[0]
    inner = _webp_chunks(data, start + 24, start + 8 + size)
    payload = data[start + 8:start + 24] + b"".join(data[s:e] for c, s, e in inner if c in _WEBP_KEPT)
    return b"ANMF" + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) & 1)
