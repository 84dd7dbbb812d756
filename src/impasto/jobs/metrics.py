"""Job metrics (IMPASTO_METRICS=on): counted where a job's state is written, by whichever process writes it.

The store core (src/impasto/jobs/store_core.py) calls a ``JobMetrics`` at each step that changes a
job for good: a claim (the queue wait of a job's first run), a progress write (the evaluations
since the last one), and every way a job ends (a runner's finish, a queued job cancelled, a dead
run given up on by the reaper). Each of those writes is a compare-and-set that succeeds once, so
each job is counted once, in the process that won the write. Two backends keep the numbers:

- embedded mode: prometheus_client's multiprocess mode, one file per process in a folder of the
  data dir, summed by /metrics (src/impasto/jobs/metrics_files.py): gunicorn's processes and
  their runner threads all count;
- scale-out mode: a hash in the Redis job store (src/impasto/jobs/metrics_redis.py): Celery
  workers on any machine count there, and every web container's /metrics reads the same totals.

Recording never stops a job: a failure is logged (once per run of failures) and the job goes on.
Labels come from fixed sets only (states, ``FAILURE_REASONS``), never from a job's own text.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from impasto.jobs.states import FAILED, FINISHED_STATES

log = logging.getLogger(__name__)

# Why a job failed, handed to the store's finish by whoever ended it (run_job, the reaper): "input"
# is the job's own (a picture or option the engine refused), the others are the server's.
FAILURE_REASONS = ("input", "weights", "memory", "internal", "taken_over", "gave_up")


@dataclass(frozen=True)
class Spec:
    """One metric: its name as exposed (counters without ``_total``), kind, help, labels and their values."""

    name: str
    kind: str  # "counter" or "histogram"
    help: str
    labels: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (label, every value it takes)
    buckets: tuple[float, ...] = ()


JOBS = Spec("impasto_jobs", "counter", "Jobs that ended, by final state.", (("state", FINISHED_STATES),))
FAILURES = Spec("impasto_job_failures", "counter", "Failed jobs by reason.", (("reason", FAILURE_REASONS),))
EVALUATIONS = Spec("impasto_evaluations", "counter", "Loss and gradient evaluations of the network "
                   "(rate() gives evaluations per second).")
DURATION = Spec("impasto_job_duration_seconds", "histogram", "Seconds a job's last run took, by final state.",
                (("state", FINISHED_STATES),), (1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 3600))
QUEUE_WAIT = Spec("impasto_queue_wait_seconds", "histogram", "Seconds a job waited in the queue before its "
                  "first run.", (), (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600))
SPECS = (JOBS, FAILURES, EVALUATIONS, DURATION, QUEUE_WAIT)


class JobMetrics:
    """What the store core calls. This base records nothing (IMPASTO_METRICS off); a backend
    overrides ``count`` and ``observe`` (and ``enabled``), and everything else is shared."""

    enabled = False

    def __init__(self) -> None:
        self._evaluations: dict[str, int] = {}  # a running job's evaluations at its last progress write
        self._lock = threading.Lock()
        self._failing = False

    # -- what a backend implements ----------------------------------------------------------

    def count(self, spec: Spec, labels: dict[str, str], amount: float = 1.0) -> None:
        """Add ``amount`` to a counter."""

    def observe(self, spec: Spec, labels: dict[str, str], value: float) -> None:
        """One observation of a histogram."""

    def runner_alive(self, name: str = "") -> None:
        """This process (runner ``name``) runs jobs: counted by impasto_workers_alive. Embedded mode
        says so once, when its runner threads start; a Celery worker at every reaper round."""

    def collectors(self) -> list[Any]:
        """prometheus_client collectors that tell these numbers at a scrape."""
        return []

    # -- the store core's hooks ---------------------------------------------------------------

    def started(self, job: Any) -> None:
        """A job claimed: its queue wait, once per job (its first run; a re-queued job waits again)."""
        if job is not None and job.attempts == 1 and job.started is not None:
            self._safely(self.observe, QUEUE_WAIT, {}, max(0.0, job.started - job.created))

    def progress(self, job_id: str, evaluations: Any) -> None:
        """A progress write: the evaluations since the job's previous one (a clip's count starts
        again at each frame, a re-queued job's at its new run: then all of them are new)."""
        if not isinstance(evaluations, int) or evaluations < 0:
            return
        with self._lock:
            before = self._evaluations.get(job_id, 0)
            self._evaluations[job_id] = evaluations
        new = evaluations - before if evaluations >= before else evaluations
        if new:
            self._safely(self.count, EVALUATIONS, {}, float(new))

    def finished(self, job: Any, state: str, reason: str | None = None) -> None:
        """A job ended (``job`` as read after the write, or None if it is gone already); a failed
        one's ``reason`` is one of FAILURE_REASONS (another, or none, counts as "internal")."""
        with self._lock:
            self._evaluations.pop(getattr(job, "id", ""), None)
        self._safely(self.count, JOBS, {"state": state})
        if state == FAILED:
            self._safely(self.count, FAILURES, {"reason": reason if reason in FAILURE_REASONS else "internal"})
        if job is not None and job.started is not None and job.finished is not None:
            self._safely(self.observe, DURATION, {"state": state}, max(0.0, job.finished - job.started))

    def _safely(self, record: Callable[..., None], *args: Any) -> None:
        try:
            record(*args)
        except Exception:  # noqa: BLE001 - a metric is never worth a job
            if not self._failing:
                log.warning("recording a job metric failed; jobs go on (logged once until it works)",
                            exc_info=True)
            self._failing = True
        else:
            self._failing = False


NO_METRICS = JobMetrics()
