"""The style term with masks: each painting's style statistics matched inside its own region.

Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer", §4 (spatial
control), as cysmith/neural-style-tf's --style_mask_imgs does it: at every style layer the mask is
brought to the layer's resolution and the result's statistics are taken over the masked positions
only (features weighted by the mask, normalised by the mask's area), then compared with that
painting's own target. With ``style_loss='gram'`` the statistic is the Gram matrix; with
'wasserstein' (the default) the mean and covariance, compared by the 2-Wasserstein distance as the
unmasked term does (src/impasto/nst/losses.py). Always the per-layer normalisation ('gatys').

The masks sit in variables: every tile of a tiled scale sets its own part and reuses one traced
loss function (src/impasto/nst/program.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from impasto.nst import losses
from impasto.nst import masks as mask_ops
from impasto.nst.targets import compute_style_targets
from impasto.nst.vgg import layer_hw

# A region smaller than this share of a layer's positions is left out of that layer (its Gram
# would be the statistics of a handful of positions, mostly feathered edge).
MIN_AREA = 1e-3


@dataclass
class Region:
    """One painting's part: its targets per layer (Gram matrices or Gaussians), its mask per layer
    (variables, (1, h, w, 1) at each layer's resolution), its weight (a variable: 0 where the
    mask leaves this painting out of the picture optimised)."""

    targets: dict
    masks: dict[str, tf.Variable]
    weight: tf.Variable
    share: float  # its blend share (equal shares weigh 1 each, as one painting alone does)


class RegionStyleLoss:
    """Sum over paintings of weight × (the layers' shares of the masked statistic's distance)."""

    def __init__(self, targets: list[dict], masks: list[np.ndarray], weights: list[float],
                 image_hw: tuple[int, int], shares: dict[str, float], kind: str = "gram") -> None:
        self.layers, self.shares, self.kind, self.image_hw = tuple(targets[0]), shares, kind, image_hw
        self.regions = []
        for painting_targets, weight in zip(targets, weights):
            layer_masks = {name: tf.Variable(tf.zeros((1, *layer_hw(name, image_hw), 1)), trainable=False)
                           for name in self.layers}
            if kind == "gram":
                painting_targets = {name: tf.constant(t) for name, t in painting_targets.items()}
            self.regions.append(Region(painting_targets, layer_masks, tf.Variable(0.0, trainable=False), weight))
        self.set_masks(masks)

    def set_masks(self, masks: list[np.ndarray]) -> None:
        """The masks of the picture now optimised (fitted to ``image_hw``): one per painting."""
        for region, mask in zip(self.regions, masks):
            layer_masks = {name: mask_ops.downsample(mask, layer_hw(name, self.image_hw)) for name in self.layers}
            for name, small in layer_masks.items():
                region.masks[name].assign(small[None, :, :, None])
            present = max(m.mean() for m in layer_masks.values()) >= MIN_AREA  # else: no part of this painting
            region.weight.assign(region.share if present else 0.0)

    def __call__(self, features: dict[str, tf.Tensor]) -> tf.Tensor:
        total = tf.constant(0.0, tf.float32)
        for region in self.regions:
            per_layer = [self.shares[name] * self._distance(features[name], region.masks[name], region.targets[name])
                         for name in self.layers]
            total += region.weight * tf.add_n(per_layer)
        return total

    def _distance(self, features: tf.Tensor, mask: tf.Tensor, target) -> tf.Tensor:
        if self.kind == "wasserstein":
            if losses.fewer_positions_than_channels(features):
                return losses.wasserstein_over_positions(*masked_spread(features, mask), target)
            return losses.wasserstein_distance(*masked_moments(features, mask), target)
        return tf.reduce_mean(tf.square(masked_gram(features, mask) - target))


def _flat(features: tf.Tensor, mask: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(positions, C) float32 features, (positions, 1) weights and their sum (the region's area)."""
    features = tf.cast(features, tf.float32)
    flat = tf.reshape(features, (-1, tf.shape(features)[-1]))
    weights = tf.reshape(tf.cast(mask, tf.float32), (-1, 1))
    return flat, weights, tf.maximum(tf.reduce_sum(weights), 1e-6)


def masked_gram(features: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Gram matrix of the positions under ``mask`` (weighted by it), divided by area × channels."""
    flat, weights, area = _flat(features, mask)
    channels = tf.cast(tf.shape(flat)[-1], tf.float32)
    return tf.matmul(flat * weights, flat, transpose_a=True) / (area * channels)


def masked_moments(features: tf.Tensor, mask: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Mean (C,) and covariance (C, C) of the features under ``mask``, each position weighted by it:
    μ = Σ mᵢfᵢ / Σ mᵢ, Σ = Σ mᵢfᵢfᵢᵀ / Σ mᵢ − μμᵀ (``losses.moments`` where the mask is all ones)."""
    flat, weights, area = _flat(features, mask)
    mean = tf.reduce_sum(flat * weights, axis=0) / area
    second = tf.matmul(flat * weights, flat, transpose_a=True) / area
    return mean, second - mean[:, None] * mean[None, :]


def masked_spread(features: tf.Tensor, mask: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Mean (C,) of the features under ``mask``, each position weighted by it, μ = Σ mᵢfᵢ / Σ mᵢ,
    and their spread (positions, C), the rows √mᵢ·(fᵢ − μ) / √Σ mᵢ, whose spreadᵀ·spread is
    ``masked_moments``' covariance (for ``losses.wasserstein_over_positions``)."""
    flat, weights, area = _flat(features, mask)
    mean = tf.reduce_sum(flat * weights, axis=0) / area
    return mean, (flat - mean) * tf.sqrt(weights / area)


def region_style_loss(vgg, styles: list[np.ndarray], blend: np.ndarray, masks: list[np.ndarray], options,
                      longest: int, precision: str, content_hw: tuple[int, int],
                      tile_hw: tuple[int, int] | None = None, style_pixels: int | None = None) -> RegionStyleLoss:
    """The style term of one scale with masks (already fitted to the picture optimised: the scale,
    or a tile of ``tile_hw`` in a scale of ``content_hw``): each painting's own targets of the
    whole painting (cached like the blended ones), weighted by its blend share."""

    targets = []
    for style in styles:
        found = compute_style_targets(vgg, [style], np.ones(1), options, longest, precision, content_hw,
                                      max_pixels=style_pixels)
        targets.append(found.gaussians if options.style_loss == "wasserstein" else found.grams)
    shares = losses.layer_shares(options.style_layers, options.layer_weights())
    return RegionStyleLoss(targets, masks, [float(w) * len(styles) for w in blend], tile_hw or content_hw,
                           shares, options.style_loss)
