"""``stylize``: the Gatys optimisation, scale by scale, with progress and cancellation.

Per scale: the style targets (Gram matrices) and content targets are computed once; each loss
evaluation then sends only the result image through a VGG16 cut at the deepest layer needed, inside
one ``tf.function`` with a fixed shape. scipy's ``fmin_l_bfgs_b`` drives the pixels (float64 on
its side only). The result of a coarse scale, upsampled, starts the next.
"""

from __future__ import annotations

import functools
import gc
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf
from scipy.optimize import fmin_l_bfgs_b

from impasto.nst import hardware, losses, lossfn, regions, schedule, tiles
from impasto.nst import masks as mask_ops
from impasto.nst.colors import match_palette, preserve_colors
from impasto.nst.errors import Cancelled, NumericalError, OptionError
from impasto.nst.images import (
    ImageSource,
    KeyedImage,
    attach_alpha,
    load_image,
    resize_longest,
    resize_to,
    scaled_shape,
    split_alpha,
)
from impasto.nst.options import DEFAULTS, Options, blend_weights
from impasto.nst.shapes import check_shapes
from impasto.nst.targets import StyleTargets, compute_style_targets
from impasto.nst.vgg import BGR_MEAN, build_feature_fn, caffe_to_rgb, load_weights, rgb_to_caffe

log = logging.getLogger(__name__)

ProgressCallback = Callable[["Progress"], None]
StopCheck = Callable[[], bool]


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
        }


def stylize(
    content: ImageSource | np.ndarray,
    style: ImageSource | np.ndarray | Sequence[ImageSource | np.ndarray],
    *,
    options: Options = DEFAULTS,
    init_image: ImageSource | np.ndarray | None = None,
    weights: str | None = None,
    precision: str = "auto",
    memory_gb: float | None = None,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCheck | None = None,
    masks: Sequence[ImageSource | np.ndarray] = (),
    tile_size: int | None = None,
    temporal: losses.TemporalTarget | None = None,
) -> Result:
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
    images = _Images.read(content, style, init_image, options)
    images.masks = _read_masks(masks, images, options)
    if options.seed is None:
        options = options.replace(seed=int(np.random.default_rng().integers(0, 2**31 - 1)))
    memory = _Memory.plan(options, images, memory_gb, tile_size)
    precision = hardware.choose_precision(options.precision, precision)
    vgg = load_weights(weights)
    run = _Run(options, on_progress, should_stop, started, memory.grids)

    current: np.ndarray | None = None  # the picture so far: upsampled from one scale to start the next
    for index, (longest, iterations) in enumerate(zip(options.scale_sizes(), options.scale_iterations())):
        scale_content = resize_longest(images.content, longest)
        current = _scale_start(options, scale_content, current, images.start)
        hw = scale_content.shape[:2]
        masks = [mask_ops.fit_mask(m, hw) for m in images.masks]
        held = _fit_temporal(temporal, hw)
        grid = memory.grids[index]
        at_scale = options.at_scale(index)
        if grid is None:
            current = run.optimize(_problem(vgg, scale_content, images.styles, images.blend, at_scale, longest,
                                            precision, masks, keys=images.keys, style_pixels=memory.style_pixels,
                                            temporal=held),
                                   current, iterations, index)
        else:
            scale = _TiledScale(vgg, images, at_scale, precision, memory, index, longest, iterations, scale_content,
                                masks, held)
            current = tiles.paint_in_tiles(grid, current, functools.partial(scale.solve, run))
            del scale
        run.scale = None
        gc.collect()  # the scale's graph and tensors go before the next, larger scale allocates

    result_rgb = preserve_colors(current, images.content) if options.preserve_colors else current
    if images.masks:
        result_rgb = _keep_photo(result_rgb, images)
    return Result(
        image=attach_alpha(result_rgb, images.alpha), options=options, seconds=time.perf_counter() - started,
        iterations=run.iterations, evaluations=run.evaluations, losses=run.last_terms,
        precision=precision, device=hardware.device_name(), history=run.history, rounds=run.rounds,
    )


