"""Where a clip's seconds go, frame by frame, against a single picture of the same size, in one run.

    python bench/clip_phases.py                 # the 8-frame pan at 96 px and at 256 px
    python bench/clip_phases.py --sizes 96      # one size

For each size, on one warm engine (a warm-up picture first, as a studio that has painted before):
a single picture of the pan's first frame with the default options, then the pan (bench/video.py's
8 frames of tubingen.jpg, The Starry Night, default clip options). Each frame's seconds are split
into flow, the new ground's crops (set-up, trace, evaluations, optimizer) and the frame itself
(the same), and the frames are set against the picture, painted once before the clip and once
after it (the mean of the two): the first frame's seconds over the picture's, an average later
frame's over the picture's. Wall seconds on a quiet machine; CPU
seconds of the process are recorded too. Writes bench/results/clip-phases-<sizes>.json and a markdown
table to stdout.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # harness, when run from elsewhere

import harness  # noqa: E402
import video  # noqa: E402
from harness import RESULTS, SAMPLES, log  # noqa: E402

from impasto.nst.engine import stylize  # noqa: E402
from impasto.nst.options import DEFAULTS  # noqa: E402
from impasto.nst.video import stylize_clip  # noqa: E402

FRAMES = 8


def main() -> None:
    parser = harness.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[96, 256])
    harness.add_weights(parser)
    args = parser.parse_args()
    style = video.load_rgb(SAMPLES / "starry_night.jpg")
    report: dict[str, Any] = {"machine": harness.machine_facts(), "commit": harness.git_commit(),
                              "date": harness.utc_now(), "sizes": {}}
    for size in args.sizes:
        report["sizes"][str(size)] = measure(size, style, args.weights)
    harness.write_report(RESULTS / f"clip-phases-{'-'.join(map(str, args.sizes))}.json", report)
    print(markdown(report))


def _timed(paint) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = paint()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def measure(size: int, style, weights: str | None) -> dict[str, Any]:
    frames = video.pan_clip(size, FRAMES)
    options = DEFAULTS.replace(size=size, seed=0)
    log(f"{size} px: warm-up picture")
    stylize(frames[0], style, options=options, weights=weights)
    log(f"{size} px: the picture")
    picture, picture_wall, picture_cpu = _timed(lambda: stylize(frames[0], style, options=options, weights=weights))
    log(f"{size} px: the clip ({FRAMES} frames)")
    clip, clip_wall, clip_cpu = _timed(lambda: stylize_clip(video.as_clip(frames), style, options=options,
                                                            weights=weights))
    # The same picture again after the clip: small evaluations drift by a quarter over minutes on a
    # shared host, so the ratios are taken against the mean of the two.
    log(f"{size} px: the picture again")
    _, again_wall, _ = _timed(lambda: stylize(frames[0], style, options=options, weights=weights))
    picture_wall_mean = (picture_wall + again_wall) / 2
    seconds = clip.frame_seconds
    later = sum(seconds[1:]) / max(len(seconds) - 1, 1)
    return {"picture": {"seconds": round(picture_wall_mean, 2), "before_and_after": [round(picture_wall, 2),
                                                                                     round(again_wall, 2)],
                        "cpu_seconds": round(picture_cpu, 2),
                        "evaluations": picture.evaluations, "timings": picture.timings.summary()},
            "clip": {"seconds": round(clip_wall, 2), "cpu_seconds": round(clip_cpu, 2),
                     "frame_seconds": [round(s, 2) for s in seconds], "phases": clip.phases()},
            "ratios": {"first frame / picture": round(seconds[0] / picture_wall_mean, 2),
                       "later frame / picture": round(later / picture_wall_mean, 2)}}


def markdown(report: dict[str, Any]) -> str:
    lines = [f"Clip phases, {report['date']}, commit {report['commit']}, {report['machine']['cpu']}", ""]
    for size, run in report["sizes"].items():
        clip, ratios = run["clip"], run["ratios"]
        before, after = run["picture"]["before_and_after"]
        lines += [f"**{size} px**: picture {run['picture']['seconds']} s ({before} before the clip, {after} after); "
                  f"clip {clip['seconds']} s "
                  f"({FRAMES} frames); first frame / picture {ratios['first frame / picture']}×, later frame / "
                  f"picture {ratios['later frame / picture']}×", "",
                  "| phase | first frame (s) | later frame, mean (s) |", "|---|---|---|"]
        first, later = clip["phases"]["first frame"], clip["phases"]["later frame"]
        for name in dict.fromkeys([*first, *later]):
            lines.append(f"| {name} | {first.get(name, '–')} | {later.get(name, '–')} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
