"""Clip reading, probing and writing (PyAV/Pillow, no TensorFlow): formats, frame counts, fps,
audio, and every bad input as an ImageError naming the limit and the value."""

from __future__ import annotations

import io
import subprocess
import sys

import av
import numpy as np
import pytest
from PIL import Image

from impasto.nst.clips import CLIP_FORMATS, ClipLimits, looks_like_clip, probe_clip, read_clip, write_clip
from impasto.nst.errors import ImageError
from tests.conftest import ROOT
from tests.engine.clip_helpers import encode, pan_frames

LIMITS = ClipLimits(max_frames=50, max_seconds=10.0, max_side=512)


def _gif(frames, duration=100) -> bytes:
    out = io.BytesIO()
    images = [Image.fromarray(f) for f in frames]
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0)
    return out.getvalue()


def _webp(frames, duration=125) -> bytes:
    out = io.BytesIO()
    images = [Image.fromarray(f) for f in frames]
    images[0].save(out, format="WEBP", save_all=True, append_images=images[1:], duration=duration, lossless=True)
    return out.getvalue()


@pytest.mark.parametrize("fmt", CLIP_FORMATS)
def test_written_clips_keep_frame_count_rate_and_pixels(fmt):
    frames = pan_frames(5, 48, 64)
    data = write_clip(frames, 8.0, fmt)
    clip = read_clip(data, LIMITS)
    assert len(clip.frames) == 5 and clip.info.frames == 5
    assert clip.frames[0].shape == (48, 64, 3)
    assert clip.fps == pytest.approx(8.0, rel=0.02)  # GIF keeps delays in 10 ms steps: 125 ms -> 120/130
    assert looks_like_clip(data)
    for ours, back in zip(frames, clip.frames):  # lossy codecs (and 4:2:0 colour): the brightness close
        assert np.abs(_luma(ours) - _luma(back)).mean() < 4


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def test_mp4_is_h264_yuv420p_with_the_index_first_and_odd_sizes_padded():
    data = write_clip(pan_frames(3, 45, 63), 10.0, "mp4")
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.codec_context.width, stream.codec_context.height) == (64, 46)
    assert data.index(b"moov") < data.index(b"mdat")  # faststart: browsers play while it loads


def test_webm_is_vp9():
    with av.open(io.BytesIO(write_clip(pan_frames(3), 10.0, "webm"))) as container:
        assert container.streams.video[0].codec_context.name == "vp9"


@pytest.mark.parametrize("fmt,codec", [("mp4", "aac"), ("webm", "opus")])
def test_audio_is_carried_over(fmt, codec):
    source = encode(pan_frames(8), fps=8, audio_seconds=1.0)
    clip = read_clip(source, LIMITS)
    assert clip.info.has_audio and clip.info.seconds == pytest.approx(1.0)
    data = write_clip(clip.frames, clip.fps, fmt, audio_from=clip.source)
    with av.open(io.BytesIO(data)) as container:
        assert [s.codec_context.name for s in container.streams.audio] == [codec]
        decoded = sum(frame.samples for frame in container.decode(audio=0))
        rate = container.streams.audio[0].codec_context.sample_rate
    assert decoded / rate == pytest.approx(1.0, abs=0.1)
    assert read_clip(data, LIMITS).info.frames == 8


def test_animated_gif_and_webp_are_clips_still_ones_are_pictures():
    frames = pan_frames(4)
    gif, webp = _gif(frames), _webp(frames)
    assert looks_like_clip(gif) and looks_like_clip(webp)
    assert probe_clip(gif, LIMITS).frames == 4 and probe_clip(gif, LIMITS).fps == pytest.approx(10.0)
    info = probe_clip(webp, LIMITS)
    assert (info.frames, info.container, info.width, info.height) == (4, "webp", 64, 48)
    assert info.fps == pytest.approx(8.0)
    still = io.BytesIO()
    Image.fromarray(frames[0]).save(still, format="PNG")
    assert not looks_like_clip(still.getvalue()) and not looks_like_clip(_gif(frames[:1]))
    assert not looks_like_clip(b"plain text")


def test_mov_is_read():
    data = encode(pan_frames(3), fmt="mov")
    info = probe_clip(data, LIMITS)
    assert (info.frames, info.container) == (3, "mov")


def _refused(data: bytes, limits: ClipLimits = LIMITS) -> str:
    with pytest.raises(ImageError) as caught:
        probe_clip(data, limits)
    with pytest.raises(ImageError):
        read_clip(data, limits)
    message = str(caught.value)
    assert "\n" not in message and "/" not in message.replace("at most", "")  # one line, no path
    return message


def test_every_bad_clip_is_refused_with_its_limit_and_value():
    clip = encode(pan_frames(12), fps=8)  # 1.5 s
    assert _refused(b"just some text, not a video at all") == (
        "the clip is not a video: expected MP4, MOV, WebM, an animated GIF or an animated WebP")
    assert "corrupt or truncated" in _refused(clip[:40] + b"\x00" * 50)
    assert "corrupt or truncated" in _refused(b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 4)
    assert _refused(clip, ClipLimits(10, 10.0, 512)) == "the clip has more than 10 frames; at most 10"
    assert _refused(clip, ClipLimits(50, 1.0, 512)) == "the clip is 1.5 s long; at most 1 s"
    assert _refused(clip, ClipLimits(50, 10.0, 32)) == "the clip is 64×48 px; at most 32 px on the longest side"
    assert _refused(encode([], audio_seconds=0.5)) == "the clip has no frames (no video track)"
    assert _refused(_gif(pan_frames(12)), ClipLimits(10, 10.0, 512)) == "the clip has more than 10 frames; at most 10"
    assert "corrupt or truncated" in _refused(_gif(pan_frames(4))[:60])


def test_limits_errors_say_too_large():
    with pytest.raises(ImageError) as caught:
        probe_clip(encode(pan_frames(12)), ClipLimits(10, 10.0, 512))
    assert caught.value.too_large and caught.value.field == "content"


@pytest.mark.parametrize("codec, fmt", [("libx264", "mp4"), ("libvpx-vp9", "webm")])
@pytest.mark.parametrize("side", [98, 100])
def test_a_clip_of_exactly_the_largest_side_is_read(codec: str, fmt: str, side: int) -> None:
    """FFmpeg's decoders are told the most pixels a frame may have; they count padded buffers (a
    width aligned to 64, whole coding blocks), which must not refuse a clip right at the limit."""
    clip = encode(pan_frames(2, side, side), fmt=fmt, codec=codec)
    info = read_clip(clip, ClipLimits(10, 10.0, side)).info
    assert (info.width, info.height, info.frames) == (side, side, 2)
    assert "at most 97 px" in _refused(clip, ClipLimits(10, 10.0, 97))


def test_clips_module_imports_no_tensorflow():
    code = "import sys, impasto.nst.clips, impasto.nst.flow; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
