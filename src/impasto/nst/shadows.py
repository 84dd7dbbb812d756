"""Where the photo is dark: per-position factors of the content term that keep shapes in shadows.

A dark area's features are small, so the content term (a squared difference of features) hardly
notices when the painting covers it: the tree on the left of Tübingen sank into the shadow and the
river's reflections went. Each position's difference is weighed by 1 + ``shadow_content`` times how
dark the photo is there, relative to its median brightness, and the factors are scaled to average 1
over the picture, so the content term as a whole keeps its weight: it moves from the bright areas
(which keep their shapes anyway) to the dark ones (measured in docs/benchmark.md, "Strokes that
follow the photo").
"""

from __future__ import annotations

import numpy as np

from impasto.nst import flatness
from impasto.nst.vgg import layer_hw, pool_factor


def shadow_map(content_rgb: np.ndarray, strength: float) -> np.ndarray:
    """(H, W) float32 factors averaging 1: 1 + strength × darkness, darkness 0 at or above the
    photo's median brightness and 1 at black."""
    luminance = flatness.luminance(content_rgb)
    median = max(float(np.median(luminance)), 1.0)
    factors = 1.0 + strength * np.clip((median - luminance) / median, 0.0, 1.0)
    return (factors / float(np.mean(factors))).astype(np.float32)


def at_layer(factors: np.ndarray, name: str) -> np.ndarray:
    """A pixel map's mean over each position of a VGG16 layer, as (1, h, w, 1) float32."""
    height, width = layer_hw(name, factors.shape[:2])
    step = pool_factor(name)
    blocks = factors[:height * step, :width * step].reshape(height, step, width, step)
    return blocks.mean(axis=(1, 3), dtype=np.float32)[None, :, :, None]
