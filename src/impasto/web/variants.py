"""Variant groups: one submission stored as 2 to 6 jobs (src/impasto/web/variant_plan.py reads what
varies), a group listed for its owner, and "paint this one larger" of a finished job.

A group is no record of its own: each job carries ``meta["variant"]`` ({group, index, of, vary,
value, caption}), and the group is the owner's jobs that carry its id. So a group needs nothing new
of the stores, is deleted with its jobs, and is seen only by the browser or token that made it (as
the job list is). Every variant stores its own copy of the uploads (the stores keep files per job),
and the queue's caps count every variant: the first job is stored only while the queue, and the
client, have room for all of them.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from typing import Any

from werkzeug.datastructures import MultiDict

from impasto.jobs.store import DONE, ClientLimit, Job, JobStore, QueueFull
from impasto.message import Field, Message, Number, Sent, Setting
from impasto.web import Services
from impasto.web.option_fields import option_values, parse_options
from impasto.web.service import QUEUE_LOOK, check_ready, get, submit
from impasto.web.service_errors import GroupTooBig, InvalidSubmission, NoSuchGroup, ServiceError
from impasto.web.submission import Limits, Submission, parse_submission
from impasto.web.variant_plan import Plan

# "Paint this one larger": twice the longest side, at most IMPASTO_MAX_SIZE.
LARGER_FACTOR = 2
_GROUP_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def submit_group(jobs: Services, form: MultiDict, files: MultiDict, plan: Plan, *, owner: str, client: str,
                 limits: Limits) -> tuple[str, list[Job]]:
    """Validate once, then store one job per variant for ``owner`` and hand them to the runners; the
    group's id and its jobs in order. Refusals as for one job (service.submit), and GroupTooBig
    when the queue or the client has no room for all of them: then nothing is stored."""
    check_ready(jobs)
    submissions = _submissions(form, files, plan, limits, jobs.store)
    group = secrets.token_urlsafe(9)
    created: list[Job] = []
    for index, submission in enumerate(submissions):
        room = plan.count - 1 - index  # the variants still to store after this one
        meta = {**submission.meta, "variant": _variant_meta(group, plan, index)}
        try:
            job = jobs.store.create(submission.options.to_dict(), submission.files, meta=meta,
                                    queue_limit=limits.queue_limit - room, owner=owner, client=client,
                                    client_limit=None if limits.per_client is None else limits.per_client - room)
        except (QueueFull, ClientLimit) as exc:
            for earlier in created:  # another submission took the room meanwhile: all or nothing
                jobs.store.delete(earlier.id)
            raise _too_big(exc, plan.count, limits) from None
        created.append(job)
    for job in created:
        jobs.dispatcher.submitted(job.id)
    return group, [jobs.store.get(job.id) or job for job in created]


def _submissions(form: MultiDict, files: MultiDict, plan: Plan, limits: Limits, store: JobStore) -> list[Submission]:
    """The first variant checked whole (uploads and all); the others differ only in their options,
    which are checked each (a preset or a style weight may pass a limit the first did not)."""
    first = parse_submission(plan.form(form, 0), files, limits, store)
    submissions = [first]
    for index in range(1, plan.count):
        variant = plan.form(form, index)
        errors: dict[str, Any] = {}
        options = parse_options(option_values(variant), variant.get("preset") or "", limits.maxima,
                                limits.max_iterations, errors)
        if options is None:
            field, message = next(iter(errors.items()))
            raise InvalidSubmission({"variant_values": Message(Field("variant_values"), f" {index + 1} ({field}): ",
                                                               message)})
        preset = first.meta.get("preset") if plan.vary != "preset" else plan.values[index]
        submissions.append(dataclasses.replace(first, options=options, meta={**first.meta, "preset": preset}))
    return submissions


def _variant_meta(group: str, plan: Plan, index: int) -> dict[str, Any]:
    return {"group": group, "index": index, "of": plan.count, "vary": plan.vary, "value": plan.values[index],
            "caption": plan.caption(index)}


def _too_big(exc: QueueFull | ClientLimit, count: int, limits: Limits) -> GroupTooBig:
    """The cap that refused the group, named with its setting and the number of variants asked."""
    if isinstance(exc, QueueFull):
        return GroupTooBig(Message("the queue holds at most ", Number(limits.queue_limit), " waiting jobs",
                                   Setting("IMPASTO_QUEUE_LIMIT"), f": no room for {count} variants now; try again "
                                   "in a minute, or ask for fewer"), status=503, limit=limits.queue_limit)
    cap = limits.per_client or 0
    return GroupTooBig(Message("one client may have at most ", Number(cap), " jobs queued or running",
                               Setting("IMPASTO_MAX_QUEUED_PER_CLIENT"), f": {count} variants do not fit beside "
                               "the jobs you have; wait for one to finish, or ask for fewer"), status=429, limit=cap)


def group_jobs(store: JobStore, group: str, owner: str | None) -> list[Job]:
    """The group's jobs (those not deleted) in variant order; NoSuchGroup (404) for an unknown group
    or another's (a caller with no cookie and no token has none)."""
    if not owner or not _GROUP_ID.fullmatch(group):
        raise NoSuchGroup(group)
    found = [job for job in store.jobs_of(owner, QUEUE_LOOK) if (job.meta.get("variant") or {}).get("group") == group]
    if not found:
        raise NoSuchGroup(group)
    return sorted(found, key=lambda job: job.meta["variant"]["index"])


def paint_larger(jobs: Services, job_id: str, size_sent: str | None, *, owner: str, client: str,
                 limits: Limits) -> Job:
    """A finished job painted again at a larger size: its uploads, its settings and its seed. The
    size is ``size_sent`` or twice the job's, at most IMPASTO_MAX_SIZE; refusals as for a submission."""
    job = get(jobs.store, job_id)
    if job.state != DONE:
        raise ServiceError(f"the job is {job.state}: a job is painted larger once it is done", field="source_job")
    size = _larger_size(int(job.options["size"]), size_sent, limits.max_size)
    form = MultiDict([(key, value) for key, value in job.options.items() if value is not None and key != "seed"])
    form.setlist("size", [size])
    form.setlist("seed", [job.seed if job.seed is not None else job.options.get("seed")])
    form.setlist("source_job", [job.id])  # its photo, paintings, masks and start image
    if job.meta.get("preset"):  # its name for the pages; every option it set is sent as well
        form.setlist("preset", [job.meta["preset"]])
    return submit(jobs, form, MultiDict(), owner=owner, client=client, limits=limits)


def larger_default(current: int, most: int) -> int | None:
    """The size "paint this one larger" paints at when none is sent: twice ``current``, at most
    ``most``; None when ``current`` is ``most`` already."""
    return min(most, current * LARGER_FACTOR) if current < most else None


def _larger_size(current: int, sent: str | None, most: int) -> int:
    """The size to paint at: as sent (larger than ``current``, at most ``most``), else twice it."""
    if sent is None or sent.strip() == "":
        size = larger_default(current, most)
        if size is None:
            raise ServiceError(Message(Field("size"), f" {current} is already the largest this server paints",
                                       Setting("IMPASTO_MAX_SIZE")), field="size")
        return size
    text = sent.strip()
    if not text.isdigit() or not current < int(text) <= most:
        raise ServiceError(Message(Field("size"), " must be a whole number from ", Number(current + 1), " to ",
                                   Number(most), " (larger than the job's)", Sent(repr(text[:40]))), field="size")
    return int(text)
