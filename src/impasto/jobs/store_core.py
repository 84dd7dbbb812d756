"""``StoreCore``: what every job backend does the same way, written once.

The core checks file names and final states, makes job ids, writes the log lines, and decides
what happens to a job whose runner died (the stale-job policy). A backend subclasses it and
implements small storage primitives (the ``_``-methods below, plus the plain reads and tokens of
``JobStore``), each one atomic in its own way: a SQLite transaction, a Redis Lua script.

A stale job is settled by compare-and-set: the core reads the stale jobs, decides each one's
outcome, and the backend applies it only if the job is still that run, still stale (its runner
may have come back, or the job been cancelled, between the read and the write).
"""

from __future__ import annotations

import abc
import logging
import secrets
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from impasto.jobs.metrics import NO_METRICS, JobMetrics
from impasto.jobs.states import CANCELLED, FAILED, FINISHED_STATES, QUEUED, RUNNING, gave_up
from impasto.jobs.store import PROGRESS_FIELDS, ClientLimit, Job, JobStore, QueueFull, check_file_name

log = logging.getLogger(__name__)

# What ``_insert`` answers when a limit refuses the job (nothing was stored).
REFUSED_QUEUE_FULL = "queue full"
REFUSED_CLIENT_LIMIT = "client limit"
# What ``_request_cancel`` answers for a job it knows (0 for an unknown one).
CANCELLED_QUEUED = 1  # this call cancelled a queued job: it ended here
KNOWN = 2  # any other job (a running one now has its cancel flag)


@dataclass(frozen=True)
class NewJob:
    """A job to insert, 'queued', with its input files."""

    id: str
    options: dict[str, Any]
    meta: dict[str, Any]
    files: Mapping[str, bytes]
    owner: str | None
    client: str | None

    @property
    def seed(self) -> int | None:
        return self.options.get("seed")


@dataclass(frozen=True)
class Final:
    """The end of a run, written by its owner: the state, and what goes with it."""

    state: str
    error: str | None = None
    summary: Mapping[str, Any] | None = None  # None: leave as it is
    seed: int | None = None  # None: leave as it is


@dataclass(frozen=True)
class StaleJob:
    """One run of a job whose heartbeat went stale, as read: the compare part of the settle."""

    id: str
    worker: str
    attempts: int
    cancel_requested: bool


@dataclass(frozen=True)
class Verdict:
    """What becomes of a stale run: back to the queue (state QUEUED), or finished with ``error``."""

    state: str
    error: str | None
    log_line: str  # with one %s, the job id


def stale_verdict(job: StaleJob, max_attempts: int) -> Verdict:
    """The stale-job policy: a cancel in progress ends cancelled; a job that already had
    ``max_attempts`` runs fails; any other goes back to the queue in its old place."""
    if job.cancel_requested:
        return Verdict(CANCELLED, None, "job %s: its runner stopped while it was being cancelled; marked cancelled")
    if job.attempts >= max_attempts:
        reason = gave_up(job.attempts)
        return Verdict(FAILED, reason, f"job %s failed: {reason}")
    return Verdict(QUEUED, None, "job %s: its runner stopped (stale heartbeat); re-queued")


def checked_names(names: Iterable[str]) -> list[str]:
    """``names`` as a list, once every one is known to be a job file name (never a path)."""
    names = list(names)
    for name in names:
        check_file_name(name)
    return names


