"""The L-BFGS loop over one scale's (or one tile's) pixels (the engine's own, src/impasto/nst/lbfgs.py;
scipy's L-BFGS-B for pixel_bounds and the article's rounds), counting iterations
and evaluations across scales, reporting progress with an ETA, honouring stop checks and timing
its phases."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np
from scipy.optimize import fmin_l_bfgs_b
from threadpoolctl import threadpool_limits

from impasto.nst import cost, lbfgs, schedule, tiles
from impasto.nst.colors import preserve_colors
from impasto.nst.errors import Cancelled
from impasto.nst.options import Options
from impasto.nst.program import Problem
from impasto.nst.timings import Timings
from impasto.nst.vgg import caffe_to_rgb, rgb_to_caffe

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """State after one L-BFGS iteration. Loss terms are weighted: they add up to ``loss``."""

    iteration: int
    total: int
    evaluations: int
    loss: float
    content_loss: float
    style_loss: float
    tv_loss: float
    elapsed: float
    eta: float | None
    scale: int
    scales: int
    width: int
    height: int
    _image: Callable[[], np.ndarray] = field(repr=False)
    temporal_loss: float = 0.0  # a video frame's temporal term (0 for a picture)

    def image(self) -> np.ndarray:
        """The current result as an RGB uint8 array (computed on demand: call it only for previews)."""
        return self._image()



@dataclass
class TileView:
    """Where a tile's optimisation sits in the whole picture: for progress and previews."""

    number: int
    compose: Callable[[np.ndarray], np.ndarray]  # the tile's picture -> the whole picture
    content_rgb: np.ndarray  # the whole scale's photo



@dataclass
class ScaleState:
    """Where the run stands within one scale: its problem, the progress count before it, the
    current L-BFGS run's place, and when each of its iterations ended (for the ETA)."""

    index: int
    problem: Problem
    done_before: int  # progress units (iterations; with round_evals, evaluations) of earlier scales
    marks: list[float]  # the scale's start, then each iteration's end (perf_counter seconds)
    run_base: int = 0  # progress count where the current L-BFGS run (a round, the free run) began
    in_run: int = 0  # iterations of the current L-BFGS run so far
    tile: TileView | None = None  # a tiled scale's current tile


