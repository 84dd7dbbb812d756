"""Reading and writing clips: MP4/MOV/WebM/MKV through PyAV (FFmpeg), animated GIF/WebP through Pillow.

No TensorFlow here: the web checks an upload with ``probe_clip`` at submission. Every refusal is an
ImageError whose one-line message names the limit and the value.

Written clips keep the frame rate and the frame count: MP4 is H.264 yuv420p with the index at the
front (plays in browsers while it loads), WebM is VP9, GIF has one adaptive palette per frame.
The source's audio track is copied when the result's container takes its codec, else re-encoded
(AAC in MP4, Opus in WebM); a GIF has no sound.
"""

from __future__ import annotations

import io
import logging
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from impasto.nst.animated import Malformed, frame_count, layout
from impasto.nst.errors import ImageError

log = logging.getLogger(__name__)

CLIP_FORMATS = ("mp4", "webm", "gif")  # what a result can be written as

# Container magic numbers: ISO media (MP4/MOV) has 'ftyp' (or an older top-level box) at byte 4,
# Matroska/WebM starts with the EBML header.
_ISO_BOXES = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
_EBML = b"\x1a\x45\xdf\xa3"
_AUDIO_FOR = {"mp4": ("aac", {"aac", "mp3", "alac", "ac3"}), "webm": ("libopus", {"opus", "vorbis"})}
_VIDEO_CODEC = {"mp4": "libx264", "webm": "libvpx-vp9"}
_GIF_MIN_MS = 20  # browsers play GIF frame delays under 20 ms as 100 ms: never write less
_CODED_MARGIN = 128  # px a decoder may pad a side with (see _Container.scan)
CONTAINER_CORRUPT = "the clip could not be read: the container is corrupt or truncated"
ANIMATED_CORRUPT = "the clip could not be read: the animated image is corrupt or truncated"


@dataclass(frozen=True)
class ClipLimits:
    max_frames: int  # e.g. 240 on the web by default
    max_seconds: float  # e.g. 10.0 on the web by default
    max_side: int  # longest side of the input clip in pixels accepted


@dataclass(frozen=True)
class ClipInfo:
    frames: int
    fps: float
    width: int
    height: int
    seconds: float
    has_audio: bool
    container: str  # mp4, mov, webm, mkv, gif or webp

    def to_dict(self) -> dict:
        return {"frames": self.frames, "fps": round(self.fps, 3), "width": self.width, "height": self.height,
                "seconds": round(self.seconds, 3), "has_audio": self.has_audio, "container": self.container}


@dataclass
class Clip:
    frames: list[np.ndarray]  # RGB uint8, all the same shape
    fps: float
    info: ClipInfo
    source: bytes | None  # the original container bytes (to copy the audio track from)


def container_kind(data: bytes) -> str | None:
    """'iso' (MP4/MOV), 'matroska' (WebM/MKV), 'gif', 'webp' from the first bytes, else None."""
    head = data[:16]
    if head[4:8] in _ISO_BOXES:
        return "iso"
    if head.startswith(_EBML):
        return "matroska"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    return None


def looks_like_clip(data: bytes) -> bool:
    """True for MP4/MOV/WebM/MKV containers and for animated GIF/WebP (more than one frame); a
    still GIF/WebP/PNG/JPEG is False (it stays a picture)."""
    kind = container_kind(data)
    if kind in ("gif", "webp"):  # counted from the blocks: no decoder sees a canvas before it is measured
        return frame_count(data, kind) > 1
    return kind is not None


def probe_clip(data: bytes, limits: ClipLimits) -> ClipInfo:
    """What the clip is, checked against ``limits`` (decoding at most max_frames + 1 frames).
    ImageError for: not a video, a corrupt container, no frames, too many frames, too long, too large."""
    return _scan(data, limits, keep=False)[0]


def read_clip(data: bytes, limits: ClipLimits) -> Clip:
    """The clip's frames as RGB uint8 arrays, checked like ``probe_clip``."""
    info, frames = _scan(data, limits, keep=True)
    return Clip(frames=frames, fps=info.fps, info=info, source=data)


