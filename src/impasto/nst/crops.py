"""Where a clip frame's new ground is, and the crops painted around it (src/impasto/nst/video.py).

New ground is where the previous painted frame cannot be carried onto this one: the flow between
the input frames is not trusted there (src/impasto/nst/flow.py). It depends on the input frames
alone, so a clip's crops are known before any frame is painted (src/impasto/nst/ground_plan.py).
"""

from __future__ import annotations

import cv2
import numpy as np

Box = tuple[slice, slice]  # rows, columns

NEW_GROUND_SPECK = 3  # px: unreliable specks narrower than this (flow noise) are not painted apart
CROP_CONTEXT = 1 / 16  # of the frame's longest side: painted context around the new ground (then dropped)
CROP_STEP = 16  # crop sides are multiples of this, so that crops of nearby sizes share a traced loss
# Of the frame: smaller new ground (flow noise, a sliver an object uncovers) takes its neighbours' paint,
# inpainted and held, not a crop (0.9 % of the 96 px pan's frames, painted apart, made them 1.5-2× as long).
NEW_GROUND_MIN = 0.01
WHOLE_FRAME_SHARE = 0.6  # crops covering more of the frame than this: the whole frame is painted instead


def new_ground(reliable: np.ndarray) -> np.ndarray:
    """The (H, W) uint8 0/1 map of a frame's new ground: where ``reliable`` (the flow's mask) is 0,
    specks of flow noise narrower than NEW_GROUND_SPECK left out."""
    return cv2.morphologyEx((reliable < 0.5).astype(np.uint8), cv2.MORPH_OPEN,
                           np.ones((NEW_GROUND_SPECK, NEW_GROUND_SPECK), np.uint8))


def box_shape(box: Box) -> tuple[int, int]:
    """(height, width) of a crop."""
    return int(box[0].stop - box[0].start), int(box[1].stop - box[1].start)


def small_regions(new: np.ndarray) -> np.ndarray:
    """The (H, W) uint8 map of the regions of ``new`` smaller than NEW_GROUND_MIN of the frame."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(new, connectivity=8)
    small = [label for label in range(1, count) if stats[label, cv2.CC_STAT_AREA] < NEW_GROUND_MIN * new.size]
    return np.isin(labels, small).astype(np.uint8)


def new_ground_boxes(new: np.ndarray) -> list[Box]:
    """Crops (row and column slices) around the regions of ``new`` (an (H, W) 0/1 uint8 map), with
    context; overlapping crops merged; one crop, the whole frame, when they would cover most of it
    (a scene cut). Regions smaller than NEW_GROUND_MIN of the frame are left out."""
    height, width = new.shape
    longest = max(height, width)
    context = max(8, round(longest * CROP_CONTEXT))
    # At least half the frame's longest side along one axis: the painting is scaled for a crop by
    # style_scale × longest / the crop's longest side, which must stay within style_scale's range.
    reach = max(32, -(-longest // 2))
    count, _, stats, _ = cv2.connectedComponentsWithStats(new, connectivity=8)
    boxes = []
    for x, y, w, h, area in stats[1:count]:
        if area < NEW_GROUND_MIN * height * width:
            continue
        top, bottom = _span(y, y + h, context, height, CROP_STEP)
        left, right = _span(x, x + w, context, width, CROP_STEP)
        if max(bottom - top, right - left) < reach:
            if height >= width:
                top, bottom = _span(top, bottom, 0, height, reach)
            else:
                left, right = _span(left, right, 0, width, reach)
        boxes.append((top, bottom, left, right))
    boxes = _merged(boxes)
    if sum((bottom - top) * (right - left) for top, bottom, left, right in boxes) > WHOLE_FRAME_SHARE * height * width:
        boxes = [(0, height, 0, width)]
    return [(slice(top, bottom), slice(left, right)) for top, bottom, left, right in boxes]


def _merged(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Boxes (top, bottom, left, right) with every overlapping pair replaced by their union."""
    boxes = list(boxes)
    merged = True
    while merged:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                if a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]:
                    boxes[i] = (min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    return boxes


def _span(low: int, high: int, context: int, size: int, least: int) -> tuple[int, int]:
    """[low, high) widened by ``context`` each way, to at least ``least`` and a multiple of
    CROP_STEP where the frame allows, kept inside [0, size)."""
    low, high = max(0, low - context), min(size, high + context)
    want = min(size, max(least, high - low))
    want = min(size, -(-want // CROP_STEP) * CROP_STEP)
    low = max(0, min(low - (want - (high - low)) // 2, size - want))
    return low, low + want