@dataclass
class _Images:
    """The job's pictures as RGB arrays, with the paintings' blend weights."""

    content: np.ndarray  # RGB; a transparent photo composited on white (the network sees no alpha)
    styles: list[np.ndarray]
    keys: list  # per painting: a built-in's name and hash (KeyedImage), else None
    blend: np.ndarray
    start: np.ndarray | None  # the init image (init='image'), else None
    alpha: np.ndarray | None = None  # the photo's alpha channel, given back to the result
    masks: list[np.ndarray] = field(default_factory=list)  # one per painting, 0..1, the photo's shape

    @classmethod
    def read(cls, content, style, init_image, options: Options) -> _Images:
        content_rgb, alpha = split_alpha(_as_array(content, "content", keep_alpha=True))
        sources = _as_list(style)
        styles = _paintings(sources, content_rgb, options)
        # A recoloured painting is no longer the built-in its key names: it gets no shared cache entry.
        keys = [s.key if isinstance(s, KeyedImage) and not options.match_palette else None for s in sources]
        blend = np.asarray(blend_weights(options, len(styles)))
        if options.init == "image" and init_image is None:
            raise OptionError("init", "init is 'image' but no init image was given")
        start = _as_array(init_image, "init image") if options.init == "image" else None
        return cls(content_rgb, styles, keys, blend, start, alpha)


def _read_masks(masks, images: _Images, options: Options) -> list[np.ndarray]:
    """The masks read, checked against the photo and the paintings, resized to the photo."""
    if not masks:
        return []
    read = [mask_ops.load_mask(m, "mask" if len(masks) == 1 else f"mask {i + 1}") for i, m in enumerate(masks)]
    mask_ops.check_masks(read, images.content.shape[:2], len(images.styles), options.normalization)
    return [mask_ops.fit_mask(m, images.content.shape[:2], feather=0.0) for m in read]


def _keep_photo(result_rgb: np.ndarray, images: _Images) -> np.ndarray:
    """The photo where no mask covers, feathered masks at the result's size."""
    hw = result_rgb.shape[:2]
    content = resize_to(images.content, (hw[1], hw[0]))
    return mask_ops.keep_photo(result_rgb, content, [mask_ops.fit_mask(m, hw) for m in images.masks])


@dataclass
class _Memory:
    """How the job fits the memory: per scale None (whole) or the tiles to paint it in, and the
    most pixels a painting may send through the network at once (more go in strips)."""

    grids: list[tiles.Grid | None]
    style_pixels: int | None  # None: no limit

    @classmethod
    def plan(cls, options: Options, images: _Images, memory_gb: float | None, tile_size: int | None) -> _Memory:
        """Checked before any work: pictures too small for the network, or too large for even the
        smallest tiles, are refused (OptionError, ResourceError)."""
        check_shapes(options, images.content.shape[:2], [s.shape[:2] for s in images.styles])
        budget = hardware.available_bytes(memory_gb)
        grids = []
        for longest in options.scale_sizes():
            hw = scaled_shape(*images.content.shape[:2], longest)
            forced = tile_size if tile_size and max(hw) > tile_size else None
            grids.append(tiles.plan(hw, options.deepest_layer, budget, side=forced))
        if budget == float("inf"):
            return cls(grids, None)
        sized = budget * tiles.SIZING_SHARE
        return cls(grids, max(1, int((sized - hardware.BASE_BYTES) / hardware.BYTES_PER_STYLE_PIXEL)))