def _scan(data: bytes, limits: ClipLimits, keep: bool) -> tuple[ClipInfo, list[np.ndarray]]:
    kind = container_kind(data)
    if kind is None:
        raise ImageError("the clip is not a video: expected MP4, MOV, WebM, an animated GIF or an animated WebP",
                         field="content")
    reader = _AnimatedImage if kind in ("gif", "webp") else _Container
    return reader(data, kind, limits).scan(keep)


class _Reader:
    """Shared checks of both readers: size, length, frame count, each named with its limit."""

    def __init__(self, data: bytes, kind: str, limits: ClipLimits) -> None:
        self.data, self.kind, self.limits = data, kind, limits

    def check_size(self, width: int, height: int) -> None:
        if max(width, height) > self.limits.max_side:
            raise ImageError(f"the clip is {width}×{height} px; at most {self.limits.max_side} px on the longest "
                             "side", field="content", too_large=True, limit="max_side")

    def check_seconds(self, seconds: float) -> None:
        if seconds > self.limits.max_seconds + 1e-6:
            raise ImageError(f"the clip is {seconds:.1f} s long; at most {_number(self.limits.max_seconds)} s",
                             field="content", too_large=True, limit="max_seconds")

    def check_frames(self, frames: int) -> None:
        if frames > self.limits.max_frames:
            more = "more than " if frames == self.limits.max_frames + 1 else ""  # counting stopped there
            raise ImageError(f"the clip has {more}{frames - (1 if more else 0)} frames; at most "
                             f"{self.limits.max_frames}", field="content", too_large=True, limit="max_frames")

    def collect(self, frames: Iterator, keep: bool, to_rgb) -> tuple[int, list[np.ndarray]]:
        """Count (and keep) frames, stopping one past the limit; each frame's size is checked before
        it is converted (a header may understate it)."""
        count, kept = 0, []
        for frame in frames:
            count += 1
            self.check_frames(count)
            self.check_size(frame.width, frame.height)
            if keep:
                kept.append(to_rgb(frame))
        if count == 0:
            raise ImageError("the clip has no frames", field="content")
        return count, kept


class _Container(_Reader):
    """MP4/MOV/WebM/MKV through PyAV."""

    def scan(self, keep: bool) -> tuple[ClipInfo, list[np.ndarray]]:
        import av

        # FFmpeg's decoders refuse a frame over max_pixels, also while av.open probes the streams: a
        # header that understates the size cannot make one decode a frame much bigger than the limit
        # allows. Decoders count their padded buffers (widths aligned to 64, heights to whole coding
        # blocks, up to 128 px): the margin lets a clip of exactly the largest side through.
        most = {"max_pixels": str((self.limits.max_side + _CODED_MARGIN) ** 2)}
        try:
            container = av.open(io.BytesIO(self.data), mode="r", options=most)
        except (av.FFmpegError, ValueError, OSError):
            raise ImageError(CONTAINER_CORRUPT, field="content") from None
        with container:
            if not container.streams.video:
                raise ImageError("the clip has no frames (no video track)", field="content")
            stream = container.streams.video[0]
            stream.codec_context.options = most
            fps = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
            width, height = stream.codec_context.width, stream.codec_context.height
            self.check_size(width, height)  # from the header, before the first frame is decoded
            declared = _declared_seconds(container, stream)
            if declared is not None:
                self.check_seconds(declared)
            try:
                count, frames = self.collect(container.decode(stream), keep, _rgb_of_frame)
            except av.FFmpegError:
                raise ImageError(CONTAINER_CORRUPT, field="content") from None
            if frames:  # the decoded size wins over the header's
                height, width = frames[0].shape[:2]
            self.check_seconds(count / fps)
            name = _container_name(self.kind, container)
            info = ClipInfo(frames=count, fps=fps, width=width, height=height, seconds=count / fps,
                            has_audio=bool(container.streams.audio), container=name)
        return info, frames


