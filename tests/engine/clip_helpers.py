"""Small synthetic clips for the video tests: a textured scene, panning crops of it, encoded."""

from __future__ import annotations

import io
from fractions import Fraction

import av
import cv2
import numpy as np


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth random RGB texture with structure at several scales (optical flow can lock on)."""
    rng = np.random.default_rng(seed)
    layers = [cv2.GaussianBlur(rng.uniform(0, 255, (height, width, 3)).astype(np.float32), (0, 0), sigma)
              for sigma in (1.5, 4.0)]
    mixed = layers[0] * 0.5 + layers[1] * 0.5
    mixed = (mixed - mixed.min()) / (mixed.max() - mixed.min()) * 255
    return mixed.astype(np.uint8)


def pan_frames(frames: int = 4, height: int = 48, width: int = 64, step: int = 3) -> list[np.ndarray]:
    """``frames`` crops of one scene, each ``step`` px further right."""
    scene = texture(height, width + step * (frames - 1))
    return [np.ascontiguousarray(scene[:, i * step:i * step + width]) for i in range(frames)]


def encode(frames: list[np.ndarray], fps: int = 8, fmt: str = "mp4", audio_seconds: float = 0.0,
           codec: str = "libx264") -> bytes:
    """The frames as a clip (H.264 in MP4 unless told otherwise), with a sine tone when asked."""
    out = io.BytesIO()
    with av.open(out, "w", format=fmt) as container:
        if frames:
            stream = container.add_stream(codec, rate=fps)
            stream.height, stream.width = frames[0].shape[:2]
            stream.pix_fmt = "yuv420p"
        audio = container.add_stream("aac", rate=22050) if audio_seconds else None
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            container.mux(stream.encode(frame))
        if frames:
            container.mux(stream.encode(None))
        if audio is not None:
            samples = int(22050 * audio_seconds)
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / 22050)).astype(np.float32)[None, :]
            for start in range(0, samples, 1024):
                chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, start:start + 1024]), format="flt",
                                                   layout="mono")
                chunk.sample_rate, chunk.pts, chunk.time_base = 22050, start, Fraction(1, 22050)
                container.mux(audio.encode(chunk))
            container.mux(audio.encode(None))
    return out.getvalue()
