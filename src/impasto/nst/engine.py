"""``stylize``: the Gatys optimisation, scale by scale, with progress and cancellation.

Per scale: the style targets (Gram matrices) and content targets are computed once; each loss
evaluation then sends only the result image through a VGG16 cut at the deepest layer needed, inside
one ``tf.function`` with a fixed shape. L-BFGS drives the pixels (float64 on its side only:
src/impasto/nst/lbfgs.py, or scipy's for pixel_bounds and the article's rounds). The result of a
coarse scale, upsampled, starts the next.
"""

from __future__ import annotations

import functools
import gc
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from impasto.nst import hardware, losses, tiles
from impasto.nst import masks as mask_ops
from impasto.nst.colors import preserve_colors
from impasto.nst.images import ImageSource, attach_alpha, resize_longest, scaled_shape, split_alpha
from impasto.nst.inputs import Images, as_array, fit_temporal, keep_photo, paintings, read_masks, scale_start
from impasto.nst.optimizer import Progress, Run, TileView
from impasto.nst.options import DEFAULTS, Options, blend_weights
from impasto.nst.program import PhotoMaps, Problem, Program, build_problem
from impasto.nst.shapes import check_shapes
from impasto.nst.timings import Timings
from impasto.nst.vgg import VggWeights, load_weights, rgb_to_caffe

log = logging.getLogger(__name__)

ProgressCallback = Callable[[Progress], None]
StopCheck = Callable[[], bool]


@dataclass
class Result:
    image: np.ndarray  # RGB uint8; RGBA when the photo had transparency (its alpha, resized)
    options: Options
    seconds: float
    iterations: int
    evaluations: int
    losses: dict[str, float]
    precision: str
    device: str
    history: list[float] = field(default_factory=list)
    rounds: int = 0  # the article's L-BFGS rounds run (round_evals > 0), else 0
    timings: Timings = field(default_factory=Timings)  # seconds per phase (weights, targets, trace, ...)

    def summary(self) -> dict:
        """JSON-ready facts about the run (what the CLI's --json prints). ``iterations`` counts in
        the unit of ``options.iterations`` (rounds where round_evals is set); ``lbfgs_iterations``
        counts L-BFGS iterations whatever the mode."""
        height, width = self.image.shape[:2]
        return {
            "seconds": round(self.seconds, 3),
            "iterations": self.rounds if self.options.round_evals else self.iterations,
            "lbfgs_iterations": self.iterations,
            "evaluations": self.evaluations, "losses": self.losses, "width": width, "height": height,
            "precision": self.precision, "device": self.device, "seed": self.options.seed,
            "transparent": self.image.shape[2] == 4,  # the photo's alpha kept (PNG; JPEG flattens on white)
            "timings": self.timings.summary(),
        }