class _TiledScale:
    """One scale painted in tiles: one loss program (one trace) for all its tiles, which share a shape."""

    def __init__(self, vgg, images: _Images, options: Options, precision: str, memory: _Memory, index: int,
                 longest: int, iterations: int, content_rgb: np.ndarray, masks: list[np.ndarray],
                 temporal: losses.TemporalTarget | None = None):
        self.args = (vgg, images, options, precision, memory, longest)
        self.index, self.iterations, self.content_rgb, self.masks = index, iterations, content_rgb, masks
        self.temporal = temporal
        self.program: _Program | None = None
        self.program_shape: tuple[int, ...] = ()
        # Flatness is judged on the whole picture: a tile of sky alone would call its own ripples edges.
        self.flat = losses.flatness_weights(content_rgb, options.flat_smoothing) if options.flat_smoothing else None

    def solve(self, run: _Run, tile: tiles.Tile, number: int, start_rgb: np.ndarray,
              compose: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        content = self.content_rgb[tile.slices]
        masks = [m[tile.slices] for m in self.masks]
        held = self.temporal and losses.TemporalTarget(self.temporal.warped_rgb[tile.slices],
                                                       self.temporal.mask[tile.slices])
        flat = None if self.flat is None else self.flat[tile.top:tile.bottom - 1, tile.left:tile.right - 1]
        if self.program is None or content.shape != self.program_shape:
            vgg, images, options, precision, memory, longest = self.args
            self.program = _problem(vgg, content, images.styles, images.blend, options, longest, precision, masks,
                                    keys=images.keys, style_pixels=memory.style_pixels,
                                    whole_hw=self.content_rgb.shape[:2], temporal=held).program
            self.program_shape = content.shape
            if flat is not None:
                self.program.tv.set_factors(flat)
        else:
            self.program.set_content(content, masks, held, flat)
        problem = _Problem(self.program, content)
        return run.optimize(problem, start_rgb, self.iterations, self.index,
                            _TileView(number, compose, self.content_rgb))


@dataclass
class _TileView:
    """Where a tile's optimisation sits in the whole picture: for progress and previews."""

    number: int
    compose: Callable[[np.ndarray], np.ndarray]  # the tile's picture -> the whole picture
    content_rgb: np.ndarray  # the whole scale's photo


def _fit_temporal(temporal: losses.TemporalTarget | None, hw: tuple[int, int]) -> losses.TemporalTarget | None:
    """The temporal target at one scale's size (a coarse scale gets it downsampled)."""
    if temporal is None or temporal.mask.shape[:2] == hw:
        return temporal
    height, width = hw
    return losses.TemporalTarget(resize_to(temporal.warped_rgb, (width, height)),
                                 mask_ops.fit_mask(temporal.mask, hw, feather=0.0))


def _scale_start(options: Options, scale_content: np.ndarray, previous: np.ndarray | None,
                 start_rgb: np.ndarray | None) -> np.ndarray:
    """Where a scale starts: the first from the photo, noise or the init image; each later one from
    the picture of the scale before, resized to this scale's shape."""
    if previous is None:
        return _initial_image(options, scale_content, start_rgb)
    height, width = scale_content.shape[:2]
    return resize_to(previous, (width, height))


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
    content_rgb = resize_longest(split_alpha(_as_array(content, "content", keep_alpha=True))[0], options.size)
    styles = _paintings(style, content_rgb, options)
    blend = np.asarray(blend_weights(options, len(styles)))
    precision = precision or hardware.choose_precision(options.precision)
    problem = _problem(load_weights(weights), content_rgb, styles, blend, options, options.size, precision)
    return lambda rgb: problem.evaluate(rgb_to_caffe(rgb).astype(np.float64).ravel())[0]


# -- the loss for one scale ---------------------------------------------------------------------


def _problem(vgg, content_rgb: np.ndarray, styles: list[np.ndarray], blend: np.ndarray, options: Options,
             longest: int, precision: str, masks: Sequence[np.ndarray] = (), *,
             keys: Sequence[str | None] | None = None, style_pixels: int | None = None,
             whole_hw: tuple[int, int] | None = None, temporal: losses.TemporalTarget | None = None) -> _Problem:
    """One scale's loss: the (cached) style targets for this size, and the content's own. With
    masks (fitted to ``content_rgb``), each painting's targets are matched in its own region
    instead of one blend. A tile passes the whole picture's ``whole_hw``: the targets are the
    whole painting's; ``style_pixels`` caps a painting's pass through the network (strips).
    ``temporal`` (fitted to ``content_rgb``) adds a video frame's temporal term. Without masks, the
    program is this thread's kept one for the same shape and settings when there is one (a clip's
    next frame, the next job: src/impasto/nst/lossfn.py), aimed at this picture."""
    whole_hw = whole_hw or content_rgb.shape[:2]
    if masks:
        style_loss = regions.region_style_loss(vgg, styles, blend, list(masks), options, longest, precision,
                                               whole_hw, content_rgb.shape[:2], style_pixels)
        return _Problem(_Program(vgg, content_rgb, None, options, precision, style_loss, temporal), content_rgb)
    targets = compute_style_targets(vgg, styles, blend, options, longest, precision, whole_hw, keys=keys,
                                    max_pixels=style_pixels)
    key = lossfn.program_key(vgg, options, precision, content_rgb.shape[:2], temporal is not None)
    program, fresh = lossfn.kept(key, targets,
                                 lambda: _Program(vgg, content_rgb, targets, options, precision, temporal=temporal))
    if not fresh:
        program.set_content(content_rgb, (), temporal)
    return _Problem(program, content_rgb)


class _Program:
    """Loss and gradient for pictures of one shape: one traced tf.function. The content targets
    (and the masks of a masked style term) sit in variables, so every tile of a tiled scale (all of
    one shape) reuses the one trace: a new trace per tile kept its graph and a copy of the
    network's kernels alive, and the resident size grew by ~15 MB a tile (2.53 GB at 2048 px
    under a 2 GB budget). A video frame's temporal target sits in variables too: a clip's frames
    share one program (tracing and the first call's graph optimisation cost 2-3 s per frame)."""

    def __init__(self, vgg, content_rgb: np.ndarray, targets: StyleTargets | None, options: Options,
                 precision: str, style_loss=None, temporal: losses.TemporalTarget | None = None):
        self.options = options
        self.style_loss = style_loss
        self._features = build_feature_fn(vgg, (*options.content_layers, *options.style_layers), precision)
        self._content_targets = {name: tf.Variable(feats, trainable=False)
                                 for name, feats in self._content_features(content_rgb).items()}
        self.temporal = losses.TemporalLoss(content_rgb.shape[:2]) if temporal is not None else None
        if temporal is not None:
            self.temporal.set(rgb_to_caffe(temporal.warped_rgb), temporal.mask)
        self.tv = losses.TVLoss(options.normalization, options.tv_exponent, content_rgb.shape[:2],
                                options.flat_smoothing)
        self.tv.set(content_rgb)
        self.fn = _make_loss_fn(self._features, self._content_targets, targets, options, content_rgb.shape[:2],
                                style_loss, self.temporal, self.tv)

    def set_content(self, content_rgb: np.ndarray, masks: Sequence[np.ndarray] = (),
                    temporal: losses.TemporalTarget | None = None, flat_factors: np.ndarray | None = None) -> None:
        """Aim at another picture of the same shape (the next tile, the next frame): its content
        features, its masks, its temporal target, its flat-area factors (a tile's crop of its whole
        picture's, else computed from ``content_rgb``)."""
        for name, feats in self._content_features(content_rgb).items():
            self._content_targets[name].assign(feats)
        if flat_factors is not None:
            self.tv.set_factors(flat_factors)
        else:
            self.tv.set(content_rgb)
        if masks:
            self.style_loss.set_masks(list(masks))
        if temporal is not None:
            self.temporal.set(rgb_to_caffe(temporal.warped_rgb), temporal.mask)

    def _content_features(self, content_rgb: np.ndarray) -> dict[str, tf.Tensor]:
        feats = self._features(tf.constant(rgb_to_caffe(content_rgb)))
        return {name: tf.cast(feats[name], tf.float32) for name in self.options.content_layers}


class _Problem:
    """Loss and gradient at one image size, as a float64 function for scipy."""

    def __init__(self, program: _Program, content_rgb: np.ndarray):
        self.height, self.width = content_rgb.shape[:2]
        self.shape = (1, self.height, self.width, 3)
        self.options = program.options
        self.content_rgb = content_rgb
        self.program = program
        self._fn = program.fn

    def evaluate(self, x: np.ndarray) -> tuple[float, np.ndarray, tuple[float, float, float, float]]:
        """(loss, gradient, weighted (content, style, tv, temporal) terms)."""
        x32 = tf.constant(x.reshape(self.shape), dtype=tf.float32)
        total, c, s, t, h, grad = self._fn(x32)
        loss = float(total)
        if not np.isfinite(loss):
            raise NumericalError(
                f"the loss became {loss} (content {float(c):g}, style {float(s):g}, tv {float(t):g}); "
                "stopped instead of returning a broken picture. Lower the weights or use float32 precision.")
        return loss, grad.numpy().astype(np.float64).ravel(), (float(c), float(s), float(t), float(h))

    def bounds(self) -> list[tuple[float, float]]:
        """0..255 for every value, as L-BFGS-B bounds (caffe space: pixel p is p - mean there)."""
        low = self._low()
        return list(zip(low, low + 255.0))

    def clip(self, x: np.ndarray) -> np.ndarray:
        low = self._low()
        return np.clip(x, low, low + 255.0)

    def _low(self) -> np.ndarray:
        return np.broadcast_to(-BGR_MEAN, self.shape).ravel().astype(np.float64)


def _make_loss_fn(features, content_targets, targets: StyleTargets | None, options: Options, image_hw,
                  style_loss=None, temporal: losses.TemporalLoss | None = None, tv: losses.TVLoss | None = None):
    """loss_and_grad(x) -> (total, weighted content, style, tv and temporal terms, gradient), one
    tf.function: the weighted sum of the named terms (src/impasto/nst/losses.py). ``style_loss`` replaces
    the blended style term (masks: src/impasto/nst/regions.py); ``temporal`` is a video frame's term
    (weighted by temporal_weight; absent, it is 0); ``tv`` the program's TV term (its per-pixel
    factors set for the photo), else a plain one."""
    norm = options.normalization
    content = losses.ContentLoss(content_targets, norm)
    shares = losses.layer_shares(options.style_layers, options.layer_weights())
    if style_loss is not None:  # masks: each painting's Gram targets in its own region
        style = style_loss
    elif options.style_loss == "wasserstein":
        style = losses.WassersteinStyleLoss(targets.gaussians, shares)
    else:
        style = losses.StyleLoss({name: tf.constant(targets.grams[name]) for name in options.style_layers}, norm,
                                 image_hw, shares)
    tv = tv or losses.TVLoss(norm, options.tv_exponent)
    alpha = tf.constant(options.content_weight, tf.float32)
    beta = tf.constant(options.style_weight, tf.float32)
    tv_w = tf.constant(options.tv_weight, tf.float32)
    temporal_w = tf.constant(options.temporal_weight, tf.float32)

    @tf.function(reduce_retracing=False)
    def loss_and_grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            feats = features(x)
            wc, ws, wt = alpha * content(feats), beta * style(feats), tv_w * tv(x)
            wh = temporal_w * temporal(x) if temporal is not None else tf.zeros((), tf.float32)
            total = wc + ws + wt + wh
        return total, wc, ws, wt, wh, tape.gradient(total, x)

    return loss_and_grad


# -- the L-BFGS loop with progress and stop checks ----------------------------------------------


@dataclass
class _Scale:
    """Where the run stands within one scale: its problem, the progress count before it, the
    current L-BFGS run's place, and when each of its iterations ended (for the ETA)."""

    index: int
    problem: _Problem
    done_before: int  # progress units (iterations; with round_evals, evaluations) of earlier scales
    marks: list[float]  # the scale's start, then each iteration's end (perf_counter seconds)
    run_base: int = 0  # progress count where the current L-BFGS run (a round, the free run) began
    in_run: int = 0  # iterations of the current L-BFGS run so far
    tile: _TileView | None = None  # a tiled scale's current tile


class _Run:
    """Counts iterations and evaluations across scales, reports progress, honours stop checks."""

    def __init__(self, options: Options, on_progress, should_stop, started: float,
                 grids: Sequence[tiles.Grid | None] = ()):
        self.options = options
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
        self.scale: _Scale | None = None
        self.latest_terms = (float("nan"),) * 5  # (loss, content, style, tv, temporal) of the latest evaluation

    def optimize(self, problem: _Problem, start_rgb: np.ndarray, iterations: int, index: int,
                 tile: _TileView | None = None) -> np.ndarray:
        """Run one scale's (or one tile's) L-BFGS from ``start_rgb``; return its picture."""
        done_before = (sum(self.plan[:index]) + (tile.number * iterations if tile else 0)) * (self.round_evals or 1)
        self.scale = _Scale(index, problem, done_before, [time.perf_counter()], run_base=done_before, tile=tile)
        x = rgb_to_caffe(start_rgb).astype(np.float64).ravel()
        if self.round_evals:
            x = self._rounds(x, iterations)
        elif self.options.pixel_bounds:
            x = self._minimize(x, problem.bounds(), iterations)
        else:
            x = self._free_then_polish(x, iterations)
        return caffe_to_rgb(x.reshape(problem.shape))

    def _rounds(self, x: np.ndarray, rounds: int) -> np.ndarray:
        """The article's rounds: L-BFGS restarted every round_evals evaluations."""
        scale = self.scale
        bounds = scale.problem.bounds() if self.options.pixel_bounds else None  # once per scale, not per round
        for round_index in range(rounds):
            scale.run_base, scale.in_run = scale.done_before + round_index * self.round_evals, 0
            x, _, _ = fmin_l_bfgs_b(self._func, x, bounds=bounds, maxfun=self.round_evals, callback=self._callback)
            self.rounds += 1
        return x

    def _free_then_polish(self, x: np.ndarray, iterations: int) -> np.ndarray:
        """Unbounded L-BFGS moves fastest but leaves ~4 % of the values outside 0..255, and
        clipping them alone made the delivered picture's loss 2-3× worse (default 512 px job: 137
        against 62 before the clip). A bounded polish from the clipped picture brings it back
        (73.8; bounded all the way: 68.1 but 30 % more evaluations). Starting the polish earlier,
        far from the optimum, stalls like bounds from the photo do."""
        problem = self.scale.problem
        x = self._minimize(x, None, iterations - schedule.polish_iterations(iterations))
        left = iterations - self.scale.in_run  # the free run may have converged early: keep the budget
        return self._minimize(problem.clip(x), problem.bounds(), left) if left > 0 else x

    def _minimize(self, x: np.ndarray, bounds, iterations: int) -> np.ndarray:
        x, _, info = fmin_l_bfgs_b(self._func, x, bounds=bounds, maxiter=iterations,
                                   maxfun=iterations * 3 + 20, callback=self._callback)
        log.debug("scale %d, %d iterations: %s", self.scale.index, iterations, info.get("task"))
        return x

    def _func(self, x: np.ndarray):
        """scipy's objective: one evaluation (the stop check first: a cancel lands within one)."""
        if self.should_stop():
            raise Cancelled()
        loss, grad, terms = self.scale.problem.evaluate(x)
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
            self.on_progress(self._progress(xk.copy()))

    def _progress(self, x: np.ndarray) -> Progress:
        scale, (loss, c, s, t, h) = self.scale, self.latest_terms
        # In the article's rounds progress counts evaluations: a round that stops short ends at its last.
        step = scale.in_run if not self.round_evals else min(scale.in_run, self.round_evals - 1)
        iteration = min(scale.run_base + step, self.total)
        scale_start = sum(self.plan[:scale.index]) * (self.round_evals or 1)  # a tile's scale began before it
        eta = schedule.eta(np.diff(scale.marks), self.plan, self.sizes, scale.index, iteration - scale_start,
                           round_evals=self.round_evals, pixel_bounds=self.options.pixel_bounds)
        height, width = scale.tile.content_rgb.shape[:2] if scale.tile else (scale.problem.height, scale.problem.width)
        return Progress(
            iteration=iteration, total=self.total, evaluations=self.evaluations, loss=loss,
            content_loss=c, style_loss=s, tv_loss=t, elapsed=time.perf_counter() - self.started,
            eta=eta, scale=scale.index + 1, scales=len(self.sizes),
            width=width, height=height, _image=self._preview(x, scale), temporal_loss=h)

    def _preview(self, x: np.ndarray, scale: _Scale) -> Callable[[], np.ndarray]:
        """The whole picture so far (a tile's progress blended into the rest)."""
        problem, tile = scale.problem, scale.tile

        def render() -> np.ndarray:
            rgb = caffe_to_rgb(x.reshape(problem.shape))
            rgb, content = (tile.compose(rgb), tile.content_rgb) if tile else (rgb, problem.content_rgb)
            return preserve_colors(rgb, content) if self.options.preserve_colors else rgb
        return render


# -- helpers ------------------------------------------------------------------------------------


def _as_list(style) -> list:
    if isinstance(style, (np.ndarray, KeyedImage)) or isinstance(style, (str, bytes)) or hasattr(style, "read"):
        return [style]
    if hasattr(style, "__fspath__"):
        return [style]
    styles = list(style)
    if not styles:
        raise OptionError("style", "at least one style image is needed")
    return styles


def _paintings(style, content_rgb: np.ndarray, options: Options) -> list[np.ndarray]:
    """The paintings as RGB arrays; recoloured to the photo's palette where match_palette is set."""
    styles = [_as_array(s, f"style {i + 1}") for i, s in enumerate(_as_list(style))]
    return [match_palette(s, content_rgb) for s in styles] if options.match_palette else styles


def _as_array(source, name: str, keep_alpha: bool = False) -> np.ndarray:
    """An RGB uint8 array (RGBA for a transparent photo where ``keep_alpha``)."""
    if isinstance(source, KeyedImage):
        source = source.pixels
    if isinstance(source, np.ndarray):
        channels = (3, 4) if keep_alpha else (3,)
        if source.ndim != 3 or source.shape[2] not in channels:
            shape = "(height, width, 3) or (height, width, 4)" if keep_alpha else "(height, width, 3)"
            raise OptionError(name, f"{name} array must be {shape}, got {source.shape}")
        return np.clip(source, 0, 255).astype(np.uint8)
    return load_image(source, name=name, keep_alpha=keep_alpha)


def _initial_image(options: Options, content_rgb: np.ndarray, start_rgb: np.ndarray | None) -> np.ndarray:
    height, width = content_rgb.shape[:2]
    if options.init == "content":
        return content_rgb.copy()
    if options.init == "image":
        return resize_to(start_rgb, (width, height))
    # The article's start: uniform(0, 255) - 128 in caffe space, converted to RGB for our pipeline.
    rng = np.random.default_rng(options.seed)
    noise = rng.uniform(0, 255, (1, height, width, 3)) - 128.0
    if options.pixel_bounds:
        return caffe_to_rgb(noise)
    return _unclipped_rgb(noise)


def _unclipped_rgb(caffe: np.ndarray) -> np.ndarray:
    """Keep out-of-range noise exactly (as a float array) for the unbounded article preset."""
    bgr = caffe.reshape(caffe.shape[-3:]).astype(np.float32) + BGR_MEAN
    return bgr[:, :, ::-1]
