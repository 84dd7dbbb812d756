"""What the tests hand the job runners instead of production's: dispatchers for create_app
(``test_config["DISPATCHER"]``), and painters (the real engine, wrapped) for the one boundary where
a test reaches into a running job: ``RunnerConfig.painter``, ``run_job(painter=)`` and the Celery
worker's ``run_worker(painter=)``. Production code knows none of them. A job that must last while
a test looks at it waits at a ``Gate`` the test opens, never behind a sleep."""

from __future__ import annotations

import dataclasses
import threading
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


def facts(progress: Any) -> dict[str, int]:
    """What a gate compares and tells of a report: a picture's iteration, total and scale; a clip's
    frame and frames besides, with its frame's iteration and total."""
    picture = getattr(progress, "progress", progress)  # a clip's ClipProgress wraps its frame's Progress
    found = {"iteration": picture.iteration, "total": picture.total, "scale": picture.scale}
    if picture is not progress:
        found.update(frame=progress.frame, frames=progress.frames)
    return found


def reached(found: dict[str, int], at_least: dict[str, int]) -> bool:
    """Whether a report's facts are at least these values (``{"frame": 2}``: frame 2 or later)."""
    return all(found.get(name, 0) >= value for name, value in at_least.items())


class Gate:
    """A painter whose job waits after every progress report until the test lets it on, so that a
    test holds a job at a known point (its progress, and a preview when one was due, stored), looks,
    then lets it go on: ``run_until(iteration=5)`` lets it report on until a report reaches those
    values and holds it after that one; ``open()`` lets every job run to its end. A closed gate holds
    a job after its first report. For one job at a time (one runner thread).

    Every wait ends after ``timeout`` seconds, so that a broken test fails instead of hanging: the
    test's with an AssertionError, a held job's with a TimeoutError (the job fails). Open the gate
    when the test ends (tests/web/conftest.py's ``gate`` fixture does), so that runner threads can stop."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._changed = threading.Condition()
        self._open = False
        self._until: dict[str, int] | None = None
        self._reports = 0
        self._held: tuple[int, Any] | None = None  # (report number, progress) of the job waiting now
        self.painter = watching(self._report)

    def _report(self, progress: Any) -> None:
        with self._changed:
            self._reports += 1
            if self._open or (self._until is not None and not reached(facts(progress), self._until)):
                return
            self._until, self._held = None, (self._reports, progress)
            self._changed.notify_all()
            let_on = self._changed.wait_for(lambda: self._open or self._until is not None, self.timeout)
            self._held = None
        if not let_on:
            raise TimeoutError(f"held at the gate for {self.timeout:g} s: the test never let the job on")

    def run_until(self, **at_least: int) -> Any:
        """Let the job (the held one, or the next) report on until a report reaches ``at_least``;
        return that report's progress once the job waits after it."""
        with self._changed:
            start, self._until = self._reports, at_least
            self._changed.notify_all()
            return self._held_after(start, f"a job held at {at_least}")

    def wait_held(self) -> Any:
        """The progress of the job waiting at the gate, once one does."""
        with self._changed:
            return self._held_after(0, "a job held at the gate")

    def _held_after(self, reports: int, what: str) -> Any:
        if not self._changed.wait_for(lambda: self._held is not None and self._held[0] > reports, self.timeout):
            raise AssertionError(f"timed out after {self.timeout:g} s waiting for {what}")
        return self._held[1]

    def open(self) -> None:
        """Let every job on, now and at every later report."""
        with self._changed:
            self._open = True
            self._changed.notify_all()


def threads(painter: Painter | None = None) -> Callable[[JobStore, RunnerConfig], ThreadRunner]:
    """Real runner threads (what create_app starts by default), painting with ``painter`` when given
    (a Gate's, to hold jobs where the test watches a served page)."""

    def make(store: JobStore, config: RunnerConfig) -> ThreadRunner:
        if painter is not None:
            config = dataclasses.replace(config, painter=painter)
        runner = ThreadRunner(store, config)
        runner.start()
        return runner

    return make