def stylize(content: ImageSource | np.ndarray, style: ImageSource | np.ndarray | Sequence[ImageSource | np.ndarray],
            *, options: Options = DEFAULTS, init_image: ImageSource | np.ndarray | None = None,
            weights: str | None = None, precision: str = "auto", memory_gb: float | None = None,
            on_progress: ProgressCallback | None = None, should_stop: StopCheck | None = None,
            masks: Sequence[ImageSource | np.ndarray] = (), tile_size: int | None = None,
            temporal: losses.TemporalTarget | None = None) -> Result:
    """Paint ``content`` in the style of ``style`` (one image or several, mixed by ``style_blend``).

    Images are paths, bytes, file objects or RGB uint8 arrays. The machine's side comes as plain
    arguments (the callers take them from impasto.config.Settings): ``weights`` a VGG16 weights file
    (None: the ImageNet download), ``precision`` the one used
    where ``options.precision`` is 'auto', ``memory_gb`` the memory one job may use (None: what the
    OS reports available). ``masks``: one grey image per painting (white = paint here, black = keep
    the photo), each painting's style matched inside its own region (src/impasto/nst/regions.py).
    A scale whose estimate exceeds the memory is painted in overlapping tiles (src/impasto/nst/tiles.py);
    ``tile_size`` forces tiles of that side at every scale larger than it (tests, benchmarks).
    ``temporal``: a video frame's previous result warped onto it and its reliability mask, at the
    photo's size; the result is held to it by ``options.temporal_weight`` (src/impasto/nst/video.py).
    Raises Cancelled when ``should_stop()`` turns true (checked at every evaluation), NumericalError
    on a NaN/inf loss, WeightsError, ImageError, OptionError or ResourceError for bad input.
    """
    options.validate()
    started = time.perf_counter()
    images = Images.read(content, style, init_image, options)
    images.masks = read_masks(masks, images, options)
    if options.seed is None:
        options = options.replace(seed=int(np.random.default_rng().integers(0, 2**31 - 1)))
    memory = _Memory.plan(options, images, memory_gb, tile_size)
    timings = Timings()
    with timings.phase("weights"):
        vgg = load_weights(weights)
    job = _Job(vgg, images, hardware.choose_precision(options.precision, precision), memory, temporal, timings)
    run = Run(options, on_progress, should_stop, started, memory.grids, timings)
    current: np.ndarray | None = None  # the picture so far: upsampled from one scale to start the next
    sizes = options.scale_sizes()
    for index, (longest, iterations) in enumerate(zip(sizes, options.scale_iterations())):
        current = _paint_scale(job, run, options, index, longest, iterations, current)
        if index < len(sizes) - 1 and not memory.holds_both(index, index + 1):
            gc.collect()  # frees the scale before the next allocates (0.12 s: only when the memory is short)
    return _result(job, run, options, current, started)


@dataclass
class _Job:
    """What every scale of one job paints with."""

    vgg: VggWeights
    images: Images
    precision: str
    memory: _Memory
    temporal: losses.TemporalTarget | None
    timings: Timings


def _paint_scale(job: _Job, run: Run, options: Options, index: int, longest: int, iterations: int,
                 previous: np.ndarray | None) -> np.ndarray:
    """One scale: its photo, start, masks and temporal target at its size, then L-BFGS on the whole
    picture or tile by tile."""
    content = resize_longest(job.images.content, longest)
    hw = content.shape[:2]
    masks = [mask_ops.fit_mask(m, hw) for m in job.images.masks]
    start = scale_start(options, content, previous, job.images, masks)
    if previous is None and options.init == "content" and options.start_palette > 0:
        run.show_start(start, content)  # a first glimpse: the photo in the painting's colours
    held = fit_temporal(job.temporal, hw)
    at_scale, grid = options.at_scale(index), job.memory.grids[index]
    try:
        if grid is not None:
            scale = _TiledScale(job.vgg, job.images, at_scale, job.precision, job.memory, index, longest, iterations,
                                content, masks, held)
            return tiles.paint_in_tiles(grid, start, functools.partial(scale.solve, run))
        with job.timings.phase(f"scale {index + 1} set-up"):  # style targets, content features, the program
            problem = build_problem(job.vgg, content, job.images.styles, job.images.blend, at_scale, longest,
                                    job.precision, masks, keys=job.images.keys,
                                    style_pixels=job.memory.style_pixels, temporal=held)
        return run.optimize(problem, start, iterations, index)
    finally:
        run.scale = None


def _result(job: _Job, run: Run, options: Options, painted: np.ndarray, started: float) -> Result:
    """The picture delivered: the photo's colours kept if asked, the photo where no mask paints, its alpha."""
    images = job.images
    rgb = preserve_colors(painted, images.content) if options.preserve_colors else painted
    if images.masks:
        rgb = keep_photo(rgb, images)
    return Result(
        image=attach_alpha(rgb, images.alpha), options=options, seconds=time.perf_counter() - started,
        iterations=run.iterations, evaluations=run.evaluations, losses=run.last_terms,
        precision=job.precision, device=hardware.device_name(), history=run.history, rounds=run.rounds,
        timings=job.timings,
    )


