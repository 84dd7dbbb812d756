"""The style term with masks: each painting's Gram matrices matched inside its own region.

Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer", §4 (spatial
control), as cysmith/neural-style-tf's --style_mask_imgs does it: at every style layer the mask is
brought to the layer's resolution, the result's Gram matrix is taken over the masked positions
only (features weighted by the mask, normalised by the mask's area), and compared with that
painting's own Gram target. Always the per-layer normalisation ('gatys').
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from app.nst import masks as mask_ops
from app.nst.options import VGG_LAYERS

# A region smaller than this share of a layer's positions is left out of that layer (its Gram
# would be the statistics of a handful of positions, mostly feathered edge).
MIN_AREA = 1e-3


def pool_factor(name: str) -> int:
    """How many image pixels one position of a VGG16 layer spans per side: 2 per pooling before it."""
    return 2 ** (int(VGG_LAYERS[VGG_LAYERS.index(name)].split("_")[0].removeprefix("block")) - 1)


def layer_hw(name: str, image_hw: tuple[int, int]) -> tuple[int, int]:
    """A VGG16 layer's feature-map size: each block after the first halves it (2×2 pooling, floor)."""
    return image_hw[0] // pool_factor(name), image_hw[1] // pool_factor(name)


@dataclass
class Region:
    """One painting's part: its Gram targets per layer, its mask per layer, its weight."""

    grams: dict[str, tf.Tensor]
    masks: dict[str, tf.Tensor]  # (1, h, w, 1) float32 at each layer's resolution
    weight: float


class RegionStyleLoss:
    """Sum over paintings of weight × (mean over layers of the masked Gram's squared difference)."""

    def __init__(self, grams: list[dict[str, np.ndarray]], masks: list[np.ndarray], weights: list[float],
                 image_hw: tuple[int, int]) -> None:
        self.layers = tuple(grams[0])
        self.regions = []
        for painting_grams, mask, weight in zip(grams, masks, weights):
            layer_masks = {name: mask_ops.downsample(mask, layer_hw(name, image_hw)) for name in self.layers}
            if max(m.mean() for m in layer_masks.values()) < MIN_AREA:
                continue  # an empty mask: this painting goes nowhere
            self.regions.append(Region(
                {name: tf.constant(painting_grams[name]) for name in self.layers},
                {name: tf.constant(m[None, :, :, None]) for name, m in layer_masks.items()}, weight))

    def __call__(self, features: dict[str, tf.Tensor]) -> tf.Tensor:
        total = tf.constant(0.0, tf.float32)
        for region in self.regions:
            per_layer = [tf.reduce_mean(tf.square(masked_gram(features[name], region.masks[name]) - region.grams[name]))
                         for name in self.layers]
            total += region.weight * tf.add_n(per_layer) / len(per_layer)
        return total


def masked_gram(features: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Gram matrix of the positions under ``mask`` (weighted by it), divided by area × channels."""
    features = tf.cast(features, tf.float32)
    channels = tf.shape(features)[-1]
    flat = tf.reshape(features, (-1, channels))
    weights = tf.reshape(mask, (-1, 1))
    area = tf.maximum(tf.reduce_sum(weights), 1e-6)
    return tf.matmul(flat * weights, flat, transpose_a=True) / (area * tf.cast(channels, tf.float32))


def region_style_loss(vgg, styles: list[np.ndarray], blend: np.ndarray, masks: list[np.ndarray], options,
                      longest: int, precision: str, content_hw: tuple[int, int],
                      tile_hw: tuple[int, int] | None = None, style_pixels: int | None = None) -> RegionStyleLoss:
    """The style term of one scale with masks (already fitted to the picture optimised: the scale,
    or a tile of ``tile_hw`` in a scale of ``content_hw``): each painting's own Gram targets
    (cached like the blended ones), weighted by its blend share (equal shares weigh 1 each, as one
    painting alone does)."""
    from app.nst.targets import compute_style_targets

    # Regions match Gram matrices whatever style_loss says: a masked Wasserstein term (per-region
    # mean and covariance) is not written yet.
    gram_options = options.replace(style_loss="gram")
    grams = [compute_style_targets(vgg, [style], np.ones(1), gram_options, longest, precision, content_hw,
                                   max_pixels=style_pixels).grams
             for style in styles]
    return RegionStyleLoss(grams, masks, [float(w) * len(styles) for w in blend], tile_hw or content_hw)
