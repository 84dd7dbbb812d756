"""Clips read at the byte level (impasto.nst.animated) and stripped of their metadata
(impasto.nst.clip_metadata): the canvas a GIF or WebP declares, measured before any decoder runs,
and the same clip with no place, comment, title or date, whose frames are the very same."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from PIL import Image, ImageSequence

from impasto.nst.animated import Malformed, frame_count, layout
from impasto.nst.clip_metadata import without_metadata
from impasto.nst.clips import ClipLimits, looks_like_clip, probe_clip, read_clip
from impasto.nst.errors import ImageError
from tests.clips import TAG_TEXTS, TAGS, tagged_clip, video_bytes
from tests.hostile_files import gif, gif_growing, webp_animated, webp_still

LIMITS = ClipLimits(max_frames=50, max_seconds=10.0, max_side=512)


@pytest.mark.parametrize("fmt", ["gif", "webp"])
def test_the_layout_is_what_pillow_decodes(fmt: str) -> None:
    data = video_bytes(fmt, frames=5, height=48, width=64)
    with Image.open(io.BytesIO(data)) as image:
        expected = (*image.size, image.n_frames)
    found = layout(data, fmt)
    assert (found.width, found.height, found.frames) == expected == (64, 48, 5)
    assert frame_count(data, fmt) == 5


@pytest.mark.parametrize("data, kind, size", [
    (gif(65535, 65535), "gif", (65535, 65535)),
    (gif_growing(12000, 9000), "gif", (12000, 9000)),  # the second frame enlarges the 1×1 screen
    (webp_animated(16384, 12000), "webp", (16384, 12000)),
    (webp_still(16384, 16384), "webp", (16384, 16384)),
])
def test_a_declared_canvas_is_read_from_the_blocks(data: bytes, kind: str, size: tuple[int, int]) -> None:
    assert (layout(data, kind).width, layout(data, kind).height) == size


@pytest.mark.parametrize("data, kind", [(gif(65535, 65535), "gif"), (gif_growing(12000, 9000), "gif"),
                                        (webp_animated(16384, 12000), "webp")])
def test_a_clip_whose_canvas_is_over_the_limit_is_refused_before_it_is_decoded(data: bytes, kind: str) -> None:
    assert looks_like_clip(data)
    with pytest.raises(ImageError) as refused:
        probe_clip(data, LIMITS)
    assert refused.value.too_large and refused.value.limit == "max_side"
    assert "at most 512 px on the longest side" in str(refused.value)


def test_a_cut_gif_is_malformed_but_its_whole_frames_still_count() -> None:
    data = video_bytes("gif", frames=4)
    with pytest.raises(Malformed):
        layout(data[:-40], "gif")
    assert frame_count(data[:-40], "gif") == 3
    assert frame_count(b"GIF89a", "gif") == 0 and frame_count(b"RIFF", "webp") == 0


def _frames(data: bytes, fmt: str) -> list[np.ndarray]:
    if fmt in ("gif", "webp"):
        with Image.open(io.BytesIO(data)) as image:
            return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(image)]
    return read_clip(data, LIMITS).frames


@pytest.mark.parametrize("fmt", ["mp4", "mov", "webm", "gif", "webp"])
def test_a_clip_loses_its_metadata_and_keeps_its_frames(fmt: str) -> None:
    data = tagged_clip(fmt)
    container = probe_clip(data, LIMITS).container
    assert all(text in data for text in TAG_TEXTS[:2])  # the clip as sent carries them
    clean = without_metadata(data, container)
    assert not any(text in clean for text in TAG_TEXTS)
    assert probe_clip(clean, LIMITS) == probe_clip(data, LIMITS)  # frames, fps, size, sound, container
    for before, after in zip(_frames(data, fmt), _frames(clean, fmt), strict=True):
        np.testing.assert_array_equal(before, after)
    if fmt in ("gif", "webp"):
        with Image.open(io.BytesIO(clean)) as image:
            assert not {"comment", "xmp", "exif", "icc_profile"} & set(image.info)
            assert image.info.get("loop") == 0  # it still loops
        assert b"2024" not in clean
        return
    with av.open(io.BytesIO(clean)) as opened:
        tags = [dict(opened.metadata), *(dict(stream.metadata) for stream in opened.streams)]
    assert not any(key.lower() in ("location", "location-eng", "comment", "title", "creation_time", "name")
                   for found in tags for key in found), tags
    assert not any(value in found.values() for found in tags for value in TAGS.values())


def test_a_clip_with_nothing_to_strip_keeps_its_bytes() -> None:
    data = video_bytes("gif", frames=3)
    assert without_metadata(data, "gif") == data  # only frames, their timing and the loop count
