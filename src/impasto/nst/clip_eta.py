"""A clip's progress across its frames, and the whole clip's ETA (src/impasto/nst/video.py paints).

Frame 1 is a picture, with the engine's own ETA. A later frame paints the crops around its new
ground first, then the frame itself, and its cost follows what it paints: a crop in a shape no kept
program has costs a trace (2.1-2.5 s against 0.8 s for a kept shape on the 96 px pan). The ground
plan (src/impasto/nst/ground_plan.py) says ahead which crops each frame paints and which programs
are traced anew; each part of a frame to come is counted by what parts of its kind cost earlier in
the clip, and until one is timed, by the cost model (src/impasto/nst/cost.py) at the speed the clip
has shown so far.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from impasto.nst import cost
from impasto.nst.ground_plan import Crop, FramePlan, GroundPlan, Shape
from impasto.nst.options import Options
from impasto.nst.timings import Timings

if TYPE_CHECKING:
    from impasto.nst.optimizer import Progress

PACE_LEFT = 0.25  # the first frame's pace is taken while at least this share of it is left


@dataclass(frozen=True)
class _Timed:
    shape: Shape | None  # a crop's (None when its frame's plan was not known)
    traced: bool
    seconds: float


class FrameCosts:
    """What the parts of a clip's later frames cost: measured parts, and estimates of the parts to
    come from them, else from the cost model at the clip's speed (the later frames' seconds over the
    model's; before one is finished, the first frame's steady pace over the model's)."""

    def __init__(self, options: Options, aspect: float) -> None:
        self.options, self.aspect = options, aspect
        self.crops: list[_Timed] = []
        self.rests: list[_Timed] = []  # a later frame's own part (all but its crops), traced or not
        self.spent = self.modelled = 0.0  # finished later frames' seconds, and the model's for them
        self.paces: list[float] = []  # the first frame's: its engine's ETA over the model's time left
        self.first: float | None = None  # the first frame's seconds painting (evaluations and optimizer)
        self._model_crops: dict[Shape | None, float] = {}

    def speed(self) -> float | None:
        """Measured seconds per model second: the later frames' in all, else the first frame's
        evaluations (its seconds in all, style targets, set-up and tracing, made later frames
        look 1.2-1.8× as slow as they were on the 96 px pan), else its engine's pace so far."""
        if self.modelled:
            return self.spent / self.modelled
        if self.first:
            return self.first / cost.picture_seconds(self.options, self.aspect)
        return float(np.median(self.paces)) if self.paces else None

    def first_finished(self, seconds: float, phases: Timings) -> None:
        """The first frame is finished: its painting's seconds (all of them where its phases are not timed)."""
        painting = sum(phases.seconds.get(f"frame {phase}", 0.0) for phase in ("evaluations", "optimizer"))
        self.first = painting or seconds

    def first_frame_pace(self, progress) -> None:
        """The first frame's engine has an ETA: how fast its evaluations go against the model's. Near
        its end its ETA is mostly the polish's restart, which the model leaves out: not counted there."""
        left = self.model_first_left(progress.iteration)
        if progress.eta is not None and left >= PACE_LEFT * self.model_first_left(0):
            self.paces.append(progress.eta / left)

    def finished(self, seconds: float, plan: FramePlan | None, crop_seconds: float) -> None:
        """A later frame is finished."""
        self.spent += seconds
        self.modelled += self.model_frame(plan)
        self.rests.append(_Timed(None, plan is not None and plan.traced, seconds - crop_seconds))

    def model_first_left(self, iteration: int) -> float:
        """The first frame's evaluations after ``iteration`` (of all its scales')."""
        left, start = 0.0, 0
        for size, iterations in zip(self.options.scale_sizes(), self.options.scale_iterations()):
            megapixels = size * size * self.aspect / 1e6
            left += max(0, iterations - max(0, iteration - start)) * cost.step_seconds(self.options, megapixels,
                                                                                      self.aspect)
            start += iterations
        return left

    def model_rest(self, traced: bool) -> float:
        """A later frame's own part: its flow and frame_iterations at full size (and its program's trace)."""
        megapixels = self.options.size * self.options.size * self.aspect / 1e6
        rest = cost.PER_FRAME + cost.scale_seconds(self.options, self.options.frame_iterations, megapixels, self.aspect)
        return rest + (cost.scale_trace_seconds(self.options.size) if traced else 0.0)

    def model_crop(self, shape: Shape | None) -> float:
        """A crop's evaluations (an unknown one: the model's share of the frame), its trace apart."""
        if shape not in self._model_crops:
            megapixels = self.options.size ** 2 * self.aspect * cost.NEW_GROUND_CROP_SHARE / 1e6
            aspect = self.aspect
            if shape is not None:
                megapixels, aspect = shape[0] * shape[1] / 1e6, min(shape) / max(shape)
            self._model_crops[shape] = cost.scale_seconds(self.options, self.options.frame_iterations,
                                                          megapixels, aspect)
        return self._model_crops[shape]

    def model_frame(self, plan: FramePlan | None) -> float:
        if plan is None:
            return self.model_rest(False) + self.model_crop(None)
        return self.model_rest(plan.traced) + sum(self.model_crop(c.shape) + self.model_crop_trace(c.shape, c.traced)
                                                  for c in plan.crops)

    def model_crop_trace(self, shape: Shape | None, traced: bool) -> float:
        """A crop's program traced anew: its set-up and tracing at the crop's size."""
        return cost.scale_trace_seconds(max(shape) if shape else self.options.size) if traced else 0.0

    def estimator(self, speed: float) -> Estimate:
        """Estimates of parts to come, at ``speed`` where nothing of a kind is timed yet."""
        return Estimate(self, speed)


