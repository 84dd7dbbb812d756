"""A clip's ETA: the ground plan (each later frame's crops and traces, worked out ahead from the
input frames) against what the painting really does, and the ETA's arithmetic with an injected clock."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from impasto.nst import clip_eta, lossfn, video
from impasto.nst.clip_eta import ClipRun
from impasto.nst.clips import ClipLimits, read_clip
from impasto.nst.ground_plan import Crop, FramePlan, GroundPlan, KeptPrograms
from impasto.nst.options import Options
from impasto.nst.timings import Timings
from tests.conftest import stripes_image
from tests.engine.clip_helpers import encode, pan_frames
from tests.weights import UNTRAINED_WEIGHTS

TINY = Options(size=48, iterations=4, frame_iterations=2, scales=1, precision="float32", seed=3)
SMALL = Options(size=96, frame_iterations=30, seed=0)
EDGE, BLOB = (72, 16), (32, 48)


def test_kept_programs_are_followed_as_lossfn_keeps_them():
    kept = KeptPrograms(["a", "b"], capacity=3)
    assert [kept.use(key) for key in ("c", "a", "d", "b", "a")] == [True, False, True, True, False]


def test_the_plan_foretells_every_crop_and_every_trace_the_painting_then_does(monkeypatch):
    """Frame 2 traces the pan's edge crop and the later frames' program; the frames after reuse both."""
    plans, fresh = [], []
    real_kept = lossfn.kept

    def kept(key, targets, build):
        program, traced = real_kept(key, targets, build)
        fresh.append((key[2], traced))  # (shape, traced), in the order the programs are used
        return program, traced
    monkeypatch.setattr(lossfn, "kept", kept)
    monkeypatch.setattr(video, "GroundPlan", lambda *a, **kw: plans.append(GroundPlan(*a, **kw)) or plans[-1])
    lossfn.clear()
    clip = read_clip(encode(pan_frames(4, 48, 64, step=4), fps=8), ClipLimits(50, 10.0, 512))
    video.stylize_clip(clip, stripes_image(), options=TINY, weights=UNTRAINED_WEIGHTS, on_progress=lambda p: None)
    plan = plans[0]
    foretold = [((36, 48), True)]  # the first frame's program (none was kept)
    for index in (1, 2, 3):
        frame = plan.frame(index)
        foretold += [(crop.shape, crop.traced) for crop in frame.crops] + [((36, 48), frame.traced)]
    assert foretold == fresh
    assert [c.shape for c in plan.frame(1).crops] == [(36, 16)] and plan.frame(1).crops[0].traced
    assert not plan.frame(3).traced and not plan.frame(3).crops[0].traced


class _Plan:
    """A ground plan given by hand: frame index -> FramePlan."""

    def __init__(self, frames: dict[int, FramePlan]) -> None:
        self.frames = frames

    def frame(self, index: int) -> FramePlan | None:
        return self.frames.get(index)

    def known(self) -> int:
        return len(self.frames)


def _paint(run: ClipRun, now: list[float], index: int, crop_seconds: list[float], own: float) -> None:
    """Frame ``index`` painted on the injected clock: its crops, then its own stage."""
    phases = run.start_frame(index)
    run.crops_ahead(len(crop_seconds))
    for seconds in crop_seconds:
        now[0] += seconds
        run.crop_done()
    run.frame_stage()
    now[0] += own
    run.finished(index, {}, phases)


def test_frames_to_come_count_their_own_crops_and_traces_at_what_those_cost_before():
    plan = _Plan({1: FramePlan((Crop(EDGE, True),), True), 2: FramePlan((Crop(EDGE, False),), False),
                  3: FramePlan((Crop(EDGE, False),), False),
                  4: FramePlan((Crop(BLOB, True), Crop(EDGE, False)), False),  # new ground of a new shape
                  5: FramePlan((Crop(BLOB, False), Crop(EDGE, False)), False)})
    now = [0.0]
    run = ClipRun(6, SMALL, started=0.0, on_progress=None, aspect=0.75, clock=lambda: now[0], plan=plan)
    run.start_frame(0)
    now[0] = 10.0
    run.finished(0, {}, Timings())
    _paint(run, now, 1, [3.0], 4.0)  # the edge's crop and the frame's program traced: 3 s and 4 s
    _paint(run, now, 2, [1.0], 2.0)  # the same again, kept: 1 s and 2 s
    run.start_frame(3)
    now[0] += 0.5  # half a second into frame 4 (index 3), its flow
    blob = run.costs.model_crop(BLOB) / run.costs.model_crop(EDGE)  # the edge's 1 s a crop, by the model's sizes
    frame_3 = 2.0 + 1.0
    frame_4 = 2.0 + (blob * 1.0 + 2.0) + 1.0  # a new shape's trace as the edge's was: 3 - 1 s
    frame_5 = 2.0 + blob * 1.0 + 1.0
    assert run._eta(3, SimpleNamespace(iteration=1, total=30, elapsed=0.5, eta=None)) == pytest.approx(
        frame_3 - 0.5 + frame_4 + frame_5)
    run.crops_ahead(1)
    now[0] += 0.2  # in its crop, with the crop's own ETA
    assert run._eta(3, SimpleNamespace(iteration=5, total=30, elapsed=0.2, eta=0.6)) == pytest.approx(
        0.6 + 2.0 + frame_4 + frame_5)


def test_before_a_later_frame_is_timed_the_model_counts_them_at_the_first_frame_s_pace():
    plan = _Plan({1: FramePlan((Crop(EDGE, True),), True), 2: FramePlan((Crop(EDGE, False),), False),
                  3: FramePlan((Crop(EDGE, False), Crop(BLOB, True)), False)})
    run = ClipRun(4, SMALL, started=0.0, on_progress=None, aspect=0.75, clock=lambda: 5.0, plan=plan)
    costs = run.costs
    # Halfway through the first frame's 50 iterations, 3 s left: its evaluations' pace, not its
    # seconds so far (style targets, set-up, tracing), sets the speed of the frames to come.
    halfway = SimpleNamespace(iteration=25, total=50, elapsed=4.0, eta=3.0)
    pace = 3.0 / costs.model_first_left(25)
    assert costs.model_first_left(25) == pytest.approx(costs.model_first_left(0) / 2)
    later = [costs.model_frame(plan.frame(index)) for index in (1, 2, 3)]
    assert run._eta(0, halfway) == pytest.approx(3.0 + pace * sum(later))
    assert later[0] > later[1] and later[2] > later[1]  # traces (and a second crop) counted where they come
    assert later[2] - later[1] == pytest.approx(costs.model_crop(BLOB) + clip_eta.cost.scale_trace_seconds(48))
    fresh = ClipRun(4, SMALL, started=0.0, on_progress=None, aspect=0.75, clock=lambda: 1.0, plan=plan)
    assert fresh._eta(0, SimpleNamespace(iteration=2, total=50, elapsed=1.0, eta=None)) is None
    # Finished: its evaluations' and optimizer's seconds over the model's; its set-up and trace aside.
    phases = run.start_frame(0)
    for phase, seconds in (("frame set-up", 0.4), ("frame trace", 1.2), ("frame evaluations", 4.0),
                           ("frame optimizer", 0.5)):
        phases.add(phase, seconds)
    run.finished(0, {}, phases)
    assert costs.speed() == pytest.approx(4.5 / clip_eta.cost.picture_seconds(SMALL, 0.75))


def test_without_a_plan_the_frames_to_come_cost_what_the_later_frames_cost_so_far():
    now = [0.0]
    run = ClipRun(5, SMALL, started=0.0, on_progress=None, aspect=0.75, clock=lambda: now[0])
    run.start_frame(0)
    now[0] = 10.0
    run.finished(0, {}, Timings())
    _paint(run, now, 1, [1.0], 3.0)
    _paint(run, now, 2, [1.0], 1.0)
    run.start_frame(3)
    run.frame_stage()
    per_frame = 2.0 + 1.0  # the frames' own parts (3 and 1 s) and their crops (1 s each), by their means
    assert run._eta(3, SimpleNamespace(iteration=5, total=30, elapsed=0.3, eta=1.0)) == pytest.approx(
        1.0 + per_frame)
