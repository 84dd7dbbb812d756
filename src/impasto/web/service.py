"""The job service: what the API and the pages do with jobs, apart from HTTP.

Each function takes what it needs as plain arguments (the store, the caller as ``owner`` and
``client``, the server's ``limits``) and returns jobs or plain values; a refusal is a typed error
(src/impasto/web/service_errors.py, and the store's QueueFull and ClientLimit) that the error
handlers answer as JSON or as a page. Nothing here reads the request or builds a response.
"""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import FileStorage, MultiDict

from impasto.jobs.store import QUEUED, RUNNING, Job, JobStore
from impasto.message import Field, Message
from impasto.nst.clips import probe_clip
from impasto.nst.errors import ImageError, OptionError
from impasto.nst.images import check_pixels
from impasto.nst.options import Options
from impasto.text import duration
from impasto.web import Services
from impasto.web.clip_input import clip_setting, wants_clip
from impasto.web.estimate import DEFAULT_ASPECT, estimate_line, learn, queue_ahead, too_much_work
from impasto.web.option_fields import option_values
from impasto.web.service_errors import NoSuchJob, NotYours, NoWeights, ServiceError, StorageFull
from impasto.web.submission import Limits, parse_submission


def submit(jobs: Services, form: MultiDict, files: MultiDict, *, owner: str, client: str, limits: Limits) -> Job:
    """Validate and store a job for ``owner``, hand it to the runners; shared by the API and the form.

    Raises InvalidSubmission (400/413), the store's QueueFull (queue at ``limits.queue_limit``) or
    ClientLimit (``client`` has ``limits.per_client`` jobs queued or running). Nothing is stored for
    a refused submission; StorageFull (507) once the stored jobs take the room IMPASTO_STORAGE_LIMIT_MB allows;
    NoWeights (503) while no job could load the VGG16 weights."""
    check_ready(jobs)
    submission = parse_submission(form, files, limits, jobs.store)
    job = jobs.store.create(submission.options.to_dict(), submission.files, meta=submission.meta,
                            queue_limit=limits.queue_limit, owner=owner, client=client,
                            client_limit=limits.per_client)
    jobs.dispatcher.submitted(job.id)
    return jobs.store.get(job.id) or job


def check_ready(jobs: Services) -> None:
    """NoWeights while no job could load the VGG16 weights, StorageFull once the storage is full:
    checked before the uploads are decoded, since nothing of a job would be stored anyway."""
    missing = jobs.weights()
    if missing is not None:  # a job would only fail: say why now
        raise NoWeights(missing.said)
    if jobs.storage.full():
        raise StorageFull(jobs.storage.used_bytes(), jobs.storage.limit_bytes or 0)


def get(store: JobStore, job_id: str) -> Job:
    """The job with this id, whoever asks (its id is unguessable); NoSuchJob otherwise."""
    job = store.get(job_id)
    if job is None:
        raise NoSuchJob(job_id)
    return job


def owned(store: JobStore, job_id: str, owner: str | None) -> Job:
    """The job if ``owner`` made it; NoSuchJob or NotYours (both answered 404) otherwise."""
    job = get(store, job_id)
    if not is_owner(job, owner):
        raise NotYours(job_id)
    return job


def is_owner(job: Job, owner: str | None) -> bool:
    return job.owner is not None and job.owner == owner


def list_owned(store: JobStore, owner: str | None, limit: int) -> list[Job]:
    """The newest ``limit`` jobs of ``owner``; none for a caller with no cookie and no token."""
    return store.jobs_of(owner, limit) if owner else []


# How many of an owner's newest jobs are looked through for those waiting or running: far more than
# IMPASTO_MAX_QUEUED_PER_CLIENT lets anyone have at once.
QUEUE_LOOK = 200


def queue_of(store: JobStore, owner: str | None) -> list[Job]:
    """The owner's jobs waiting or running: the running ones first, then the waiting in queue order
    (first come, first painted); none for a caller with no cookie and no token."""
    if not owner:
        return []
    active = [job for job in store.jobs_of(owner, QUEUE_LOOK) if job.state in (QUEUED, RUNNING)]
    return sorted(active, key=lambda job: (job.state != RUNNING, job.created))


