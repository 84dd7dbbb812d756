"""``run_job``: run one claimed job with the engine, whatever the job backend.

Reads the inputs from the store (the photo, every painting in blend order, the start image of an
init='image' job), calls ``stylize`` (through a ``Painter``) with callbacks that write progress (and a
JPEG preview now and then) back to the store, watches the cancel flag, stores the result and sets
the final state. A clip job (its content is a video) calls ``stylize_clip`` instead, with the store's
side in src/impasto/jobs/clip_job.py (frames stored as they finish, resumed after a crash). Runner threads
and Celery tasks call it alike; TensorFlow is imported here only when a job actually runs.

The store may fail now and then (a locked SQLite file, Redis away for a moment). Progress, previews and cancel
checks are best-effort: a failed write or read is logged and the job goes on (a failed cancel check counts as
"not cancelled"). The final state is retried a few times with backoff; if it still cannot be written, the job
stays 'running' without heartbeats and the reaper re-queues it after the stale time.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from impasto.config import default
from impasto.jobs import clip_job
from impasto.jobs.paintings import Painting, job_paintings
from impasto.jobs.states import OUT_OF_MEMORY, TAKEN_OVER, WEIGHTS_FAILED, internal_error
from impasto.jobs.store import CANCELLED, DONE, FAILED, INIT_FILE, RUNNING, Job, JobStore, is_clip, mask_files
from impasto.nst.errors import Cancelled, ImpastoError, WeightsError
from impasto.nst.images import KeyedImage, encode_image, load_image, thumbnail
from impasto.nst.options import Options
from impasto.styles import catalog

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0  # the store's stale-after must be several of these
CANCEL_CHECK_SECONDS = 0.5  # the engine asks at every evaluation; the store is asked at most 2×/s
PREVIEW_SECONDS = 2.0  # a new preview after this long ...
PREVIEW_ITERATIONS = 10  # ... or after this many iterations, whichever comes first
THUMB_SIZE = 320
FINISH_TRIES = 5  # writes of the final state before giving up (the reaper then re-queues the job)
FINISH_BACKOFF_SECONDS = 0.5  # wait before the 2nd try; doubled before each further one


@dataclass(frozen=True)
class Painter:
    """What ``run_job`` paints with: ``picture`` takes the arguments of impasto.nst.engine.stylize,
    ``clip`` those of impasto.nst.video.stylize_clip. None (the default) means those very functions,
    imported when a job runs (TensorFlow only in the thread that runs jobs). The runners and the
    Celery worker take one, so that a caller can wrap the engine (to watch or hold a job)."""

    picture: Callable[..., Any] | None = None
    clip: Callable[..., Any] | None = None

    def stylize(self, *args: Any, **kwargs: Any) -> Any:
        if self.picture is not None:
            return self.picture(*args, **kwargs)
        from impasto.nst.engine import stylize

        return stylize(*args, **kwargs)

    def stylize_clip(self, *args: Any, **kwargs: Any) -> Any:
        if self.clip is not None:
            return self.clip(*args, **kwargs)
        from impasto.nst.video import stylize_clip

        return stylize_clip(*args, **kwargs)


@dataclass(frozen=True)
class EngineSettings:
    """The machine's side of every job, passed to ``stylize`` as plain arguments: the weights file
    (None: the ImageNet download), the precision for jobs that leave it 'auto', the memory budget,
    and the limits a clip is read with (checked at submission too; a runner with lower ones fails the job)."""

    weights: str | None = default("vgg_weights")
    precision: str = default("precision")
    memory_gb: float | None = default("max_memory_gb")
    max_clip_frames: int = default("max_clip_frames")
    max_clip_seconds: float = default("max_clip_seconds")
    max_clip_side: int = default("max_clip_side")

    @classmethod
    def from_settings(cls, settings: Any) -> EngineSettings:
        """From impasto.config.Settings (IMPASTO_VGG_WEIGHTS, IMPASTO_PRECISION, IMPASTO_MAX_MEMORY_GB,
        IMPASTO_MAX_CLIP_FRAMES / _SECONDS / _SIDE)."""
        return cls(settings.vgg_weights, settings.precision, settings.max_memory_gb, settings.max_clip_frames,
                   settings.max_clip_seconds, settings.max_clip_side)

    def clip_limits(self) -> Any:
        from impasto.nst.clips import ClipLimits

        return ClipLimits(max_frames=self.max_clip_frames, max_seconds=self.max_clip_seconds,
                          max_side=self.max_clip_side)


def run_job(store: JobStore, job_id: str, *, worker: str, engine: EngineSettings = EngineSettings(),
            painter: Painter = Painter()) -> str:
    """Run job ``job_id``, already claimed by ``worker``; return its final state ('deleted' when its
    owner deleted it meanwhile).

    ``engine`` goes to the engine as it is; ``painter`` is the engine itself.
    """
    job = store.get(job_id)
    if job is None or job.state != RUNNING or job.worker != worker:
        log.warning("job %s is not running under %s; not running it", job_id, worker)
        return job.state if job else "missing"
    began = time.monotonic()
    with _Heartbeat(store, job_id, worker):
        state, error, extra = _run(store, job, worker, engine, painter)
    _log_durations(job, state, time.monotonic() - began)
    if _deleted(store, job_id):
        # Its owner deleted it while it ran: the engine stopped at its next cancel check, and every
        # write since (progress, files) was refused. Nothing left to record.
        log.info("job %s was deleted while it ran; stopped", job_id)
        return "deleted"
    if finish(store, job_id, worker, state, error=error, **extra) and state == DONE and is_clip(job):
        # Only after 'done' is recorded: a runner that died before that resumes from these frames.
        clip_job.drop_frames(store, job_id)
    return state


def _log_durations(job: Job, state: str, run_seconds: float) -> None:
    """The run's seconds here, and the seconds the job waited in the queue before it (the store's times)."""
    waited = round(max(0.0, (job.started or job.created) - job.created), 3)
    log.info("job %s ran %.1f s and ended %s (%.1f s in the queue)", job.id, run_seconds, state, waited,
             extra={"job_id": job.id, "state": state, "run_seconds": round(run_seconds, 3), "queue_seconds": waited})


def _deleted(store: JobStore, job_id: str) -> bool:
    try:
        return store.get(job_id) is None
    except Exception:  # noqa: BLE001 - unknown: finish() below retries and reports
        return False


def finish(store: JobStore, job_id: str, worker: str, state: str, *, error: str | None = None,
           **extra: Any) -> bool:
    """store.finish, retried with exponential backoff while the store raises; True once written.

    The write is owner-only, so a retry after a write whose answer was lost changes nothing: it
    answers False like any write by a runner that no longer owns the job.
    """
    tries, delay = FINISH_TRIES, FINISH_BACKOFF_SECONDS
    for attempt in range(1, tries + 1):
        try:
            written = store.finish(job_id, worker, state, error=error, **extra)
        except Exception as exc:  # noqa: BLE001 - the store may be back in a moment
            if attempt == tries:
                log.error("job %s: could not record its final state %r after %d tries (%s: %s); it stays "
                          "'running' until the reaper re-queues it", job_id, state, tries, type(exc).__name__, exc)
                return False
            log.warning("job %s: recording its final state %r failed (%s: %s); try %d of %d in %.1f s",
                        job_id, state, type(exc).__name__, exc, attempt + 1, tries, delay)
            time.sleep(delay)
            delay *= 2
            continue
        if not written:
            log.warning("job %s: final state %r not recorded: %s no longer owns the job", job_id, state, worker)
        return written
    return False  # not reached (the last try returns); keeps the function total


class Complaints:
    """Logs a call that keeps failing once per outage (the first failure, with its traceback, and
    the recovery with the count), not at every try: a store away for a minute is two lines, not
    twelve tracebacks. Call ``failed()`` inside the ``except`` block, ``succeeded()`` after a success."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.failures = 0

    def failed(self) -> None:
        self.failures += 1
        if self.failures == 1:
            log.warning("%s failed; carrying on (logged once until it works again)", self.what, exc_info=True)

    def succeeded(self) -> None:
        if self.failures:
            log.info("%s works again after %d failure(s)", self.what, self.failures)
            self.failures = 0


