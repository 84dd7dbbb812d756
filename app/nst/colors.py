"""Keep the photo's colours: luminance from the result, chroma from the photo.

This is the colour-transfer variant of Gatys et al. 2016 ("Preserving colour in neural artistic
style transfer"), as jcjohnson/neural-style's -original_colors does it: the optimisation runs as
usual, then the result's luminance (Y of YCbCr) is combined with the photo's chroma (Cb, Cr).
It keeps the photo's hues exactly, costs nothing, and keeps the painting's light and texture.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


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