class Estimate:
    """Seconds of a frame's parts to come: each kind by what it cost in this clip, else the model."""

    def __init__(self, costs: FrameCosts, speed: float) -> None:
        self.costs, self.speed = costs, speed
        repeats = [c for c in costs.crops if not c.traced]
        self.crop_rate = (float(np.mean([c.seconds / costs.model_crop(c.shape) for c in repeats]))
                          if repeats else speed)
        traced = [max(c.seconds - self.crop_rate * costs.model_crop(c.shape), 0.0) for c in costs.crops if c.traced]
        self.crop_trace = float(np.mean(traced)) if traced else None
        self.rest_steady, self.rest_trace = self._rests(costs.rests, speed)

    def _rests(self, rests: list[_Timed], speed: float) -> tuple[float, float]:
        """(a frame's own part, its program's trace), each measured where a frame of its kind was."""
        model_trace = speed * (self.costs.model_rest(True) - self.costs.model_rest(False))
        steady = [r.seconds for r in rests if not r.traced]
        traced = [r.seconds for r in rests if r.traced]
        if steady:
            rest = float(np.mean(steady))
            return rest, (max(float(np.mean(traced)) - rest, 0.0) if traced else model_trace)
        if traced:
            return max(float(np.mean(traced)) - model_trace, 0.0), model_trace
        return speed * self.costs.model_rest(False), model_trace

    def crop(self, shape: Shape | None, traced: bool) -> float:
        seconds = self.crop_rate * self.costs.model_crop(shape)
        if traced:
            seconds += (self.crop_trace if self.crop_trace is not None else
                        self.speed * self.costs.model_crop_trace(shape, True))
        return seconds

    def rest(self, traced: bool) -> float:
        return self.rest_steady + (self.rest_trace if traced else 0.0)

    def frame(self, plan: FramePlan | None) -> float:
        if plan is None:
            return self.rest(False) + self.crop(None, False)
        return self.rest(plan.traced) + sum(self.crop(c.shape, c.traced) for c in plan.crops)


@dataclass
class ClipProgress:
    frame: int  # 1-based frame being painted
    frames: int
    progress: Progress  # the engine's Progress for this frame (iteration/total, losses, image())
    eta: float | None  # seconds left for the whole clip
    elapsed: float


