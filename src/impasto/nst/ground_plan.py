"""What a clip's later frames will paint, known before they are painted: each frame's new-ground
crops, and which programs (each crop's, the frame's own) are traced anew for them.

New ground depends on the input frames alone (src/impasto/nst/crops.py), so a thread works it out
ahead of the painting, beginning while the first frame paints. The clip's ETA
(src/impasto/nst/clip_eta.py) then counts each frame to come by what it will paint, not by the
frames before it: a crop in a shape no kept program has costs a trace and its first call's graph
optimisation (2.1-2.5 s against 0.8 s for a kept shape, on the 96 px pan), and a frame's crops
come and go with what the flow cannot follow. The flows are worked out again when the frame is
painted (5 ms a frame pair at 96 px, 77 ms at 512 px): kept for a long clip, they would take
gigabytes.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from impasto.nst import crops, lossfn
from impasto.nst import flow as flow_ops
from impasto.nst.images import scaled_shape
from impasto.nst.options import Options

log = logging.getLogger(__name__)

Shape = tuple[int, int]  # (height, width)


@dataclass(frozen=True)
class Crop:
    shape: Shape
    traced: bool  # its program is traced anew (no kept program has its shape then)


@dataclass(frozen=True)
class FramePlan:
    crops: tuple[Crop, ...]  # in the order they are painted
    traced: bool  # the frame's own program is traced anew


class KeptPrograms:
    """Which programs a thread keeps, followed as src/impasto/nst/lossfn.py keeps them: the least
    recently used goes when a new one comes beyond the capacity."""

    def __init__(self, keys: Iterable[tuple], capacity: int = lossfn.KEPT_PER_THREAD) -> None:
        self.capacity = capacity
        self._keys: OrderedDict[tuple, None] = OrderedDict((key, None) for key in keys)

    def use(self, key: tuple) -> bool:
        """Use the program for ``key``: whether it is traced anew."""
        if key in self._keys:
            self._keys.move_to_end(key)
            return False
        self._keys[key] = None
        while len(self._keys) > self.capacity:
            self._keys.popitem(last=False)
        return True


class GroundPlan:
    """The plans of a clip's later frames, worked out in a thread in frame order: ``frame(index)``
    is None until that frame's is known (or if working it out failed: the ETA then goes by the
    frames before)."""

    def __init__(self, frames: Sequence[np.ndarray], options: Options, start: int,
                 kept: Iterable[tuple] = ()) -> None:
        """``frames`` at the painted size; ``start``: the first frame this run paints (after
        resumed ones); ``kept``: the painting thread's kept programs (lossfn.kept_shapes())."""
        self.frames, self.options, self.start = frames, options, start
        self.programs = KeptPrograms(kept)
        if start == 0:
            self._first_frame()
        self._plans: dict[int, FramePlan] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="impasto-ground-plan", daemon=True)
        self._thread.start()

    def frame(self, index: int) -> FramePlan | None:
        return self._plans.get(index)

    def known(self) -> int:
        """How many frames' plans are known so far."""
        return len(self._plans)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def _first_frame(self) -> None:
        """The first frame's scales use their programs (a picture's: no temporal term) before the others."""
        height, width = self.frames[0].shape[:2]
        for index, longest in enumerate(self.options.scale_sizes()):
            self.programs.use(lossfn.shape_key(self.options.at_scale(index), scaled_shape(height, width, longest),
                                               False))

    def _run(self) -> None:
        try:
            for index in range(max(self.start, 1), len(self.frames)):
                if self._stop.is_set():
                    return
                self._plans[index] = self._plan(index)
        except Exception:  # noqa: BLE001 - the plan only informs the ETA; the painting goes on without it
            log.exception("working out the clip's new ground ahead failed; its ETA goes by the frames so far")

    def _plan(self, index: int) -> FramePlan:
        shapes: list[Shape] = []
        if self.options.new_ground == "paint":
            reliable = flow_ops.trusted(self.frames[index - 1], self.frames[index])
            shapes = [crops.box_shape(box) for box in crops.new_ground_boxes(crops.new_ground(reliable))]
        planned = tuple(Crop(shape, self.programs.use(lossfn.shape_key(self.options, shape, True)))
                        for shape in shapes)
        frame_shape = tuple(int(side) for side in self.frames[index].shape[:2])
        return FramePlan(planned, self.programs.use(lossfn.shape_key(self.options, frame_shape, True)))
