"""What the tests hand the job runners instead of production's: dispatchers for create_app
(``test_config["DISPATCHER"]``), and painters (the real engine, wrapped) for the one boundary where
a test reaches into a running job: ``RunnerConfig.painter``, ``run_job(painter=)`` and the Celery
worker's ``run_worker(painter=)``. Production code knows none of them."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any, Callable

from impasto.jobs.execute import Painter
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


def watching(hook: Callable[[Any], None]) -> Painter:
    """The real engine, calling ``hook(progress)`` after each progress report has been written to the
    store (a picture's Progress, a clip's ClipProgress): to watch a job, hold it, or crash it."""
    real = Painter()
    return Painter(picture=_after_each_report(real.stylize, hook), clip=_after_each_report(real.stylize_clip, hook))


def _after_each_report(paint: Callable[..., Any], hook: Callable[[Any], None]) -> Callable[..., Any]:
    def run(*args: Any, on_progress: Callable[[Any], None], **kwargs: Any) -> Any:
        def report(progress: Any) -> None:
            on_progress(progress)
            hook(progress)

        return paint(*args, on_progress=report, **kwargs)

    return run


class Held:
    """A painter whose jobs stop after their first progress report until ``release()``: the test
    waits for ``reported`` (the job is running, its progress stored), acts, then releases it."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.reported, self.released, self.timeout = threading.Event(), threading.Event(), timeout
        self.painter = watching(self._hold)

    def _hold(self, progress: Any) -> None:
        self.reported.set()
        self.released.wait(self.timeout)

    def release(self) -> None:
        self.released.set()


def paced(seconds: float) -> Painter:
    """The real engine sleeping ``seconds`` after every report: for served pages and worker processes,
    where a test watches a job's progress in real time and cannot reach into it."""
    return watching(lambda progress: time.sleep(seconds))


def threads(pace: float = 0.0) -> Callable[[JobStore, RunnerConfig], ThreadRunner]:
    """Real runner threads (what create_app starts by default), with jobs paced when ``pace`` > 0."""

    def make(store: JobStore, config: RunnerConfig) -> ThreadRunner:
        if pace:
            config = dataclasses.replace(config, painter=paced(pace))
        runner = ThreadRunner(store, config)
        runner.start()
        return runner

    return make
