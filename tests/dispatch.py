"""Dispatchers the tests hand to create_app (``test_config["DISPATCHER"]``) instead of its runner
threads, and a progress hook that paces jobs: production code knows none of them."""

from __future__ import annotations

import time
from typing import Any, Callable

from impasto.jobs.runner import RunnerConfig, ThreadRunner, run_next
from impasto.jobs.store import JobStore


class Manual:
    """Runs nothing by itself: the test runs the queued jobs with ``run_next`` / ``run_all``."""

    def __init__(self, store: JobStore, config: RunnerConfig) -> None:
        self.store, self.config = store, config

    def submitted(self, job_id: str) -> None:
        pass

    def stop(self) -> None:
        pass

    def run_next(self) -> str | None:
        return run_next(self.store, self.config)

    def run_all(self) -> list[str]:
        ran = []
        while job_id := self.run_next():
            ran.append(job_id)
        return ran


class Inline(Manual):
    """Runs each job inside the request that submitted it."""

    def submitted(self, job_id: str) -> None:
        self.run_next()


def paced(seconds: float) -> Callable[[Any], None]:
    """A progress hook that sleeps after every iteration, so that a tiny job lasts long enough to
    be watched, cancelled or killed."""
    return lambda progress: time.sleep(seconds)


def threads(pace: float = 0.0) -> Callable[[JobStore, RunnerConfig], ThreadRunner]:
    """Real runner threads (what create_app starts by default), with jobs paced when ``pace`` > 0."""

    def make(store: JobStore, config: RunnerConfig) -> ThreadRunner:
        runner = ThreadRunner(store, config, progress_hook=paced(pace) if pace else None)
        runner.start()
        return runner

    return make
