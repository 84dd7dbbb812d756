"""The content term's shadow factors: dark areas count more, the term as a whole the same."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from impasto.nst import losses, shadows


def _dusk() -> np.ndarray:
    """A bright upper half (the sky, 200) over a dark lower half (a river in shadow, 20)."""
    rgb = np.full((64, 48, 3), 200, np.uint8)
    rgb[40:] = 20
    return rgb


def test_dark_areas_weigh_more_and_the_factors_average_one():
    factors = shadows.shadow_map(_dusk(), 3.0)
    assert factors.shape == (64, 48) and factors.dtype == np.float32
    assert factors.mean() == pytest.approx(1.0, rel=1e-5)
    bright, dark = factors[:40].mean(), factors[40:].mean()
    # the median is bright here: bright pixels get 1, dark ones 1 + 3 × (200 - 20) / 200, before scaling
    assert dark / bright == pytest.approx(1.0 + 3.0 * 0.9, rel=1e-4)


def test_no_strength_weighs_every_area_alike():
    np.testing.assert_allclose(shadows.shadow_map(_dusk(), 0.0), 1.0)


def test_a_layer_sees_the_mean_of_the_pixels_under_each_of_its_positions():
    factors = np.arange(64 * 48, dtype=np.float32).reshape(64, 48)
    at_block2 = shadows.at_layer(factors, "block2_conv1")  # one position per 2 × 2 pixels
    assert at_block2.shape == (1, 32, 24, 1)
    assert at_block2[0, 3, 5, 0] == pytest.approx(factors[6:8, 10:12].mean())


def test_the_content_term_counts_a_dark_areas_difference_more_with_shadow_factors():
    """The same feature difference, once under the sky and once under the river: equal without
    shadow factors, the river's larger with them."""
    target = tf.Variable(tf.zeros((1, 8, 6, 4)))
    term = losses.ContentLoss({"block4_conv2": target}, "gatys", shadow_strength=3.0)
    term.set_map(shadows.shadow_map(_dusk(), 3.0))  # block4 of 64 × 48 px: 8 × 6 positions, the river from row 5 on
    under_sky, under_river = np.zeros((1, 8, 6, 4), np.float32), np.zeros((1, 8, 6, 4), np.float32)
    under_sky[0, 1, 2], under_river[0, 6, 2] = 10.0, 10.0
    sky = float(term({"block4_conv2": tf.constant(under_sky)}))
    river = float(term({"block4_conv2": tf.constant(under_river)}))
    assert river == pytest.approx(3.7 * sky, rel=1e-3)
    plain = losses.ContentLoss({"block4_conv2": target}, "gatys")
    assert float(plain({"block4_conv2": tf.constant(under_sky)})) == pytest.approx(
        float(plain({"block4_conv2": tf.constant(under_river)})))
