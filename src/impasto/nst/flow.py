"""Optical flow between video frames, backward warping, and where the flow can be trusted.

The method of Ruder, Dosovitskiy and Brox, "Artistic style transfer for videos" (2016), section 3:
the previous stylised frame is carried to the current one along the flow, and only pixels where the
forward and backward flows agree (and which are not on a motion boundary) are held to it. Flow is
OpenCV's DIS (dense inverse search): fast, on CPU, from ``opencv-python-headless``. No TensorFlow.

Conventions: a flow is an (H, W, 2) float32 array of (dx, dy) in pixels, defined on the frame it
starts from. ``flow(a, b)`` gives, at each pixel x of ``a``, where it went in ``b``: a(x) ≈ b(x + f(x)).
"""

from __future__ import annotations

import cv2
import numpy as np

# Ruder et al.'s thresholds (eq. 5-6): forward and backward flow disagree when
# |w̃ + ŵ|² > CONSISTENCY·(|w̃|² + |ŵ|²) + SLACK; a motion boundary where |∇u|² + |∇v|² >
# BOUNDARY·|w|² + BOUNDARY_SLACK.
CONSISTENCY = 0.01
SLACK = 0.5
BOUNDARY = 0.01
BOUNDARY_SLACK = 0.002


def flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense flow from RGB frame ``a`` to RGB frame ``b`` (DIS, 'medium' preset)."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(_grey(a), _grey(b), None).astype(np.float32)


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.uint8), cv2.COLOR_RGB2GRAY)


def warp(image: np.ndarray, backward: np.ndarray, border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    """``image`` (of the previous frame) carried to the current frame: out(x) = image(x + backward(x)),
    bilinear, borders repeated (or as ``border`` says), as float32. ``backward`` is the flow from the
    current frame to the previous one."""
    height, width = backward.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    map_x, map_y = grid_x + backward[..., 0], grid_y + backward[..., 1]
    source = np.ascontiguousarray(image, dtype=np.float32)
    return cv2.remap(source, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=border)


def reliable(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """(H, W) float32 mask on the current frame: 1 where the previous frame's pixel can be trusted,
    0 where it was hidden (forward and backward flow disagree), lies on a motion boundary, or came
    from outside the previous frame (a pan's new edge). ``backward``: current -> previous,
    ``forward``: previous -> current."""
    height, width = backward.shape[:2]
    forward_here = warp(forward, backward)  # the forward flow of the pixel each one came from
    total = forward_here + backward
    consistent = (total ** 2).sum(-1) <= CONSISTENCY * ((forward_here ** 2).sum(-1) + (backward ** 2).sum(-1)) + SLACK
    du = np.gradient(backward[..., 0])
    dv = np.gradient(backward[..., 1])
    gradient = du[0] ** 2 + du[1] ** 2 + dv[0] ** 2 + dv[1] ** 2
    calm = gradient <= BOUNDARY * (backward ** 2).sum(-1) + BOUNDARY_SLACK
    grid_x, grid_y = np.meshgrid(np.arange(width), np.arange(height))
    source_x, source_y = grid_x + backward[..., 0], grid_y + backward[..., 1]
    inside = (source_x >= 0) & (source_x <= width - 1) & (source_y >= 0) & (source_y <= height - 1)
    return (consistent & calm & inside).astype(np.float32)


def carry(previous_result: np.ndarray, previous_frame: np.ndarray, frame: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """The previous stylised frame warped onto ``frame`` (float32 RGB) and the reliability mask,
    from the flows between the input frames (the stylised ones would mislead the flow)."""
    backward = flow(frame, previous_frame)
    forward = flow(previous_frame, frame)
    return warp(previous_result, backward), reliable(backward, forward)


def trusted(previous_frame: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """The reliability mask of ``carry``, without carrying anything: where ``frame``'s pixels can
    be taken from ``previous_frame`` (src/impasto/nst/ground_plan.py looks ahead with it)."""
    return reliable(flow(frame, previous_frame), flow(previous_frame, frame))


def flicker(inputs: list[np.ndarray], outputs: list[np.ndarray]) -> float:
    """How much a painted clip flickers: the mean absolute difference (0-255 units) between each
    output frame and the previous output frame warped by the *input's* flow, over the pixels the
    input's flow says are reliable, averaged over the frame pairs. A perfectly stable painting that
    moves with the scene scores near 0; independent frames score their frame-to-frame noise."""
    scores = []
    for index in range(1, len(outputs)):
        backward = flow(inputs[index], inputs[index - 1])
        forward = flow(inputs[index - 1], inputs[index])
        mask = reliable(backward, forward)
        if mask.sum() == 0:
            continue
        warped = warp(outputs[index - 1], backward)
        difference = np.abs(outputs[index].astype(np.float32) - warped).mean(-1)
        scores.append(float((difference * mask).sum() / mask.sum()))
    return float(np.mean(scores)) if scores else 0.0
