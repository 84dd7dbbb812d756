"""The job store: the one place where jobs live, shared by every web process and every runner.

Interface (``JobStore``), for any backend (SQLite here, Redis later):

- ``create(options, files, meta=, queue_limit=, owner=, client=, client_limit=)`` → Job in state
  'queued'. Atomic: the queue limit (jobs waiting) and the client's limit (its jobs queued or
  running, counted by ``client``) are checked and the job (with its input files) written in one
  step; ``QueueFull`` / ``ClientLimit`` store nothing. ``owner`` may list, cancel and delete it.
- ``get(id)`` → Job or None; ``recent(limit)`` (every owner's); ``jobs_of(owner, limit)``, newest
  first; ``queue_position(id)`` → 1-based or None; ``counts()`` → {state: n}.
- ``claim(worker, max_running, job_id=None)`` → the oldest queued job (or that one), now 'running'
  and owned by ``worker``, or None. Exactly one caller wins a job, and never more than
  ``max_running`` jobs run at once across all processes (one job uses every core).
- Owner-only writes, each returning False when ``worker`` no longer owns the running job (it was
  reaped as stale or cancelled elsewhere): ``heartbeat``, ``update_progress``, ``finish``.
- ``request_cancel(id)``: a queued job is cancelled at once, a running one gets its flag set;
  ``cancel_requested(id)`` reads the flag.
- ``delete(id)`` → True when it removed the job and all its files, whatever its state; a runner
  still working on it then finds every write refused (owner-only writes answer False, put_file too)
  and stops at its next cancel check.
- ``put_file(id, name, data)`` → False (nothing written) when the job no longer exists;
  ``get_file(id, name)`` → bytes or None: inputs ('content.png',
  the paintings 'style.png', 'style_2.png', … in blend order, 'init.png' for init=image, the
  masks 'mask.png', 'mask_2.png', … one per painting when the job has masks),
  'preview.jpg', 'result.png', 'thumb.jpg'. Bytes in and out, so a backend needs no shared
  filesystem. A clip job (the content is a video) holds 'content.clip' (the upload without its metadata) and
  'poster.jpg' (its first frame) instead of 'content.png', its finished frames 'frame_0001.png' …
  (``frame_file``: the only names made at run time, kept across a re-queue so that a resumed run
  skips them) and the results 'result.mp4', 'result.webm' (optional), 'result.gif'.
- ``delete_files(id, names)`` → how many of those files the job held and no longer holds: one job's
  files removed while the job stays (a finished clip's frames, once its videos are stored).
- ``recover_stale(stale_after, max_attempts)``: running jobs whose heartbeat is older than
  ``stale_after`` seconds (their process died) go back to 'queued' in their old place, cleared of
  everything the dead run wrote (all progress fields, OUTPUT_FILES), or to 'failed' with a reason
  after ``max_attempts`` tries (to 'cancelled' when a cancel was requested). Called at start-up
  and periodically by the runners.
- ``delete_finished(older_than)``: removes done/failed/cancelled jobs (rows and files) that
  finished more than ``older_than`` seconds ago; never a queued or running one.
- API tokens, kept only as a digest (src/impasto/jobs/tokens.py): ``add_token(name, digest)`` → False when
  the name is taken; ``token_name(digest)`` → name or None; ``tokens()`` → [Token]; ``revoke_token(name)``.
- Browser sessions, kept only as a digest of the cookie's session id, so that every web process
  (and, in scale-out, every web container) agrees which sessions live: ``add_session(digest,
  principal, max_age)`` (also forgets sessions older than ``max_age`` seconds);
  ``session_principal(digest, max_age)`` → the principal ('password:<fingerprint>', 'anonymous') of
  a session started less than ``max_age`` seconds ago, else None; ``end_session(digest)`` → True
  when it ended one; ``end_sessions(principal)`` → how many of that principal's sessions it ended.
- ``ping()``: raises when the backend does not answer (the readiness probe).

``SqliteJobStore`` (src/impasto/jobs/sqlite_store.py) is the default backend, ``RedisJobStore``
(src/impasto/jobs/redis_store.py) the scale-out one. Both build on ``StoreCore``
(src/impasto/jobs/store_core.py), which holds what they share (name and state checks, ids, log
lines, the stale-job policy) and leaves them small atomic storage primitives. Each keeps a version
of its layout and upgrades older data at start (src/impasto/jobs/sqlite_schema.py,
src/impasto/jobs/redis_layout.py, their shared steps in src/impasto/jobs/migrations.py).

States and the messages the stores write come from src/impasto/jobs/states.py (re-exported here). The
engine is run by ``impasto.jobs.execute.run_job`` on a claimed job, whatever the backend.
"""