class Run:
    """Counts iterations and evaluations across scales, reports progress, honours stop checks."""

    def __init__(self, options: Options, on_progress, should_stop, started: float,
                 grids: Sequence[tiles.Grid | None] = (), timings: Timings | None = None):
        self.options = options
        self.timings = timings or Timings()
        self._in_loop = 0.0  # seconds of evaluations and progress reports inside the current scipy call
        self.on_progress = on_progress
        self.should_stop = should_stop or (lambda: False)
        self.started = started
        # A tiled scale counts every tile's iterations, and costs per iteration what a tile does.
        grids = list(grids) or [None] * len(options.scale_sizes())
        self.sizes = [grid.side if grid else size for grid, size in zip(grids, options.scale_sizes())]
        self.plan = [n * (len(grid) if grid else 1) for grid, n in zip(grids, options.scale_iterations())]
        self.round_evals = options.round_evals
        self.total = sum(self.plan) * (self.round_evals or 1)
        self.iterations = 0
        self.rounds = 0
        self.evaluations = 0
        self.last_terms = {"total": float("nan"), "content": float("nan"), "style": float("nan"), "tv": float("nan")}
        self.history: list[float] = []
        self.scale: ScaleState | None = None
        self.rates: dict[int, float] = {}  # each scale's seconds per iteration, once it has enough timed
        self.latest_terms = (float("nan"),) * 5  # (loss, content, style, tv, temporal) of the latest evaluation

    def optimize(self, problem: Problem, start_rgb: np.ndarray, iterations: int, index: int,
                 tile: TileView | None = None) -> np.ndarray:
        """Run one scale's (or one tile's) L-BFGS from ``start_rgb``; return its picture."""
        done_before = (sum(self.plan[:index]) + (tile.number * iterations if tile else 0)) * (self.round_evals or 1)
        self.scale = ScaleState(index, problem, done_before, [time.perf_counter()], run_base=done_before, tile=tile)
        x = rgb_to_caffe(start_rgb).astype(np.float64).ravel()
        if self.round_evals:
            x = self._rounds(x, iterations)
        elif self.options.pixel_bounds:
            x = self._minimize(x, problem.bounds(), iterations)
        else:
            x = self._free_then_polish(x, iterations)
        return caffe_to_rgb(x.reshape(problem.shape))

    def show_start(self, start_rgb: np.ndarray, content_rgb: np.ndarray) -> None:
        """Report the first scale's start as iteration 0, before its set-up and tracing (~1.5 s at
        256 px): the photo already in the painting's colours is a first glimpse of the picture."""
        if self.on_progress is None:
            return
        rgb = preserve_colors(start_rgb, content_rgb) if self.options.preserve_colors else start_rgb
        height, width = start_rgb.shape[:2]
        nan = float("nan")
        self.on_progress(Progress(
            iteration=0, total=self.total, evaluations=self.evaluations, loss=nan, content_loss=nan, style_loss=nan,
            tv_loss=nan, elapsed=time.perf_counter() - self.started, eta=None, scale=1, scales=len(self.sizes),
            width=width, height=height, _image=lambda: rgb))

    def _rounds(self, x: np.ndarray, rounds: int) -> np.ndarray:
        """The article's rounds: L-BFGS restarted every round_evals evaluations."""
        scale = self.scale
        bounds = scale.problem.bounds() if self.options.pixel_bounds else None  # once per scale, not per round
        for round_index in range(rounds):
            scale.run_base, scale.in_run = scale.done_before + round_index * self.round_evals, 0
            x, _, _ = self._lbfgs(x, bounds, maxfun=self.round_evals)
            self.rounds += 1
        return x

    def _free_then_polish(self, x: np.ndarray, iterations: int) -> np.ndarray:
        """Unbounded L-BFGS moves fastest but leaves ~4 % of the values outside 0..255, and
        clipping them alone made the delivered picture's loss 2-3× worse (default 512 px job: 137
        against 62 before the clip). A polish from the clipped picture, projected onto 0..255,
        brings it back (bounded all the way took 30 % more evaluations). Starting the polish
        earlier, far from the optimum, stalls like bounds from the photo do. Both runs are one
        src/impasto/nst/lbfgs.py solver: the polish keeps the free run's curvature."""
        problem = self.scale.problem
        with self._optimizer_phase():
            solver = lbfgs.Lbfgs(self._func, self._callback)
            x = solver.run(x, iterations - schedule.polish_iterations(iterations))
            left = iterations - self.scale.in_run  # the free run may have converged early: keep the budget
            return solver.run(x, left, box=problem.box()) if left > 0 else x

    def _minimize(self, x: np.ndarray, bounds, iterations: int) -> np.ndarray:
        x, _, info = self._lbfgs(x, bounds, maxiter=iterations, maxfun=iterations * 3 + 20)
        log.debug("scale %d, %d iterations: %s", self.scale.index, iterations, info.get("task"))
        return x

    def _lbfgs(self, x: np.ndarray, bounds, **limits):
        """scipy's L-BFGS-B."""
        with self._optimizer_phase():
            return fmin_l_bfgs_b(self._func, x, bounds=bounds, callback=self._callback, **limits)

    @contextmanager
    def _optimizer_phase(self) -> Iterator[None]:
        """An L-BFGS run: its own seconds (not the evaluations' or the progress reports') are the
        scale's "optimizer" phase. BLAS runs on one thread here: the optimiser's vector work is too
        small to share, and a second BLAS thread fought TensorFlow's threads for the cores."""
        started, self._in_loop = time.perf_counter(), 0.0
        with threadpool_limits(limits=1, user_api="blas"):
            yield
        self.timings.add(self._phase("optimizer"), time.perf_counter() - started - self._in_loop)

    def _phase(self, what: str) -> str:
        return f"scale {self.scale.index + 1} {what}"

    def _func(self, x: np.ndarray):
        """scipy's objective: one evaluation (the stop check first: a cancel lands within one)."""
        if self.should_stop():
            raise Cancelled()
        program = self.scale.problem.program
        started = time.perf_counter()
        loss, grad, terms = self.scale.problem.evaluate(x)
        seconds = time.perf_counter() - started
        # A program's first call traces it and optimises its graph: that is its own phase.
        self.timings.add(self._phase("evaluations" if program.evaluated else "trace"), seconds)
        program.evaluated = True
        self._in_loop += seconds
        self.evaluations += 1
        self.latest_terms = (loss, *terms)
        return loss, grad

    def _callback(self, xk: np.ndarray) -> None:
        """scipy's per-iteration callback: count, remember the loss, stop if asked, report."""
        self.iterations += 1
        self.scale.in_run += 1
        self.scale.marks.append(time.perf_counter())
        loss, c, s, t, h = self.latest_terms
        self.last_terms = {"total": loss, "content": c, "style": s, "tv": t}
        if self.scale.problem.program.temporal is not None:
            self.last_terms["temporal"] = h
        self.history.append(loss)
        if self.should_stop():
            raise Cancelled()
        if self.on_progress is not None:
            started = time.perf_counter()
            self.on_progress(self._progress(xk.copy()))
            seconds = time.perf_counter() - started
            self.timings.add("progress reports", seconds)
            self._in_loop += seconds

    def _progress(self, x: np.ndarray) -> Progress:
        scale, (loss, c, s, t, h) = self.scale, self.latest_terms
        # In the article's rounds progress counts evaluations: a round that stops short ends at its last.
        step = scale.in_run if not self.round_evals else min(scale.in_run, self.round_evals - 1)
        iteration = min(scale.run_base + step, self.total)
        scale_start = sum(self.plan[:scale.index]) * (self.round_evals or 1)  # a tile's scale began before it
        steps = np.diff(scale.marks)
        if (rate := schedule.seconds_per_iteration(steps)) is not None:
            self.rates[scale.index] = rate  # a later scale's ETA goes by it until its own are timed
        height, width = scale.tile.content_rgb.shape[:2] if scale.tile else (scale.problem.height, scale.problem.width)
        eta = schedule.eta(steps, self.plan, self.sizes, scale.index, iteration - scale_start,
                           round_evals=self.round_evals, pixel_bounds=self.options.pixel_bounds,
                           earlier=self.rates.get(scale.index - 1), costs=self._scale_costs(height, width),
                           set_ups=[cost.scale_trace_seconds(side) for side in self.sizes])
        return Progress(
            iteration=iteration, total=self.total, evaluations=self.evaluations, loss=loss,
            content_loss=c, style_loss=s, tv_loss=t, elapsed=time.perf_counter() - self.started,
            eta=eta, scale=scale.index + 1, scales=len(self.sizes),
            width=width, height=height, _image=self._preview(x, scale), temporal_loss=h)

    def _scale_costs(self, height: int, width: int) -> list[float]:
        """Each scale's seconds per iteration as the cost model has them, for this picture's aspect:
        256 -> 512 px is 2.6x there, against the 2.2-2.4x measured that pixels^0.75 put at 2.8x
        (the final scale's first iterations read +25...+55 % before their own were timed)."""
        aspect = min(height, width) / max(height, width)
        return [cost.step_seconds(self.options, side * side * aspect / 1e6, aspect) for side in self.sizes]

    def _preview(self, x: np.ndarray, scale: ScaleState) -> Callable[[], np.ndarray]:
        """The whole picture so far (a tile's progress blended into the rest)."""
        problem, tile = scale.problem, scale.tile

        def render() -> np.ndarray:
            rgb = caffe_to_rgb(x.reshape(problem.shape))
            rgb, content = (tile.compose(rgb), tile.content_rgb) if tile else (rgb, problem.content_rgb)
            return preserve_colors(rgb, content) if self.options.preserve_colors else rgb
        return render