class _AnimatedImage(_Reader):
    """Animated GIF/WebP through Pillow (FFmpeg reads no animated WebP); fps from the frame delays.
    The canvas every frame is drawn on is measured from the blocks (impasto.nst.animated) before
    Pillow opens the file: Pillow allocates a GIF frame's buffers while it seeks to it."""

    def scan(self, keep: bool) -> tuple[ClipInfo, list[np.ndarray]]:
        try:
            declared = layout(self.data, self.kind)
        except Malformed:
            raise ImageError(ANIMATED_CORRUPT, field="content") from None
        self.check_size(declared.width, declared.height)
        if declared.frames < 2:
            raise ImageError(f"the {self.kind.upper()} is a still image, not a clip", field="content")
        try:
            image = Image.open(io.BytesIO(self.data))
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
            raise ImageError(ANIMATED_CORRUPT, field="content") from None
        with image:
            delays: list[int] = []

            def frames() -> Iterator:
                for frame in ImageSequence.Iterator(image):
                    self.check_size(*frame.size)  # Pillow's own canvas, before it decodes the frame
                    frame.load()  # WebP sets a frame's duration only once it is decoded
                    delays.append(int(frame.info.get("duration") or 100))
                    yield frame
            try:
                count, kept = self.collect(frames(), keep, _rgb_of_image)
            except ImageError:
                raise
            except (OSError, ValueError, EOFError, Image.DecompressionBombError):
                raise ImageError(ANIMATED_CORRUPT, field="content") from None
            fps = 1000.0 / max(1.0, float(np.mean(delays)))
            self.check_seconds(count / fps)
            info = ClipInfo(frames=count, fps=fps, width=image.size[0], height=image.size[1], seconds=count / fps,
                            has_audio=False, container=self.kind)
        return info, kept


def _rgb_of_image(frame: Image.Image) -> np.ndarray:
    return np.asarray(frame.convert("RGB"))


def _rgb_of_frame(frame) -> np.ndarray:
    return frame.to_ndarray(format="rgb24")


def _declared_seconds(container, stream) -> float | None:
    """The length the header declares (checked before decoding anything), None when it says none."""
    if stream.duration is not None and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000  # AV_TIME_BASE
    return None


def _container_name(kind: str, container) -> str:
    names = container.format.name.split(",")
    if kind == "matroska":
        return "webm" if "webm" in names and container.streams.video[0].codec_context.name in ("vp8", "vp9", "av1") \
            else "mkv"
    return "mov" if container.metadata.get("major_brand", "").startswith("qt") else "mp4"


def _number(value: float) -> str:
    return f"{value:g}"


# -- writing ------------------------------------------------------------------------------------


def write_clip(frames: Sequence[np.ndarray], fps: float, fmt: str, audio_from: bytes | None = None) -> bytes:
    """The frames as an MP4 (H.264 yuv420p), WebM (VP9) or GIF file's bytes, at ``fps``; the audio of
    ``audio_from`` (a clip's original bytes) copied into MP4/WebM when it has one."""
    if fmt not in CLIP_FORMATS:
        raise ValueError(f"clip format must be one of {', '.join(CLIP_FORMATS)}, got {fmt!r}")
    if not frames:
        raise ValueError("no frames to write")
    if fmt == "gif":
        return _write_gif(frames, fps)
    return _write_video(frames, fps, fmt, audio_from)


def _rate(fps: float) -> Fraction:
    """fps as the exact fraction it most likely was (29.97 -> 30000/1001)."""
    return Fraction(fps).limit_denominator(1001)


def _even(frame: np.ndarray) -> np.ndarray:
    """yuv420p needs even sides: an odd one gets its last row/column repeated."""
    height, width = frame.shape[:2]
    return np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)), mode="edge")


def _write_video(frames: Sequence[np.ndarray], fps: float, fmt: str, audio_from: bytes | None) -> bytes:
    import av

    with tempfile.TemporaryDirectory(prefix="impasto-clip-") as folder:
        # A file, not a BytesIO: MP4's faststart (the index moved to the front, so that a browser
        # plays while it loads) reopens the output by name.
        path = Path(folder) / f"result.{fmt}"
        options = {"movflags": "+faststart"} if fmt == "mp4" else {}
        with av.open(str(path), mode="w", format=fmt, options=options) as container:
            _encode(container, frames, fps, fmt, audio_from)
        return path.read_bytes()