from __future__ import annotations

import abc
import re
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from impasto.jobs.states import (  # noqa: F401 - re-exported: the stores' vocabulary
    ACTIVE_STATES,
    CANCELLED,
    DONE,
    FAILED,
    FINISHED_STATES,
    QUEUED,
    RUNNING,
    STATES,
)
from impasto.nst.options import MAX_STYLES

# Progress fields a runner may write (columns of the SQLite table, keys in other backends).
PROGRESS_FIELDS = ("iteration", "total", "evaluations", "loss", "content_loss", "style_loss", "tv_loss",
                   "eta", "eta_at", "scale", "scales", "preview_iteration",  # eta_at: time.time() of the eta
                   # Clip jobs: the frame being painted (1-based) of ``frames``, the latest finished one
                   # (shown as the preview); iteration/total are then the frame's, eta the whole clip's.
                   "frame", "frames", "preview_frame")

# File names a job may hold: a fixed set, so a name can never be a path. The paintings are
# style.png, style_2.png, … in the order of the job's style_blend; init.png is the start image of an init='image' job.
STYLE_FILES = ("style.png", *(f"style_{n}.png" for n in range(2, MAX_STYLES + 1)))
INIT_FILE = "init.png"
# One grey mask per painting, in the paintings' order (mask.png for style.png, …), or none.
MASK_FILES = ("mask.png", *(f"mask_{n}.png" for n in range(2, MAX_STYLES + 1)))
# A clip job's inputs: the clip as uploaded and its first frame (for pages and lists).
CLIP_FILE = "content.clip"
# The meta key of a clip job whose content.clip was stored without metadata (all jobs since it was added).
CLIP_STRIPPED = "clip_stripped"
POSTER_FILE = "poster.jpg"
# A clip job's results, by format (impasto.nst.clips.CLIP_FORMATS); webm is optional.
CLIP_RESULTS = {"mp4": "result.mp4", "webm": "result.webm", "gif": "result.gif"}
# What a run writes (result.jpg: the JPEG rendition, made by the web at the first ?format=jpeg);
# dropped when the job is re-queued. A clip's finished frames are not among them: a resumed run reuses them.
OUTPUT_FILES = ("preview.jpg", "result.png", "thumb.jpg", "result.jpg", *CLIP_RESULTS.values())
FILE_NAMES = ("content.png", *STYLE_FILES, INIT_FILE, *MASK_FILES, CLIP_FILE, POSTER_FILE, *OUTPUT_FILES)
# A clip's finished frames: frame_0001.png … frame_9999.png (IMPASTO_MAX_CLIP_FRAMES is at most 9999).
# Four digits exactly, from 0001: a name that matches is still never a path.
_FRAME_NAME = re.compile(r"frame_(?!0000)([0-9]{4})\.png")
MAX_FRAME_FILES = 9999


class QueueFull(Exception):
    """The queue already holds ``limit`` waiting jobs; nothing was stored."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the queue is full ({limit} job{'s' if limit != 1 else ''} waiting); try again in a minute")
        self.limit = limit


class ClientLimit(Exception):
    """The client already has ``limit`` jobs queued or running; nothing was stored."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"you already have {limit} job{'s' if limit != 1 else ''} queued or running, the most "
                         f"one client may have at once; wait for one to finish (or cancel one)")
        self.limit = limit


@dataclass(frozen=True)
class Token:
    """An API token as the store lists it: its name and when it was made (never the token)."""

    name: str
    created: float


@dataclass
class Job:
    """One job as a backend returns it. Times are Unix seconds (float) or None."""

    id: str
    state: str
    created: float
    options: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    started: float | None = None
    finished: float | None = None
    heartbeat: float | None = None
    worker: str | None = None
    attempts: int = 0
    cancel_requested: bool = False
    seed: int | None = None
    error: str | None = None
    summary: dict[str, Any] | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    owner: str | None = None  # who may list, cancel and delete it: 'browser:<id>', 'token:<name>'
    client: str | None = None  # whose per-client limit it counts against: the owner, else 'addr:<address>'

    def elapsed(self, now: float | None = None) -> float | None:
        """Seconds spent running (so far, or in all once finished)."""
        if self.started is None:
            return None
        end = self.finished if self.finished is not None else (now or time.time())
        return max(0.0, end - self.started)


