"""The start in the painting's colours: the photo's shapes with the painting's whole colour distribution."""

from __future__ import annotations

import numpy as np
import pytest

from impasto.nst import inputs, recolour
from impasto.nst.options import Options
from impasto.nst.presets import apply_preset

ORANGE, BLUE = np.array([230.0, 120.0, 30.0]), np.array([30.0, 60.0, 160.0])


def _photo() -> np.ndarray:
    """A grey-green ramp: every brightness from dark to light, one hue."""
    ramp = np.linspace(20, 235, 64)[None, :, None] * np.array([0.8, 1.0, 0.9])
    return np.broadcast_to(ramp, (48, 64, 3)).round().astype(np.uint8)


def _painting(seed: int = 0) -> np.ndarray:
    """Two colours a Gaussian transfer cannot make: a third orange, two thirds blue, a little noise."""
    rng = np.random.default_rng(seed)
    pixels = np.where(rng.random((60, 90, 1)) < 1 / 3, ORANGE, BLUE) + rng.normal(0, 6, (60, 90, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8)


def _nearest_is_orange(rgb: np.ndarray) -> np.ndarray:
    pixels = rgb.reshape(-1, 3).astype(float)
    return np.linalg.norm(pixels - ORANGE, axis=1) < np.linalg.norm(pixels - BLUE, axis=1)


def test_the_start_takes_the_paintings_two_colours_in_their_proportions():
    start = recolour.painted_start(_photo(), [_painting()], [1.0], [], 1.0)
    assert start.shape == _photo().shape and start.dtype == np.uint8
    orange = _nearest_is_orange(start)
    assert orange.mean() == pytest.approx(1 / 3, abs=0.05)
    # Each pixel lands near one of the two colours, not on a blend between them (as a mean and
    # covariance match would put it): its distance to the nearer colour is small.
    pixels = start.reshape(-1, 3).astype(float)
    nearer = np.minimum(np.linalg.norm(pixels - ORANGE, axis=1), np.linalg.norm(pixels - BLUE, axis=1))
    assert np.median(nearer) < 20


def test_the_start_keeps_the_photos_shapes():
    # The ramp is split at one point into the two colours, not scattered: along it the colour
    # changes once, and down each column (where the photo is one colour) not at all.
    orange = _nearest_is_orange(recolour.painted_start(_photo(), [_painting()], [1.0], [], 1.0)).reshape(48, 64)
    assert np.all(orange == orange[:1])
    assert np.count_nonzero(np.diff(orange[0].astype(int))) == 1


def test_share_mixes_photo_and_recoloured_and_zero_is_the_photo():
    photo, painting = _photo(), _painting()
    np.testing.assert_array_equal(recolour.painted_start(photo, [painting], [1.0], [], 0.0), photo)
    full = recolour.painted_start(photo, [painting], [1.0], [], 1.0).astype(float)
    half = recolour.painted_start(photo, [painting], [1.0], [], 0.5).astype(float)
    np.testing.assert_allclose(half, (photo + full) / 2, atol=1.0)


def test_blended_paintings_give_their_colours_by_weight():
    all_orange = np.broadcast_to(ORANGE, (40, 40, 3)).astype(np.uint8)
    all_blue = np.broadcast_to(BLUE, (40, 40, 3)).astype(np.uint8)
    start = recolour.painted_start(_photo(), [all_orange, all_blue], [0.75, 0.25], [], 1.0)
    assert _nearest_is_orange(start).mean() == pytest.approx(0.75, abs=0.05)


def test_each_mask_takes_its_own_paintings_colours_and_the_rest_stays_the_photo():
    photo = _photo()
    left = np.zeros(photo.shape[:2], np.float32)
    left[:, :32] = 1.0
    right = np.zeros_like(left)
    right[:24, 32:] = 1.0  # the bottom right is under no mask
    orange = np.broadcast_to(ORANGE, (30, 30, 3)).astype(np.uint8)
    blue = np.broadcast_to(BLUE, (30, 30, 3)).astype(np.uint8)
    start = recolour.painted_start(photo, [orange, blue], [0.5, 0.5], [left, right], 1.0).astype(float)
    assert np.abs(start[:, :32] - ORANGE).max() < 2
    assert np.abs(start[:24, 32:] - BLUE).max() < 2
    np.testing.assert_array_equal(start[24:, 32:], photo[24:, 32:])


def test_where_masks_overlap_their_paintings_share_the_pixel():
    photo = _photo()
    whole = np.ones(photo.shape[:2], np.float32)
    orange = np.broadcast_to(ORANGE, (30, 30, 3)).astype(np.uint8)
    blue = np.broadcast_to(BLUE, (30, 30, 3)).astype(np.uint8)
    start = recolour.painted_start(photo, [orange, blue], [0.5, 0.5], [whole, whole], 1.0).astype(float)
    np.testing.assert_allclose(start, np.broadcast_to((ORANGE + BLUE) / 2, start.shape), atol=1.0)


def test_a_big_photo_maps_through_curves_judged_on_a_sample():
    photo = np.tile(_photo(), (8, 6, 1))  # 384 × 384: more pixels than SAMPLE
    assert photo.shape[0] * photo.shape[1] > recolour.SAMPLE
    start = recolour.painted_start(photo, [_painting()], [1.0], [], 1.0)
    assert _nearest_is_orange(start).mean() == pytest.approx(1 / 3, abs=0.05)


@pytest.fixture
def images():
    return inputs.Images(_photo(), [_painting()], [None], np.array([1.0]), None)


def test_a_run_from_the_photo_starts_in_the_paintings_colours(images):
    start = inputs.scale_start(Options(), _photo(), None, images)
    assert abs(_nearest_is_orange(start).mean() - 1 / 3) < 0.05
    plain = inputs.scale_start(Options(start_palette=0.0), _photo(), None, images)
    np.testing.assert_array_equal(plain, _photo())


def test_later_scales_and_the_article_do_not_recolour(images):
    previous = np.full((24, 32, 3), 77, np.uint8)
    later = inputs.scale_start(Options(), _photo(), previous, images)
    assert np.all(later == 77)
    article = apply_preset(Options(), "article")
    assert article.start_palette == 0.0 and article.init == "noise"