def _run(store: JobStore, job: Job, worker: str, engine: EngineSettings,
         painter: Painter) -> tuple[str, str | None, dict[str, Any]]:
    """The engine call with its error mapping: (state, error text, finish() keyword arguments)."""
    watcher = _Watcher(store, job.id, worker)
    try:
        options = Options.from_mapping(job.options)
        if is_clip(job):
            return _run_clip(store, job, worker, engine, painter, options, watcher)
        content, styles, init_image = _inputs(store, job, options)
        masks = [store.get_file(job.id, name) for name in mask_files(job.files)]
        result = painter.stylize(content, styles, options=options, init_image=init_image, masks=masks,
                                 weights=engine.weights, precision=engine.precision, memory_gb=engine.memory_gb,
                                 on_progress=_Reporter(store, job.id, worker), should_stop=watcher)
        _store_result(store, job.id, result.image)
        return DONE, None, {"summary": result.summary(), "seed": result.options.seed}
    except Cancelled:
        return (FAILED, TAKEN_OVER, {"reason": "taken_over"}) if watcher.lost else (CANCELLED, None, {})
    except WeightsError as exc:
        # Its message names server paths and settings: for the log, not for whoever sent the job.
        log.error("job %s: %s", job.id, exc, extra={"job_id": job.id})
        return FAILED, WEIGHTS_FAILED, {"reason": "weights"}
    except ImpastoError as exc:
        return FAILED, str(exc), {"reason": "input"}
    except MemoryError:
        log.exception("job %s ran out of memory", job.id, extra={"job_id": job.id})
        return FAILED, OUT_OF_MEMORY, {"reason": "memory"}
    except Exception as exc:  # noqa: BLE001 - a job must never take its runner down
        log.exception("job %s failed", job.id, extra={"job_id": job.id})
        return FAILED, internal_error(exc), {"reason": "internal"}


