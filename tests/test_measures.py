"""The quality benchmark's model-free measures (bench/measures.py) against known pictures."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tests.conftest import ROOT, gradient_image, stripes_image

sys.path.insert(0, str(ROOT / "bench"))
import measures  # noqa: E402


def flat(value, height=64, width=80):
    return np.full((height, width, 3), value, dtype=np.uint8)


def test_lab_of_known_colours():
    lab = measures.rgb_to_lab(np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0]]], dtype=np.uint8))[0]
    assert lab[0] == pytest.approx([100, 0, 0], abs=0.01)
    assert lab[1] == pytest.approx([0, 0, 0], abs=0.01)
    assert lab[2] == pytest.approx([53.24, 80.09, 67.20], abs=0.05)  # sRGB red, D65


def test_palette_distance_is_zero_for_the_same_colours_and_grows_with_the_shift():
    picture = gradient_image(64, 80)
    shuffled = picture.reshape(-1, 3)[np.random.default_rng(1).permutation(64 * 80)].reshape(picture.shape)
    assert measures.palette_distance(picture, shuffled) == pytest.approx(0, abs=1e-9)  # places do not count
    near, far = flat(120), flat(160)
    assert 0 < measures.palette_distance(flat(100), near) < measures.palette_distance(flat(100), far)
    assert measures.palette_distance(flat(100), far) == pytest.approx(measures.palette_distance(far, flat(100)))


def test_palette_distance_of_two_greys_is_their_lightness_gap_times_the_mean_projection():
    lab_a, lab_b = measures.rgb_to_lab(flat(90)[:1, :1])[0, 0], measures.rgb_to_lab(flat(200)[:1, :1])[0, 0]
    directions = np.random.default_rng(0).normal(size=(64, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    expected = np.mean(np.abs(directions @ (lab_b - lab_a)))
    assert measures.palette_distance(flat(90), flat(200)) == pytest.approx(expected, rel=1e-9)


def test_high_frequency_ranks_flat_below_smooth_below_stripes():
    smooth = gradient_image(128, 160)
    assert measures.high_frequency(flat(128)) == pytest.approx(0, abs=1e-9)
    assert measures.high_frequency(smooth) < measures.high_frequency(stripes_image(128, 160, period=2))


def test_ssim_is_one_for_the_same_picture_and_falls_with_noise_and_inversion():
    picture = gradient_image(96, 128)
    noisy = np.clip(picture + np.random.default_rng(2).normal(0, 40, picture.shape), 0, 255).astype(np.uint8)
    assert measures.ssim(picture, picture) == pytest.approx(1.0, abs=1e-9)
    assert measures.ssim(picture, noisy) < 0.9
    assert measures.ssim(picture, 255 - picture) < 0.5


def test_ssim_of_a_brightened_picture_is_its_luminance_term_alone():
    # A constant shift keeps contrast and structure, so SSIM reduces to the mean of
    # (2·μ·(μ+d) + C1) / (μ² + (μ+d)² + C1) over the blurred luminance μ: computed here independently.
    from scipy import ndimage

    y, x = np.mgrid[0:192, 0:256]
    grey = (60 + 120 * (x / 256) + 40 * np.sin(y / 9)).astype(np.uint8)  # 20..220: no wrap-around
    picture = np.repeat(grey[..., None], 3, axis=2)
    shift, c1 = 20, (0.01 * 255) ** 2
    mu = ndimage.gaussian_filter(grey.astype(np.float64), 1.5)
    expected = np.mean((2 * mu * (mu + shift) + c1) / (mu ** 2 + (mu + shift) ** 2 + c1))
    assert measures.ssim(picture, picture + shift) == pytest.approx(expected, abs=1e-6)


def test_picture_scores_of_the_photo_itself():
    photo, painting = gradient_image(96, 128), stripes_image(96, 128)
    scores = measures.picture_scores(photo, photo, painting)
    assert scores["ssim_photo"] == 1.0 and scores["hf_vs_photo"] == 1.0 and scores["dark_ssim"] == 1.0
    flat_coherence = measures.flat_stroke_coherence(photo, photo) / measures.stroke_coherence(painting)
    assert scores["strokes_vs_painting"] == pytest.approx(flat_coherence, abs=1e-3)
    expected = measures.palette_distance(measures.resize_longest(photo), measures.resize_longest(painting))
    assert scores["palette_distance"] == pytest.approx(expected, abs=1e-3)


def test_flat_areas_are_the_photos_flattest_quarter():
    # Left half flat grey, right half fine stripes: the flattest pixels lie in the left half, away from the edge
    # (more than a quarter here: every pixel whose blurred gradient ties with the quarter's is flat too).
    photo = flat(128, 128, 256)
    photo[:, 128:] = stripes_image(128, 128, period=4)
    mask = measures.flat_areas(photo, (128, 256))
    assert 0.25 <= mask.mean() < 0.5
    assert mask[:, :100].all() and not mask[:, 120:].any()
    ramp = np.repeat(np.linspace(0, 255, 256)[None, :] ** 2 / 255, 128, axis=0).astype(np.uint8)  # flat on the left
    ramp_mask = measures.flat_areas(np.repeat(ramp[..., None], 3, axis=2), (128, 256))
    assert ramp_mask.mean() == pytest.approx(0.25, abs=0.02) and ramp_mask[:, :40].all()


def test_flat_high_frequency_counts_ripples_only_where_the_photo_is_flat():
    from scipy import ndimage

    photo = flat(128, 128, 256)
    photo[:, 128:] = stripes_image(128, 128, period=4)
    calm_sky = photo.copy()  # the stripes stay, the flat half stays flat
    rippled = photo.copy()
    rippled[:, :128] = stripes_image(128, 128, period=3)
    assert measures.flat_high_frequency(calm_sky, photo) == pytest.approx(0, abs=1e-9)
    # Independently: the Laplacian's mean magnitude over the mask computed here.
    mask = measures.flat_areas(photo, (128, 256))
    lum = rippled.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    expected = np.abs(ndimage.laplace(lum))[mask].mean()
    assert measures.flat_high_frequency(rippled, photo) == pytest.approx(expected, rel=1e-9)
    assert expected > 10


def test_stroke_coherence_tells_long_strokes_from_dots():
    y, x = np.mgrid[0:256, 0:256]  # MEASURE_SIDE: the masks below are at the measures' own size
    lines = np.repeat((127 + 100 * np.sin((x + 0.5 * y) / 3.0))[..., None], 3, axis=2).astype(np.uint8)
    dots = np.repeat((127 + 100 * np.sin(x / 1.5) * np.sin(y / 1.5))[..., None], 3, axis=2).astype(np.uint8)
    noise = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    assert measures.stroke_coherence(lines) > 0.9  # parallel strokes: one direction everywhere
    assert measures.stroke_coherence(dots) < 0.5 and measures.stroke_coherence(noise) < 0.3
    # only the masked area counts: lines on the left, dots on the right
    half = lines.copy()
    half[:, 128:] = dots[:, 128:]
    left = np.zeros((256, 256), bool)
    left[:, :112] = True
    assert measures.stroke_coherence(half, left) > 0.9 > measures.stroke_coherence(half, ~left)


def test_dark_ssim_sees_shapes_lost_in_the_shadows_only():
    photo = gradient_image(128, 160) // 2 + 120  # a lit upper half
    photo[64:, :] = stripes_image(64, 160, period=5) // 3  # a dark lower half with shapes in it
    assert measures.dark_ssim(photo, photo) == pytest.approx(1.0)
    sunk = photo.copy()
    sunk[64:, :] = 10  # the shadows painted one flat dark colour: the shapes there are gone
    bright_lost = photo.copy()
    bright_lost[:64, :] = 200  # the lit half flattened instead
    assert measures.dark_ssim(photo, sunk) < 0.5
    assert measures.dark_ssim(photo, bright_lost) > 0.95  # the dark quarter is all in the lower half
    assert measures.dark_areas(photo, (128, 160))[:64].sum() == 0
