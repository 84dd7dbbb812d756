"""Where a job's seconds went, phase by phase: for the CLI's --json, the job's summary and the
benchmark (bench/phases.py). Phases are named as they are first timed ("weights", "scale 1 style
targets", "scale 1 trace", "scale 1 evaluations", "scale 1 optimizer", ...); one phase timed twice
adds up."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator


class Timings:
    """Seconds per phase, in the order first timed."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.seconds: dict[str, float] = {}
        self.counts: dict[str, int] = {}  # how many times each phase was timed (evaluations, L-BFGS runs)

    def add(self, phase: str, seconds: float) -> None:
        self.seconds[phase] = self.seconds.get(phase, 0.0) + seconds
        self.counts[phase] = self.counts.get(phase, 0) + 1

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = self.clock()
        try:
            yield
        finally:
            self.add(name, self.clock() - started)

    def summary(self) -> dict[str, dict[str, float]]:
        """{phase: {"seconds": s, "count": n}}, JSON-ready."""
        return {name: {"seconds": round(seconds, 3), "count": self.counts[name]}
                for name, seconds in self.seconds.items()}

    def absorb(self, other: Timings, stage: str) -> None:
        """``other``'s phases added here under ``stage`` ("new ground trace"), scales folded
        together: a clip frame's phases, from the pictures painted for it."""
        for name, seconds in other.seconds.items():
            phase = name.split(" ", 2)[2] if name.startswith("scale ") else name
            self.add(f"{stage} {phase}", seconds)