def _run_clip(store: JobStore, job: Job, worker: str, engine: EngineSettings, painter: Painter, options: Options,
              watcher: _Watcher) -> tuple[str, str | None, dict[str, Any]]:
    """A clip job: every frame painted in turn (the finished ones of an earlier run skipped), each
    stored as it finishes; the results written at the end. Errors are mapped by ``_run``."""
    clip = clip_job.read_job_clip(store, job, engine.clip_limits())
    styles = _styles(store, job)
    finished = clip_job.finished_frames(store, job, len(clip.frames))
    reporter = _ClipReporter(store, job.id, worker)
    keeper = clip_job.FrameKeeper(store, job.id, worker, reporter.preview_problems.failed)
    result = painter.stylize_clip(clip, styles, options=options, weights=engine.weights, precision=engine.precision,
                                  memory_gb=engine.memory_gb, on_progress=reporter, should_stop=watcher,
                                  finished=finished, on_frame=keeper)
    clip_job.store_clip_result(store, job.id, result.frames, result.fps, clip.source)
    return DONE, None, {"summary": result.summary(), "seed": result.options.seed}


def _styles(store: JobStore, job: Job) -> list[np.ndarray | KeyedImage]:
    """The paintings in blend order (built-ins loaded by name)."""
    items = job_paintings(job)
    names = ["style"] if len(items) == 1 else [f"style {n}" for n in range(1, len(items) + 1)]
    return [_painting(store, job, painting, name) for painting, name in zip(items, names)]


def _inputs(store: JobStore, job: Job,
            options: Options) -> tuple[np.ndarray, list[np.ndarray | KeyedImage], np.ndarray | None]:
    """The photo (RGBA when it has transparency), the paintings in blend order (built-ins loaded by
    name) and the start image or None."""
    content = store.get_file(job.id, "content.png")
    init = store.get_file(job.id, INIT_FILE) if options.init == "image" else None
    if content is None or (options.init == "image" and init is None):
        raise ImpastoError("the job's input images are missing from the store")
    styles = _styles(store, job)
    return (load_image(content, name="content", keep_alpha=True), styles,
            None if init is None else load_image(init, name="init image"))


def _painting(store: JobStore, job: Job, painting: Painting, name: str) -> np.ndarray | KeyedImage:
    """A stored painting as pixels; a referenced built-in as its cached pixels with its name and
    hash as the key of the style-target cache (so no job hashes a built-in's pixels again)."""
    if painting.stored:
        data = store.get_file(job.id, painting.file)
        if data is None:
            raise ImpastoError("the job's input images are missing from the store")
        return load_image(data, name=name)
    style = painting.builtin
    if style is None:
        raise ImpastoError(f"{name}: the built-in painting {painting.name!r} is not on this server")
    if painting.sha256 and painting.sha256 != style.sha256:
        raise ImpastoError(f"{name}: the built-in painting {painting.name!r} has changed since the job was "
                           "submitted; submit it again")
    return KeyedImage(builtin_pixels(style.name), f"builtin:{style.name}:{style.sha256}")


