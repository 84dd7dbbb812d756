"""The three loss terms of Gatys et al., in two normalisations, and a Wasserstein-2 style term.

'gatys' (Impasto's default): every term is a mean, and each layer's Gram matrix is divided by its
positions × channels, so all style layers count (with one constant for all layers the first layer
is 97 % of the style term and the picture only changes colour; docs/design-notes.md).

'blog': the design article's sums, kept exactly for the ``seed`` preset: content
sum((F-P)²), style sum((S-C)²) / (4·3²·(h·w)²) with h, w the image size, TV sum((a+b)^1.25).

'wasserstein' style (``style_loss``): each layer's features are summarised by their mean and
covariance, and the term is the squared 2-Wasserstein distance between the two Gaussians with those
moments, as crowsonkb/style-transfer-pytorch does. The mean is matched on its own (not folded into
a Gram matrix), which carries the painting's palette and overall tone.

Features arrive as (1, H, W, C) tensors in the network's compute dtype; every loss is float32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import tensorflow as tf

from impasto.nst import shadows

# The Wasserstein term is quadratic in the features where a 'gatys' Gram term is quartic; this
# factor brings it to the Gram term's size at a photo start (measured on the three sample
# paintings at 256 px), so that one style_weight means about as much style with either.
WASSERSTEIN_SCALE = 0.1
# Added to both covariances' diagonals (features in caffe units have variances of 10²-10⁴): a
# layer's covariance from fewer positions than channels is singular, where tr(√M) has no gradient
# (such a layer's cross term is taken over its positions instead: wasserstein_distance).
COV_EPS = 1.0
# Eigenvalues below this are treated as this in tr(√M)'s gradient: round-off can leave the
# smallest of a 512×512 matrix near 0 or below, and a matrix over positions has one at 0 (centring),
# where ½·M^-½ would blow up.
EIGEN_FLOOR = 1e-2


def gram(features: tf.Tensor, normalization: str) -> tf.Tensor:
    """Channel-by-channel float32 Gram matrix of one (1, H, W, C) feature map.

    Features of a lower precision are widened first: float16 because a Gram sum over every
    position overflows its range, bfloat16 because a Gram rounded to bfloat16 (0.2 % per entry)
    made the loss too noisy for L-BFGS's line search: on Tübingen × The Shipwreck at 256 px the
    first line search failed and the whole scale was skipped (the default 512 px job kept only its
    last 30 iterations). Widening costs about 10 % per evaluation.
    """
    channels = tf.shape(features)[-1]
    if features.dtype != tf.float32:
        features = tf.cast(features, tf.float32)
    flat = tf.reshape(features, (-1, channels))
    g = tf.cast(_symmetric_gram(flat), tf.float32)
    if normalization == "gatys":
        positions = tf.cast(tf.shape(flat)[0], tf.float32)
        g = g / (positions * tf.cast(channels, tf.float32))
    return g


def _symmetric_gram(flat: tf.Tensor) -> tf.Tensor:
    """flatᵀ·flat, whose gradient takes one product, flat·(dG + dGᵀ), where autodiff makes two: the
    tape sees only q = stop(flat)ᵀ·flat, as q + qᵀ - stop(q) (the value of q, to a rounding).

    Not tf.custom_gradient: in a traced function it registers a gradient function in TensorFlow's
    global registry at every trace, and so kept every traced graph alive (~35 MB for each picture
    shape a warm runner ever painted, never freed); ``_with_gradient`` likewise."""
    q = tf.matmul(tf.stop_gradient(flat), flat, transpose_a=True)
    return q + (tf.transpose(q) - tf.stop_gradient(q))


def _with_gradient(value: tf.Tensor, x: tf.Tensor, gradient: tf.Tensor) -> tf.Tensor:
    """A scalar equal to ``value`` whose gradient with respect to ``x`` is ``gradient`` (both computed
    outside the tape): value + ⟨x, gradient⟩ - stop(⟨x, gradient⟩), the last two the same tensor
    (a tf.custom_gradient without its leak: ``_symmetric_gram``)."""
    linear = tf.reduce_sum(x * tf.stop_gradient(gradient))
    return tf.stop_gradient(value) + (linear - tf.stop_gradient(linear))


def content_loss(features: tf.Tensor, target: tf.Tensor, normalization: str,
                 factors: tf.Tensor | None = None) -> tf.Tensor:
    """Squared feature difference; ``factors`` (1, h, w, 1), if given, weigh each position's
    (src/impasto/nst/shadows.py)."""
    diff = tf.square(tf.cast(features, tf.float32) - target)
    if factors is not None:
        diff = diff * factors
    return tf.reduce_mean(diff) if normalization == "gatys" else tf.reduce_sum(diff)


def style_layer_loss(g: tf.Tensor, target: tf.Tensor, normalization: str, image_hw: tuple[int, int]) -> tf.Tensor:
    """Squared Gram difference for one layer (``image_hw`` is the image's size, used by 'blog')."""
    diff = tf.square(g - target)
    if normalization == "gatys":
        return tf.reduce_mean(diff)
    height, width = image_hw
    return tf.reduce_sum(diff) / (4.0 * 3.0**2 * float(height * width) ** 2)


def tv_loss(x: tf.Tensor, normalization: str, exponent: float, factors: tf.Tensor | None = None) -> tf.Tensor:
    """Total variation of a (1, H, W, 3) image: (dx² + dy²)^exponent, as a mean or a sum.
    ``factors`` (1, H-1, W-1, 3), if given, weigh each pixel's term in every direction, add a term
    along a direction, and give that direction's angle (src/impasto/nst/flatness.py)."""
    down = x[:, :-1, :-1, :] - x[:, 1:, :-1, :]
    across = x[:, :-1, :-1, :] - x[:, :-1, 1:, :]
    term = _power(tf.square(down) + tf.square(across), exponent)
    if factors is not None:
        every, along, angle = factors[..., 0:1], factors[..., 1:2], factors[..., 2:3]
        # 2·(change along)²: the same size as dx² + dy² for a change of no particular direction
        lengthwise = 2.0 * tf.square(tf.cos(angle) * across + tf.sin(angle) * down)
        term = every * term + along * _power(lengthwise, exponent)
    return tf.reduce_mean(term) if normalization == "gatys" else tf.reduce_sum(term)


def _power(values: tf.Tensor, exponent: float) -> tf.Tensor:
    return values if exponent == 1.0 else tf.pow(values, exponent)


def moments(features: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Float32 mean (C,) and covariance (C, C) of a (1, H, W, C) feature map over its positions."""
    channels = tf.shape(features)[-1]
    flat = tf.reshape(tf.cast(features, tf.float32), (-1, channels))
    positions = tf.cast(tf.shape(flat)[0], tf.float32)
    mean = tf.reduce_mean(flat, axis=0)
    second = _symmetric_gram(flat) / positions
    return mean, second - mean[:, None] * mean[None, :]


def trace_sqrt(m: tf.Tensor) -> tf.Tensor:
    """tr(√M) of a symmetric positive semi-definite float64 M, from its eigenvalues; its gradient
    ½·M^-½ with the eigenvalues floored at EIGEN_FLOOR. Both come from one LAPACK call
    (``_trace_sqrt_and_gradient``)."""
    value, gradient = tf.numpy_function(_trace_sqrt_and_gradient, [m], [tf.float64, tf.float64], stateful=False)
    value.set_shape(())
    gradient.set_shape(m.shape)
    return _with_gradient(value, m, gradient)


def _trace_sqrt_and_gradient(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LAPACK's divide-and-conquer eigensolver: 2-2.5× less CPU than TensorFlow's own for the
    512×512 covariances of every evaluation (docs/design-notes.md)."""
    values, vectors = scipy.linalg.eigh(m, driver="evd", check_finite=False)
    inverse_root = 1.0 / np.sqrt(np.maximum(values, EIGEN_FLOOR))
    gradient = 0.5 * (vectors * inverse_root[None, :]) @ vectors.T
    return np.float64(np.sum(np.sqrt(np.maximum(values, 0.0)))), gradient


@dataclass(frozen=True)
class GaussianTarget:
    """A painting's features at one layer as a Gaussian: mean, covariance (+ COV_EPS·I) and its
    square root, in float64."""

    mean: np.ndarray
    cov: np.ndarray
    cov_sqrt: np.ndarray

    @classmethod
    def from_moments(cls, mean: np.ndarray, second: np.ndarray) -> GaussianTarget:
        """From the mean and the second raw moment E[f·fᵀ] (these two blend linearly across
        paintings; a covariance does not)."""
        mean, second = mean.astype(np.float64), second.astype(np.float64)
        cov = second - np.outer(mean, mean) + COV_EPS * np.eye(len(mean))
        values, vectors = np.linalg.eigh((cov + cov.T) / 2)
        return cls(mean, cov, (vectors * np.sqrt(np.maximum(values, 0.0))) @ vectors.T)

    @property
    def cov_trace(self) -> float:
        return float(np.trace(self.cov))


class GaussianSlot:
    """A layer's Gaussian target held in variables, so that one traced loss serves every painting
    (``assign`` re-aims it): float32 mean, float64 covariance root and trace, as GaussianTarget's."""

    def __init__(self, target: GaussianTarget) -> None:
        self.mean = tf.Variable(target.mean.astype(np.float32), trainable=False)
        self.cov_sqrt = tf.Variable(target.cov_sqrt, trainable=False)
        self.cov_trace = tf.Variable(target.cov_trace, dtype=tf.float64, trainable=False)

    def assign(self, target: GaussianTarget) -> None:
        self.mean.assign(target.mean.astype(np.float32))
        self.cov_sqrt.assign(target.cov_sqrt)
        self.cov_trace.assign(target.cov_trace)


def wasserstein_layer_loss(features: tf.Tensor, target: GaussianTarget | GaussianSlot) -> tf.Tensor:
    """Squared 2-Wasserstein distance between the Gaussians of the result's and the painting's
    features, per channel: (|μ-μₛ|² + tr Σ + tr Σₛ - 2·tr √(Σₛ^½ Σ Σₛ^½)) / C, both Σ + COV_EPS·I.

    The traces are 10³-10⁴ times the distance they add up to, so this sum (and the eigenvalues
    in it) is taken in float64: in float32 its round-off was noise enough to stop L-BFGS's line
    search early. The C×C matrices cost ~0.05 s per 512-channel layer whatever the picture's size,
    so a layer with fewer positions than channels takes its cross term over its positions instead
    (``wasserstein_over_positions``).
    """
    if fewer_positions_than_channels(features):
        channels = features.shape[-1]
        flat = tf.reshape(tf.cast(features, tf.float32), (-1, channels))
        mean = tf.reduce_mean(flat, axis=0)
        return wasserstein_over_positions(mean, (flat - mean) / math.sqrt(flat.shape[0]), target)
    return wasserstein_distance(*moments(features), target)


def fewer_positions_than_channels(features: tf.Tensor) -> bool:
    """Whether a (1, H, W, C) feature map of a traced shape has fewer positions (H·W) than channels."""
    _, height, width, channels = features.shape
    return None not in (height, width, channels) and height * width < channels


def wasserstein_distance(mean: tf.Tensor, cov: tf.Tensor, target: GaussianTarget | GaussianSlot) -> tf.Tensor:
    """``wasserstein_layer_loss`` of features with this float32 mean (C,) and covariance (C, C)
    (the whole map's, or a masked region's: src/impasto/nst/regions.py)."""
    channels = tf.shape(mean)[0]
    cov = tf.cast(cov, tf.float64) + COV_EPS * tf.eye(channels, dtype=tf.float64)
    root = tf.convert_to_tensor(target.cov_sqrt, tf.float64)
    cross = trace_sqrt(tf.matmul(root, tf.matmul(cov, root)))
    return _distance(mean, tf.linalg.trace(cov), cross, target)


def wasserstein_over_positions(mean: tf.Tensor, spread: tf.Tensor,
                               target: GaussianTarget | GaussianSlot) -> tf.Tensor:
    """``wasserstein_distance`` for features of fewer positions n than channels, their covariance
    given as Σ = spreadᵀ·spread (``spread`` (n, C): the centred rows, scaled). tr √(R Σ R), with
    R = (Σₛ + COV_EPS·I)^½, is tr √(B·Bᵀ) for B = spread·R: an n×n eigenproblem instead of C×C
    (block4's 512 channels from 108 positions at 96 px). Σ itself has no COV_EPS·I here, so the
    term is exact for Σ as it is: the ridge only gave a singular Σ a root in C×C, and the painting
    keeps its own."""
    spread = tf.cast(spread, tf.float64)
    across = tf.matmul(spread, tf.convert_to_tensor(target.cov_sqrt, tf.float64))
    cross = trace_sqrt(tf.matmul(across, across, transpose_b=True))
    return _distance(mean, tf.reduce_sum(tf.square(spread)), cross, target)


def _distance(mean: tf.Tensor, cov_trace: tf.Tensor, cross: tf.Tensor, target: GaussianTarget | GaussianSlot):
    mean_term = tf.cast(tf.reduce_sum(tf.square(mean - tf.cast(target.mean, tf.float32))), tf.float64)
    distance = mean_term + cov_trace + tf.cast(target.cov_trace, tf.float64) - 2.0 * cross
    return tf.cast(WASSERSTEIN_SCALE * distance / tf.cast(tf.shape(mean)[0], tf.float64), tf.float32)


# -- the terms as small objects, each holding its targets (as crowsonkb/style-transfer-pytorch does) --


class ContentLoss:
    """How far the result's features are from the photo's, summed over the content layers. With a
    ``shadow_strength``, each position weighed by how dark the photo is there (src/impasto/nst/shadows.py):
    the factors sit in variables, set for each photo (``set_map``), like the targets."""

    def __init__(self, targets: dict[str, tf.Variable], normalization: str, shadow_strength: float = 0.0) -> None:
        self.targets, self.normalization = targets, normalization
        self.factors = {name: tf.Variable(tf.ones((*target.shape[:3], 1), tf.float32), trainable=False)
                        for name, target in targets.items()} if shadow_strength > 0 else {}

    def set_map(self, factors: np.ndarray) -> None:
        """Aim the per-position factors at a photo's pixel map of them (H, W) (``shadows.shadow_map``,
        or a tile's crop of its whole picture's)."""
        for name, variable in self.factors.items():
            variable.assign(shadows.at_layer(factors, name))

    def __call__(self, features: dict[str, tf.Tensor]) -> tf.Tensor:
        return tf.add_n([content_loss(features[name], target, self.normalization, self.factors.get(name))
                         for name, target in self.targets.items()])


def layer_shares(layers: tuple[str, ...], weights: tuple[float, ...]) -> dict[str, float]:
    """Each style layer's factor in the style term: its weight (1 when ``weights`` is empty) over
    the number of layers. The article sums its layers; the mean keeps style_weight's meaning when
    layers are added, and a weight stays a plain factor on its layer's term."""
    raw = weights or (1.0,) * len(layers)
    return {name: float(w) / len(layers) for name, w in zip(layers, raw)}


class StyleLoss:
    """How far the result's Gram matrices are from the painting's, over the style layers. The
    targets sit in variables: ``set`` aims the traced loss at another painting."""

    def __init__(self, grams: dict[str, np.ndarray], normalization: str, image_hw: tuple[int, int],
                 shares: dict[str, float] | None = None) -> None:
        self.grams = {name: tf.Variable(np.asarray(g, np.float32), trainable=False) for name, g in grams.items()}
        self.normalization, self.image_hw = normalization, image_hw
        self.shares = shares or {name: 1.0 / len(grams) for name in grams}

    def set(self, grams: dict[str, np.ndarray]) -> None:
        for name, variable in self.grams.items():
            variable.assign(np.asarray(grams[name], np.float32))

    def __call__(self, features: dict[str, tf.Tensor]) -> tf.Tensor:
        return tf.add_n([self.shares[name] * style_layer_loss(gram(features[name], self.normalization), target,
                                                              self.normalization, self.image_hw)
                         for name, target in self.grams.items()])


class WassersteinStyleLoss:
    """How far the result's feature distributions (mean and covariance) are from the painting's.
    The targets sit in variables: ``set`` aims the traced loss at another painting."""

    def __init__(self, targets: dict[str, GaussianTarget], shares: dict[str, float]) -> None:
        self.targets = {name: GaussianSlot(target) for name, target in targets.items()}
        self.shares = shares

    def set(self, targets: dict[str, GaussianTarget]) -> None:
        for name, slot in self.targets.items():
            slot.assign(targets[name])

    def __call__(self, features: dict[str, tf.Tensor]) -> tf.Tensor:
        return tf.add_n([self.shares[name] * wasserstein_layer_loss(features[name], target)
                         for name, target in self.targets.items()])


class TVLoss:
    """Total variation of the result: how much neighbouring pixels differ (smoothness). With a
    ``flat_boost``, stronger where the photo is flat and, in part, along the photo's structure: its
    per-pixel factors (``flatness.tv_factors``) sit in a variable, set for each photo
    (``set_factors``), so one traced loss serves every tile and frame of a shape."""

    def __init__(self, normalization: str, exponent: float, image_hw: tuple[int, int] | None = None,
                 flat_boost: float = 0.0) -> None:
        self.normalization, self.exponent = normalization, exponent
        self.factors = None
        if flat_boost > 0 and image_hw is not None:
            height, width = image_hw
            self.factors = tf.Variable(tf.zeros((1, height - 1, width - 1, 3), tf.float32), trainable=False)

    def set_factors(self, factors: np.ndarray) -> None:
        """Take a photo's per-pixel factors (H-1, W-1, 3), or a tile's crop of its whole picture's."""
        if self.factors is not None:
            self.factors.assign(np.asarray(factors, np.float32)[None])

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tv_loss(x, self.normalization, self.exponent, self.factors)


@dataclass(frozen=True)
class TemporalTarget:
    """What a video frame is held to (Ruder et al. 2016, eq. 7): the previous stylised frame warped
    onto this one, as RGB (H, W, 3), and where that can be trusted, (H, W) in 0..1."""

    warped_rgb: np.ndarray
    mask: np.ndarray


def temporal_loss(x: tf.Tensor, target: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """(1/D)·Σ c·(x - ω)² over the D = H·W·3 values of a (1, H, W, 3) image; ``mask`` (1, H, W, 1)
    is c, ``target`` ω in the same (caffe) space as x. A mean, like the 'gatys' terms, so one
    temporal_weight means the same at every size."""
    return tf.reduce_mean(mask * tf.square(tf.cast(x, tf.float32) - target))


class TemporalLoss:
    """How far the result is from the previous frame's result, warped, where the flow is reliable.
    The target and the mask are variables (``set`` per frame): one traced loss serves a whole clip."""

    def __init__(self, image_hw: tuple[int, int]) -> None:
        height, width = image_hw
        self.target = tf.Variable(tf.zeros((1, height, width, 3), tf.float32), trainable=False)
        self.mask = tf.Variable(tf.zeros((1, height, width, 1), tf.float32), trainable=False)

    def set(self, target_caffe: np.ndarray, mask: np.ndarray) -> None:
        """ω (caffe space, (1, H, W, 3) or (H, W, 3)) and c ((H, W) in 0..1)."""
        self.target.assign(np.asarray(target_caffe, np.float32).reshape(self.target.shape))
        self.mask.assign(np.asarray(mask, np.float32).reshape(self.mask.shape))

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return temporal_loss(x, self.target, self.mask)
