"""Masks: each painting's style matched in its own region; the photo kept where no mask covers."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from impasto.cli import main
from impasto.nst import engine, losses, regions, vgg
from impasto.nst.errors import ImageError, OptionError
from impasto.nst.images import load_image, resize_longest
from impasto.nst.masks import check_masks, downsample, fit_mask, keep_photo, load_mask
from impasto.nst.options import Options
from tests.conftest import gradient_image, stripes_image
from tests.weights import UNTRAINED_WEIGHTS

TINY = Options(size=40, iterations=2, scales=1, precision="float32")


def half_mask(height: int, width: int, left: float = 1.0) -> np.ndarray:
    mask = np.full((height, width), 1.0 - left, np.float32)
    mask[:, : width // 2] = left
    return mask


# -- the pieces, with numbers -------------------------------------------------------------------

def test_masked_gram_of_a_binary_mask_is_the_gram_of_that_region() -> None:
    rng = np.random.default_rng(0)
    features = tf.constant(rng.normal(size=(1, 6, 8, 5)).astype(np.float32))
    mask = np.zeros((1, 6, 8, 1), np.float32)
    mask[:, :, :3] = 1.0
    want = losses.gram(features[:, :, :3, :], "gatys")
    np.testing.assert_allclose(regions.masked_gram(features, tf.constant(mask)), want, rtol=1e-5)
    ones = tf.ones((1, 6, 8, 1))
    np.testing.assert_allclose(regions.masked_gram(features, ones), losses.gram(features, "gatys"), rtol=1e-5)


def test_masked_moments_of_a_binary_mask_are_the_moments_of_that_region() -> None:
    rng = np.random.default_rng(1)
    features = tf.constant(rng.normal(2.0, 3.0, size=(1, 6, 8, 5)).astype(np.float32))
    mask = np.zeros((1, 6, 8, 1), np.float32)
    mask[:, 2:, :5] = 1.0
    for got, want in zip(regions.masked_moments(features, tf.constant(mask)), losses.moments(features[:, 2:, :5])):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    for got, want in zip(regions.masked_moments(features, tf.ones((1, 6, 8, 1))), losses.moments(features)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def numpy_region_wasserstein(features: np.ndarray, mask: np.ndarray, target: losses.GaussianTarget,
                             ridge: float = losses.COV_EPS) -> float:
    """The masked Wasserstein term written out independently: weighted mean and centred covariance,
    matrix square roots by scipy (not eigh), the same constants (the result's covariance without its
    ridge where the features have fewer positions than channels)."""
    from scipy.linalg import sqrtm

    flat = features.reshape(-1, features.shape[-1]).astype(np.float64)
    weights = mask.reshape(-1, 1).astype(np.float64)
    mean = (weights * flat).sum(0) / weights.sum()
    centred = flat - mean
    cov = centred.T @ (weights * centred) / weights.sum() + ridge * np.eye(flat.shape[1])
    root = sqrtm(target.cov).real
    cross = np.trace(sqrtm(root @ cov @ root).real)
    distance = np.sum((mean - target.mean) ** 2) + np.trace(cov) + np.trace(target.cov) - 2 * cross
    return losses.WASSERSTEIN_SCALE * distance / flat.shape[1]


def random_target(rng: np.random.Generator, channels: int) -> losses.GaussianTarget:
    mean = rng.normal(1.0, 2.0, channels)
    spread = rng.normal(size=(channels, channels))
    return losses.GaussianTarget.from_moments(mean, spread @ spread.T / channels + np.outer(mean, mean))


def region_loss(mask: np.ndarray, target: losses.GaussianTarget) -> regions.RegionStyleLoss:
    return regions.RegionStyleLoss([{"block1_conv1": target}], [mask], [1.0], mask.shape, {"block1_conv1": 1.0},
                                   "wasserstein")


def test_masked_wasserstein_term_matches_an_independent_numpy_computation() -> None:
    rng = np.random.default_rng(2)
    features = rng.normal(1.5, 2.0, size=(1, 9, 12, 6)).astype(np.float32)
    mask = rng.uniform(0, 1, (9, 12)).astype(np.float32)  # grey: every position counts by its weight
    mask[:, :4] = 0.0
    target = random_target(rng, 6)
    got = float(region_loss(mask, target)({"block1_conv1": tf.constant(features)}))
    want = numpy_region_wasserstein(features, mask, target)
    assert want > 0.1  # not a trivial zero
    np.testing.assert_allclose(got, want, rtol=2e-4)
    # With the mask all ones it is the unmasked term.
    whole = float(losses.wasserstein_layer_loss(tf.constant(features), target))
    np.testing.assert_allclose(float(region_loss(np.ones((9, 12), np.float32), target)(
        {"block1_conv1": tf.constant(features)})), whole, rtol=1e-4)


def test_masked_wasserstein_over_positions_matches_an_independent_numpy_computation() -> None:
    """A region of a deep layer with fewer positions (2×3) than channels (16): the term over positions."""
    rng = np.random.default_rng(4)
    features = rng.normal(1.5, 2.0, size=(1, 2, 3, 16)).astype(np.float32)
    mask = np.array([[1.0, 0.5, 0.0], [1.0, 1.0, 0.25]], np.float32)
    mean, spread = regions.masked_spread(tf.constant(features), tf.constant(mask[None, :, :, None]))
    _, cov = regions.masked_moments(tf.constant(features), tf.constant(mask[None, :, :, None]))
    np.testing.assert_allclose(tf.matmul(spread, spread, transpose_a=True), cov, rtol=1e-4, atol=1e-4)
    target = random_target(rng, 16)
    got = float(region_loss(mask, target)({"block1_conv1": tf.constant(features)}))
    np.testing.assert_allclose(got, numpy_region_wasserstein(features, mask, target, ridge=0.0), rtol=2e-4)


def test_masked_wasserstein_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(3)
    features = rng.normal(1.0, 2.0, size=(1, 7, 8, 4))
    mask = rng.uniform(0, 1, (7, 8)).astype(np.float32)
    mask[:3] = 0.0
    term = region_loss(mask, random_target(rng, 4))

    def value(f: np.ndarray) -> float:
        return float(term({"block1_conv1": tf.constant(f, tf.float32)}))

    x = tf.constant(features, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = term({"block1_conv1": x})
    gradient = tape.gradient(loss, x).numpy()
    assert np.abs(gradient[0, :3]).max() == 0.0  # outside the mask the features do not count
    step = 1e-2
    for index in [(0, r, c, k) for r, c, k in zip(rng.integers(3, 7, 8), rng.integers(0, 8, 8), rng.integers(0, 4, 8))]:
        up, down = features.copy(), features.copy()
        up[index] += step
        down[index] -= step
        numeric = (value(up) - value(down)) / (2 * step)
        assert abs(numeric - gradient[index]) < 2e-3 * np.abs(gradient).max() + 1e-5, (index, numeric, gradient[index])


def test_region_masks_can_be_set_again_for_the_next_tile() -> None:
    rng = np.random.default_rng(4)
    features = {"block1_conv1": tf.constant(rng.normal(size=(1, 6, 8, 3)).astype(np.float32))}
    target = random_target(rng, 3)
    first, second = rng.uniform(0, 1, (6, 8)).astype(np.float32), rng.uniform(0, 1, (6, 8)).astype(np.float32)
    reused = region_loss(first, target)
    reused.set_masks([second])
    np.testing.assert_allclose(float(reused(features)), float(region_loss(second, target)(features)), rtol=1e-6)
    reused.set_masks([np.zeros((6, 8), np.float32)])  # this painting has no part of the tile
    assert float(reused(features)) == 0.0


def test_layer_resolutions_follow_the_poolings() -> None:
    assert vgg.layer_hw("block1_conv1", (37, 50)) == (37, 50)
    assert vgg.layer_hw("block3_conv1", (37, 50)) == (9, 12)
    assert vgg.layer_hw("block5_conv1", (37, 50)) == (2, 3)


def test_masks_are_resized_feathered_and_averaged_per_layer() -> None:
    mask = half_mask(30, 40)
    fitted = fit_mask(mask, (60, 80), feather=0.05)
    assert fitted.shape == (60, 80) and fitted[:, :30].min() > 0.99 and fitted[:, 50:].max() < 0.01
    assert 0.2 < fitted[30, 40] < 0.8  # the edge is soft
    assert np.array_equal(fit_mask(mask, (30, 40), feather=0.0), mask)
    small = downsample(mask, (3, 4))
    np.testing.assert_allclose(small, [[1, 1, 0, 0]] * 3, atol=1e-6)
    photo, painted = np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 200, np.uint8)
    grey = np.full((2, 2), 0.5, np.float32)
    assert keep_photo(painted, photo, [grey])[0, 0, 0] == 100
    assert keep_photo(painted, photo, [grey, grey])[0, 0, 0] == 200  # coverage is capped at 1


def test_bad_masks_say_what_is_wrong(tmp_path) -> None:
    with pytest.raises(OptionError, match="2 mask.*1 painting"):
        check_masks([half_mask(30, 40)] * 2, (30, 40), 1)
    with pytest.raises(OptionError, match=r"mask is 40×40 px and the photo 40×30 px"):
        check_masks([np.ones((40, 40))], (30, 40), 1)
    with pytest.raises(OptionError, match="normalization 'gatys'"):
        check_masks([half_mask(30, 40)], (30, 40), 1, "blog")
    check_masks([np.ones((300, 401))], (30, 40), 1)  # another size of the same shape is fine
    text = tmp_path / "mask.png"
    text.write_text("not a picture")
    with pytest.raises(ImageError, match="mask: not a readable image"):
        load_mask(str(text))


def test_engine_refuses_a_wrong_mask_before_any_work() -> None:
    with pytest.raises(OptionError, match="mask"):
        engine.stylize(gradient_image(), stripes_image(), options=TINY, weights=UNTRAINED_WEIGHTS,
                       masks=[np.ones((10, 40), np.float32)])


# -- the picture, with the real weights ---------------------------------------------------------

def colour_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Distance of the mean colours of two pictures (RGB, 0..255)."""
    return float(np.linalg.norm(a.reshape(-1, 3).mean(0) - b.reshape(-1, 3).mean(0)))