@functools.lru_cache(maxsize=8)
def builtin_pixels(name: str) -> np.ndarray:
    """A built-in painting decoded once per process (read-only: every job shares the array)."""
    pixels = load_image(catalog()[name].read(), name=name)
    pixels.setflags(write=False)
    return pixels


def _store_result(store: JobStore, job_id: str, image: np.ndarray) -> None:
    store.put_file(job_id, "result.png", encode_image(image, "PNG"))
    store.put_file(job_id, "thumb.jpg", thumbnail(image, THUMB_SIZE))


class _Reporter:
    """on_progress: progress to the store after every iteration, a preview every few. Best-effort:
    a failed write is logged and the job goes on (the next iteration writes again)."""

    def __init__(self, store: JobStore, job_id: str, worker: str) -> None:
        self.store, self.job_id, self.worker = store, job_id, worker
        self.preview_time = 0.0
        self.preview_iteration: int | None = None
        self.preview_problems = Complaints(f"job {job_id}: writing the preview")
        self.progress_problems = Complaints(f"job {job_id}: writing the progress")

    def __call__(self, progress: Any) -> None:
        values = clip_job.progress_values(progress, progress.eta)
        if self._preview_due(progress.iteration, progress.total):
            preview = encode_image(progress.image(), "JPEG", quality=85)
            try:
                self.store.put_file(self.job_id, "preview.jpg", preview)
            except Exception:  # noqa: BLE001 - a lost preview is not worth the job
                self.preview_problems.failed()
            else:
                self.preview_problems.succeeded()
                self.preview_time, self.preview_iteration = time.monotonic(), progress.iteration
        values["preview_iteration"] = self.preview_iteration
        self._write(values)

    def _write(self, values: dict[str, Any]) -> None:
        """The progress line to the store (best-effort)."""
        try:
            self.store.update_progress(self.job_id, self.worker, values)
        except Exception:  # noqa: BLE001 - nor is one lost progress line
            self.progress_problems.failed()
        else:
            self.progress_problems.succeeded()

    def _preview_due(self, iteration: int, total: int) -> bool:
        if self.preview_iteration in (None, 0) or iteration >= total:  # after the start, the first strokes at once
            return True
        return (time.monotonic() - self.preview_time >= PREVIEW_SECONDS
                or iteration - self.preview_iteration >= PREVIEW_ITERATIONS)


class _ClipReporter(_Reporter):
    """on_progress of a clip job: frame i of N, the frame's iteration and losses, the whole clip's
    time left. The preview is the latest finished frame (clip_job.FrameKeeper writes it)."""

    def __call__(self, progress: Any) -> None:
        self._write(clip_job.clip_progress_values(progress))


class _Watcher:
    """should_stop: true once a cancel is requested or the job is no longer ours (cached ~0.5 s).
    A store that fails to answer means "not cancelled" (logged once per run of failures): if it
    stays away, the missed heartbeats get the job re-queued, and the check after that stops it."""

    def __init__(self, store: JobStore, job_id: str, worker: str) -> None:
        self.store, self.job_id, self.worker = store, job_id, worker
        self.checked = 0.0
        self.stop = False
        self.lost = False
        self.problems = Complaints(f"job {job_id}: checking for a cancel")

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self.stop and now - self.checked >= CANCEL_CHECK_SECONDS:
            self.checked = now
            try:
                job = self.store.get(self.job_id)
            except Exception:  # noqa: BLE001 - unknown counts as "carry on"
                self.problems.failed()
                return False
            self.problems.succeeded()
            self.lost = job is None or job.state != RUNNING or job.worker != self.worker
            self.stop = self.lost or bool(job and job.cancel_requested)
        return self.stop


class _Heartbeat:
    """Touches the job's heartbeat every few seconds while the engine works (the first iteration
    alone can take long: TensorFlow start-up, weights, tracing)."""

    def __init__(self, store: JobStore, job_id: str, worker: str) -> None:
        self.store, self.job_id, self.worker = store, job_id, worker
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"heartbeat-{job_id[:6]}", daemon=True)
        self.problems = Complaints(f"job {job_id}: the heartbeat")

    def _beat(self) -> None:
        while not self.done.wait(HEARTBEAT_SECONDS):
            try:
                self.store.heartbeat(self.job_id, self.worker)
            except Exception:  # noqa: BLE001 - a missed beat is not worth killing the job
                self.problems.failed()
            else:
                self.problems.succeeded()

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()
