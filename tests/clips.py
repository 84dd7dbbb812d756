"""Tiny synthetic clips for the tests: a few frames of a pan across a picture, written with PyAV
(MP4/WebM/MOV) or Pillow (animated GIF/WebP), and the broken kinds (audio only, corrupt, truncated)."""

from __future__ import annotations

import io
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image


def pan_frames(frames: int = 4, height: int = 48, width: int = 64) -> list[np.ndarray]:
    """A camera panning right across a colourful picture, 2 px a frame (RGB uint8)."""
    y, x = np.mgrid[0:height, 0:width + 2 * frames]
    scene = np.stack([(x * 4) % 256, (y * 5) % 256, ((x + y) * 3) % 256], axis=-1).astype(np.uint8)
    scene[(x // 8 + y // 8) % 2 == 0] //= 2  # a checker, so that the pan shows
    return [np.ascontiguousarray(scene[:, 2 * i:2 * i + width]) for i in range(frames)]


def video_bytes(fmt: str = "mp4", frames: int = 4, fps: int = 8, height: int = 48, width: int = 64,
                audio: bool = False, tags: dict[str, str] | None = None) -> bytes:
    """A clip in ``fmt`` (mp4, mov, webm, gif, webp) of ``frames`` panning frames at ``fps``; ``tags``
    (MP4/MOV/WebM) are written on the container and on each track."""
    images = pan_frames(frames, height, width)
    if fmt in ("gif", "webp"):
        out = io.BytesIO()
        pictures = [Image.fromarray(frame) for frame in images]
        pictures[0].save(out, format=fmt.upper(), save_all=True, append_images=pictures[1:],
                         duration=round(1000 / fps), loop=0)
        return out.getvalue()
    import av

    codec = {"mp4": "libx264", "mov": "libx264", "webm": "libvpx-vp9"}[fmt]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"clip.{fmt}"
        with av.open(str(path), mode="w") as container:
            stream = container.add_stream(codec, rate=fps)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            sound = container.add_stream("aac", rate=44100) if audio else None
            for tagged in (container, stream, sound):
                if tagged is not None:
                    tagged.metadata.update(tags or {})
            for index, rgb in enumerate(images):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts, frame.time_base = index, Fraction(1, fps)
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
            if sound is not None:
                _tone(container, sound, frames / fps)
        return path.read_bytes()


def audio_only_mp4(seconds: float = 0.5) -> bytes:
    """An MP4 with a sound track and no video: a clip with no frames."""
    import av

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sound.mp4"
        with av.open(str(path), mode="w") as container:
            _tone(container, container.add_stream("aac", rate=44100), seconds)
        return path.read_bytes()


def _tone(container, stream, seconds: float) -> None:
    import av

    samples = int(44100 * seconds)
    wave = (0.2 * np.sin(np.arange(samples) * 2 * np.pi * 440 / 44100)).astype(np.float32)
    for start in range(0, samples, 1024):
        chunk = wave[start:start + 1024]
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 44100, start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def corrupt_mp4() -> bytes:
    """An MP4 header ('ftyp') followed by noise: a container that cannot be read."""
    return b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(range(256)) * 8


def truncated(data: bytes) -> bytes:
    """The first third of a clip: its frames cut off mid-file."""
    return data[: len(data) // 3]


# What a phone writes into a clip: where, when, a title and a comment.
TAGS = {"location": "+48.8584+002.2945/", "comment": "a secret comment", "title": "Holiday at home",
        "creation_time": "2024-05-01T10:00:00.000000Z"}
TAG_TEXTS = (b"a secret comment", b"Holiday at home", b"48.8584")  # none may be left in the bytes


def tagged_clip(fmt: str, frames: int = 4) -> bytes:
    """A clip carrying TAGS: container and track tags (MP4, MOV, WebM, with sound where the format
    takes AAC); a comment and an XMP packet (GIF); EXIF and XMP chunks (WebP)."""
    if fmt not in ("gif", "webp"):
        return video_bytes(fmt, frames=frames, audio=fmt != "webm", tags=TAGS)
    xmp = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:title>{TAGS["title"]}</dc:title>'
           f'<exif:GPSLatitude>{TAGS["location"]}</exif:GPSLatitude><xmp:CreateDate>2024-05-01T10:00:00'
           '</xmp:CreateDate></x:xmpmeta>').encode()
    pictures = [Image.fromarray(frame) for frame in pan_frames(frames)]
    out = io.BytesIO()
    if fmt == "webp":
        exif = Image.Exif()
        exif[0x010E], exif[0x0132] = TAGS["comment"], "2024:05:01 10:00:00"  # ImageDescription, DateTime
        pictures[0].save(out, format="WEBP", save_all=True, append_images=pictures[1:], duration=125, loop=0,
                         exif=exif.tobytes(), xmp=xmp)
        return out.getvalue()
    pictures[0].save(out, format="GIF", save_all=True, append_images=pictures[1:], duration=130, loop=0,
                     comment=TAGS["comment"].encode())
    data = out.getvalue()
    screen = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)  # header, logical screen, colours
    packet = b"!\xff\x0bXMP DataXMP" + bytes([len(xmp)]) + xmp + b"\x00"  # one application extension
    return data[:screen] + packet + data[screen:]
