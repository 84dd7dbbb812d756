"""Where the photo is flat, and which way strokes run there: the per-pixel factors of the TV term.

A flat area (sky, still water) gets 1 + ``flat_smoothing`` times the TV weight. ``stroke_flow`` of
that extra smoothing acts only along the photo's large-scale structure (the horizon, roof lines,
the river bank, carried into the sky by a wide structure tensor) instead of in every direction, so
paint there may change across that direction but not along it: the painting's texture is drawn
out into long strokes that follow the photo, where equal smoothing in every direction left round
dots (measured in docs/benchmark.md, "Strokes that follow the photo").
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

# The structure tensor's integration scale, as a fraction of the picture's longest side: wide enough
# that a sky far from any edge still takes a direction from the outlines around it.
FLOW_SCALE = 1 / 16
# Gradients are made unit length before the tensor is summed, so that a sky's faint brightening
# towards the horizon counts as much as a roof's edge; this many grey levels per pixel keeps noise
# in a perfectly flat area from being blown up to unit length too.
GRADIENT_FLOOR = 0.01
# Added to the tensor's vertical part: where nothing in reach gives a direction (a synthetic, perfectly
# even area), strokes run level, as a horizon's would; a thousandth of one unit gradient's weight.
LEVEL_BIAS = 1e-3
# The tensor is summed on a grid of under twice this many pixels a side: its blur (1/16 of the side)
# makes it smooth, and at the full size of a 2048 px print the blur alone took 7 s (area-averaged
# down, blurred, and interpolated back up instead; every picture under 1024 px keeps its full grid).
TENSOR_SIDE = 512


def tv_factors(content_rgb: np.ndarray, boost: float, flow: float) -> np.ndarray:
    """(H-1, W-1, 3) float32 factors of the TV term: in every direction, along the stroke
    direction, and that direction's angle in radians (0: horizontal, π/2: vertical)."""
    luminance = _blurred_luminance(content_rgb)
    extra = boost * _flatness(luminance)
    factors = np.stack([1.0 + extra * (1.0 - flow), extra * flow, stroke_angles(luminance)], axis=-1)
    return factors[:-1, :-1].astype(np.float32)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma (H, W) float32, channel by channel: a 4096 px print's photo in float64 at once
    is 0.3 GB."""
    return sum(weight * np.asarray(rgb[:, :, channel], np.float32)
               for channel, weight in enumerate((0.299, 0.587, 0.114)))


def _blurred_luminance(content_rgb: np.ndarray) -> np.ndarray:
    lum = luminance(content_rgb)
    return ndimage.gaussian_filter(lum, _sigma(lum))


def _sigma(luminance: np.ndarray) -> float:
    return max(1.0, max(luminance.shape) / 256.0)


def _flatness(luminance: np.ndarray) -> np.ndarray:
    """exp(-(g/m)²) per pixel, g the gradient magnitude and m its median, so "flat" is relative to
    the photo itself at any size; blurred the same way as the luminance so that it has no seams."""
    gradient = np.hypot(ndimage.sobel(luminance, axis=0), ndimage.sobel(luminance, axis=1))
    flat = np.exp(-np.square(gradient / max(float(np.median(gradient)), 1e-6)))
    return ndimage.gaussian_filter(flat, _sigma(luminance))


def stroke_angles(luminance: np.ndarray) -> np.ndarray:
    """The direction of the isophotes (lines of equal brightness) of the photo's large-scale
    structure, per pixel, in radians (0: horizontal, π/2: vertical)."""
    gy, gx = ndimage.sobel(luminance, axis=0), ndimage.sobel(luminance, axis=1)
    length = np.hypot(gx, gy) + GRADIENT_FLOOR
    gy, gx = gy / length, gx / length
    jxx, jyy, jxy = (_blurred_wide(v) for v in (gx * gx, gy * gy, gx * gy))
    gradient_angle = 0.5 * np.arctan2(2.0 * jxy, jxx - jyy - LEVEL_BIAS)
    return gradient_angle + np.pi / 2  # isophotes run across the gradient


def _blurred_wide(values: np.ndarray) -> np.ndarray:
    """A Gaussian blur over FLOW_SCALE of the longest side, on a grid of at most about 2 × TENSOR_SIDE."""
    height, width = values.shape
    step = max(1, max(height, width) // TENSOR_SIDE)
    scale = max(height, width) * FLOW_SCALE / step
    if step == 1:
        return ndimage.gaussian_filter(values, scale)
    small = cv2.resize(values, (max(1, width // step), max(1, height // step)), interpolation=cv2.INTER_AREA)
    return cv2.resize(ndimage.gaussian_filter(small, scale), (width, height), interpolation=cv2.INTER_LINEAR)
