"""Scale-out mode (IMPASTO_BROKER_URL set): jobs in Redis, run by Celery workers on any machine.

- ``DistributedConfig``: what this mode needs of impasto.config.Settings (the web's, or the one
  `impasto worker` builds), plus its fixed reliability constants.
- ``make_store(config)``: the RedisJobStore of this mode (create_app's wiring, with a Celery app,
  is ``impasto.jobs.celery_app.build``). No runner threads run in the web process.
- ``CeleryDispatcher``: ``submitted(job_id)`` sends the Celery task for that job.
- ``Reaper``: every few seconds, running jobs whose heartbeat went stale (their worker died) go
  back to the queue and get a new task message, so they continue on another worker within about
  ``stale_after`` seconds. The broker alone would redeliver only after the visibility timeout,
  which must be longer than the longest job (docs/design-notes.md, "Celery and Redis"). The store's claim
  makes any duplicate message harmless: a job runs once per claim, never twice at the same time.

Celery and redis are imported only in this mode (this module never imports Celery: it is handed a
Celery app), never in embedded mode.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from impasto.config import REDIS_SCHEMES, Settings, default
from impasto.jobs.execute import Complaints, EngineSettings
from impasto.jobs.runner import retention_seconds
from impasto.jobs.store import QUEUED

log = logging.getLogger(__name__)

TASK_NAME = "impasto.run_job"
SEND_GRACE_SECONDS = 10.0  # a queued job with no message this old: its web process failed to send one


@dataclass(frozen=True)
class DistributedConfig:
    broker_url: str
    store_url: str
    prefix: str = default("redis_prefix")
    visibility_timeout: float = default("visibility_timeout")  # above the longest job (1024 px, 1000 iterations, CPU)
    restore_throttle: int = 1  # kombu scans for expired unacked messages at every sweep (10 s)
    stale_after: float = default("stale_after")
    max_attempts: int = default("max_attempts")
    reap_seconds: float = default("reap_seconds")
    retention_seconds: float | None = None  # None: finished jobs are kept (IMPASTO_RETENTION_DAYS unset)
    housekeeping_seconds: float = 60.0  # retention sweeps (reaping runs every reap_seconds)
    engine: EngineSettings = EngineSettings()
    metrics: bool = default("metrics")  # job metrics kept in Redis (src/impasto/jobs/metrics_redis.py)

    @property
    def queue(self) -> str:
        return self.prefix

    @property
    def broker_is_redis(self) -> bool:
        return self.broker_url.startswith(REDIS_SCHEMES)

    @classmethod
    def from_settings(cls, settings: Settings) -> DistributedConfig:
        """The scale-out part of the settings; ValueError when IMPASTO_BROKER_URL is not set."""
        if not settings.broker_url or not settings.store_url:
            raise ValueError("IMPASTO_BROKER_URL is not set")
        return cls(
            broker_url=settings.broker_url, store_url=settings.store_url, prefix=settings.redis_prefix,
            visibility_timeout=settings.visibility_timeout, reap_seconds=settings.reap_seconds,
            stale_after=settings.stale_after, max_attempts=settings.max_attempts,
            retention_seconds=retention_seconds(settings.retention_days), engine=EngineSettings.from_settings(settings),
            metrics=settings.metrics)


def make_store(config: DistributedConfig) -> Any:
    from impasto.jobs.redis_store import RedisJobStore

    store = RedisJobStore(config.store_url, prefix=config.prefix)
    if config.metrics:
        from impasto.jobs.metrics_redis import RedisMetrics

        # A worker beats at every reaper round: alive while its latest beat is this recent.
        store.metrics = RedisMetrics.of(store, alive_within=max(config.stale_after, 3 * config.reap_seconds))
    return store


class Sender:
    """Sends the task for one job and notes it in the store (for ``unsent_queued``)."""

    def __init__(self, celery: Any, store: Any, config: DistributedConfig) -> None:
        self.celery, self.store, self.config = celery, store, config

    def __call__(self, job_id: str) -> bool:
        try:
            self.celery.send_task(TASK_NAME, args=[job_id], queue=self.config.queue)
            self.store.mark_sent(job_id)
            return True
        except Exception:  # noqa: BLE001 - the job stays queued; the reaper sends it again
            log.exception("job %s: could not send its task to the broker; will retry", job_id)
            return False


class Reaper:
    """Re-queues and re-sends jobs whose worker died; sends tasks for jobs that never got one;
    deletes expired finished jobs. Safe to run in every web and worker process at once: each
    recovery is one atomic script, and duplicate messages are refused by the claim."""

    def __init__(self, store: Any, config: DistributedConfig, send: Callable[[str], Any],
                 beat_as: str | None = None) -> None:
        self.store, self.config, self.send = store, config, send
        self.beat_as = beat_as  # an `impasto worker`'s name: each round says it is alive (impasto_workers_alive)
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.last_housekeeping = -float("inf")

    def tick(self) -> list[str]:
        """One round; returns the ids of the jobs it sent again."""
        resent = []
        for job_id in self.store.recover_stale(self.config.stale_after, self.config.max_attempts):
            job = self.store.get(job_id)
            if job is not None and job.state == QUEUED:  # not given up on, not cancelled
                resent.append(job_id)
        # Recovery clears a job's 'sent' mark, so it shows up here too: send it once.
        resent += [job_id for job_id in self.store.unsent_queued(SEND_GRACE_SECONDS, self.config.visibility_timeout)
                   if job_id not in resent]
        for job_id in resent:
            log.warning("job %s: sending its task again", job_id)
            self.send(job_id)
        now = time.monotonic()
        if self.config.retention_seconds and now - self.last_housekeeping >= self.config.housekeeping_seconds:
            self.last_housekeeping = now
            self.store.delete_finished(self.config.retention_seconds)
        if self.beat_as:  # last: a failed beat never costs a round its reaping
            self.store.metrics.runner_alive(self.beat_as)
        return resent

    def start(self) -> None:
        self.thread = threading.Thread(target=self._loop, name="impasto-reaper", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def _loop(self) -> None:
        problems = Complaints("the reaper's round")
        while not self.stopping.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - Redis away for a moment: try again next round
                problems.failed()
            else:
                problems.succeeded()
            self.stopping.wait(self.config.reap_seconds)


class CeleryDispatcher:
    """Dispatcher for the web process in scale-out mode: a task per job, and a reaper thread."""

    def __init__(self, celery: Any, store: Any, config: DistributedConfig) -> None:
        self.celery, self.store, self.config = celery, store, config
        self.send = Sender(celery, store, config)
        self.reaper = Reaper(store, config, self.send)

    def start(self) -> None:
        self.reaper.start()

    def submitted(self, job_id: str) -> None:
        # A failed send is logged, not raised: the job is stored and the reaper sends it later.
        self.send(job_id)

    def stop(self) -> None:
        self.reaper.stop()

