"""``impasto transfer CLIP STYLE -o out.mp4``: the clip side of the transfer command.

A content file that is a video (MP4, MOV, WebM, animated GIF or WebP) is painted frame by frame with
src/impasto/nst/video.py and written as MP4, WebM or GIF (by the output's extension). The limits are flags
with larger defaults than the web's (a person at their own machine decides how long to wait).
Every input is checked before TensorFlow loads; bad input exits 2 with one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from impasto.nst.clips import CLIP_FORMATS, Clip, ClipLimits, looks_like_clip, read_clip
from impasto.nst.errors import ImageError, OptionError
from impasto.nst.images import load_image
from impasto.nst.options import Options, blend_weights
from impasto.nst.shapes import check_shapes
from impasto.text import clock

# The CLI's own limits (the web's are IMPASTO_MAX_CLIP_FRAMES / IMPASTO_MAX_CLIP_SECONDS).
MAX_FRAMES = 3000
MAX_SECONDS = 120.0
MAX_SIDE = 4096
SNIFF_BYTES = 64


def add_clip_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("clips", "when CONTENT is a video (MP4, MOV, WebM, animated GIF or WebP); "
                                               "-o then names a .mp4, .webm or .gif")
    group.add_argument("--max-frames", type=int, default=MAX_FRAMES, metavar="N",
                       help=f"refuse a clip of more frames (default {MAX_FRAMES})")
    group.add_argument("--max-seconds", type=float, default=MAX_SECONDS, metavar="S",
                       help=f"refuse a longer clip (default {MAX_SECONDS:g})")
    group.add_argument("--max-side", type=int, default=MAX_SIDE, metavar="PX",
                       help=f"refuse a clip with a longer side in pixels (default {MAX_SIDE})")


VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".webm", ".mkv")


def wants_clip(content: str, output: str) -> bool:
    """Whether the transfer is a clip's: the content is one (by its bytes), or is named like one, or
    the output is a video (an unreadable 'clip.mp4' then hears that it is not a video)."""
    named = Path(content).suffix.lower() in VIDEO_SUFFIXES or Path(output).suffix.lower() in (".mp4", ".webm")
    return is_clip(content) or (named and Path(content).is_file())


def is_clip(path: str) -> bool:
    """Whether the content file is a clip (a missing file is left to the picture path's message)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
            if head[:6] in (b"GIF87a", b"GIF89a") or head[:4] == b"RIFF":  # animated or still: count frames
                head += handle.read()
    except OSError:
        return False
    return looks_like_clip(head)


def clip_format(path: str) -> str | None:
    """'mp4', 'webm' or 'gif' from the output's extension, else None."""
    suffix = Path(path).suffix.lower().lstrip(".")
    return suffix if suffix in CLIP_FORMATS else None


@dataclass
class ClipJob:
    clip: Clip
    styles: list
    options: Options
    fmt: str
    engine: dict[str, Any]


def prepare(args: argparse.Namespace, options: Options, engine: dict[str, Any]) -> ClipJob:
    """Check the clip, the paintings and the output before any work."""
    fmt = clip_format(args.output)
    if fmt is None:
        raise ImageError(f"output {args.output}: a clip is written as .mp4, .webm or .gif, got "
                         f"{Path(args.output).suffix or '(none)'!r}")
    if args.masks or args.init_image:
        raise OptionError("mask" if args.masks else "init", "--mask and --init-image are for pictures, not clips")
    for name, value in (("--max-frames", args.max_frames), ("--max-seconds", args.max_seconds),
                        ("--max-side", args.max_side)):
        if value <= 0:
            raise OptionError(name, f"{name} must be above 0, got {value:g}")
    limits = ClipLimits(max_frames=args.max_frames, max_seconds=args.max_seconds, max_side=args.max_side)
    clip = read_clip(Path(args.content).read_bytes(), limits)
    styles = [load_image(path, name="style") for path in [*args.style, *args.extra_styles]]
    blend_weights(options, len(styles))
    check_shapes(options, clip.frames[0].shape[:2], [style.shape[:2] for style in styles])
    return ClipJob(clip, styles, options, fmt, engine)


def run(args: argparse.Namespace, job: ClipJob, silenced) -> tuple[bytes, dict]:
    """Paint the clip and encode it; return the file's bytes and the JSON summary."""
    with silenced(enabled=not args.verbose):
        from impasto.nst.video import stylize_clip  # imports TensorFlow: only once the inputs are known good
    from impasto.nst.clips import write_clip

    bar = None if args.quiet else ClipProgressBar()
    try:
        result = stylize_clip(job.clip, job.styles, options=job.options, on_progress=bar, **job.engine)
    finally:
        if bar is not None:
            bar.close()
    data = write_clip(result.frames, result.fps, job.fmt, audio_from=job.clip.source)
    return data, {**result.summary(), "input": job.clip.info.to_dict()}


def report(args: argparse.Namespace, written: Path, summary: dict) -> None:
    if args.json:
        print(json.dumps({"output": str(written), **summary}))
    if not args.quiet:
        print(f"wrote {written} ({summary['frames']} frames at {summary['fps']:g} fps, {summary['seconds']:.1f} s)",
              file=sys.stderr)


class ClipProgressBar:
    """A tqdm bar over the clip's frames: frame i/N, the frame's iteration j/M, the whole clip's ETA."""

    def __init__(self) -> None:
        self.bar = None

    def __call__(self, progress) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=progress.frames, unit="frame", file=sys.stderr, dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| [{elapsed}{postfix}]")
        step = progress.progress
        self.bar.n = round(progress.frame - 1 + step.iteration / max(step.total, 1), 2)
        self.bar.set_description_str(f"frame {progress.frame}/{progress.frames}", refresh=False)
        self.bar.set_postfix_str(f"iteration {step.iteration}/{step.total}, loss {step.loss:.4g}, "
                                 f"ETA {clock(progress.eta)}", refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
