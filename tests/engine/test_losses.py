"""Each loss term against an independent NumPy computation on tiny arrays."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from impasto.nst import flatness, losses


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
    # Summed and kept in float32: a Gram rounded to bfloat16 (0.2 % per entry) stalled L-BFGS
    np.testing.assert_allclose(got.numpy(), _np_gram(rounded, "gatys"), rtol=2e-5)


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


# -- layer shares and the Wasserstein-2 style term ------------------------------------------------


def test_layer_shares_are_weights_over_the_layer_count():
    assert losses.layer_shares(("a", "b"), ()) == {"a": 0.5, "b": 0.5}
    assert losses.layer_shares(("a", "b", "c"), (1.0, 3.0, 6.0)) == pytest.approx({"a": 1 / 3, "b": 1.0, "c": 2.0})


def test_style_loss_weighs_each_layer_by_its_share(feats):
    a, b = feats
    ga, gb = _np_gram(a, "gatys"), _np_gram(b, "gatys")
    target = {"x": tf.constant(gb, tf.float32), "y": tf.constant(ga, tf.float32)}
    term = losses.StyleLoss(target, "gatys", (5, 7), {"x": 0.8, "y": 0.2})
    got = float(term({"x": tf.constant(a), "y": tf.constant(b)}))
    assert got == pytest.approx(0.8 * ((ga - gb) ** 2).mean() + 0.2 * ((gb - ga) ** 2).mean(), rel=1e-5)


def _np_sqrtm(m: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((m + m.T) / 2)
    return (vectors * np.sqrt(np.maximum(values, 0))) @ vectors.T


def _np_w2(a: np.ndarray, b: np.ndarray, result_ridge: bool = True) -> float:
    """Squared 2-Wasserstein distance between the Gaussians fitted to two (1, H, W, C) feature maps,
    per channel, from the textbook formula with SciPy's matrix square root (COV_EPS·I added to both
    covariances, as the loss does; to the painting's only where ``a`` has fewer positions than channels)."""
    from scipy.linalg import sqrtm

    fa, fb = (f.reshape(-1, f.shape[-1]).astype(np.float64) for f in (a, b))
    ma, mb = fa.mean(0), fb.mean(0)
    ridge = losses.COV_EPS * np.eye(fa.shape[1])  # the loss's regularised covariances
    ca, cb = np.cov(fa, rowvar=False, bias=True) + ridge * result_ridge, np.cov(fb, rowvar=False, bias=True) + ridge
    root_b = np.real(sqrtm(cb))
    cross = np.real(sqrtm(root_b @ ca @ root_b))
    return float(((ma - mb) ** 2).sum() + np.trace(ca + cb - 2 * cross)) / fa.shape[1]


def _gaussian(b: np.ndarray) -> losses.GaussianTarget:
    flat = b.reshape(-1, b.shape[-1]).astype(np.float64)
    return losses.GaussianTarget.from_moments(flat.mean(0), flat.T @ flat / len(flat))


def test_moments_are_the_mean_and_the_biased_covariance(feats):
    a, _ = feats
    mean, cov = losses.moments(tf.constant(a))
    flat = a.reshape(35, 4).astype(np.float64)
    np.testing.assert_allclose(mean.numpy(), flat.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cov.numpy(), np.cov(flat, rowvar=False, bias=True), rtol=1e-4, atol=1e-5)