class StoreCore(JobStore):
    """``JobStore`` with its shared logic; backends implement the primitives."""

    # Told of each claim, progress write and end of a job that this store object wrote (IMPASTO_METRICS).
    metrics: JobMetrics = NO_METRICS

    # -- the contract, written once ------------------------------------------------------------

    def create(self, options: Mapping[str, Any], files: Mapping[str, bytes], *,
               meta: Mapping[str, Any] | None = None, queue_limit: int | None = None,
               owner: str | None = None, client: str | None = None, client_limit: int | None = None) -> Job:
        checked_names(files)
        job = NewJob(secrets.token_urlsafe(16), dict(options), dict(meta or {}), files, owner, client)
        refused = self._insert(job, queue_limit, client_limit if client is not None else None)
        if refused == REFUSED_QUEUE_FULL:
            raise QueueFull(int(queue_limit or 0))
        if refused == REFUSED_CLIENT_LIMIT:
            raise ClientLimit(int(client_limit or 0))
        log.info("job %s queued", job.id, extra={"job_id": job.id, "state": QUEUED})
        return self.get(job.id)  # type: ignore[return-value]

    def claim(self, worker: str, max_running: int, job_id: str | None = None) -> Job | None:
        claimed = self._claim(worker, int(max_running), job_id)
        if claimed is None:
            return None
        log.info("job %s claimed by %s", claimed, worker, extra={"job_id": claimed, "state": RUNNING, "worker": worker})
        job = self.get(claimed)
        self.metrics.started(job)
        return job

    def heartbeat(self, job_id: str, worker: str) -> bool:
        return self._owned_write(job_id, worker, {}, None)

    def update_progress(self, job_id: str, worker: str, progress: Mapping[str, Any]) -> bool:
        values = {key: progress[key] for key in PROGRESS_FIELDS if key in progress}
        written = self._owned_write(job_id, worker, values, None)
        if written and "evaluations" in values:
            self.metrics.progress(job_id, values["evaluations"])
        return written

    def finish(self, job_id: str, worker: str, state: str, *, error: str | None = None,
               reason: str | None = None, summary: Mapping[str, Any] | None = None,
               seed: int | None = None) -> bool:
        """Record a job's end, by the runner that owns it; a failed job's ``reason`` (one of
        jobs.metrics.FAILURE_REASONS) is for the metrics, its ``error`` for whoever sent it."""
        if state not in FINISHED_STATES:
            raise ValueError(f"not a finished state: {state!r}")
        final = Final(state, error, None if summary is None else dict(summary), None if seed is None else int(seed))
        done = self._owned_write(job_id, worker, {"eta": None}, final)
        if done:
            log.info("job %s %s%s", job_id, state, f": {error}" if error else "",
                     extra={"job_id": job_id, "state": state, "worker": worker})
            self._ended(job_id, state, reason)
        return done

    def request_cancel(self, job_id: str) -> Job | None:
        outcome = self._request_cancel(job_id)
        if not outcome:
            return None
        job = self.get(job_id)
        if outcome == CANCELLED_QUEUED:
            self.metrics.finished(job, CANCELLED, None)  # cancelled before it ran: ended here, once
        return job

    def delete(self, job_id: str) -> bool:
        deleted = self._delete(job_id)
        if deleted:
            log.info("job %s deleted", job_id, extra={"job_id": job_id, "state": "deleted"})
        return deleted

    def put_file(self, job_id: str, name: str, data: bytes) -> bool:
        check_file_name(name)
        return self._put_file(job_id, name, bytes(data))

    def get_file(self, job_id: str, name: str) -> bytes | None:
        check_file_name(name)
        return self._get_file(job_id, name)

    def delete_files(self, job_id: str, names: Iterable[str]) -> int:
        names = checked_names(names)
        return self._delete_files(job_id, names) if names else 0

    def recover_stale(self, stale_after: float, max_attempts: int) -> list[str]:
        recovered = []
        for job in self._stale_jobs(float(stale_after)):
            verdict = stale_verdict(job, int(max_attempts))
            if self._settle_stale(job, float(stale_after), verdict):
                log.warning(verdict.log_line, job.id, extra={"job_id": job.id, "state": verdict.state})
                recovered.append(job.id)
                if verdict.state in FINISHED_STATES:
                    self._ended(job.id, verdict.state, "gave_up" if verdict.state == FAILED else None)
        return recovered

    def delete_finished(self, older_than: float) -> list[str]:
        ids = self._delete_finished(float(older_than))
        if ids:
            log.info("retention: deleted %d finished job(s)", len(ids))
        return ids

    def _ended(self, job_id: str, state: str, reason: str | None) -> None:
        """Tell the metrics of a job this store object just ended (read again for its times)."""
        if self.metrics.enabled:
            try:
                job = self.get(job_id)
            except Exception:  # noqa: BLE001 - counted without its duration rather than not at all
                job = None
            self.metrics.finished(job, state, reason)

    # -- storage primitives, one atomic step each ----------------------------------------------

    @abc.abstractmethod
    def _insert(self, job: NewJob, queue_limit: int | None, client_limit: int | None) -> str | None:
        """Check the limits (jobs queued; the client's jobs queued or running) and store the job with
        its files, or store nothing and answer REFUSED_QUEUE_FULL / REFUSED_CLIENT_LIMIT."""

    @abc.abstractmethod
    def _claim(self, worker: str, max_running: int, job_id: str | None) -> str | None:
        """The oldest queued job (or ``job_id`` if queued) to 'running' under ``worker``, attempts + 1,
        unless ``max_running`` jobs run already; its id, or None."""

    @abc.abstractmethod
    def _owned_write(self, job_id: str, worker: str, progress: Mapping[str, Any], final: Final | None) -> bool:
        """If ``worker`` runs the job: write ``progress`` (None clears a field), then either touch the
        heartbeat (``final`` None) or end the run as ``final`` says. False, writing nothing, otherwise."""

    @abc.abstractmethod
    def _request_cancel(self, job_id: str) -> int:
        """A queued job to 'cancelled' (its cancel flag set): CANCELLED_QUEUED; a running one's flag set,
        or any other known job: KNOWN; 0 if unknown."""

    @abc.abstractmethod
    def _delete(self, job_id: str) -> bool:
        """The job and all its files gone; False if there was none."""

    @abc.abstractmethod
    def _put_file(self, job_id: str, name: str, data: bytes) -> bool:
        """Store one file of an existing job; False (nothing written) if the job is gone."""

    @abc.abstractmethod
    def _get_file(self, job_id: str, name: str) -> bytes | None: ...

    @abc.abstractmethod
    def _delete_files(self, job_id: str, names: list[str]) -> int:
        """Remove those files of the job; how many it held."""

    @abc.abstractmethod
    def _stale_jobs(self, stale_after: float) -> list[StaleJob]:
        """Running jobs whose heartbeat is more than ``stale_after`` seconds old."""

    @abc.abstractmethod
    def _settle_stale(self, job: StaleJob, stale_after: float, verdict: Verdict) -> bool:
        """If the job is still that stale run (running under ``job.worker``, same attempts and cancel
        flag, heartbeat still stale): apply ``verdict`` and answer True. Back to the queue means in its
        old place, cleared of all progress fields, the run's timestamps and OUTPUT_FILES."""

    @abc.abstractmethod
    def _delete_finished(self, older_than: float) -> list[str]:
        """Finished jobs (rows and files) that finished more than ``older_than`` seconds ago; their ids."""
