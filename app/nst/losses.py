"""The three loss terms of Gatys et al., in two normalisations.

'gatys' (Impasto's default): every term is a mean, and each layer's Gram matrix is divided by its
positions × channels, so all style layers count (with one constant for all layers the first layer
is 97 % of the style term and the picture only changes colour; docs/design-notes.md).

'blog': the design article's sums, kept exactly for the ``seed`` preset: content
sum((F-P)²), style sum((S-C)²) / (4·3²·(h·w)²) with h, w the image size, TV sum((a+b)^1.25).

Features arrive as (1, H, W, C) tensors in the network's compute dtype; every loss is float32.
"""

from __future__ import annotations

import tensorflow as tf


def gram(features: tf.Tensor, normalization: str) -> tf.Tensor:
    """Channel-by-channel float32 Gram matrix of one (1, H, W, C) feature map.

    bfloat16 features stay bfloat16 in the product (oneDNN sums in float32 and rounds the result
    once: 0.2 % per entry, 10 % faster per evaluation at 512 px); float16 ones are widened first,
    because a Gram sum over every position overflows float16's range.
    """
    channels = tf.shape(features)[-1]
    if features.dtype not in (tf.float32, tf.bfloat16):
        features = tf.cast(features, tf.float32)
    flat = tf.reshape(features, (-1, channels))
    g = tf.cast(_symmetric_gram(flat), tf.float32)
    if normalization == "gatys":
        positions = tf.cast(tf.shape(flat)[0], tf.float32)
        g = g / (positions * tf.cast(channels, tf.float32))
    return g


@tf.custom_gradient
def _symmetric_gram(flat: tf.Tensor):
    """flatᵀ·flat, whose gradient needs one product, flat·(dG + dGᵀ), where autodiff makes two."""
    def grad(dg: tf.Tensor) -> tf.Tensor:
        return tf.matmul(flat, dg + tf.transpose(dg))
    return tf.matmul(flat, flat, transpose_a=True), grad


def content_loss(features: tf.Tensor, target: tf.Tensor, normalization: str) -> tf.Tensor:
    diff = tf.square(tf.cast(features, tf.float32) - target)
    return tf.reduce_mean(diff) if normalization == "gatys" else tf.reduce_sum(diff)


def style_layer_loss(g: tf.Tensor, target: tf.Tensor, normalization: str, image_hw: tuple[int, int]) -> tf.Tensor:
    """Squared Gram difference for one layer (``image_hw`` is the image's size, used by 'blog')."""
    diff = tf.square(g - target)
    if normalization == "gatys":
        return tf.reduce_mean(diff)
    height, width = image_hw
    return tf.reduce_sum(diff) / (4.0 * 3.0**2 * float(height * width) ** 2)


def tv_loss(x: tf.Tensor, normalization: str, exponent: float) -> tf.Tensor:
    """Total variation of a (1, H, W, 3) image: (dx² + dy²)^exponent, as a mean or a sum."""
    a = tf.square(x[:, :-1, :-1, :] - x[:, 1:, :-1, :])
    b = tf.square(x[:, :-1, :-1, :] - x[:, :-1, 1:, :])
    s = a + b
    term = s if exponent == 1.0 else tf.pow(s, exponent)
    return tf.reduce_mean(term) if normalization == "gatys" else tf.reduce_sum(term)


# -- the terms as small objects, each holding its targets (as crowsonkb/style-transfer-pytorch does) --


class ContentLoss:
    """How far the result's features are from the photo's, summed over the content layers."""

    def __init__(self, targets: dict[str, tf.Tensor], normalization: str) -> None:
        self.targets, self.normalization = targets, normalization

    def __call__(self, features: dict[str, tf.Tensor]) -> tf.Tensor:
        return tf.add_n([content_loss(features[name], target, self.normalization)
                         for name, target in self.targets.items()])


class StyleLoss:
    """How far the result's Gram matrices are from the painting's, averaged over the style layers."""

    def __init__(self, grams: dict[str, tf.Tensor], normalization: str, image_hw: tuple[int, int]) -> None:
        self.grams, self.normalization, self.image_hw = grams, normalization, image_hw

    def __call__(self, features: dict[str, tf.Tensor]) -> tf.Tensor:
        # The article sums its layers; the mean keeps style_weight's meaning when layers are added.
        return tf.add_n([style_layer_loss(gram(features[name], self.normalization), target, self.normalization,
                                          self.image_hw)
                         for name, target in self.grams.items()]) / len(self.grams)


class TVLoss:
    """Total variation of the result: how much neighbouring pixels differ (smoothness)."""

    def __init__(self, normalization: str, exponent: float) -> None:
        self.normalization, self.exponent = normalization, exponent

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tv_loss(x, self.normalization, self.exponent)
