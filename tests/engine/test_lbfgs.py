"""The engine's own L-BFGS (src/impasto/nst/lbfgs.py) on functions whose minimum is known."""

from __future__ import annotations

import numpy as np
import pytest

from impasto.nst import lbfgs

N = 200


class Quadratic:
    """½(x-c)ᵀA(x-c) with A diagonal and scaled over a condition of 100, counting its evaluations."""

    def __init__(self, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.a = np.logspace(-1, 1, N)
        self.c = rng.uniform(-100, 100, N)
        self.calls = 0

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        self.calls += 1
        d = x - self.c
        return 0.5 * float(d @ (self.a * d)), self.a * d


def rosenbrock(x: np.ndarray) -> tuple[float, np.ndarray]:
    a, b = x[:-1], x[1:]
    f = float(np.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2))
    g = np.zeros_like(x)
    g[:-1] = -400.0 * a * (b - a * a) - 2.0 * (1.0 - a)
    g[1:] += 200.0 * (b - a * a)
    return f, g


def test_quadratic_reaches_its_minimum_at_about_one_evaluation_per_iteration():
    q, seen = Quadratic(), []
    x = lbfgs.Lbfgs(q, seen.append).run(np.zeros(N), 300)
    assert np.allclose(x, q.c, atol=1e-3)
    assert len(seen) < 300  # converged before the budget and stopped
    assert q.calls <= 1.15 * len(seen) + 2  # the full step is almost always taken


def test_rosenbrock_converges_from_its_classic_start():
    x0 = np.tile([-1.2, 1.0], 10)
    x = lbfgs.Lbfgs(rosenbrock, lambda _: None).run(x0, 2000)
    assert rosenbrock(x)[0] < 1e-8
    assert np.allclose(x, 1.0, atol=1e-4)


def test_box_holds_every_evaluated_point_and_finds_the_constrained_minimum():
    q = Quadratic(seed=1)
    low, high = np.full(N, -50.0), np.full(N, 50.0)
    points = []

    def evaluate(x):
        points.append(x.copy())
        return q(x)

    x = lbfgs.Lbfgs(evaluate, lambda _: None).run(np.full(N, 80.0), 500, box=(low, high))
    assert all(p.min() >= -50 and p.max() <= 50 for p in points)
    # a diagonal quadratic's constrained minimum is its centre clipped into the box: the values held
    # there sit exactly on their bound, and the loss is the minimum's to the stopping rule's precision
    best = np.clip(q.c, low, high)
    held = best != q.c
    assert held.sum() > N // 4 and np.array_equal(x[held], best[held])
    assert q(x)[0] - q(best)[0] <= 1e-8 * q(best)[0]


def test_polish_keeps_the_free_runs_curvature_and_its_last_evaluation():
    q = Quadratic(seed=2)
    solver = lbfgs.Lbfgs(q, lambda _: None)
    x = solver.run(np.zeros(N), 15)
    pairs, calls = len(solver.pairs), q.calls
    box = (np.full(N, -1e3), np.full(N, 1e3))  # nothing outside it: the polish starts where the run stopped
    solver.run(x, 1, box=box)
    assert pairs == lbfgs.MEMORY and len(solver.pairs) == lbfgs.MEMORY
    assert q.calls == calls + 1  # one step, no re-evaluation of its start, no search from scratch


def test_first_step_is_sized_per_value_not_by_the_gradient():
    q = Quadratic(seed=3)
    q.a *= 1e6  # a steep loss: a gradient-sized step would fly far past the minimum
    starts = []
    solver = lbfgs.Lbfgs(q, starts.append)
    solver.run(np.zeros(N), 1)
    step = starts[0]
    assert np.sqrt(np.mean(step**2)) == pytest.approx(lbfgs.FIRST_STEP, rel=1e-6)


def test_a_loss_that_cannot_fall_ends_the_run_without_a_step():
    seen = []
    x = lbfgs.Lbfgs(lambda x: (1.0, np.ones_like(x) * 1e-3), seen.append).run(np.zeros(N), 10)
    assert seen == [] and np.all(x == 0)
