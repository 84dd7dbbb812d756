"""Each loss term against an independent NumPy computation on tiny arrays."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from app.nst import losses


def _np_gram(features: np.ndarray, normalization: str) -> np.ndarray:
    _, h, w, c = features.shape
    flat = features.reshape(h * w, c).astype(np.float64)
    g = flat.T @ flat
    return g / (h * w * c) if normalization == "gatys" else g


@pytest.fixture
def feats() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.normal(size=(1, 5, 7, 4)).astype(np.float32), rng.normal(size=(1, 5, 7, 4)).astype(np.float32)


@pytest.mark.parametrize("normalization", ["gatys", "blog"])
def test_gram_matches_numpy(feats, normalization):
    a, _ = feats
    got = losses.gram(tf.constant(a), normalization).numpy()
    np.testing.assert_allclose(got, _np_gram(a, normalization), rtol=1e-5, atol=1e-6)
    # Gram of the blog is the plain sum over 35 positions: its diagonal is the sum of squares.
    if normalization == "blog":
        np.testing.assert_allclose(np.diag(got), (a[0] ** 2).sum(axis=(0, 1)), rtol=1e-5)


def test_gram_gradient_is_the_analytic_one(feats):
    """d/dF sum(W * G) = F (W + Wᵀ) / (h·w·c): the one-product gradient of a Gram matrix."""
    a, _ = feats
    weights = np.random.default_rng(3).normal(size=(4, 4))
    x = tf.constant(a)
    with tf.GradientTape() as tape:
        tape.watch(x)
        objective = tf.reduce_sum(tf.constant(weights, tf.float32) * losses.gram(x, "gatys"))
    got = tape.gradient(objective, x).numpy().reshape(35, 4)
    expected = a.reshape(35, 4).astype(np.float64) @ (weights + weights.T) / a.size
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


def test_gram_of_bfloat16_features_is_float32_and_close():
    a = np.random.default_rng(4).uniform(0, 50, size=(1, 32, 24, 16)).astype(np.float32)
    rounded = tf.cast(tf.cast(a, tf.bfloat16), tf.float32).numpy()  # what the bfloat16 network hands over
    got = losses.gram(tf.constant(a, tf.bfloat16), "gatys")
    assert got.dtype == tf.float32
    np.testing.assert_allclose(got.numpy(), _np_gram(rounded, "gatys"), rtol=5e-3)


def test_gram_of_float16_features_does_not_overflow():
    """A 'blog' Gram sums 96×96 products of ~200²: far beyond float16's 65504."""
    a = np.full((1, 96, 96, 2), 200.0, np.float32)
    got = losses.gram(tf.constant(a, tf.float16), "blog").numpy()
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, _np_gram(a, "blog"), rtol=1e-3)


def test_content_loss_mean_and_sum(feats):
    a, b = feats
    expected_sum = ((a.astype(np.float64) - b) ** 2).sum()
    assert float(losses.content_loss(tf.constant(a), tf.constant(b), "blog")) == pytest.approx(expected_sum, rel=1e-5)
    assert float(losses.content_loss(tf.constant(a), tf.constant(b), "gatys")) == pytest.approx(
        expected_sum / a.size, rel=1e-5)


def test_style_loss_gatys_is_mean_squared_gram_difference(feats):
    a, b = feats
    ga, gb = _np_gram(a, "gatys"), _np_gram(b, "gatys")
    got = losses.style_layer_loss(tf.constant(ga, tf.float32), tf.constant(gb, tf.float32), "gatys", (5, 7))
    assert float(got) == pytest.approx(((ga - gb) ** 2).mean(), rel=1e-5)


def test_style_loss_blog_uses_the_articles_constant(feats):
    """sum((S-C)^2) / (4 * 3^2 * (h*w)^2) with h, w the IMAGE size (not the layer's)."""
    a, b = feats
    s, c = _np_gram(a, "blog"), _np_gram(b, "blog")
    image_h, image_w = 40, 56  # the image this 5×7 layer came from
    expected = ((s - c) ** 2).sum() / (4.0 * 9.0 * (image_h * image_w) ** 2)
    got = losses.style_layer_loss(tf.constant(s, tf.float32), tf.constant(c, tf.float32), "blog", (image_h, image_w))
    assert float(got) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("normalization,exponent", [("gatys", 1.0), ("blog", 1.25), ("gatys", 1.5)])
def test_tv_loss_matches_numpy(normalization, exponent):
    rng = np.random.default_rng(2)
    x = rng.uniform(-100, 100, size=(1, 6, 9, 3)).astype(np.float32)
    xd = x.astype(np.float64)
    a = (xd[:, :-1, :-1, :] - xd[:, 1:, :-1, :]) ** 2
    b = (xd[:, :-1, :-1, :] - xd[:, :-1, 1:, :]) ** 2
    terms = (a + b) ** exponent
    expected = terms.mean() if normalization == "gatys" else terms.sum()
    assert float(losses.tv_loss(tf.constant(x), normalization, exponent)) == pytest.approx(expected, rel=1e-4)


def test_tv_loss_is_zero_for_a_flat_image():
    flat = tf.fill((1, 8, 8, 3), 12.5)
    assert float(losses.tv_loss(flat, "blog", 1.25)) == 0.0