def _encode(container, frames: Sequence[np.ndarray], fps: float, fmt: str, audio_from: bytes | None) -> None:
    import av

    first = _even(frames[0])
    stream = container.add_stream(_VIDEO_CODEC[fmt], rate=_rate(fps))
    stream.width, stream.height = first.shape[1], first.shape[0]
    stream.pix_fmt = "yuv420p"
    # crf: near-transparent quality (x264 23 is its default, VP9's scale differs); VP9's
    # 'good' deadline with cpu-used 4 keeps encoding a fraction of the painting time.
    stream.options = {"crf": "20", "preset": "medium"} if fmt == "mp4" else \
        {"crf": "32", "b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"}
    audio = _AudioCopy.open(audio_from, container, fmt, len(frames) / fps)
    for index, rgb in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(_even(np.ascontiguousarray(rgb, dtype=np.uint8)), format="rgb24")
        frame.pts = index
        frame.time_base = Fraction(1) / _rate(fps)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
    if audio is not None:
        audio.copy()


class _AudioCopy:
    """The source's first audio track into ``container``: packets copied when the codec fits the
    container, else decoded and re-encoded; cut at the video's length."""

    def __init__(self, source, in_stream, container, fmt: str, seconds: float) -> None:
        self.source, self.in_stream, self.container, self.seconds = source, in_stream, container, seconds
        codec, fits = _AUDIO_FOR[fmt]
        self.remux = in_stream.codec_context.name in fits
        if self.remux:
            self.out_stream = container.add_stream_from_template(in_stream)
        else:
            rate = 48000 if codec == "libopus" else in_stream.codec_context.sample_rate or 48000
            self.out_stream = container.add_stream(codec, rate=rate)

    @classmethod
    def open(cls, data: bytes | None, container, fmt: str, seconds: float) -> _AudioCopy | None:
        if data is None or container_kind(data) not in ("iso", "matroska"):
            return None
        import av

        try:
            source = av.open(io.BytesIO(data), mode="r")
        except av.FFmpegError:
            return None
        if not source.streams.audio:
            source.close()
            return None
        return cls(source, source.streams.audio[0], container, fmt, seconds)

    def copy(self) -> None:
        import av

        try:
            if self.remux:
                self._copy_packets()
            else:
                self._reencode()
        except av.FFmpegError as exc:  # a damaged audio track costs the sound, never the result
            log.warning("the clip's audio could not be copied: %s", exc)
        finally:
            self.source.close()

    def _copy_packets(self) -> None:
        for packet in self.source.demux(self.in_stream):
            if packet.dts is None:  # the demuxer's end-of-stream marker
                continue
            if packet.pts is not None and float(packet.pts * packet.time_base) >= self.seconds:
                break
            packet.stream = self.out_stream
            self.container.mux(packet)

    def _reencode(self) -> None:
        for frame in self.source.decode(self.in_stream):
            if frame.time is not None and frame.time >= self.seconds:
                break
            frame.pts = None
            self.container.mux(self.out_stream.encode(frame))
        self.container.mux(self.out_stream.encode(None))


def _write_gif(frames: Sequence[np.ndarray], fps: float) -> bytes:
    """Each frame with its own adaptive 256-colour palette; frame delays in GIF's 10 ms steps, spread so
    that the total length stays the clip's (25 fps: 40 ms each; 30 fps: 30, 40, 30 ... ms).
    Pillow merges a frame identical to the one before into it (its delay added): it plays the same."""
    images = [Image.fromarray(np.ascontiguousarray(f, dtype=np.uint8)).convert(
        "P", palette=Image.Palette.ADAPTIVE, colors=256) for f in frames]
    ends = [round(100 * (i + 1) / fps) * 10 for i in range(len(images))]  # each frame's end, in 10 ms steps
    delays = [max(_GIF_MIN_MS, end - start) for start, end in zip([0, *ends[:-1]], ends)]
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=delays, loop=0,
                   disposal=1, optimize=False)
    return out.getvalue()
