"""Style targets (blended Gram matrices), computed once per style and size and cached.

The cache is keyed by the style images' content hashes, the size they were resized to, the
layers, the normalisation, the precision and the weights, so the next job with the same painting
and settings skips the style image's forward passes.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import tensorflow as tf

from impasto.nst import losses
from impasto.nst.images import resize_to
from impasto.nst.options import Options
from impasto.nst.shapes import style_shape
from impasto.nst.strips import grams_in_strips, moments_in_strips
from impasto.nst.vgg import VggWeights, build_feature_fn, rgb_to_caffe

CACHE_SIZE = 16
_cache: OrderedDict[tuple, StyleTargets] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class StyleTargets:
    grams: dict[str, np.ndarray]  # style_loss 'gram'
    style_sizes: tuple[tuple[int, int], ...]
    gaussians: dict[str, losses.GaussianTarget] = field(default_factory=dict)  # style_loss 'wasserstein'


def compute_style_targets(vgg: VggWeights, styles: list[np.ndarray], blend: np.ndarray, options: Options,
                          longest: int, precision: str, content_hw: tuple[int, int] | None = None, *,
                          keys: Sequence[str | None] | None = None, max_pixels: int | None = None) -> StyleTargets:
    """Gram matrices (or, for the Wasserstein loss, feature means and second moments) of each style
    layer, mixed by ``blend`` (weights that sum to 1).

    ``keys`` names each style for the cache (a built-in's name and file hash); a style without one
    is keyed by a hash of its pixels. A painting over ``max_pixels`` (what the memory allows
    through the network at once) goes through in strips.
    """
    shapes = [style_shape(s.shape[:2], options, longest, content_hw) for s in styles]
    key = _cache_key(vgg, styles, blend, options, shapes, precision, keys)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    features = build_feature_fn(vgg, options.style_layers, precision)
    resized = [resize_to(style, (width, height)) for style, (height, width) in zip(styles, shapes)]
    sizes = tuple(r.shape[:2] for r in resized)
    if options.style_loss == "wasserstein":
        targets = StyleTargets({}, sizes, _blended_gaussians(features, resized, blend, options, max_pixels))
    else:
        targets = StyleTargets(_blended_grams(features, resized, blend, options, max_pixels), sizes)
    with _lock:
        _cache[key] = targets
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return targets


def _cache_key(vgg: VggWeights, styles: list[np.ndarray], blend: np.ndarray, options: Options, shapes: list,
               precision: str, keys: Sequence[str | None] | None) -> tuple:
    names = tuple(k or hashlib.sha1(s.tobytes() + str(s.shape).encode()).hexdigest()
                  for k, s in zip(list(keys or [None] * len(styles)), styles))
    return (names, tuple(np.round(blend, 6)), tuple(shapes), options.style_layers, options.normalization,
            options.style_loss, precision, vgg.source)


def _blended_gaussians(features, resized: list[np.ndarray], blend: np.ndarray, options: Options,
                       max_pixels: int | None) -> dict[str, losses.GaussianTarget]:
    """Each layer's Gaussian of the paintings' mixture: means and second moments blend linearly."""
    means: dict[str, np.ndarray] = {}
    seconds: dict[str, np.ndarray] = {}
    for weight, style in zip(blend, resized):
        for name, (mean, second) in _moments(features, style, options, max_pixels).items():
            g, mu = second * weight, mean * weight
            means[name] = means[name] + mu if name in means else mu
            seconds[name] = seconds[name] + g if name in seconds else g
    return {name: losses.GaussianTarget.from_moments(means[name], seconds[name]) for name in seconds}


def _blended_grams(features, resized: list[np.ndarray], blend: np.ndarray, options: Options,
                   max_pixels: int | None) -> dict[str, np.ndarray]:
    mixed: dict[str, np.ndarray] = {}
    for weight, style in zip(blend, resized):
        for name, layer_gram in _grams(features, style, options, max_pixels).items():
            g = layer_gram.numpy() * weight
            mixed[name] = mixed[name] + g if name in mixed else g
    return {name: g.astype(np.float32) for name, g in mixed.items()}


def _grams(features, style_rgb: np.ndarray, options: Options, max_pixels: int | None) -> dict[str, tf.Tensor]:
    if max_pixels is not None and style_rgb.shape[0] * style_rgb.shape[1] > max_pixels:
        return grams_in_strips(features, style_rgb, options.style_layers, options.normalization, max_pixels)
    feats = features(tf.constant(rgb_to_caffe(style_rgb)))
    return {name: losses.gram(feats[name], options.normalization) for name in options.style_layers}


def _moments(features, style_rgb: np.ndarray, options: Options,
             max_pixels: int | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each style layer's feature mean and second raw moment (float64), in strips where too large."""
    if max_pixels is not None and style_rgb.shape[0] * style_rgb.shape[1] > max_pixels:
        return moments_in_strips(features, style_rgb, options.style_layers, max_pixels)
    feats = features(tf.constant(rgb_to_caffe(style_rgb)))
    found = {}
    for name in options.style_layers:
        mean, cov = (m.numpy().astype(np.float64) for m in losses.moments(feats[name]))
        found[name] = (mean, cov + np.outer(mean, mean))
    return found


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def cache_size() -> int:
    return len(_cache)
