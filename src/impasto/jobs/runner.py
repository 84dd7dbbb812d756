"""Runner threads: take queued jobs from the store in order and run them, in the server process.

Every server process (each gunicorn worker) starts its own runners; the store's atomic claim
decides who runs what and keeps the number of running jobs within the global limit. Runners also
reap jobs whose process died (stale heartbeat) and delete old finished jobs.

The web layer only talks to a ``Dispatcher``: ``submitted(job_id)`` after a job is stored. Here it
wakes a local runner; the Celery dispatcher (src/impasto/jobs/distributed.py) sends a task. Tests hand
create_app a dispatcher of their own (tests/web/conftest.py), whose runners may paint with a
``Painter`` of their own (``RunnerConfig.painter``).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from impasto.config import default
from impasto.jobs import warmup
from impasto.jobs.execute import Complaints, EngineSettings, Painter, run_job
from impasto.jobs.store import JobStore

log = logging.getLogger(__name__)


class Dispatcher(Protocol):
    """How the web layer hands stored jobs to whatever runs them."""

    def submitted(self, job_id: str) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class RunnerConfig:
    max_running: int = default("runners")  # global: across all processes sharing the store
    threads: int = default("runners")  # runner threads in this process
    engine: EngineSettings = EngineSettings()
    painter: Painter = Painter()  # the engine itself: the real one, or a caller's wrapper
    poll_seconds: float = 1.0  # how often an idle runner looks for work queued by another process
    stale_after: float = default("stale_after")  # a running job without a heartbeat this long is dead
    max_attempts: int = default("max_attempts")  # re-queue a job whose runner died at most this often
    retention_seconds: float | None = None  # finished jobs older than this are deleted; None keeps them
    housekeeping_seconds: float = 15.0  # how often to reap stale jobs and delete expired ones (cheap queries)
    warm_up: bool = default("warm_up")  # load the engine and time it before the first job (src/impasto/jobs/warmup.py)

    @classmethod
    def from_settings(cls, settings: Any, **changes: Any) -> RunnerConfig:
        """From impasto.config.Settings: runners here and in all, recovery, retention, the engine's side."""
        return cls(max_running=settings.runners, threads=settings.runners,
                   engine=EngineSettings.from_settings(settings), stale_after=settings.stale_after,
                   max_attempts=settings.max_attempts, warm_up=settings.warm_up,
                   retention_seconds=retention_seconds(settings.retention_days), **changes)


def worker_name() -> str:
    """A name unique to this runner: host, process and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def retention_seconds(days: float | None) -> float | None:
    """IMPASTO_RETENTION_DAYS in seconds; None (unset or 0) keeps finished jobs."""
    return days * 86400 if days else None


def housekeeping(store: JobStore, config: RunnerConfig) -> None:
    """Re-queue (or fail) jobs whose runner died, and delete expired finished jobs (if retention is on)."""
    store.recover_stale(config.stale_after, config.max_attempts)
    if config.retention_seconds:
        store.delete_finished(config.retention_seconds)


def run_next(store: JobStore, config: RunnerConfig, worker: str | None = None) -> str | None:
    """Claim the oldest queued job and run it here; return its id, or None if none could be claimed."""
    worker = worker or worker_name()
    job = store.claim(worker, config.max_running)
    if job is None:
        return None
    run_job(store, job.id, worker=worker, engine=config.engine, painter=config.painter)
    return job.id


class ThreadRunner:
    """Dispatcher with runner threads in this process."""

    def __init__(self, store: JobStore, config: RunnerConfig) -> None:
        self.store, self.config = store, config
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.last_housekeeping = 0.0

    def start(self) -> None:
        for index in range(self.config.threads):
            thread = threading.Thread(target=self._loop, name=f"impasto-runner-{index}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def submitted(self, job_id: str) -> None:
        self.wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        self.wake.set()
        for thread in self.threads:
            thread.join(timeout)

    def _loop(self) -> None:
        worker = worker_name()
        problems = Complaints(f"runner {worker}: taking a job")
        if self.config.warm_up:
            warmup.warm_up(self.config.engine.weights, self.config.engine.precision)
        while not self.stopping.is_set():
            try:
                self._housekeeping_if_due()
                ran = run_next(self.store, self.config, worker)
            except Exception:  # noqa: BLE001 - a store hiccup must not kill the runner
                problems.failed()
            else:
                problems.succeeded()
                if ran:
                    continue  # there may be more waiting
            self.wake.wait(self.config.poll_seconds)
            self.wake.clear()

    def _housekeeping_if_due(self) -> None:
        now = time.monotonic()
        if now - self.last_housekeeping >= self.config.housekeeping_seconds:
            self.last_housekeeping = now
            housekeeping(self.store, self.config)
