"""Impasto's own L-BFGS for the default run (free, then a polish projected onto 0..255): the
two-loop recursion, a backtracking line search that tries the full step first, and a box the
polish projects onto.

Why not scipy's L-BFGS-B here (it still runs the article's rounds and ``pixel_bounds``): each scipy
run starts from nothing, with a first step of unit length that its line search stretched over ~6
evaluations, and the polish is a second run; a bounded run also converts its bounds in a Python
loop, ~1.7 s for the 590k values of a 512 px picture. This one sizes its first step, keeps its
curvature pairs from the free run into the polish, and projects with numpy: a scale's iterations
cost about one evaluation each (docs/benchmark.md).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Callable

import numpy as np

Box = tuple[np.ndarray, np.ndarray]  # lowest and highest value of every variable

MEMORY = 10  # curvature pairs kept, as scipy's L-BFGS-B
FIRST_STEP = 2.0  # the first step's root-mean-square per value (caffe units: pixel levels)
ARMIJO = 1e-4  # sufficient decrease: a step must gain this share of what its slope promised
BACKTRACKS = 8  # shorter steps tried before giving up on a direction
# Relative decrease under which a run has converged (scipy's factr=1e7 times float64's epsilon).
CONVERGED = 1e7 * np.finfo(float).eps


class Lbfgs:
    """Minimises ``evaluate(x) -> (loss, gradient)`` over float64 vectors, calling
    ``on_iteration(x)`` after each accepted step. One instance serves consecutive runs on the
    same variables (the free run, then the polish) and keeps its curvature between them."""

    def __init__(self, evaluate: Callable[[np.ndarray], tuple[float, np.ndarray]],
                 on_iteration: Callable[[np.ndarray], None], memory: int = MEMORY):
        self.evaluate = evaluate
        self.on_iteration = on_iteration
        self.pairs: deque[tuple[np.ndarray, np.ndarray, float]] = deque(maxlen=memory)
        self._last: tuple[np.ndarray, float, np.ndarray] | None = None  # x, loss, gradient

    def run(self, x: np.ndarray, iterations: int, box: Box | None = None) -> np.ndarray:
        """Up to ``iterations`` steps from ``x`` (projected into ``box`` first, if given); stops
        early when the loss no longer falls. Returns the last accepted point."""
        x = np.clip(x, *box) if box else x
        f, g = self._at(x)
        for _ in range(iterations):
            step = self._line_search(x, f, g, box)
            if step is None:
                break  # no direction lowers the loss beyond its round-off: as far as it goes
            x_new, f_new, g_new = step
            self._remember(x_new - x, g_new - g)
            converged = f - f_new <= CONVERGED * max(abs(f), abs(f_new), 1.0)
            x, f, g = x_new, f_new, g_new
            self._last = (x, f, g)
            self.on_iteration(x)
            if converged:
                break
        return x

    def _at(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Loss and gradient at ``x``: the last run's end again when the polish starts where it
        stopped (nothing was outside the box), else a new evaluation."""
        if self._last is not None and np.array_equal(self._last[0], x):
            return self._last[1], self._last[2]
        f, g = self.evaluate(x)
        self._last = (x, f, g)
        return f, g

    def _line_search(self, x: np.ndarray, f: float, g: np.ndarray, box: Box | None):
        """The full L-BFGS step, else shorter ones (quadratic interpolation, kept within a tenth and
        a half of the last), until the loss falls enough; after a failed direction, once more along
        the plain gradient without the curvature pairs. None when neither finds a lower loss."""
        for _ in range(2):
            free = _free(x, g, box)
            d = self._direction(g, free)
            slope = float(g @ d)
            if slope >= 0.0:  # round-off turned the curvature's direction uphill
                self.pairs.clear()
                d = -g * free if free is not None else -g
                slope = float(g @ d)
            if slope == 0.0:
                return None
            alpha = 1.0 if self.pairs else FIRST_STEP * math.sqrt(len(x)) / float(np.linalg.norm(d))
            for _ in range(BACKTRACKS):
                x_new = x + alpha * d
                if box:
                    np.clip(x_new, *box, out=x_new)
                f_new, g_new = self.evaluate(x_new)
                if f_new <= f + ARMIJO * float(g @ (x_new - x)):
                    return x_new, f_new, g_new
                alpha = _shorter(alpha, f, slope, f_new)
            if not self.pairs:
                return None
            self.pairs.clear()
        return None

    def _direction(self, g: np.ndarray, free: np.ndarray | None) -> np.ndarray:
        """-H·g by the two-loop recursion, H the inverse Hessian the pairs imply (scaled by the
        newest pair's s·y / y·y); zero on the values the box holds."""
        q = -g if free is None else -g * free  # a new array: the recursion updates it in place
        alphas = []
        for s, y, rho in reversed(self.pairs):
            a = rho * float(s @ q)
            q -= a * y
            alphas.append(a)
        if self.pairs:
            s, y, rho = self.pairs[-1]
            q *= 1.0 / (rho * float(y @ y))
        for (s, y, rho), a in zip(self.pairs, reversed(alphas)):
            q += (a - rho * float(y @ q)) * s
        if free is not None:
            q *= free
        return q

    def _remember(self, s: np.ndarray, y: np.ndarray) -> None:
        sy = float(s @ y)
        if sy > 1e-10 * float(y @ y):  # only pairs that show positive curvature keep H positive
            self.pairs.append((s, y, 1.0 / sy))


def _free(x: np.ndarray, g: np.ndarray, box: Box | None) -> np.ndarray | None:
    """1.0 where a value may move, 0.0 where it sits on a bound that its gradient pushes it into."""
    if box is None:
        return None
    low, high = box
    held = ((x <= low) & (g > 0)) | ((x >= high) & (g < 0))
    return (~held).astype(x.dtype)


def _shorter(alpha: float, f: float, slope: float, f_new: float) -> float:
    """The minimiser of the parabola through f, its slope and f_new, kept in [alpha/10, alpha/2]."""
    curvature = f_new - f - slope * alpha
    best = -slope * alpha * alpha / (2.0 * curvature) if curvature > 0 else alpha / 2
    return min(max(best, alpha / 10), alpha / 2)
