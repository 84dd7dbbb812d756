"""Optical flow, warping, the reliability mask and the flicker measure, on scenes with known motion."""

from __future__ import annotations

import numpy as np

from impasto.nst import flow
from tests.engine.clip_helpers import pan_frames, texture


def test_a_known_shift_is_recovered():
    previous, current = pan_frames(2, 64, 80, step=3)  # the scene moves 3 px left
    backward = flow.flow(current, previous)  # where each pixel of ``current`` was in ``previous``
    inner = backward[8:-8, 8:-12]
    assert abs(float(np.median(inner[..., 0])) - 3.0) < 0.2 and abs(float(np.median(inner[..., 1]))) < 0.2
    assert np.mean(np.abs(inner[..., 0] - 3.0) < 0.5) > 0.9


def test_warping_the_previous_frame_gives_the_current_one():
    previous, current = pan_frames(2, 64, 80, step=3)
    warped = flow.warp(previous, flow.flow(current, previous))
    error = np.abs(warped - current.astype(np.float32))[4:-4, 4:-8]
    assert error.mean() < 4.0  # bilinear resampling of a textured scene
    assert np.abs(previous.astype(np.float32) - current)[4:-4, 4:-8].mean() > 4 * error.mean()


def test_warp_with_an_exact_integer_flow_is_a_shift():
    image = texture(20, 30)
    shift = np.zeros((20, 30, 2), np.float32)
    shift[..., 0], shift[..., 1] = 2.0, 1.0
    warped = flow.warp(image, shift)
    np.testing.assert_allclose(warped[:-1, :-2], image[1:, 2:].astype(np.float32))


def test_the_pan_uncovers_a_strip_that_is_not_trusted():
    previous, current = pan_frames(2, 64, 80, step=4)
    mask = flow.reliable(flow.flow(current, previous), flow.flow(previous, current))
    assert mask[:, -3:].mean() < 0.05  # these columns were outside the previous frame
    assert mask[6:-6, 6:-10].mean() > 0.95


def test_what_a_moving_object_uncovers_is_not_trusted():
    scene = texture(64, 96, seed=1)
    patch = texture(20, 20, seed=2)
    previous, current = scene.copy(), scene.copy()
    previous[20:40, 20:40] = patch
    current[20:40, 28:48] = patch  # moved 8 px right: columns 20-27 show the background again
    mask = flow.reliable(flow.flow(current, previous), flow.flow(previous, current))
    assert mask[22:38, 21:27].mean() < 0.3  # uncovered background
    assert mask[5:15, 60:90].mean() > 0.95 and mask[48:60, 5:90].mean() > 0.95  # still background


def test_identical_frames_do_not_flicker_and_noise_does():
    frames = pan_frames(4, 48, 64, step=2)
    assert flow.flicker(frames, frames) < 2.0  # the scene itself, carried along its own flow
    rng = np.random.default_rng(0)
    noisy = [np.clip(f + rng.normal(0, 20, f.shape), 0, 255).astype(np.uint8) for f in frames]
    assert flow.flicker(frames, noisy) > 10.0