class ClipRun:
    """Progress across frames: which frame and which of its stages (its crops, then the frame
    itself), what each has cost, and the whole clip's ETA."""

    def __init__(self, frames: int, options: Options, started: float, on_progress, aspect: float,
                 clock: Callable[[], float] = time.perf_counter, plan: GroundPlan | None = None) -> None:
        self.frames, self.started, self.on_progress = frames, started, on_progress
        self.clock, self.plan = clock, plan
        self.costs = FrameCosts(options, aspect)
        self.frame_started = self.stage_started = started
        self.index = 0  # the frame being painted
        self.crops_total = self.crops_left = 0
        self.in_frame_stage = False
        self.crop_seconds = 0.0  # the current frame's crops so far
        self.seconds: list[float] = []
        self.losses: list[dict[str, float]] = []
        self.phases: list[Timings] = []
        self._ahead: tuple[tuple, float] | None = None  # (what it was worked out from, frames to come)

    def reporter(self, index: int) -> Callable[[Progress], None] | None:
        if self.on_progress is None:
            return None

        def report(progress: Progress) -> None:
            if progress.iteration:  # not a frame's start (engine.show_start): a clip previews finished frames
                self.on_progress(ClipProgress(frame=index + 1, frames=self.frames, progress=progress,
                                              eta=self._eta(index, progress), elapsed=self.clock() - self.started))
        return report

    def start_frame(self, index: int) -> Timings:
        """Frame ``index`` begins (its seconds, storing it included, run until ``finished``): its phases' Timings."""
        self.index = index
        self.frame_started = self.stage_started = self.clock()
        self.crops_total = self.crops_left = 0
        self.in_frame_stage, self.crop_seconds = False, 0.0
        return Timings()

    def crops_ahead(self, count: int) -> None:
        self.crops_total = self.crops_left = count
        self.stage_started = self.clock()

    def crop_done(self) -> None:
        now = self.clock()
        crop = self._planned_crop(self.index, self.crops_total - self.crops_left)
        self.costs.crops.append(_Timed(crop.shape if crop else None, crop is not None and crop.traced,
                                       now - self.stage_started))
        self.crop_seconds += now - self.stage_started
        self.crops_left, self.stage_started = self.crops_left - 1, now

    def frame_stage(self) -> None:
        self.in_frame_stage, self.stage_started = True, self.clock()

    def finished(self, index: int, losses: dict[str, float], phases: Timings) -> None:
        seconds = self.clock() - self.frame_started
        if index > 0:
            self.costs.finished(seconds, self._plan(index), self.crop_seconds)
        else:
            self.costs.first_finished(seconds, phases)
        self.in_frame_stage = False
        self.seconds.append(seconds)
        self.phases.append(phases)
        self.losses.append(losses)

    def _plan(self, index: int) -> FramePlan | None:
        return self.plan.frame(index) if self.plan is not None else None

    def _planned_crop(self, index: int, number: int) -> Crop | None:
        plan = self._plan(index)
        return plan.crops[number] if plan is not None and number < len(plan.crops) else None

    def _eta(self, index: int, progress) -> float | None:
        """This frame's own time left and the frames after it, each counted by what it paints."""
        if index == 0:
            self.costs.first_frame_pace(progress)
        speed = self.costs.speed() or self._speed_now(index, progress)
        if speed is None:
            return None
        estimate = self.costs.estimator(speed)
        if index == 0:
            left_here = progress.eta
        else:
            left_here = self._later_frame_left(index, progress, estimate)
        return None if left_here is None else left_here + self._frames_to_come(index, estimate)

    def _speed_now(self, index: int, progress) -> float | None:
        """A resumed clip, before a frame is finished: the stage now painting, by its own ETA over the model's."""
        if progress.eta is None or index == 0:
            return None
        if self.in_frame_stage or self.crops_left == 0:
            model = self.costs.model_rest(False)
        else:
            crop = self._planned_crop(index, self.crops_total - self.crops_left)
            model = self.costs.model_crop(crop.shape if crop else None)
        return (progress.elapsed + progress.eta) / model

    def _later_frame_left(self, index: int, progress, estimate: Estimate) -> float:
        """What is left of a later frame: its crops come first (each crop's own ETA leaves out the
        rest of the frame), then the frame's own stage; before those, its whole cost less its time."""
        now, plan = self.clock(), self._plan(index)
        traced = plan is not None and plan.traced
        if self.in_frame_stage:
            return (progress.eta if progress.eta is not None else
                    max(estimate.rest(traced) - (now - self.stage_started), 0.0))
        if self.crops_left > 0:
            number = self.crops_total - self.crops_left
            crops = [self._planned_crop(index, n) for n in range(number, self.crops_total)]
            costs = [estimate.crop(c.shape, c.traced) if c else estimate.crop(None, False) for c in crops]
            here = progress.eta if progress.eta is not None else max(costs[0] - (now - self.stage_started), 0.0)
            return here + sum(costs[1:]) + estimate.rest(traced)
        return max(estimate.frame(plan) - (now - self.frame_started), 0.0)

    def _frames_to_come(self, index: int, estimate: Estimate) -> float:
        """The frames after ``index``, each by its plan (worked out again only when something new is timed)."""
        basis = (index, estimate.speed, len(self.costs.crops), len(self.costs.rests),
                 self.plan.known() if self.plan else 0)
        if self._ahead is None or self._ahead[0] != basis:
            self._ahead = (basis, sum(estimate.frame(self._plan(f)) for f in range(index + 1, self.frames)))
        return self._ahead[1]

