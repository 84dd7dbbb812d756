"""What the job service refuses, as typed errors that carry their facts.

The service raises these; it never builds a response. The error handlers (src/impasto/web/errors.py)
answer each one in its audience's form: JSON on the API, the form again or an error page for people.
The store's own refusals, ``QueueFull`` and ``ClientLimit`` (impasto.jobs.store), pass through as they are.
"""

from __future__ import annotations

from typing import Any

from impasto.message import Message, Number, Setting
from impasto.storage import MB

# What a 503 for a full queue (or a 429 for a busy client) tells the client to wait, in seconds.
RETRY_AFTER_SECONDS = 60


class ServiceError(Exception):
    """A refusal with its HTTP status; ``field`` names the input at fault (None: none in particular);
    ``facts`` are further fields of the API's JSON answer; ``headers`` go with the answer."""

    status = 400

    def __init__(self, message: str | Message, *, status: int | None = None, field: str | None = None,
                 headers: dict[str, str] | None = None, **facts: Any) -> None:
        super().__init__(str(message))
        self.message = message
        self.status = status or self.status
        self.field = field
        self.headers = headers or {}
        self.facts = facts

    def to_dict(self) -> dict[str, Any]:
        """The API's JSON body: {"error": message, "field": ..., ...facts}."""
        named = {"field": self.field} if self.field is not None else {}
        return {"error": str(self.message), **named, **self.facts}


class NoSuchJob(ServiceError):
    """No job has this id (never had, or it was deleted)."""

    status = 404

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job {short_id(job_id)!r} (unknown, or deleted)")
        self.job_id = job_id


class NotYours(ServiceError):
    """The job exists but belongs to another browser or token: answered as 404, like an unknown one."""

    status = 404

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {short_id(job_id)!r} is not yours: only the browser or API token that made it "
                         "may change it")
        self.job_id = job_id


class NoSuchGroup(ServiceError):
    """No variant group of the caller's has this id (unknown, another's, or all its jobs deleted)."""

    status = 404

    def __init__(self, group: str) -> None:
        super().__init__(f"no variant group {short_id(group)!r} of yours (unknown, or its jobs were deleted)")


class GroupTooBig(ServiceError):
    """The queue (503) or the client's cap (429) has no room for every variant of a group; nothing
    was stored. The message names the cap and its setting; ``limit`` is in the API's JSON too."""

    def __init__(self, message: Message, *, status: int, limit: int) -> None:
        super().__init__(message, status=status, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}, limit=limit)


class InvalidSubmission(ServiceError):
    """One or more fields are wrong. ``errors`` maps field name → message; ``field`` is the first."""

    def __init__(self, errors: dict[str, str | Message], status: int = 400) -> None:
        field = next(iter(errors))
        super().__init__(errors[field], status=status, field=field)
        self.errors = errors


class NoWeights(ServiceError):
    """No job could load the VGG16 weights now (src/impasto/nst/vgg.py, ``missing_weights``): the
    submission is refused (503) rather than stored as a job that would fail."""

    status = 503

    def __init__(self, said: str) -> None:
        super().__init__(said, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


class StorageFull(ServiceError):
    """The stored jobs take the room IMPASTO_STORAGE_LIMIT_MB allows: no new job until some are deleted
    (507 Insufficient Storage). The message and the API's JSON name the limit and the usage."""

    status = 507

    def __init__(self, used_bytes: int, limit_bytes: int) -> None:
        used_mb, limit_mb = _megabytes(used_bytes), _megabytes(limit_bytes)
        super().__init__(Message("the studio's storage is full: ", Number(used_mb), " MB used of the ",
                                 Number(limit_mb), " MB it may hold", Setting("IMPASTO_STORAGE_LIMIT_MB"),
                                 "; no new job can be stored until older ones are deleted"),
                         used_mb=used_mb, limit_mb=limit_mb)


def _megabytes(count: int) -> float:
    """Bytes as MB to one decimal (a cap under 1 MB, as tests set, to three)."""
    return round(count / MB, 1 if count >= MB else 3)


def short_id(job_id: str) -> str:
    """A job id as echoed in messages: never a whole 9,000-character one."""
    return job_id if len(job_id) <= 48 else job_id[:45] + "..."