def cancel(store: JobStore, job_id: str, owner: str | None) -> Job:
    """Ask the owner's job to stop (a queued one is cancelled at once); the job as it is now."""
    owned(store, job_id, owner)
    job = store.request_cancel(job_id)
    if job is None:  # deleted meanwhile
        raise NoSuchJob(job_id)
    return job


def delete(store: JobStore, job_id: str, owner: str | None) -> None:
    """Delete the owner's job and all its files (a running one is cancelled first)."""
    job = owned(store, job_id, owner)
    if job.state == RUNNING:
        store.request_cancel(job_id)  # its runner stops at the next check (the job is gone by then anyway)
    if not store.delete(job_id):
        raise NoSuchJob(job_id)


def estimate(query: MultiDict, limits: Limits, recent: list[Job], runners: int) -> dict[str, Any]:
    """How long a job with these options (as for a submission, plus ``aspect``: the photo's shorter
    side over its longer side, and ``frames`` for a clip) would take here, and the wait before it
    starts; ``recent``: the store's recent jobs, which the speed and the queue are learned from."""
    values = option_values(query)
    values.pop("aspect", None)
    frames = _frames_asked(values.pop("frames", None), limits.clip.max_frames)
    try:
        aspect = min(1.0, max(0.05, float(query.get("aspect") or DEFAULT_ASPECT)))
        options = Options.from_mapping({**values, "preset": query.get("preset") or None})
    except OptionError as exc:
        raise ServiceError(exc.message, field=exc.field) from None
    except ValueError:
        raise ServiceError(f"aspect must be a number, got {query['aspect']!r}", field="aspect") from None
    speed = learn(recent)
    seconds = speed.seconds(options, aspect, frames)
    queue = queue_ahead(recent, speed, runners)
    line = (too_much_work(options, limits)
            or estimate_line(duration(seconds), speed.jobs, queue.jobs_ahead, duration(queue.wait_seconds),
                             warm=speed.warm is not None))
    return {"seconds": round(seconds, 1), "measured_jobs": speed.jobs, "jobs_ahead": queue.jobs_ahead,
            "wait_seconds": round(queue.wait_seconds, 1), "line": line}


def _frames_asked(raw: str | None, most: int) -> int:
    """The estimate's ``frames`` (a clip's frame count, 1 to ``most``; 1: a picture)."""
    if raw is None or raw == "":
        return 1
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise ServiceError(f"frames must be a whole number from 1 to {most}, got {raw[:40]!r}", field="frames")
    return int(raw)


def probe(upload: FileStorage | None, limits: Limits) -> dict[str, Any]:
    """What a ``content`` upload is before it is sent as a job: {"clip": False} for a picture, or
    {"clip": True, frames, fps, seconds, width, height, ...}; ServiceError naming the limit for a
    clip, or a picture over the pixel limit (413), that the server would refuse. Nothing is stored
    and nothing decoded beyond what the limits are checked on (a picture: its header)."""
    if upload is None or not upload.filename:
        raise ServiceError(Message(Field("content"), ": send the file to look at as the ", Field("content"), " field"),
                           field="content")
    data = upload.read()
    if not wants_clip(data, upload.filename, upload.mimetype):
        _check_picture(data, limits.max_pixels)
        return {"clip": False}
    try:
        info = probe_clip(data, limits.clip)
    except ImageError as exc:
        raise ServiceError(Message(Field("content"), ": ", exc.message, *clip_setting(exc)), field="content") from None
    return {"clip": True, **info.to_dict()}


def _check_picture(data: bytes, max_pixels: int) -> None:
    """A picture over the pixel limit, from its header (413); any other fault is told when it is sent."""
    try:
        check_pixels(data, max_pixels=max_pixels, name=Field("content"))
    except ImageError as exc:
        if exc.too_large:
            raise ServiceError(exc.message, status=413, field="content") from None