@pytest.fixture(scope="module")
def pictures(samples):
    photo = resize_longest(load_image(samples / "tubingen.jpg"), 96)
    return photo, load_image(samples / "starry_night.jpg"), load_image(samples / "the_scream.jpg")


REAL = Options(size=96, iterations=40, scales=1, style_weight=1000.0)


def test_black_half_keeps_the_photo_white_half_takes_the_painting(pictures, real_weights) -> None:
    photo, starry, _ = pictures
    height, width = photo.shape[:2]
    mask = half_mask(height, width)  # paint the left half
    result = engine.stylize(photo, starry, options=REAL, weights=real_weights, masks=[mask]).image
    unmasked = engine.stylize(photo, starry, options=REAL, weights=real_weights).image
    left, right = slice(0, width // 2 - 4), slice(width // 2 + 4, width)  # beyond the feathered edge
    # Black half: the photo, to within a grey level (colour and structure alike).
    assert np.abs(result[:, right].astype(int) - photo[:, right]).mean() < 1.0
    # White half: painted as much as without a mask, far from the photo.
    painted = np.abs(result[:, left].astype(int) - photo[:, left]).mean()
    assert painted > 10 and painted > 0.6 * np.abs(unmasked[:, left].astype(int) - photo[:, left]).mean()
    assert colour_distance(result[:, left], starry) < colour_distance(photo[:, left], starry)


def test_complementary_masks_each_painting_dominates_its_region(pictures, real_weights) -> None:
    photo, starry, scream = pictures
    height, width = photo.shape[:2]
    masks = [half_mask(height, width, 1.0), half_mask(height, width, 0.0)]  # starry left, scream right
    result = engine.stylize(photo, [starry, scream], options=REAL, weights=real_weights, masks=masks).image
    left, right = result[:, : width // 2 - 4], result[:, width // 2 + 4:]
    assert colour_distance(left, starry) < colour_distance(left, scream)
    assert colour_distance(right, scream) < colour_distance(right, starry)
    swapped = engine.stylize(photo, [starry, scream], options=REAL, weights=real_weights, masks=masks[::-1]).image
    assert colour_distance(swapped[:, : width // 2 - 4], scream) < colour_distance(swapped[:, : width // 2 - 4], starry)


# -- the CLI ------------------------------------------------------------------------------------

def test_cli_mask_flag(tmp_path, capsys) -> None:
    photo, painting, out = tmp_path / "photo.png", tmp_path / "painting.png", tmp_path / "out.png"
    Image.fromarray(gradient_image(48, 64)).save(photo)
    Image.fromarray(stripes_image()).save(painting)
    Image.fromarray((half_mask(24, 32, 0.0) * 255).astype(np.uint8)).save(tmp_path / "mask.png")  # keep left
    common = ["transfer", str(photo), str(painting), "-o", str(out), "--size", "64", "--iterations", "3",
              "--weights", UNTRAINED_WEIGHTS, "--quiet"]
    assert main([*common, "--mask", str(tmp_path / "mask.png")]) == 0
    result = np.asarray(Image.open(out)).astype(int)
    assert np.abs(result[:, :20] - gradient_image(48, 64)[:, :20]).mean() < 1.0
    assert main([*common, "--mask", str(tmp_path / "mask.png"), "--mask", str(tmp_path / "mask.png")]) == 2
    assert "2 mask(s) for 1 painting(s)" in capsys.readouterr().err
    (tmp_path / "bad.png").write_bytes(b"nope")
    assert main([*common, "--mask", str(tmp_path / "bad.png")]) == 2
    assert "mask: not a readable image" in capsys.readouterr().err
    Image.new("L", (40, 40)).save(tmp_path / "square.png")
    assert main([*common, "--mask", str(tmp_path / "square.png")]) == 2
    assert "draw the mask on this photo" in capsys.readouterr().err
