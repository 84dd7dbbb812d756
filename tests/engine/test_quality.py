"""Short real transfers with the real weights file: the result must look like the painting and
still be the photo, and each artistic knob must have its effect, measured in numbers."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from impasto.nst import losses, shadows
from impasto.nst.colors import chroma
from impasto.nst.engine import objective, stylize
from impasto.nst.images import load_image, resize_longest, resize_to
from impasto.nst.options import Options
from impasto.nst.vgg import build_feature_fn, load_weights, rgb_to_caffe

pytestmark = pytest.mark.quality
SIZE = 160
QUICK = Options(size=SIZE, iterations=60, scales=1)


@pytest.fixture(scope="module")
def pictures(samples):
    content = resize_longest(load_image(samples / "tubingen.jpg"), SIZE)
    style = load_image(samples / "starry_night.jpg")
    return content, style


@pytest.fixture(scope="module")
def measure(real_weights):
    features = build_feature_fn(load_weights(real_weights), (*QUICK.style_layers, "block4_conv2"), "float32")

    def feats(rgb):
        return features(tf.constant(rgb_to_caffe(rgb)))

    def style_distance(rgb, style_rgb):
        a, b = feats(rgb), feats(style_rgb)
        return float(sum(tf.reduce_mean(tf.square(losses.gram(a[n], "gatys") - losses.gram(b[n], "gatys")))
                         for n in QUICK.style_layers))

    def content_distance(rgb, content_rgb):
        a, b = feats(rgb)["block4_conv2"], feats(resize_to(content_rgb, (rgb.shape[1], rgb.shape[0])))["block4_conv2"]
        return float(tf.reduce_mean(tf.square(a - b)))

    return style_distance, content_distance


@pytest.fixture(scope="module")
def balanced(pictures, real_weights):
    content, style = pictures
    return stylize(content, style, options=QUICK, weights=real_weights)


def test_result_moves_toward_the_style_and_keeps_the_photo(pictures, balanced, measure):
    content, style = pictures
    style_distance, content_distance = measure
    style_at_size = resize_longest(style, SIZE)
    before = style_distance(content, style_at_size)
    after = style_distance(balanced.image, style_at_size)
    assert after < 0.1 * before, (after, before)  # ten times closer to the painting's style
    # Still the photo: far closer in content to the photo than the painting is.
    painting_as_photo = resize_to(style, (content.shape[1], content.shape[0]))
    assert content_distance(balanced.image, content) < 0.5 * content_distance(painting_as_photo, content)


def test_the_reported_loss_is_that_of_the_picture_delivered(pictures, balanced, real_weights):
    """The uint8 picture, scored on the run's own objective, has the loss the run reported (clipping
    the free optimisation's out-of-range values alone made it 2-7× worse before the bounded polish)."""
    content, style = pictures
    delivered = objective(content, style, options=QUICK, precision=balanced.precision,
                          weights=real_weights)(balanced.image)
    assert delivered == pytest.approx(balanced.losses["total"], rel=0.05)


def test_bfloat16_paints_as_well_as_float32(pictures, real_weights):
    """Reduced precision is only the default because it reaches the same loss on the full-precision objective."""
    content, style = pictures
    score = objective(content, style, options=QUICK, precision="float32", weights=real_weights)
    scores = {precision: score(stylize(content, style, options=QUICK.replace(precision=precision),
                                       weights=real_weights).image)
              for precision in ("float32", "bfloat16")}
    assert scores["bfloat16"] < 1.1 * scores["float32"], scores
    # and both really optimised (the loss falls to 18 % of the photo's here in 60 iterations,
    # 5.8 % before the flat-area smoothing: the Wasserstein term keeps a floor a Gram loss does not,
    # a mean and a spread to match exactly, and a TV 41 times stronger in the sky adds to it)
    assert scores["float32"] < 0.25 * score(content), scores


def test_preserve_colors_keeps_the_photos_chroma(pictures, balanced, real_weights):
    content, style = pictures
    kept = stylize(content, style, options=QUICK.replace(preserve_colors=True), weights=real_weights)
    photo = chroma(content)
    error_plain = np.abs(chroma(balanced.image) - photo).mean()
    error_kept = np.abs(chroma(kept.image) - photo).mean()
    assert error_kept < 0.25 * error_plain, (error_kept, error_plain)
    # ...and it still carries the painting's texture (luminance differs from the photo's).
    assert np.abs(kept.image.astype(float) - content).mean() > 8


