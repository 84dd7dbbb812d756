"""Video: seconds per frame and flicker, with the temporal term and without (frames painted independently).

    python bench/video.py                  # pan + moving object at 256 px (8 frames), timings at 512 px (≈ 30 min)
    python bench/video.py --quick          # 128 px, 5 frames, no 512 px timing: a smoke test (≈ 4 min)
    python bench/video.py --size 128 --frames 6 --temporal-weights 30 100 300 --frame-iterations 20 40  # tuning

Two synthetic clips are made from the samples in ../shared/samples (no download): a pan across
tubingen.jpg (the window slides 3 % of its width per frame) and a still view of it with a patch of
The Scream moving across (8 % of the width per frame). Each is painted in the style of The Starry
Night with the default options (``temporal_weight``, ``frame_iterations``) and with temporal_weight 0,
every frame on its own from the photo with the full ``iterations``; and with new_ground 'photo'
(Ruder et al.'s start for what the flow cannot give) against the default 'paint'.

Flicker (src/impasto/nst/flow.py ``flicker``): the mean absolute difference (0-255) between each painted
frame and the previous painted frame warped by the *input* clip's optical flow, over the pixels
where that flow is reliable, averaged over the frames. Style strength: each later frame's style
term (the engine's own, weighted) against the independent frames', which are single pictures.
Seconds per frame are wall time of the whole frame (flow, targets, optimisation) on a shared
machine: compare within one run.

Writes bench/results/video/video.json, a markdown table on stdout, and (``--gifs``) docs/video.md's
GIF pair: the input pan and its painted version.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))  # harness, when run from elsewhere

import harness  # noqa: E402
from harness import RESULTS, SAMPLES, log  # noqa: E402

from impasto.nst.clips import Clip, ClipInfo, write_clip  # noqa: E402
from impasto.nst.flow import flicker  # noqa: E402
from impasto.nst.options import DEFAULTS  # noqa: E402
from scripts.doc_tables import video_rows  # noqa: E402

FPS = 12.0
PAN_STEP = 0.03  # of the window's width per frame
OBJECT_STEP = 0.08


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--quick", action="store_true", help="128 px, 5 frames, no 512 px timing")
    parser.add_argument("--size", type=int, default=256, help="painted size for the flicker runs (default 256)")
    parser.add_argument("--frames", type=int, default=8, help="frames per clip (default 8)")
    parser.add_argument("--clips", nargs="*", default=["pan", "object"], choices=["pan", "object"])
    parser.add_argument("--temporal-weights", nargs="*", type=float, default=[DEFAULTS.temporal_weight],
                        help="temporal weights to compare with 0 (default: the default)")
    parser.add_argument("--frame-iterations", nargs="*", type=int, default=[DEFAULTS.frame_iterations],
                        help="iterations per later frame to try (default: the default)")
    parser.add_argument("--new-ground", nargs="*", default=["paint", "photo"], choices=["paint", "photo"],
                        help="new_ground settings to try (default: both; 'photo' is Ruder et al.'s start)")
    parser.add_argument("--timing", nargs="*", default=["256x8", "512x3"], metavar="SIZExFRAMES",
                        help="also paint the pan at these sizes, with the defaults, for seconds per frame "
                        "(default: 256x8 512x3)")
    harness.add_weights(parser)
    parser.add_argument("--style", default=str(SAMPLES / "starry_night.jpg"))
    parser.add_argument("--gif", action="store_true", help="write docs/video.md's GIF pair: the first timing's pan, "
                        "as input and painted")
    parser.add_argument("--out-dir", default=str(RESULTS / "video"))
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.frames, args.timing = 128, 5, []
    return args


# -- the synthetic clips ---------------------------------------------------------------------------


def load_rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def pan_clip(size: int, frames: int) -> list[np.ndarray]:
    """A window of ``size``×¾·size sliding right across tubingen.jpg, PAN_STEP of its width per frame."""
    width, height = size, round(size * 0.75)
    step = max(1, round(PAN_STEP * width))
    photo = _fit(load_rgb(SAMPLES / "tubingen.jpg"), width + step * (frames - 1), height)
    return [np.ascontiguousarray(photo[:height, i * step:i * step + width]) for i in range(frames)]


def object_clip(size: int, frames: int) -> list[np.ndarray]:
    """A still view of tubingen.jpg with a patch of The Scream (a third of the height) moving right
    and a little down."""
    width, height = size, round(size * 0.75)
    background = _fit(load_rgb(SAMPLES / "tubingen.jpg"), width, height)[:height, :width]
    side = height // 3
    patch = np.asarray(Image.fromarray(load_rgb(SAMPLES / "the_scream.jpg")).resize((side, side)))
    step = max(1, round(OBJECT_STEP * width))
    clips = []
    for i in range(frames):
        frame = background.copy()
        x, y = round(width * 0.1) + i * step, round(height * 0.3) + i * max(1, step // 4)
        x, y = min(x, width - side), min(y, height - side)
        frame[y:y + side, x:x + side] = patch
        clips.append(frame)
    return clips


def _fit(photo: np.ndarray, width: int, height: int) -> np.ndarray:
    """The photo scaled so that it covers width × height."""
    scale = max(width / photo.shape[1], height / photo.shape[0])
    size = (max(width, round(photo.shape[1] * scale)), max(height, round(photo.shape[0] * scale)))
    return np.asarray(Image.fromarray(photo).resize(size, Image.Resampling.LANCZOS))


def as_clip(frames: list[np.ndarray]) -> Clip:
    height, width = frames[0].shape[:2]
    info = ClipInfo(frames=len(frames), fps=FPS, width=width, height=height, seconds=len(frames) / FPS,
                    has_audio=False, container="mp4")
    return Clip(frames=frames, fps=FPS, info=info, source=None)


# -- runs ------------------------------------------------------------------------------------------


def paint(frames: list[np.ndarray], style: np.ndarray, args: argparse.Namespace, **changes: Any) -> dict[str, Any]:
    from impasto.nst.video import stylize_clip

    options = DEFAULTS.replace(size=max(frames[0].shape[:2]), seed=0, **changes)
    started = time.process_time()
    result = stylize_clip(as_clip(frames), style, options=options, weights=args.weights)
    cpu = time.process_time() - started
    styles = [losses["style"] for losses in result.losses]
    return {"options": {k: options.to_dict()[k] for k in ("temporal_weight", "frame_iterations", "iterations",
                                                           "new_ground")},
            "frames": result.frames, "flicker": flicker(frames, result.frames), "frame_seconds": result.frame_seconds,
            "cpu_seconds": cpu, "style_losses": styles, "summary": result.summary()}


def compare(name: str, frames: list[np.ndarray], style: np.ndarray, args: argparse.Namespace) -> list[dict]:
    """The independent run once, then each (temporal weight, frame iterations) against it."""
    log(f"{name}: independent frames (temporal_weight 0)")
    independent = paint(frames, style, args, temporal_weight=0.0)
    rows = [_row(name, independent, independent)]
    for weight in args.temporal_weights:
        for iterations in args.frame_iterations:
            for ground in args.new_ground:
                log(f"{name}: temporal_weight {weight:g}, frame_iterations {iterations}, new_ground {ground}")
                run = paint(frames, style, args, temporal_weight=weight, frame_iterations=iterations,
                            new_ground=ground)
                rows.append(_row(name, run, independent))
                log(f"  {json.dumps(rows[-1])}")
    return rows


def _row(name: str, run: dict, independent: dict) -> dict[str, Any]:
    later_style = float(np.mean(run["style_losses"][1:]))
    independent_style = float(np.mean(independent["style_losses"][1:]))
    seconds = run["frame_seconds"]
    return {
        "clip": name, **run["options"], "flicker": round(run["flicker"], 3),
        "flicker_vs_independent": round(run["flicker"] / independent["flicker"], 3),
        "style_loss_later_frames": round(later_style, 3),
        "style_vs_independent": round(later_style / independent_style, 3),
        "first_frame_s": round(seconds[0], 2), "later_frame_s": round(float(np.median(seconds[1:])), 2),
        "cpu_s": round(run["cpu_seconds"], 1),
        "style_vs_independent_last_frame": round(run["style_losses"][-1] / independent["style_losses"][-1], 3),
        "default": run["options"]["temporal_weight"] == DEFAULTS.temporal_weight
        and run["options"]["frame_iterations"] == DEFAULTS.frame_iterations
        and run["options"]["new_ground"] == DEFAULTS.new_ground,
    }


def timing(args: argparse.Namespace, style: np.ndarray, spec: str, gif: bool) -> dict[str, Any]:
    size, count = (int(part) for part in spec.split("x"))
    frames = pan_clip(size, count)
    log(f"timing at {size} px, {count} frames")
    run = paint(frames, style, args)
    if gif:
        write_gifs(frames, run["frames"], Path(args.out_dir))
    seconds = run["frame_seconds"]
    result = {"size": size, "frames": len(frames), "first_frame_s": round(seconds[0], 2),
              "later_frame_s": round(float(np.median(seconds[1:])), 2), "flicker": round(run["flicker"], 3),
              "cpu_s": round(run["cpu_seconds"], 1)}
    log(f"  {json.dumps(result)}")
    return result


def write_gifs(inputs: list[np.ndarray], painted: list[np.ndarray], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "pan_input.gif").write_bytes(write_clip(inputs, FPS, "gif"))
    (out_dir / "pan_painted.gif").write_bytes(write_clip(painted, FPS, "gif"))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out_dir = Path(args.out_dir)
    style = load_rgb(Path(args.style))
    makers = {"pan": pan_clip, "object": object_clip}
    started = harness.utc_now()
    rows = [row for name in args.clips for row in compare(name, makers[name](args.size, args.frames), style, args)]
    timings = [timing(args, style, spec, args.gif and index == 0) for index, spec in enumerate(args.timing)]
    report = {"started": started, "machine": harness.machine_facts(), "size": args.size, "frames": args.frames,
              "fps": FPS, "style": Path(args.style).name, "weights": Path(args.weights).name, "rows": rows,
              "timings": timings, "out_dir": harness.relative_to_repo(out_dir)}
    out_dir.mkdir(parents=True, exist_ok=True)
    harness.write_report(out_dir / "video.json", report, indent=1)
    print("\n".join(video_rows(report)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
