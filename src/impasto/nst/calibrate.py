"""This machine's speed against the cost model's (src/impasto/nst/cost.py): a 256 px picture's
loss evaluated a few times with the default options, timed, over what the model says one takes.
A fresh server's first estimates go by it (src/impasto/jobs/warmup.py) until jobs have finished."""

from __future__ import annotations

import statistics
import time
from typing import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from impasto.nst import cost, hardware
from impasto.nst.options import DEFAULTS
from impasto.nst.program import build_problem
from impasto.nst.vgg import load_weights, rgb_to_caffe

HEIGHT, WIDTH = 192, 256  # a 4:3 photo at 256 px: the default job's first scale, and a 256 px job's only one
EVALUATIONS = 4  # timed after the first, which traces


def speed(weights: str | None, precision: str, clock: Callable[[], float] = time.perf_counter) -> float:
    """This machine's seconds per cost-model second for an evaluation (over 1: slower than the
    model's machine). Loads the weights and traces the program as a first job would; the program is
    kept (src/impasto/nst/lossfn.py), so a 4:3 job at 256 px with the default options traces none."""
    rng = np.random.default_rng(0)
    photo, painting = (rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8) for _ in range(2))
    options = DEFAULTS.replace(size=WIDTH)
    problem = build_problem(load_weights(weights), photo, [painting], np.ones(1), options, WIDTH,
                            hardware.choose_precision(options.precision, precision))
    x = rgb_to_caffe(photo).astype(np.float64).ravel()
    seconds = []
    with threadpool_limits(limits=1, user_api="blas"):  # as inside a job's L-BFGS (src/impasto/nst/optimizer.py)
        problem.evaluate(x)  # the trace, and the first call's graph optimisation
        problem.program.evaluated = True  # a job's first call of this kept program is an evaluation like any
        for _ in range(EVALUATIONS):
            started = clock()
            problem.evaluate(x)
            seconds.append(clock() - started)
    return statistics.median(seconds) / cost.evaluation_seconds(options, HEIGHT * WIDTH / 1e6, HEIGHT / WIDTH)
