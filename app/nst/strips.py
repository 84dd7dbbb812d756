"""Gram matrices of a painting too large to go through the network at once, strip by strip.

A Gram matrix is a sum over positions, so it splits exactly into the sums over horizontal strips.
Each strip goes through the network with HALO rows of the painting above and below it (so that
features near its edges see what they would see in the whole painting), and only the positions of
its own rows are summed. Strip edges and halos are multiples of 16 px, so every layer's positions
line up with the whole painting's.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from app.nst import losses
from app.nst.regions import layer_hw, pool_factor
from app.nst.tiles import ALIGN, strips
from app.nst.vgg import rgb_to_caffe

HALO = 96  # px of context each side of a strip (block4-5 features see ~100-200 px around them)


def grams_in_strips(features, style_rgb: np.ndarray, layers: tuple[str, ...], normalization: str,
                    max_pixels: int) -> dict[str, tf.Tensor]:
    """Each layer's Gram matrix of ``style_rgb`` (as ``losses.gram`` would give for the whole
    painting), with at most about ``max_pixels`` pixels through the network at once."""
    height, width = style_rgb.shape[:2]
    rows = max(ALIGN, (max_pixels // width - 2 * HALO) // ALIGN * ALIGN)
    sums: dict[str, np.ndarray] = {}
    for in_top, in_bottom, top, bottom in strips(height, rows, HALO):
        feats = features(tf.constant(rgb_to_caffe(style_rgb[in_top:in_bottom])))
        for name in layers:
            factor = pool_factor(name)
            kept = feats[name][:, (top - in_top) // factor:(bottom - in_top) // factor]
            raw = losses.gram(kept, "blog").numpy().astype(np.float64)  # 'blog': the plain sum
            sums[name] = sums.get(name, 0) + raw
    grams = {}
    for name, total in sums.items():
        positions = np.prod(layer_hw(name, (height, width)))
        channels = total.shape[0]
        grams[name] = tf.constant(total / (positions * channels) if normalization == "gatys" else total, tf.float32)
    return grams
