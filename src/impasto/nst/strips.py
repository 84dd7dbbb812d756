"""Statistics of a painting too large to go through the network at once, strip by strip.

A Gram matrix, a feature mean and a second moment are sums over positions, so they split exactly
into the sums over horizontal strips. Each strip goes through the network with HALO rows of the
painting above and below it (so that features near its edges see what they would see in the whole
painting), and only the positions of its own rows are summed. Strip edges and halos are multiples
of 16 px, so every layer's positions line up with the whole painting's. A painting too wide for a
strip of useful height (a print's painting, enlarged by the style scale) is cut into blocks the
same way along both axes, so what goes through the network stays within ``max_pixels``.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from impasto.nst import losses
from impasto.nst.tiles import ALIGN, strips
from impasto.nst.vgg import layer_hw, pool_factor, rgb_to_caffe

HALO = 96  # px of context each side of a strip (block4-5 features see ~100-200 px around them)


def sums_in_strips(features, style_rgb: np.ndarray, layers: tuple[str, ...],
                   max_pixels: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each layer's sum of features (C,) and of their outer products fᵀf (C, C) over all positions of
    ``style_rgb``, in float64, with at most about ``max_pixels`` pixels through the network at once."""
    height, width = style_rgb.shape[:2]
    rows, columns = block_shape(width, max_pixels)
    sums: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for in_top, in_bottom, top, bottom in strips(height, rows, HALO):
        for in_left, in_right, left, right in strips(width, columns, HALO):
            feats = features(tf.constant(rgb_to_caffe(style_rgb[in_top:in_bottom, in_left:in_right])))
            for name in layers:
                factor = pool_factor(name)
                kept = feats[name][:, (top - in_top) // factor:(bottom - in_top) // factor,
                                   (left - in_left) // factor:(right - in_left) // factor]
                raw = losses.gram(kept, "blog").numpy().astype(np.float64)  # 'blog': the plain sum
                total = tf.reduce_sum(tf.cast(kept, tf.float32), axis=(0, 1, 2)).numpy().astype(np.float64)
                before = sums.get(name, (0.0, 0.0))
                sums[name] = (before[0] + total, before[1] + raw)
            del feats  # the next block's activations replace these, not join them
    return sums


def block_shape(width: int, max_pixels: int) -> tuple[int, int]:
    """(rows, columns) kept per pass: full-width strips while they keep at least as many rows as a
    square block would, else square blocks (halos on four sides) of at most ``max_pixels`` with
    theirs. Full-width strips of a 6144 px painting kept 16 rows of 208 (13x the work) and sent
    twice the budget's pixels through the network."""
    rows = (max_pixels // width - 2 * HALO) // ALIGN * ALIGN
    side = max(ALIGN, (math.isqrt(max_pixels) - 2 * HALO) // ALIGN * ALIGN)
    return (rows, width) if rows >= side else (side, side)


def grams_in_strips(features, style_rgb: np.ndarray, layers: tuple[str, ...], normalization: str,
                    max_pixels: int) -> dict[str, tf.Tensor]:
    """Each layer's Gram matrix of ``style_rgb`` (as ``losses.gram`` would give for the whole
    painting), with at most about ``max_pixels`` pixels through the network at once."""
    grams = {}
    for name, (_, total) in sums_in_strips(features, style_rgb, layers, max_pixels).items():
        positions = np.prod(layer_hw(name, style_rgb.shape[:2]))
        channels = total.shape[0]
        grams[name] = tf.constant(total / (positions * channels) if normalization == "gatys" else total, tf.float32)
    return grams


def moments_in_strips(features, style_rgb: np.ndarray, layers: tuple[str, ...],
                      max_pixels: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each layer's feature mean (C,) and second raw moment E[f·fᵀ] (C, C), float64, in strips."""
    moments = {}
    for name, (total, outer) in sums_in_strips(features, style_rgb, layers, max_pixels).items():
        positions = np.prod(layer_hw(name, style_rgb.shape[:2]))
        moments[name] = (total / positions, outer / positions)
    return moments
