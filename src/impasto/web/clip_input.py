"""A clip (a short video) as the content of a job, at submission: recognised, checked against the
web's clip limits with ``impasto.nst.clips.probe_clip``, and its first frame kept as a poster for the
pages. PyAV and Pillow only: no TensorFlow in the web.

A content upload is a clip when its bytes say so (an MP4/MOV/WebM/MKV container, an animated GIF or
WebP) or when the upload calls itself a video (a video/* type or a video file name): then bytes that
are no video get "not a video" rather than "not an image".
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from impasto.message import Setting
from impasto.nst.clip_metadata import without_metadata
from impasto.nst.clips import ClipInfo, ClipLimits, container_kind, looks_like_clip, probe_clip
from impasto.nst.errors import ImageError
from impasto.nst.images import thumbnail

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".qt", ".webm", ".mkv")
POSTER_SIZE = 640  # the poster's longest side: the job page shows it before the first frame is painted
CORRUPT = "the clip could not be read: the container is corrupt or truncated"


@dataclass(frozen=True)
class ClipUpload:
    """A clip that passed the checks: its bytes without their metadata, what it holds, its first frame as JPEG."""

    data: bytes
    info: ClipInfo
    poster: bytes

    def shape(self, longest: int) -> tuple[int, int]:
        """(height, width) of its frames once shrunk to fit ``longest`` (as pictures are stored)."""
        height, width = self.info.height, self.info.width
        scale = min(1.0, longest / max(height, width))
        return max(1, round(height * scale)), max(1, round(width * scale))


def wants_clip(data: bytes, filename: str | None, mimetype: str | None) -> bool:
    """Whether an upload is meant as a clip (judged by its bytes first, then by what it says it is)."""
    name = (filename or "").lower()
    return (looks_like_clip(data) or (mimetype or "").startswith("video/") or name.endswith(VIDEO_SUFFIXES))


def read_clip_upload(data: bytes, limits: ClipLimits) -> ClipUpload:
    """Check a clip against ``limits``; ImageError (naming the limit and the value) when it fails.
    What is kept of it carries no metadata (no place, comment or date: impasto.nst.clip_metadata)."""
    info = probe_clip(data, limits)
    clean = without_metadata(data, info.container)
    return ClipUpload(clean, info, thumbnail(first_frame(clean), POSTER_SIZE))


def first_frame(data: bytes) -> np.ndarray:
    """A clip's first frame as RGB uint8 (the clip has passed probe_clip)."""
    if container_kind(data) in ("gif", "webp"):
        try:
            with Image.open(io.BytesIO(data)) as image:
                return np.asarray(image.convert("RGB"))
        except (UnidentifiedImageError, OSError, ValueError):
            raise ImageError(CORRUPT, field="content") from None
    import av

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            for frame in container.decode(video=0):
                return frame.to_ndarray(format="rgb24")
    except (av.FFmpegError, ValueError, OSError):
        pass
    raise ImageError(CORRUPT, field="content")


# The setting behind each clip limit (the web names its limits' settings; the CLI its flags).
CLIP_SETTINGS = {"max_frames": "IMPASTO_MAX_CLIP_FRAMES", "max_seconds": "IMPASTO_MAX_CLIP_SECONDS",
                 "max_side": "IMPASTO_MAX_CLIP_SIDE"}


def clip_setting(error: ImageError) -> tuple[Setting, ...]:
    """The setting behind a clip limit the error names (IMPASTO_MAX_CLIP_FRAMES), else none."""
    return (Setting(CLIP_SETTINGS[error.limit]),) if error.limit in CLIP_SETTINGS else ()


def clip_limits(config: Any) -> ClipLimits:
    """The web's clip limits from the app's config (app.config: IMPASTO_MAX_CLIP_*)."""
    return ClipLimits(max_frames=config["IMPASTO_MAX_CLIP_FRAMES"], max_seconds=config["IMPASTO_MAX_CLIP_SECONDS"],
                      max_side=config["IMPASTO_MAX_CLIP_SIDE"])