def test_larger_style_scale_matches_a_scaled_up_painting(pictures, real_weights, measure):
    content, style = pictures
    style_distance, _ = measure
    small = stylize(content, style, options=QUICK.replace(style_scale=0.5), weights=real_weights)
    large = stylize(content, style, options=QUICK.replace(style_scale=2.0), weights=real_weights)
    # Compare the results' style with the painting as seen at 2× (a crop of a 2×-size painting).
    big = resize_longest(style, 2 * SIZE)
    crop = big[: content.shape[0], : content.shape[1]]
    assert style_distance(large.image, crop) < style_distance(small.image, crop)


def test_article_preset_runs_the_articles_objective(pictures, real_weights):
    content, style = pictures
    seed = Options.from_mapping({"preset": "article", "size": 96, "iterations": 2, "seed": 1})
    result = stylize(content, style, options=seed, weights=real_weights)
    assert result.iterations <= 2 * 20 and result.evaluations <= 2 * 21
    assert result.losses["total"] == pytest.approx(
        result.losses["content"] + result.losses["style"] + result.losses["tv"], rel=1e-4)
    assert result.history[-1] < result.history[0]


def _sky_ripples(rgb: np.ndarray) -> float:
    """Mean absolute Laplacian of the luminance in a patch of the photo's clear sky (top left of
    the church tower, right of the tree)."""
    from scipy import ndimage

    height, width = rgb.shape[:2]
    luminance = rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    return float(np.abs(ndimage.laplace(luminance))[2: int(0.12 * height), int(0.2 * width): int(0.6 * width)].mean())


def test_flat_smoothing_calms_the_sky_and_still_paints(pictures, balanced, real_weights, measure):
    content, style = pictures
    style_distance, _ = measure
    even = stylize(content, style, options=QUICK.replace(flat_smoothing=0.0), weights=real_weights)
    assert balanced.options.flat_smoothing >= 5  # the default calms flat areas
    assert _sky_ripples(balanced.image) < 0.75 * _sky_ripples(even.image)
    style_at_size = resize_longest(style, SIZE)
    assert style_distance(balanced.image, style_at_size) < 0.1 * style_distance(content, style_at_size)


def _coherence(rgb: np.ndarray, rows: slice, columns: slice) -> float:
    """How much the texture in a patch runs one way: the structure tensor's coherence, weighted by
    its energy (1 for parallel strokes, near 0 for round dots)."""
    from scipy import ndimage

    luminance = ndimage.gaussian_filter(rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114]), 1.0)
    gy, gx = ndimage.sobel(luminance, axis=0), ndimage.sobel(luminance, axis=1)
    jxx, jyy, jxy = (ndimage.gaussian_filter(v, 2.0)[rows, columns] for v in (gx * gx, gy * gy, gx * gy))
    return float(np.sum(np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2)) / np.sum(jxx + jyy))


def test_stroke_flow_draws_the_skys_texture_out_into_strokes(pictures, balanced, real_weights):
    content, style = pictures
    dabs = stylize(content, style, options=QUICK.replace(stroke_flow=0.0), weights=real_weights)
    height, width = content.shape[:2]
    sky = slice(2, int(0.12 * height)), slice(int(0.2 * width), int(0.6 * width))
    assert balanced.options.stroke_flow > 0
    assert _coherence(balanced.image, *sky) > 1.2 * _coherence(dabs.image, *sky)


def test_shadow_content_keeps_the_shapes_in_the_photos_dark_areas(pictures, balanced, real_weights):
    """The photo's features in its darkest quarter (block4_conv2, the content layer) are kept closer
    with the default's shadow factors than with every area alike, and closer still with stronger ones."""
    content, style = pictures
    features = build_feature_fn(load_weights(real_weights), ("block4_conv2",), "float32")
    luminance = content.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    darkness = shadows.at_layer(luminance, "block4_conv2")[0, :, :, 0]
    dark = darkness <= np.quantile(darkness, 0.25)

    def dark_distance(rgb):
        a, b = (features(tf.constant(rgb_to_caffe(x)))["block4_conv2"][0].numpy() for x in (rgb, content))
        return float(np.mean(np.square(a - b)[dark]))

    alike, stronger = (stylize(content, style, options=QUICK.replace(shadow_content=strength), weights=real_weights)
                       for strength in (0.0, 10.0))
    assert balanced.options.shadow_content > 0
    kept = [dark_distance(picture.image) for picture in (alike, balanced, stronger)]
    assert kept[0] > kept[1] > kept[2] and kept[2] < 0.9 * kept[0], kept
