"""How a job's L-BFGS iterations are spent, and how long the rest will take (pure arithmetic).

Each scale runs free L-BFGS, then a bounded polish of its last POLISH_SHARE (unless pixel_bounds
bounds it all the way, or the article's rounds restart L-BFGS every round_evals evaluations).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

# Share of each scale's iterations spent, bounded to 0..255, polishing the clipped picture.
POLISH_SHARE = 0.2
# What starting L-BFGS afresh (a new scale, or the polish) costs on top of its first iteration, in
# iterations of that scale. scipy's (pixel_bounds): with no curvature yet its first step searches
# ~7 evaluations long, and it converts its bounds in Python (~2 s at 512 px); measured on default
# jobs: 4-7. The engine's own (src/impasto/nst/lbfgs.py) sizes its first step and evaluates the
# clipped picture once for the polish: about one.
RESTART_ITERATIONS = 5
OWN_RESTART_ITERATIONS = 1
# Iterations timed (after a scale's first, which includes tracing) before an ETA is given: the next
# one or two still run slow after a trace (a fresh process's 256 px job: 0.77 s, then 0.36 s), and
# an ETA from them said +113 % and +58 % of the time left where the third said +5 %.
MEASURED_BEFORE_ETA = 3
# Without the cost model's figures (``eta``'s ``costs``), a scale's seconds per iteration grow as its
# pixels to this power: 256 -> 512 px measured 2.2-3.0x with the default's Wasserstein term, whose
# 512-channel eigenproblems cost the same at both sizes (bench/phases.py).
PIXEL_EXPONENT = 0.75


def polish_iterations(iterations: int) -> int:
    """Iterations of a scale spent in the bounded polish (when pixel_bounds is off)."""
    return max(1, round(POLISH_SHARE * iterations)) if iterations >= 2 else 0


def restarts_after(iterations: int, done: int, *, round_evals: int = 0, pixel_bounds: bool = False) -> int:
    """How many L-BFGS runs of a scale of ``iterations`` start after its iteration ``done``
    (-1: the scale has not begun)."""
    if round_evals:
        return 0  # the article's rounds: their restarts are in the measured seconds per iteration
    polish = 0 if pixel_bounds else polish_iterations(iterations)
    starts = [0, iterations - polish] if polish else [0]
    return sum(1 for start in starts if start >= done)


def seconds_per_iteration(iteration_seconds: Sequence[float]) -> float | None:
    """A scale's steady seconds per iteration, as ``eta`` takes them: the median of the last ten
    after its first (which includes tracing); None before MEASURED_BEFORE_ETA of them."""
    steps = np.asarray(iteration_seconds)[1:]
    return float(np.median(steps[-10:])) if len(steps) >= MEASURED_BEFORE_ETA else None


def eta(iteration_seconds: Sequence[float], plan: Sequence[int], sizes: Sequence[int], scale: int,
        done_in_scale: int, *, round_evals: int = 0, pixel_bounds: bool = False,
        earlier: float | None = None, costs: Sequence[float] | None = None,
        set_ups: Sequence[float] | None = None) -> float | None:
    """Seconds left, from the measured seconds of the current scale's iterations so far.

    The median of the last ten (the scale's first, which includes tracing, left out) times the
    iterations left, plus a restart's cost for every L-BFGS run still to start; later scales cost
    more by ``costs``, each scale's seconds per iteration as the cost model has them (else as
    pixels^PIXEL_EXPONENT). ``plan`` and ``sizes`` are each scale's iterations and longest side;
    ``done_in_scale`` counts in progress units (with round_evals, each round counts that many).
    Before MEASURED_BEFORE_ETA of its own, a later scale goes by ``earlier``, the scale before's
    seconds per iteration, scaled the same way (a 512 px final scale of 9 iterations had no ETA for
    a third of them); else None. ``set_ups``: what each scale pays before its first iteration (its
    set-up and tracing), in the cost model's seconds as ``costs`` are: a later scale's are added,
    at this machine's measured speed.
    """
    relative = list(costs) if costs else [float(size) ** (2 * PIXEL_EXPONENT) for size in sizes]
    per_iteration = seconds_per_iteration(iteration_seconds)
    if per_iteration is None and earlier is not None and scale > 0:
        per_iteration = earlier * relative[scale] / relative[scale - 1]
    if per_iteration is None:
        return None
    restart = RESTART_ITERATIONS if pixel_bounds else OWN_RESTART_ITERATIONS
    remaining = 0.0
    for index in range(scale, len(sizes)):
        planned = plan[index] * (round_evals or 1)
        left = planned - done_in_scale if index == scale else planned
        restarts = restarts_after(plan[index], done_in_scale if index == scale else -1,
                                  round_evals=round_evals, pixel_bounds=pixel_bounds)
        remaining += (max(0, left) + restart * restarts) * per_iteration * relative[index] / relative[scale]
    if set_ups and costs:
        remaining += sum(set_ups[scale + 1:]) * per_iteration / relative[scale]
    return remaining
