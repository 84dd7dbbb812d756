"""``stylize_clip``: paint a clip frame by frame without flicker (Ruder, Dosovitskiy and Brox 2016).

Frame 1 is painted like a picture. Each later frame starts from the previous painted frame carried
onto it along the optical flow of the input frames (src/impasto/nst/flow.py) and is held to that warped
frame, where the flow is reliable, by a temporal term (``options.temporal_weight``; 0 paints every
frame on its own, which flickers), for ``options.frame_iterations`` iterations at full size. The
style targets are computed once per clip (the engine's cache, src/impasto/nst/targets.py, keys them by
painting and size, and every frame shares both).

A frame is the unit of resumption: ``on_frame`` hands each one over as it is finished, and a run
given those back as ``finished`` skips them and goes on from the last one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

import cv2
import numpy as np

from impasto.nst import crops, lossfn
from impasto.nst import flow as flow_ops
from impasto.nst.clip_eta import ClipProgress, ClipRun
from impasto.nst.clips import Clip
from impasto.nst.engine import stylize
from impasto.nst.errors import ImageError
from impasto.nst.ground_plan import GroundPlan
from impasto.nst.images import resize_longest, resize_to
from impasto.nst.losses import TemporalTarget
from impasto.nst.options import DEFAULTS, Options, option_specs
from impasto.nst.timings import Timings


@dataclass
class ClipResult:
    frames: list[np.ndarray]
    fps: float
    seconds: float
    frame_seconds: list[float]  # per frame painted in this run (resumed frames are not in it)
    options: Options
    resumed: int = 0  # frames taken from ``finished``
    first_painted: bool = True  # whether frame 1 was painted in this run (it costs more)
    losses: list[dict[str, float]] = field(default_factory=list)
    frame_phases: list[Timings] = field(default_factory=list)  # per frame painted: flow, new ground, frame

    def summary(self) -> dict:
        """JSON-ready facts: frames, fps, seconds, seconds per first and per following frame."""
        height, width = self.frames[0].shape[:2]
        times = list(self.frame_seconds)
        first = times.pop(0) if self.first_painted and times else None
        return {
            "frames": len(self.frames), "fps": round(self.fps, 3), "width": width, "height": height,
            "seconds": round(self.seconds, 3), "resumed_frames": self.resumed,
            "first_frame_seconds": None if first is None else round(first, 3),
            "following_frame_seconds": round(float(np.mean(times)), 3) if times else None,
            "temporal_weight": self.options.temporal_weight, "frame_iterations": self.options.frame_iterations,
            "seed": self.options.seed, "phases": self.phases(),
        }

    def phases(self) -> dict[str, dict[str, float]]:
        """Seconds per phase of the first frame and of an average later frame (bench/clip_phases.py)."""
        painted = list(self.frame_phases)
        first = painted.pop(0).seconds if self.first_painted and painted else {}
        later: dict[str, float] = {}
        for timings in painted:
            for name, seconds in timings.seconds.items():
                later[name] = later.get(name, 0.0) + seconds / len(painted)
        return {"first frame": {k: round(v, 3) for k, v in first.items()},
                "later frame": {k: round(v, 3) for k, v in later.items()}}


def frame_options(options: Options) -> Options:
    """The options of a frame after the first: one scale at full size (the warped frame already has
    the composition the coarse scales would set), frame_iterations, starting from the warped frame."""
    return options.replace(scales=1, iterations=options.frame_iterations, init="image")


def stylize_clip(clip: Clip, style, *, options: Options = DEFAULTS, weights=None, precision="auto",
                 memory_gb=None, on_progress: Callable[[ClipProgress], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 finished: Mapping[int, np.ndarray] | None = None,
                 on_frame: Callable[[int, np.ndarray], None] | None = None) -> ClipResult:
    """Paint every frame of ``clip`` in the style of ``style`` (as ``stylize`` takes it).

    ``finished``: frames already painted (0-based index -> RGB uint8) by an earlier, interrupted run:
    they are not painted again; the next frame starts from the last of them. ``on_frame(index, rgb)``
    is called as each frame is finished. Raises Cancelled like ``stylize`` (checked at every
    evaluation, so within a frame).
    """
    options.validate()
    if options.seed is None:  # one seed for the whole clip (a noise start must not change per frame)
        options = options.replace(seed=int(np.random.default_rng().integers(0, 2**31 - 1)))
    started = time.perf_counter()
    frames = [resize_longest(f, options.size) for f in clip.frames]
    done = _check_finished(finished or {}, frames)
    engine = {"weights": weights, "precision": precision, "memory_gb": memory_gb, "should_stop": should_stop}
    plan = _plan_ahead(frames, options, len(done)) if on_progress is not None else None
    run = ClipRun(len(frames), options, started, on_progress, aspect=_aspect(frames[0]), plan=plan)
    try:
        results = _paint_frames(frames, done, style, options, engine, run, on_frame)
    finally:
        if plan is not None:
            plan.close()
    return ClipResult(frames=results, fps=clip.fps, seconds=time.perf_counter() - started,
                      frame_seconds=run.seconds, options=options, resumed=len(done),
                      first_painted=0 not in done, losses=run.losses, frame_phases=run.phases)


def _plan_ahead(frames: list[np.ndarray], options: Options, start: int) -> GroundPlan | None:
    """The later frames' crops and traces, worked out ahead for the ETA (frames painted on their
    own, with temporal_weight 0, are pictures: the frames before tell their cost)."""
    if options.temporal_weight == 0 or start >= len(frames) - 1:
        return None
    return GroundPlan(frames, options, start, kept=lossfn.kept_shapes())


def _paint_frames(frames: list[np.ndarray], done: dict[int, np.ndarray], style, options: Options, engine: dict,
                  run: ClipRun, on_frame) -> list[np.ndarray]:
    results: list[np.ndarray] = []
    for index, frame in enumerate(frames):
        if index in done:
            results.append(done[index])
            continue
        phases = run.start_frame(index)
        if index == 0:
            result = stylize(frame, style, options=options, on_progress=run.reporter(index), **engine)
        else:
            result = _next_frame(frame, frames[index - 1], results[-1], style, options, run.reporter(index),
                                 engine, phases, stages=run)
        phases.absorb(result.timings, "frame")
        rgb = result.image[..., :3]
        results.append(rgb)
        if on_frame is not None:  # storing the frame is part of its time (and of the ETA's frames to come)
            on_frame(index, rgb)
        run.finished(index, result.losses, phases)
    return results


def _next_frame(frame: np.ndarray, previous_frame: np.ndarray, previous_result: np.ndarray, style,
                options: Options, reporter, engine: dict, phases: Timings, stages: ClipRun | None = None):
    """A frame after the first: with temporal_weight 0 painted on its own, like a picture (that is
    what it is compared against); else from the previous result carried along the flow. The
    seconds of the flow and of the new ground go to ``phases``; ``stages`` hears where the frame
    stands (its crops, then the frame itself) for the clip's ETA."""
    if options.temporal_weight == 0:
        return stylize(frame, style, options=options, on_progress=reporter, **engine)
    with phases.phase("flow"):
        warped, mask = flow_ops.carry(previous_result, previous_frame, frame)
    # Where the flow is not trusted (a pan's new edge, what a moving object uncovers) the warped
    # picture is a smear of its neighbours. Started there from the photo, as Ruder et al. do, that
    # ground stays half painted (measured: neither 100 iterations nor a painted-looking start change
    # it, the optimum of a narrow strip beside held paint is near the photo); so by default it is
    # painted first as a picture and the frame is held to that there too.
    target, weight = warped, mask
    start = mask[..., None] * warped + (1.0 - mask[..., None]) * frame.astype(np.float32)
    if options.new_ground == "paint":
        painted = paint_new_ground(frame, start, TemporalTarget(warped, mask), style, options, engine, reporter,
                                   phases, stages)
        if painted is not None:
            fresh, where = painted
            start = target = where[..., None] * fresh + (1.0 - where[..., None]) * start
            weight = np.maximum(mask, where)
    held = TemporalTarget(warped_rgb=target, mask=weight)
    if stages is not None:
        stages.frame_stage()
    return stylize(frame, style, options=frame_options(options), init_image=start, temporal=held,
                   on_progress=reporter, **engine)


