"""Palette match: the painting takes the photo's colour mean and covariance before the run."""

from __future__ import annotations

import numpy as np

from impasto.cli import build_parser
from impasto.nst import inputs
from impasto.nst.colors import match_palette
from impasto.nst.options import Options, option_specs
from tests.conftest import gradient_image, stripes_image


def noisy_painting(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(stripes_image(60, 80) * 0.6 + rng.normal(40, 20, (60, 80, 3)), 0, 255).astype(np.uint8)


def stats(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pixels = rgb.reshape(-1, 3).astype(np.float64)
    return pixels.mean(axis=0), np.cov(pixels, rowvar=False)


def test_match_palette_moves_mean_and_covariance_to_the_photo() -> None:
    # A photo of moderate contrast: the transfer is exact up to rounding where nothing is clipped.
    photo, painting = (gradient_image(48, 64) * 0.5 + 60).astype(np.uint8), noisy_painting()
    matched = match_palette(painting, photo)
    assert matched.shape == painting.shape and matched.dtype == np.uint8
    (mean_p, cov_p), (mean_s, cov_s), (mean_m, cov_m) = stats(photo), stats(painting), stats(matched)
    # Before: far apart; after: equal within rounding.
    assert np.abs(mean_s - mean_p).max() > 20 and np.abs(mean_m - mean_p).max() < 2.0
    assert np.linalg.norm(cov_s - cov_p) / np.linalg.norm(cov_p) > 0.5
    assert np.linalg.norm(cov_m - cov_p) / np.linalg.norm(cov_p) < 0.05
    # The structure stays the painting's: each matched pixel is one affine map of the painting's pixel.
    source = np.hstack([painting.reshape(-1, 3), np.ones((painting[..., 0].size, 1))]).astype(float)
    target = matched.reshape(-1, 3).astype(float)
    residual = target - source @ np.linalg.lstsq(source, target, rcond=None)[0]
    assert np.abs(residual).mean() < 1.5


def test_a_one_colour_painting_does_not_break_it() -> None:
    flat = np.full((20, 20, 3), 90, np.uint8)
    assert np.isfinite(match_palette(flat, gradient_image()).astype(float)).all()


def test_the_engine_paints_with_the_matched_painting() -> None:
    photo, painting = gradient_image(), noisy_painting()
    on = inputs.paintings(painting, photo, Options(match_palette=True))
    off = inputs.paintings(painting, photo, Options())
    assert np.array_equal(on[0], match_palette(painting, photo)) and np.array_equal(off[0], painting)


def test_option_reaches_cli_and_api_from_the_one_spec() -> None:
    assert option_specs()["match_palette"][0] is False
    assert Options.from_mapping({"match_palette": "1"}).match_palette is True
    args = build_parser().parse_args(["transfer", "a.png", "b.png", "-o", "c.png", "--match-palette"])
    assert args.match_palette is True
