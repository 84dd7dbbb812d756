"""The TV term's per-pixel factors: flat areas smoothed more, and the stroke direction there."""

from __future__ import annotations

import numpy as np
import pytest

from impasto.nst import flatness


def _sky_and_stripes() -> np.ndarray:
    """Left half: an even sky; right half: vertical stripes (an edge every 4 px)."""
    rgb = np.full((64, 64, 3), 120, np.uint8)
    rgb[:, 32:][:, np.arange(32) % 8 < 4] = 250
    return rgb


def test_factors_are_high_in_flat_areas_and_one_at_edges():
    factors = flatness.tv_factors(_sky_and_stripes(), 9.0, 0.0)
    every = factors[..., 0]
    assert factors.shape == (63, 63, 3) and factors.dtype == np.float32
    assert every[:, :20].mean() > 9.5  # 1 + 9 x flatness ≈ 1 in the sky
    assert every[:, 40:60].max() < 1.5  # close to 1 among the stripes
    assert every.min() >= 1.0
    np.testing.assert_array_equal(factors[..., 1], 0.0)  # no flow: nothing along a direction
    np.testing.assert_array_equal(flatness.tv_factors(_sky_and_stripes(), 0.0, 0.5)[..., :2],
                                  np.stack([np.ones((63, 63)), np.zeros((63, 63))], axis=-1))


@pytest.mark.parametrize("flow", [0.25, 0.5, 1.0])
def test_stroke_flow_moves_that_share_of_the_extra_smoothing_to_one_direction(flow):
    even = flatness.tv_factors(_sky_and_stripes(), 9.0, 0.0)[..., 0]
    factors = flatness.tv_factors(_sky_and_stripes(), 9.0, flow)
    np.testing.assert_allclose(factors[..., 0], 1.0 + (even - 1.0) * (1.0 - flow), rtol=1e-5)
    np.testing.assert_allclose(factors[..., 1], (even - 1.0) * flow, rtol=1e-5, atol=1e-6)


def _direction_error(angles: np.ndarray, expected: float) -> np.ndarray:
    """How far each angle is from ``expected`` as a line (θ and θ + π are one direction), 0..π/2."""
    difference = np.mod(angles - expected, np.pi)
    return np.minimum(difference, np.pi - difference)


def test_strokes_in_a_sky_follow_the_horizon_and_beside_a_tower_run_up_it():
    """A bright sky over a dark town (a horizon) and a dark tower rising into the sky: far up the
    sky the strokes run level with the horizon, right beside the tower they run up along it."""
    rgb = np.full((128, 128, 3), 200, np.uint8)
    rgb[80:] = 60  # the town below the horizon
    rgb[20:80, 60:68] = 60  # the tower
    luminance = rgb[..., 0].astype(np.float32)
    angles = flatness.stroke_angles(luminance)
    assert np.median(_direction_error(angles[10:30, 5:30], 0.0)) < 0.2
    assert np.median(_direction_error(angles[40:60, 55:59], np.pi / 2)) < 0.2


def test_faint_brightening_of_a_sky_sets_its_direction_as_much_as_a_strong_edge():
    """The gradients are made unit length: a sky that brightens by a fraction of a grey level per
    pixel towards the horizon still gives level strokes beside a strong vertical edge's pull."""
    rows = np.linspace(150, 170, 96, dtype=np.float32)[:, None]
    luminance = np.repeat(rows, 96, axis=1)
    luminance[:, 60:] = 20  # a dark wall, a sixth of the picture's width beside the sky looked at
    angles = flatness.stroke_angles(luminance)
    assert np.median(_direction_error(angles[:, 44:54], 0.0)) < 0.3


def test_a_large_pictures_directions_come_from_a_smaller_grid_and_agree_with_the_full_one(monkeypatch):
    """Above 2 × TENSOR_SIDE px the wide blur runs on an area-averaged grid (its cost at full size
    grew with the side cubed: 7 s at 2048 px); the directions it gives are the full grid's."""
    luminance = np.full((800, 1100), 200.0, np.float32)
    luminance[500:] = 60.0  # a horizon
    luminance[150:500, 520:560] = 60.0  # a tower
    luminance += np.random.default_rng(7).normal(0, 2, luminance.shape).astype(np.float32)
    fast = flatness.stroke_angles(luminance)
    monkeypatch.setattr(flatness, "TENSOR_SIDE", 10**6)
    full = flatness.stroke_angles(luminance)
    difference = _direction_error(fast - full, 0.0)
    assert np.quantile(difference, 0.99) < 0.05, np.quantile(difference, 0.99)  # within 3°
    assert np.median(difference) < 0.01, np.median(difference)
