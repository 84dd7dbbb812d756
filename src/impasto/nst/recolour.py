"""Where a run starts: the photo in the paintings' colours (``start_palette``).

Pitié, Kokaram and Dahyot's iterative distribution transfer (2005, "N-dimensional probability
density function transfer"): the photo's colours are turned to random axes, each axis is mapped
onto the painting's by their quantiles, and that repeats until the whole three-dimensional colour
distribution is the painting's. Each step is monotone along its axis, so the photo's shapes stay
where they were. From there L-BFGS spends its iterations on strokes instead of on moving every
pixel's colour: 50 iterations paint as well as 100 did from the photo as it is (docs/benchmark.md,
"A start in the painting's colours"), where a mean-and-covariance transfer muddied a two-colour
palette such as The Scream's.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

ROUNDS = 12  # random rotations; the palette distance stops falling after about ten
LEVELS = 256  # quantiles each axis is matched at
SAMPLE = 1 << 16  # pixels the distributions are judged on: a big photo maps through the same curves
SEED = 0  # the same photo and painting always start from the same picture


def painted_start(photo_rgb: np.ndarray, paintings: Sequence[np.ndarray], blend: Sequence[float],
                  masks: Sequence[np.ndarray], share: float) -> np.ndarray:
    """The photo with ``share`` (0..1) of the way to the paintings' colours (RGB uint8, its shape).

    Without masks the target is the paintings' colours mixed by ``blend``; with masks (one per
    painting, at the photo's size) each region takes its own painting's colours and the photo
    stays itself where no mask covers.
    """
    if share <= 0:
        return np.asarray(photo_rgb, np.uint8).copy()
    photo = np.asarray(photo_rgb, np.float64)
    if masks:
        covered = sum(masks)[..., None]
        overlap = np.maximum(covered, 1.0)  # where masks overlap, their paintings share the pixel
        recoloured = photo * (1.0 - np.minimum(covered, 1.0))
        for mask, painting in zip(masks, paintings):
            recoloured += mask[..., None] / overlap * transfer_colours(photo, [painting], [1.0])
    else:
        recoloured = transfer_colours(photo, paintings, blend)
    mixed = (1.0 - share) * photo + share * recoloured
    return np.clip(mixed, 0, 255).round().astype(np.uint8)


def transfer_colours(photo_rgb: np.ndarray, paintings: Sequence[np.ndarray], blend: Sequence[float]) -> np.ndarray:
    """The photo's pixels moved to the paintings' colour distribution (float RGB, the photo's shape)."""
    rng = np.random.default_rng(SEED)
    pixels = np.asarray(photo_rgb, np.float64).reshape(-1, 3).T  # (3, N): each axis contiguous for interp
    target = _palette_sample(paintings, blend, rng).T
    judged = rng.integers(0, pixels.shape[1], SAMPLE) if pixels.shape[1] > SAMPLE else slice(None)
    for _ in range(ROUNDS):
        rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        turned, goal = rotation.T @ pixels, rotation.T @ target
        source_q, target_q = _quantiles(turned[:, judged]), _quantiles(goal)
        for axis in range(3):
            turned[axis] = np.interp(turned[axis], source_q[axis], target_q[axis])
        pixels = rotation @ turned
    return pixels.T.reshape(np.shape(photo_rgb))


def _quantiles(values: np.ndarray) -> np.ndarray:
    """(3, LEVELS): each row's values at LEVELS evenly spaced ranks, lowest to highest."""
    ranks = np.round(np.linspace(0, values.shape[1] - 1, LEVELS)).astype(int)
    return np.sort(values, axis=1)[:, ranks]


def _palette_sample(paintings: Sequence[np.ndarray], blend: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    """SAMPLE colours drawn from the paintings, each in proportion to its blend weight."""
    drawn = []
    for painting, weight in zip(paintings, blend):
        colours = np.asarray(painting, np.float64)[..., :3].reshape(-1, 3)
        count = int(round(weight * SAMPLE))
        if count:
            drawn.append(colours[rng.integers(0, len(colours), count)])
    return np.concatenate(drawn)