class JobStore(abc.ABC):
    """What the web layer, the runners and ``run_job`` need from a job backend."""

    @abc.abstractmethod
    def create(self, options: Mapping[str, Any], files: Mapping[str, bytes], *,
               meta: Mapping[str, Any] | None = None, queue_limit: int | None = None,
               owner: str | None = None, client: str | None = None, client_limit: int | None = None) -> Job: ...

    @abc.abstractmethod
    def get(self, job_id: str) -> Job | None: ...

    @abc.abstractmethod
    def recent(self, limit: int = 50) -> list[Job]: ...

    @abc.abstractmethod
    def jobs_of(self, owner: str, limit: int = 50) -> list[Job]: ...

    @abc.abstractmethod
    def queue_position(self, job_id: str) -> int | None: ...

    @abc.abstractmethod
    def counts(self) -> dict[str, int]: ...

    @abc.abstractmethod
    def claim(self, worker: str, max_running: int, job_id: str | None = None) -> Job | None: ...

    @abc.abstractmethod
    def heartbeat(self, job_id: str, worker: str) -> bool: ...

    @abc.abstractmethod
    def update_progress(self, job_id: str, worker: str, progress: Mapping[str, Any]) -> bool: ...

    @abc.abstractmethod
    def finish(self, job_id: str, worker: str, state: str, *, error: str | None = None,
               reason: str | None = None, summary: Mapping[str, Any] | None = None,
               seed: int | None = None) -> bool: ...

    @abc.abstractmethod
    def request_cancel(self, job_id: str) -> Job | None: ...

    @abc.abstractmethod
    def cancel_requested(self, job_id: str) -> bool: ...

    @abc.abstractmethod
    def delete(self, job_id: str) -> bool: ...

    @abc.abstractmethod
    def put_file(self, job_id: str, name: str, data: bytes) -> bool: ...

    @abc.abstractmethod
    def get_file(self, job_id: str, name: str) -> bytes | None: ...

    @abc.abstractmethod
    def delete_files(self, job_id: str, names: Iterable[str]) -> int: ...

    @abc.abstractmethod
    def recover_stale(self, stale_after: float, max_attempts: int) -> list[str]: ...

    @abc.abstractmethod
    def delete_finished(self, older_than: float) -> list[str]: ...

    @abc.abstractmethod
    def add_token(self, name: str, digest: str) -> bool: ...

    @abc.abstractmethod
    def token_name(self, digest: str) -> str | None: ...

    @abc.abstractmethod
    def tokens(self) -> list[Token]: ...

    @abc.abstractmethod
    def revoke_token(self, name: str) -> bool: ...

    @abc.abstractmethod
    def add_session(self, digest: str, principal: str, max_age: float) -> None: ...

    @abc.abstractmethod
    def session_principal(self, digest: str, max_age: float) -> str | None: ...

    @abc.abstractmethod
    def end_session(self, digest: str) -> bool: ...

    @abc.abstractmethod
    def end_sessions(self, principal: str) -> int: ...

    @abc.abstractmethod
    def ping(self) -> None: ...


def style_files(names: Iterable[str]) -> list[str]:
    """The painting files among ``names`` (a job's files), in blend order."""
    present = set(names)
    return [name for name in STYLE_FILES if name in present]


def mask_files(names: Iterable[str]) -> list[str]:
    """The mask files among ``names`` (a job's files), in the paintings' order."""
    present = set(names)
    return [name for name in MASK_FILES if name in present]


def style_names(job: Job) -> list[str | None]:
    """The built-in paintings' names of a job's styles, in blend order: None for an upload, and for
    every painting of a job stored without names (made through the store, not the web)."""
    names = list(job.meta.get("style_names") or [])
    return names + [None] * (len(style_files(job.files)) - len(names))


def frame_file(index: int) -> str:
    """The file of a clip's finished frame ``index`` (0-based): frame_0001.png for the first."""
    if not 0 <= index < MAX_FRAME_FILES:
        raise ValueError(f"frame index {index} is out of range (0 to {MAX_FRAME_FILES - 1})")
    return f"frame_{index + 1:04d}.png"


def frame_files(names: Iterable[str]) -> dict[int, str]:
    """The finished frames among ``names`` (a job's files): 0-based index → file name, in order."""
    found = {int(match.group(1)) - 1: name for name in names if (match := _FRAME_NAME.fullmatch(name))}
    return dict(sorted(found.items()))


def is_clip(job: Job) -> bool:
    """Whether the job paints a clip (its content is a video) rather than a picture."""
    return CLIP_FILE in job.files


def check_file_name(name: str) -> None:
    if name not in FILE_NAMES and not _FRAME_NAME.fullmatch(name):
        raise ValueError(f"unknown job file {name!r}")