def test_trace_sqrt_and_its_gradient():
    rng = np.random.default_rng(5)
    f = rng.normal(size=(50, 6))
    m = f.T @ f / 50 + 0.5 * np.eye(6)  # well above the eigenvalue floor
    x = tf.constant(m, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = losses.trace_sqrt(x)
    assert float(value) == pytest.approx(np.trace(_np_sqrtm(m)), rel=1e-5)
    # d tr(√M) / dM = ½ M^-½ for a symmetric M
    np.testing.assert_allclose(tape.gradient(value, x).numpy(), 0.5 * np.linalg.inv(_np_sqrtm(m)), rtol=1e-6)


def test_wasserstein_loss_matches_the_textbook_formula(feats):
    a, b = feats
    b = 2.0 * b + 1.5  # a different mean and spread
    got = float(losses.wasserstein_layer_loss(tf.constant(a), _gaussian(b)))
    assert got == pytest.approx(losses.WASSERSTEIN_SCALE * _np_w2(a, b), rel=1e-4)
    # The distance of a picture's features to their own Gaussian is 0
    assert float(losses.wasserstein_layer_loss(tf.constant(b), _gaussian(b))) == pytest.approx(0.0, abs=1e-4)


def test_wasserstein_loss_from_fewer_positions_than_channels():
    """A deep layer of a small picture (6 positions, 16 channels) takes the cross term over its
    positions (a 6×6 eigenproblem): the same value and gradient as the textbook C×C formula with
    the painting's covariance regularised (the result's, singular here, as it is)."""
    rng = np.random.default_rng(7)
    a = rng.normal(1.0, 2.0, (1, 2, 3, 16)).astype(np.float32)
    b = rng.normal(0.5, 3.0, (1, 8, 8, 16)).astype(np.float32)
    x = tf.Variable(a)
    with tf.GradientTape() as tape:
        value = losses.wasserstein_layer_loss(x, _gaussian(b))
    assert float(value) == pytest.approx(losses.WASSERSTEIN_SCALE * _np_w2(a, b, result_ridge=False), rel=1e-4)
    grad, step = tape.gradient(value, x).numpy().ravel(), 1e-2
    for index in np.random.default_rng(8).choice(a.size, 12, replace=False):
        plus, minus = a.astype(np.float64).ravel().copy(), a.astype(np.float64).ravel().copy()
        plus[index] += step
        minus[index] -= step
        numeric = (_np_w2(plus.reshape(a.shape), b, False) - _np_w2(minus.reshape(a.shape), b, False)) / (2 * step)
        assert grad[index] == pytest.approx(numeric * losses.WASSERSTEIN_SCALE, rel=2e-2, abs=1e-4), index


def test_blended_moments_give_the_mixtures_gaussian(feats):
    """Blending means and second moments (what the targets do for several paintings) is the moment
    matching of the mixture, so its covariance includes the spread between the two means."""
    a, b = feats
    b = b + 3.0
    fa, fb = (f.reshape(-1, 4).astype(np.float64) for f in (a, b))
    blended = losses.GaussianTarget.from_moments(0.5 * fa.mean(0) + 0.5 * fb.mean(0),
                                                 0.5 * fa.T @ fa / 35 + 0.5 * fb.T @ fb / 35)
    both = np.concatenate([fa, fb])
    np.testing.assert_allclose(blended.mean, both.mean(0), rtol=1e-5)
    ridge = losses.COV_EPS * np.eye(4)
    np.testing.assert_allclose(blended.cov, np.cov(both, rowvar=False, bias=True) + ridge, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(blended.cov_sqrt @ blended.cov_sqrt, blended.cov, rtol=1e-3, atol=1e-4)


def test_wasserstein_gradient_matches_finite_differences(feats):
    a, b = feats
    target = _gaussian(2.0 * b + 1.0)
    x = tf.Variable(a.astype(np.float32))
    with tf.GradientTape() as tape:
        value = losses.wasserstein_layer_loss(x, target)
    grad = tape.gradient(value, x).numpy().ravel()
    step = 1e-2
    for index in np.random.default_rng(6).choice(a.size, 12, replace=False):
        plus, minus = a.astype(np.float64).ravel().copy(), a.astype(np.float64).ravel().copy()
        plus[index] += step
        minus[index] -= step
        numeric = (_np_w2(plus.reshape(a.shape), 2.0 * b + 1.0)
                   - _np_w2(minus.reshape(a.shape), 2.0 * b + 1.0)) / (2 * step) * losses.WASSERSTEIN_SCALE
        assert grad[index] == pytest.approx(numeric, rel=2e-2, abs=1e-4), index


def test_wasserstein_style_loss_weighs_layers_by_share(feats):
    a, b = feats
    term = losses.WassersteinStyleLoss({"x": _gaussian(b), "y": _gaussian(a)}, {"x": 0.25, "y": 0.75})
    got = float(term({"x": tf.constant(a), "y": tf.constant(a)}))
    assert got == pytest.approx(0.25 * losses.WASSERSTEIN_SCALE * _np_w2(a, b), rel=1e-4, abs=1e-5)


# -- TV weighted by the photo's flatness ------------------------------------------------------------


def _numpy_tv(x: np.ndarray, factors: np.ndarray, exponent: float) -> np.ndarray:
    """The TV term's per-pixel values written out: every·(a² + b²)^e + along·(2·(cos·b + sin·a)²)^e."""
    down = x[:, :-1, :-1, :] - x[:, 1:, :-1, :]
    across = x[:, :-1, :-1, :] - x[:, :-1, 1:, :]
    every, along, angle = factors[..., 0:1], factors[..., 1:2], factors[..., 2:3]
    lengthwise = 2 * (np.cos(angle) * across + np.sin(angle) * down) ** 2
    return every * (down**2 + across**2) ** exponent + along * lengthwise**exponent


def _random_factors(rng, shape: tuple[int, int]) -> np.ndarray:
    return np.stack([rng.uniform(1, 5, shape), rng.uniform(0, 5, shape), rng.uniform(-np.pi, np.pi, shape)],
                    axis=-1)[None]


@pytest.mark.parametrize("normalization,exponent", [("gatys", 1.0), ("blog", 1.25)])
def test_weighted_tv_loss_matches_numpy(normalization, exponent):
    rng = np.random.default_rng(3)
    x = rng.uniform(-100, 100, size=(1, 6, 9, 3)).astype(np.float32)
    factors = _random_factors(rng, (5, 8)).astype(np.float32)
    terms = _numpy_tv(x.astype(np.float64), factors.astype(np.float64), exponent)
    expected = terms.mean() if normalization == "gatys" else terms.sum()
    got = losses.tv_loss(tf.constant(x), normalization, exponent, tf.constant(factors))
    assert float(got) == pytest.approx(expected, rel=1e-4)


def test_weighted_tv_gradient_matches_finite_differences():
    rng = np.random.default_rng(4)
    x0 = rng.uniform(-50, 50, size=(1, 5, 7, 3))
    factors = _random_factors(rng, (4, 6))
    x = tf.Variable(x0.astype(np.float32))
    with tf.GradientTape() as tape:
        value = losses.tv_loss(x, "gatys", 1.0, tf.constant(factors, tf.float32))
    grad = tape.gradient(value, x).numpy().ravel()
    step = 1e-3
    for index in rng.choice(x0.size, 15, replace=False):
        plus, minus = x0.ravel().copy(), x0.ravel().copy()
        plus[index] += step
        minus[index] -= step
        numeric = (_numpy_tv(plus.reshape(x0.shape), factors, 1.0).mean()
                   - _numpy_tv(minus.reshape(x0.shape), factors, 1.0).mean()) / (2 * step)
        assert grad[index] == pytest.approx(numeric, rel=1e-3, abs=1e-5), index


@pytest.mark.parametrize("angle,smoothed_axis", [(0.0, 2), (np.pi / 2, 1)])
def test_smoothing_along_a_direction_draws_noise_out_into_strokes_that_way(angle, smoothed_axis):
    """Gradient descent on a TV term that acts only along one direction: noise becomes streaks along
    it (the change along it shrinks, the change across it stays)."""
    rng = np.random.default_rng(6)
    x = tf.Variable(rng.uniform(-50, 50, size=(1, 24, 24, 3)).astype(np.float32))
    factors = np.zeros((1, 23, 23, 3), np.float32)
    factors[..., 1], factors[..., 2] = 1.0, angle  # nothing in every direction, all along the angle
    for _ in range(200):
        with tf.GradientTape() as tape:
            value = losses.tv_loss(x, "blog", 1.0, tf.constant(factors))
        x.assign_sub(0.05 * tape.gradient(value, x))
    inner = x.numpy()[:, :-1, :-1]  # the last row and column have no terms of their own
    along = np.abs(np.diff(inner, axis=smoothed_axis)).mean()
    across = np.abs(np.diff(inner, axis=3 - smoothed_axis)).mean()
    assert along < 0.2 * across


def test_tv_term_keeps_its_factors_in_a_variable_set_per_photo():
    flat, striped = np.full((16, 16, 3), 90, np.uint8), np.full((16, 16, 3), 90, np.uint8)
    striped[:, np.arange(16) % 8 < 4] = 200  # an edge every 4 px
    term = losses.TVLoss("gatys", 1.0, (16, 16), flat_boost=4.0)
    x = tf.constant(np.random.default_rng(5).uniform(-20, 20, (1, 16, 16, 3)).astype(np.float32))
    term.set_factors(flatness.tv_factors(flat, 4.0, 0.0))
    on_flat = float(term(x))
    term.set_factors(flatness.tv_factors(striped, 4.0, 0.0))
    on_striped = float(term(x))
    assert on_flat == pytest.approx(5.0 * float(losses.tv_loss(x, "gatys", 1.0)), rel=1e-3)
    assert on_striped < 0.6 * on_flat  # the stripes' edges keep factors near 1
    assert losses.TVLoss("gatys", 1.0, (16, 16)).factors is None  # no boost: the plain term, no variable