@dataclass
class _Memory:
    """How the job fits the memory: per scale None (whole) or the tiles to paint it in, and the
    most pixels a painting may send through the network at once (more go in strips)."""

    grids: list[tiles.Grid | None]
    style_pixels: int | None  # None: no limit
    peaks: list[float]  # each scale's estimated peak bytes, painted whole
    budget: float

    def holds_both(self, first: int, second: int) -> bool:
        """Whether two scales fit the memory at once, both painted whole."""
        whole = self.grids[first] is None and self.grids[second] is None
        return whole and self.peaks[first] + self.peaks[second] <= self.budget * tiles.SIZING_SHARE

    @classmethod
    def plan(cls, options: Options, images: Images, memory_gb: float | None, tile_size: int | None) -> _Memory:
        """Checked before any work: pictures too small for the network, or too large for even the
        smallest tiles, are refused (OptionError, ResourceError)."""
        check_shapes(options, images.content.shape[:2], [s.shape[:2] for s in images.styles])
        budget = hardware.available_bytes(memory_gb)
        grids, peaks = [], []
        for longest in options.scale_sizes():
            hw = scaled_shape(*images.content.shape[:2], longest)
            forced = tile_size if tile_size and max(hw) > tile_size else None
            grids.append(tiles.plan(hw, options.deepest_layer, budget, side=forced))
            peaks.append(hardware.estimate_peak_bytes(*hw, options.deepest_layer))
        if budget == float("inf"):
            return cls(grids, None, peaks, budget)
        sized = budget * tiles.SIZING_SHARE
        style_pixels = max(1, int((sized - hardware.BASE_BYTES) / hardware.BYTES_PER_STYLE_PIXEL))
        return cls(grids, style_pixels, peaks, budget)


class _TiledScale:
    """One scale painted in tiles: one loss program (one trace) for all its tiles, which share a shape."""

    def __init__(self, vgg, images: Images, options: Options, precision: str, memory: _Memory, index: int,
                 longest: int, iterations: int, content_rgb: np.ndarray, masks: list[np.ndarray],
                 temporal: losses.TemporalTarget | None = None):
        self.args = (vgg, images, options, precision, memory, longest)
        self.index, self.iterations, self.content_rgb, self.masks = index, iterations, content_rgb, masks
        self.temporal = temporal
        self.program: Program | None = None
        self.program_shape: tuple[int, ...] = ()
        self.maps = PhotoMaps.of(content_rgb, options)

    def solve(self, run: Run, tile: tiles.Tile, number: int, start_rgb: np.ndarray,
              compose: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        content = self.content_rgb[tile.slices]
        masks = [m[tile.slices] for m in self.masks]
        held = self.temporal and losses.TemporalTarget(self.temporal.warped_rgb[tile.slices],
                                                       self.temporal.mask[tile.slices])
        maps = self.maps.crop(tile.top, tile.bottom, tile.left, tile.right)
        if self.program is None or content.shape != self.program_shape:
            vgg, images, options, precision, memory, longest = self.args
            self.program = build_problem(vgg, content, images.styles, images.blend, options, longest, precision, masks,
                                    keys=images.keys, style_pixels=memory.style_pixels,
                                    whole_hw=self.content_rgb.shape[:2], temporal=held, maps=maps).program
            self.program_shape = content.shape
        else:
            self.program.set_content(content, masks, held, maps)
        problem = Problem(self.program, content)
        return run.optimize(problem, start_rgb, self.iterations, self.index,
                            TileView(number, compose, self.content_rgb))


def objective(
    content: ImageSource | np.ndarray,
    style: ImageSource | np.ndarray | Sequence[ImageSource | np.ndarray],
    *,
    options: Options = DEFAULTS,
    precision: str | None = None,
    weights: str | None = None,
) -> Callable[[np.ndarray], float]:
    """The loss ``stylize`` minimises at ``options.size`` (its last scale), as a function of an RGB
    picture of that size: to score any picture, as delivered, on the engine's own objective."""
    options.validate()
    content_rgb = resize_longest(split_alpha(as_array(content, "content", keep_alpha=True))[0], options.size)
    styles = paintings(style, content_rgb, options)
    blend = np.asarray(blend_weights(options, len(styles)))
    precision = precision or hardware.choose_precision(options.precision)
    problem = build_problem(load_weights(weights), content_rgb, styles, blend, options, options.size, precision)
    return lambda rgb: problem.evaluate(rgb_to_caffe(rgb).astype(np.float64).ravel())[0]


