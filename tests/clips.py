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
                audio: bool = False) -> bytes:
    """A clip in ``fmt`` (mp4, mov, webm, gif, webp) of ``frames`` panning frames at ``fps``."""
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