NEW_GROUND_INPAINT_RADIUS = 3  # px around a small region whose paint fills it


def paint_new_ground(frame: np.ndarray, start: np.ndarray, held: TemporalTarget, style, options: Options,
                     engine: dict, reporter=None, phases: Timings | None = None,
                     stages: ClipRun | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """The new ground of ``frame`` (where ``held.mask`` is 0, specks aside) painted on crops
    around it, with some context: from ``start``, held to the warped previous frame where that is
    reliable (so that its strokes go on from their neighbours'), with the frame's iterations (the
    first frame's 100 cost a later frame twice its time for the same style and flicker: docs/video.md).
    On a crop the new ground is a large share of the picture, so the style term, a statistic of
    the whole picture, paints it as it paints a picture; on the whole frame it is a few per cent
    and stays near the photo. The painting is as large as in the whole frame. Regions under
    NEW_GROUND_MIN of the frame take their neighbours' paint instead. Returns (H, W, 3)
    float32 RGB and the (H, W) 0/1 map of where it applies; progress goes to ``reporter`` (the
    frame's first stage). None when there is no new ground."""
    new = crops.new_ground(held.mask)
    small = crops.small_regions(new)
    boxes = crops.new_ground_boxes(new)
    if not boxes and not small.any():
        return None
    longest = max(new.shape)
    if stages is not None:
        stages.crops_ahead(len(boxes))
    fresh = np.zeros((*new.shape, 3), np.float32)
    where = np.zeros(new.shape, np.float32)
    if small.any():
        warped = np.clip(held.warped_rgb, 0, 255).astype(np.uint8)
        fresh[:] = cv2.inpaint(warped, small, NEW_GROUND_INPAINT_RADIUS, cv2.INPAINT_TELEA)
        where[small > 0] = 1.0
    for box in boxes:
        result = _paint_crop(frame, start, held, box, style, options, longest, engine, reporter)
        if phases is not None:
            phases.absorb(result.timings, "new ground")
        if stages is not None:
            stages.crop_done()
        fresh[box] = resize_to(result.image[..., :3], (box[1].stop - box[1].start, box[0].stop - box[0].start))
        where[box] = np.maximum(where[box], new[box])
    return fresh, where


def _paint_crop(frame: np.ndarray, start: np.ndarray, held: TemporalTarget, box: tuple[slice, slice], style,
                options: Options, longest: int, engine: dict, reporter):
    """One crop of new ground painted as a picture, the painting as large as in the whole frame."""
    crop_longest = max(box[0].stop - box[0].start, box[1].stop - box[1].start)
    scale = min(options.style_scale * longest / crop_longest, option_specs()["style_scale"][1].maximum)
    crop_options = options.replace(size=crop_longest, scales=1, init="image", style_scale=scale,
                                   iterations=options.frame_iterations)
    return stylize(frame[box], style, options=crop_options, init_image=start[box],
                   temporal=TemporalTarget(held.warped_rgb[box], held.mask[box]), on_progress=reporter, **engine)


def _aspect(frame: np.ndarray) -> float:
    return min(frame.shape[:2]) / max(frame.shape[:2])


def _check_finished(finished: Mapping[int, np.ndarray], frames: list[np.ndarray]) -> dict[int, np.ndarray]:
    """Resumed frames: only an unbroken run from frame 0 counts (a later frame needs the one before
    it); each brought to the clip's painted size."""
    done: dict[int, np.ndarray] = {}
    height, width = frames[0].shape[:2]
    for index in range(len(frames)):
        if index not in finished:
            break
        rgb = np.asarray(finished[index])
        if rgb.ndim != 3 or rgb.shape[2] < 3:
            raise ImageError(f"finished frame {index + 1} is not an RGB image", field="finished")
        done[index] = resize_to(rgb[..., :3], (width, height))
    return done
