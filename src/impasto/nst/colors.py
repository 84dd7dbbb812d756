"""Colour control: keep the photo's colours (``preserve_colors``) or match the painting's palette to
the photo before the run (``match_palette``).

Keep the photo's colours: luminance from the result, chroma from the photo.

This is the colour-transfer variant of Gatys et al. 2016 ("Preserving colour in neural artistic
style transfer"), as jcjohnson/neural-style's -original_colors does it: the optimisation runs as
usual, then the result's luminance (Y of YCbCr) is combined with the photo's chroma (Cb, Cr).
It keeps the photo's hues exactly, costs nothing, and keeps the painting's light and texture.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# Added to both covariances' diagonals: a one-colour painting or photo has a singular covariance.
COVARIANCE_EPS = 1e-3


def preserve_colors(result_rgb: np.ndarray, content_rgb: np.ndarray) -> np.ndarray:
    """The result's luminance with the content's chroma, at the result's size (RGB uint8)."""
    height, width = result_rgb.shape[:2]
    content = Image.fromarray(np.asarray(content_rgb, np.uint8))
    if content.size != (width, height):
        content = content.resize((width, height), Image.Resampling.LANCZOS)
    y, _, _ = Image.fromarray(np.asarray(result_rgb, np.uint8)).convert("YCbCr").split()
    _, cb, cr = content.convert("YCbCr").split()
    return np.asarray(Image.merge("YCbCr", (y, cb, cr)).convert("RGB"), dtype=np.uint8)


def chroma(rgb: np.ndarray) -> np.ndarray:
    """The Cb, Cr planes of an RGB image as float (H, W, 2): used to measure colour preservation."""
    ycbcr = np.asarray(Image.fromarray(np.asarray(rgb, np.uint8)).convert("YCbCr"), dtype=np.float64)
    return ycbcr[:, :, 1:]


def match_palette(style_rgb: np.ndarray, content_rgb: np.ndarray) -> np.ndarray:
    """The painting with the photo's colour mean and covariance (RGB uint8, the painting's shape).

    The linear colour transfer of Gatys et al. 2017 ("Controlling Perceptual Factors", §5.1, as in
    Hertzmann's Image Analogies): x' = A (x - μ_s) + μ_c with A = Σ_c^½ Σ_s^-½, symmetric square
    roots from the eigendecompositions. Applied before the run, the painting's texture then comes
    in the photo's palette, where preserve_colors fixes the hues after the run.
    """
    style = np.asarray(style_rgb, np.float64).reshape(-1, 3)
    content = np.asarray(content_rgb, np.float64).reshape(-1, 3)
    mean_s, mean_c = style.mean(axis=0), content.mean(axis=0)
    transform = _sqrtm(_covariance(content)) @ _sqrtm(_covariance(style), inverse=True)
    matched = (style - mean_s) @ transform.T + mean_c
    return np.clip(matched, 0, 255).round().astype(np.uint8).reshape(np.shape(style_rgb))


def _covariance(pixels: np.ndarray) -> np.ndarray:
    return np.cov(pixels, rowvar=False) + COVARIANCE_EPS * np.eye(3)


def _sqrtm(matrix: np.ndarray, inverse: bool = False) -> np.ndarray:
    """Symmetric (inverse) square root of a symmetric positive-definite 3×3 matrix."""
    values, vectors = np.linalg.eigh(matrix)
    values = np.maximum(values, COVARIANCE_EPS)
    return vectors @ np.diag(values ** (-0.5 if inverse else 0.5)) @ vectors.T
