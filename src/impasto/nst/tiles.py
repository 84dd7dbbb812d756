"""Pictures larger than the memory allows, painted in overlapping tiles (NumPy only).

The coarse scales run on the whole picture as usual; a scale whose estimated peak memory exceeds
the budget is painted tile by tile, row by row: each tile starts from the picture so far (its
neighbours above and to the left already painted where they overlap), is optimised on its own,
and is blended back with weights that ramp from 0 to 1 across those overlaps, so every overlap
ends as a smooth cross-fade and no tile border shows (albarji/neural-style-docker blends overlaps the same way;
crowsonkb/style-transfer-pytorch shifts its grid instead). The style targets are the whole
painting's, computed once (src/impasto/nst/strips.py when the painting itself is too large).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from impasto.nst import hardware
from impasto.nst.errors import ResourceError

# Tiles overlap by this share of their side (at least MIN_OVERLAP px): wide enough for a smooth
# cross-fade and for the content layer's receptive field to see past the border.
OVERLAP_SHARE = 0.2
MIN_OVERLAP = 32
MIN_TILE = 128  # below this a tile holds too little of the picture for the deep style layers
ALIGN = 16  # tile sides are multiples of the network's total pooling (block5)
# Whole-picture arrays held beside the tiles (float copies of the picture, its start, the blend
# weights, the photo), per pixel.
WHOLE_BYTES_PER_PIXEL = 48
# Tiles and strips are sized to this share of the budget: sized to all of it, a 2048 px job under
# a 2 GB budget peaked at 2.22 GB (RSS), the estimate's constants being ~10 % optimistic there.
SIZING_SHARE = 0.85


@dataclass(frozen=True)
class Tile:
    """One tile: rows top:bottom, columns left:right of the picture."""

    top: int
    bottom: int
    left: int
    right: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.bottom), slice(self.left, self.right)

    @property
    def hw(self) -> tuple[int, int]:
        return self.bottom - self.top, self.right - self.left


@dataclass(frozen=True)
class Grid:
    """The tiles covering a (height, width) picture, row by row."""

    hw: tuple[int, int]
    side: int
    overlap: int  # the least overlap asked for
    tiles: tuple[Tile, ...]
    fades: tuple[int, int] = (0, 0)  # rows, columns of the actual overlap between neighbours: the cross-fades

    def __len__(self) -> int:
        return len(self.tiles)


def tile_side(budget_bytes: float, hw: tuple[int, int], deepest: str) -> int:
    """The largest tile side (a multiple of ALIGN) whose optimisation fits in the budget beside the
    whole picture's arrays (with SIZING_SHARE's margin); ResourceError when not even a MIN_TILE tile does."""
    left = budget_bytes * SIZING_SHARE - WHOLE_BYTES_PER_PIXEL * hw[0] * hw[1]
    per_pixel = hardware.estimate_peak_bytes(1, 1, deepest) - hardware.BASE_BYTES
    side = int(math.sqrt(max(0.0, left - hardware.BASE_BYTES) / per_pixel)) // ALIGN * ALIGN
    if side < MIN_TILE:
        need = (hardware.estimate_peak_bytes(MIN_TILE, MIN_TILE, deepest)
                + WHOLE_BYTES_PER_PIXEL * hw[0] * hw[1]) / SIZING_SHARE
        raise ResourceError(f"a {hw[1]}×{hw[0]} result needs at least {need / 1e9:.1f} GB of memory even in "
                            f"{MIN_TILE}-px tiles and {budget_bytes / 1e9:.1f} GB is available; choose a smaller size")
    return side


def plan(hw: tuple[int, int], deepest: str, budget_bytes: float, side: int | None = None) -> Grid | None:
    """None when the whole picture fits the budget; else the grid of tiles to paint it in.
    ``side`` forces a tile side (tests; the benchmark)."""
    if side is None:
        if hardware.estimate_peak_bytes(*hw, deepest) <= budget_bytes:
            return None
        side = tile_side(budget_bytes, hw, deepest)
    overlap = min(side // 2, max(MIN_OVERLAP, round(side * OVERLAP_SHARE)))
    rows, cols = _starts(hw[0], side, overlap), _starts(hw[1], side, overlap)
    tiles = tuple(Tile(top, min(top + side, hw[0]), left, min(left + side, hw[1])) for top in rows for left in cols)
    fades = (_actual_overlap(rows, side, hw[0]), _actual_overlap(cols, side, hw[1]))
    return Grid(hw, side, overlap, tiles, fades)


def _actual_overlap(starts: list[int], side: int, length: int) -> int:
    """How much neighbouring tiles along one axis overlap once spread evenly (the least of them)."""
    if len(starts) < 2:
        return 0
    return min(min(a + side, length) - b for a, b in zip(starts, starts[1:]))


def _starts(length: int, side: int, overlap: int) -> list[int]:
    """Evenly spread tile starts along one axis, neighbours overlapping by at least ``overlap``."""
    if length <= side:
        return [0]
    count = math.ceil((length - overlap) / (side - overlap))
    return [round(i * (length - side) / (count - 1)) for i in range(count)]


def blend_weights(tile: Tile, fades: tuple[int, int]) -> np.ndarray:
    """(h, w, 1) weights: 1, ramping up from 0 across the whole overlap at the top and left edges,
    where the tiles before it (row by row) were painted. Their right and bottom edges are then
    covered by this tile's ramp, so every overlap ends as a straight cross-fade between two tiles
    (across all of it: a fade narrower than the overlap left a visible line at its end at 2048 px)."""
    def ramp(start: int, size: int, overlap: int) -> np.ndarray:
        weights = np.ones(size, np.float32)
        fade = min(overlap, size // 2)
        if start > 0:
            weights[:fade] = (np.arange(fade, dtype=np.float32) + 1) / (fade + 1)
        return weights
    height, width = tile.hw
    return (ramp(tile.top, height, fades[0])[:, None] * ramp(tile.left, width, fades[1])[None, :])[:, :, None]


# Paints one tile: (tile, its number, its start picture, compose) -> the tile's picture, where
# compose(tile picture) gives the whole picture with it blended in (for previews).
SolveTile = Callable[[Tile, int, np.ndarray, Callable[[np.ndarray], np.ndarray]], np.ndarray]


def paint_in_tiles(grid: Grid, start_rgb: np.ndarray, solve: SolveTile) -> np.ndarray:
    """The scale's picture, tile by tile: each starts from the picture so far, and is blended in."""
    canvas = np.asarray(start_rgb, np.float32).copy()
    for number, tile in enumerate(grid.tiles):
        weights = blend_weights(tile, grid.fades)
        rows, cols = tile.slices

        def compose(rgb: np.ndarray, rows=rows, cols=cols, weights=weights) -> np.ndarray:
            whole = canvas.copy()
            whole[rows, cols] = (1 - weights) * whole[rows, cols] + weights * rgb
            return np.clip(whole.round(), 0, 255).astype(np.uint8)

        painted = solve(tile, number, canvas[rows, cols], compose)
        canvas[rows, cols] = (1 - weights) * canvas[rows, cols] + weights * np.asarray(painted, np.float32)
    # In place: two float copies of a 4096 px canvas (0.3 GB) put the run's peak over its 2 GB budget.
    np.clip(np.rint(canvas, out=canvas), 0, 255, out=canvas)
    return canvas.astype(np.uint8)


def strips(height: int, rows: int, halo: int) -> Iterator[tuple[int, int, int, int]]:
    """Horizontal strips of ``rows`` rows (multiples of ALIGN) with ``halo`` rows of context each
    side: (input top, input bottom, kept top, kept bottom) in pixels."""
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        yield max(0, top - halo), min(height, bottom + halo), top, bottom
