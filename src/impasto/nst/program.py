"""One scale's loss and gradient: the traced program for pictures of one shape, and the float64
problem scipy's L-BFGS sees. The content, style, TV and temporal targets sit in variables, so a kept
program serves every tile, frame and job of its shape (src/impasto/nst/lossfn.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import tensorflow as tf

from impasto.nst import flatness, losses, lossfn, regions, shadows
from impasto.nst.errors import NumericalError
from impasto.nst.options import Options
from impasto.nst.targets import StyleTargets, compute_style_targets
from impasto.nst.vgg import BGR_MEAN, build_feature_fn, rgb_to_caffe


def build_problem(vgg, content_rgb: np.ndarray, styles: list[np.ndarray], blend: np.ndarray, options: Options,
                  longest: int, precision: str, masks: Sequence[np.ndarray] = (), *,
                  keys: Sequence[str | None] | None = None, style_pixels: int | None = None,
                  whole_hw: tuple[int, int] | None = None, temporal: losses.TemporalTarget | None = None,
                  maps: PhotoMaps | None = None) -> Problem:
    """One scale's loss: the (cached) style targets for this size, and the content's own. With
    masks (fitted to ``content_rgb``), each painting's targets are matched in its own region
    instead of one blend. A tile passes the whole picture's ``whole_hw``: the targets are the
    whole painting's; ``style_pixels`` caps a painting's pass through the network (strips).
    ``temporal`` (fitted to ``content_rgb``) adds a video frame's temporal term; ``maps`` are a
    tile's crop of its whole picture's (else judged on ``content_rgb``). Without masks, the
    program is this thread's kept one for the same shape and settings when there is one (a clip's
    next frame, the next job: src/impasto/nst/lossfn.py), aimed at this picture."""
    whole_hw = whole_hw or content_rgb.shape[:2]
    if masks:
        style_loss = regions.region_style_loss(vgg, styles, blend, list(masks), options, longest, precision,
                                               whole_hw, content_rgb.shape[:2], style_pixels)
        return Problem(Program(vgg, content_rgb, None, options, precision, style_loss, temporal, maps), content_rgb)
    targets = compute_style_targets(vgg, styles, blend, options, longest, precision, whole_hw, keys=keys,
                                    max_pixels=style_pixels)
    key = lossfn.program_key(vgg, options, precision, content_rgb.shape[:2], temporal is not None)
    program, fresh = lossfn.kept(
        key, targets, lambda: Program(vgg, content_rgb, targets, options, precision, temporal=temporal, maps=maps))
    if not fresh:
        program.set_content(content_rgb, (), temporal, maps)
    return Problem(program, content_rgb)


class Program:
    """Loss and gradient for pictures of one shape: one traced tf.function. The content targets
    (and the masks of a masked style term) sit in variables, so every tile of a tiled scale (all of
    one shape) reuses the one trace: a new trace per tile kept its graph and a copy of the
    network's kernels alive, and the resident size grew by ~15 MB a tile (2.53 GB at 2048 px
    under a 2 GB budget). A video frame's temporal target sits in variables too: a clip's frames
    share one program (tracing and the first call's graph optimisation cost 2-3 s per frame)."""

    def __init__(self, vgg, content_rgb: np.ndarray, targets: StyleTargets | None, options: Options,
                 precision: str, style_loss=None, temporal: losses.TemporalTarget | None = None,
                 maps: PhotoMaps | None = None):
        self.options = options
        self.evaluated = False  # not yet called: the first call traces the loss function
        self._features = build_feature_fn(vgg, (*options.content_layers, *options.style_layers), precision)
        self._content_targets = {name: tf.Variable(feats, trainable=False)
                                 for name, feats in self._content_features(content_rgb).items()}
        self.temporal = losses.TemporalLoss(content_rgb.shape[:2]) if temporal is not None else None
        if temporal is not None:
            self.temporal.set(rgb_to_caffe(temporal.warped_rgb), temporal.mask)
        self.tv = losses.TVLoss(options.normalization, options.tv_exponent, content_rgb.shape[:2],
                                options.flat_smoothing)
        # masks: each painting's targets in its own region (src/impasto/nst/regions.py)
        self.style_loss = style_loss or style_term(targets, options, content_rgb.shape[:2])
        self.content = losses.ContentLoss(self._content_targets, options.normalization, options.shadow_content)
        self.set_maps(maps or PhotoMaps.of(content_rgb, options))
        self.fn = make_loss_fn(self._features, self.content, self.style_loss, options, self.temporal, self.tv)

    def set_style(self, targets: StyleTargets) -> None:
        """Aim at another painting's targets (the next job's): the traced loss reads them from variables."""
        self.style_loss.set(targets.gaussians if self.options.style_loss == "wasserstein" else targets.grams)

    def set_content(self, content_rgb: np.ndarray, masks: Sequence[np.ndarray] = (),
                    temporal: losses.TemporalTarget | None = None, maps: PhotoMaps | None = None) -> None:
        """Aim at another picture of the same shape (the next tile, the next frame): its content
        features, its masks, its temporal target, its flat-area and shadow factors (a tile's crop of
        its whole picture's ``maps``, else judged on ``content_rgb``)."""
        for name, feats in self._content_features(content_rgb).items():
            self._content_targets[name].assign(feats)
        self.set_maps(maps or PhotoMaps.of(content_rgb, self.options))
        if masks:
            self.style_loss.set_masks(list(masks))
        if temporal is not None:
            self.temporal.set(rgb_to_caffe(temporal.warped_rgb), temporal.mask)

    def set_maps(self, maps: PhotoMaps) -> None:
        """Take a photo's flat-area and shadow factors (or a tile's crop of its whole picture's)."""
        if maps.flat is not None:
            self.tv.set_factors(maps.flat)
        if maps.shadows is not None:
            self.content.set_map(maps.shadows)

    def _content_features(self, content_rgb: np.ndarray) -> dict[str, tf.Tensor]:
        feats = self._features(tf.constant(rgb_to_caffe(content_rgb)))
        return {name: tf.cast(feats[name], tf.float32) for name in self.options.content_layers}


@dataclass(frozen=True)
class PhotoMaps:
    """A whole picture's per-pixel factors: the TV term's (H-1, W-1, 3) and the content term's
    shadow factors (H, W), each None when its option is off. A tiled scale judges them on the whole
    picture and hands each tile its crop: a tile of sky alone would call its own ripples edges."""

    flat: np.ndarray | None
    shadows: np.ndarray | None

    @classmethod
    def of(cls, content_rgb: np.ndarray, options: Options) -> PhotoMaps:
        flat = (flatness.tv_factors(content_rgb, options.flat_smoothing, options.stroke_flow)
                if options.flat_smoothing else None)
        dark = shadows.shadow_map(content_rgb, options.shadow_content) if options.shadow_content else None
        return cls(flat, dark)

    def crop(self, top: int, bottom: int, left: int, right: int) -> PhotoMaps:
        return PhotoMaps(None if self.flat is None else self.flat[top:bottom - 1, left:right - 1],
                         None if self.shadows is None else self.shadows[top:bottom, left:right])


class Problem:
    """Loss and gradient at one image size, as a float64 function for scipy."""

    def __init__(self, program: Program, content_rgb: np.ndarray):
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
        return list(zip(*self.box()))

    def box(self) -> tuple[np.ndarray, np.ndarray]:
        """0..255 for every value, as the lowest and highest value (src/impasto/nst/lbfgs.py's box)."""
        low = self._low()
        return low, low + 255.0

    def _low(self) -> np.ndarray:
        return np.broadcast_to(-BGR_MEAN, self.shape).ravel().astype(np.float64)


def style_term(targets: StyleTargets, options: Options, image_hw: tuple[int, int]):
    """The style term for one blend of paintings: Wasserstein on the layers' Gaussians, or Gram matrices."""
    shares = losses.layer_shares(options.style_layers, options.layer_weights())
    if options.style_loss == "wasserstein":
        return losses.WassersteinStyleLoss(targets.gaussians, shares)
    return losses.StyleLoss({name: targets.grams[name] for name in options.style_layers}, options.normalization,
                            image_hw, shares)


def make_loss_fn(features, content: losses.ContentLoss, style, options: Options,
                 temporal: losses.TemporalLoss | None = None, tv: losses.TVLoss | None = None):
    """loss_and_grad(x) -> (total, weighted content, style, tv and temporal terms, gradient), one
    tf.function: the weighted sum of the named terms (src/impasto/nst/losses.py). ``temporal`` is a
    video frame's term (weighted by temporal_weight; absent, it is 0); ``tv`` the program's TV
    term (its per-pixel factors set for the photo), else a plain one."""
    tv = tv or losses.TVLoss(options.normalization, options.tv_exponent)
    alpha = tf.constant(options.content_weight, tf.float32)
    beta = tf.constant(options.style_weight, tf.float32)
    tv_w = tf.constant(options.tv_weight, tf.float32)
    temporal_w = tf.constant(options.temporal_weight, tf.float32)

    # No AutoGraph: the loss has no Python control flow on tensors, and converting every Keras and
    # loss function it calls took ~0.5 s of a fresh process's first trace (docs/benchmark.md).
    @tf.function(reduce_retracing=False, autograph=False)
    def loss_and_grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            feats = features(x)
            wc, ws, wt = alpha * content(feats), beta * style(feats), tv_w * tv(x)
            wh = temporal_w * temporal(x) if temporal is not None else tf.zeros((), tf.float32)
            total = wc + ws + wt + wh
        return total, wc, ws, wt, wh, tape.gradient(total, x)

    return loss_and_grad


