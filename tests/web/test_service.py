"""The job service without HTTP: the caller and the limits are arguments, refusals are typed errors."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from werkzeug.datastructures import FileStorage, MultiDict

from impasto.jobs.sqlite_store import SqliteJobStore
from impasto.jobs.store import ClientLimit, QueueFull
from impasto.message import Field, Number, Sent
from impasto.web import Services, service
from impasto.web.service_errors import InvalidSubmission, NoSuchJob, NotYours, ServiceError
from impasto.web.submission import Limits
from tests.web.conftest import png_bytes


class Noted:
    """A dispatcher that notes the jobs it was handed."""

    def __init__(self) -> None:
        self.jobs: list[str] = []

    def submitted(self, job_id: str) -> None:
        self.jobs.append(job_id)


LIMITS = Limits(max_size=256, max_iterations=100, max_pixels=4_000_000, queue_limit=2, per_client=1)


@pytest.fixture
def jobs(tmp_path: Path) -> Services:
    return Services(SqliteJobStore(tmp_path), Noted())  # type: ignore[arg-type]


def _form(**fields: str) -> tuple[MultiDict, MultiDict]:
    files = MultiDict({"content": FileStorage(io.BytesIO(png_bytes()), "photo.png", "content")})
    return MultiDict({"style_name": "starry_night", "size": "64", **fields}), files


def _submit(jobs: Services, owner: str = "token:a", client: str = "token:a", **fields: str):
    form, files = _form(**fields)
    return service.submit(jobs, form, files, owner=owner, client=client, limits=LIMITS)


def test_a_submission_is_stored_for_its_owner_and_dispatched(jobs):
    job = _submit(jobs)
    assert jobs.dispatcher.jobs == [job.id] and job.owner == "token:a" and job.options["size"] == 64
    assert [j.id for j in service.list_owned(jobs.store, "token:a", 10)] == [job.id]
    assert service.list_owned(jobs.store, "token:b", 10) == [] and service.list_owned(jobs.store, None, 10) == []


def test_refusals_carry_the_field_and_the_limits_come_as_arguments(jobs):
    with pytest.raises(InvalidSubmission) as refused:
        _submit(jobs, size="5000")
    assert refused.value.field == "size" and refused.value.status == 400
    message = refused.value.errors["size"]
    assert str(message) == "size must be a whole number from 32 to 256, got 5000"
    assert {Field("size"), Number(256), Sent("5000")} <= set(message.parts)  # the facts, not only the sentence
    assert jobs.dispatcher.jobs == [] and jobs.store.recent(10) == []
    _submit(jobs)
    with pytest.raises(ClientLimit):  # per_client=1 for this client
        _submit(jobs)
    _submit(jobs, owner="token:b", client="token:b")
    with pytest.raises(QueueFull):  # queue_limit=2
        _submit(jobs, owner="token:c", client="token:c")


def test_only_the_owner_cancels_or_deletes(jobs):
    job = _submit(jobs)
    with pytest.raises(NotYours) as other:
        service.cancel(jobs.store, job.id, "token:b")
    assert other.value.status == 404 and "is not yours" in str(other.value)
    with pytest.raises(NotYours):
        service.delete(jobs.store, job.id, None)
    assert service.cancel(jobs.store, job.id, "token:a").state == "cancelled"
    service.delete(jobs.store, job.id, "token:a")
    with pytest.raises(NoSuchJob):
        service.get(jobs.store, job.id)


def test_estimate_and_probe_refuse_with_the_field(jobs):
    with pytest.raises(ServiceError) as frames:
        service.estimate(MultiDict({"frames": "0"}), LIMITS, [], 1)
    assert frames.value.to_dict() == {"error": "frames must be a whole number from 1 to 240, got '0'",
                                      "field": "frames"}
    assert service.estimate(MultiDict({"size": "64"}), LIMITS, [], 1)["jobs_ahead"] == 0
    with pytest.raises(ServiceError) as probe:
        service.probe(None, LIMITS)
    assert probe.value.field == "content" and probe.value.status == 400
    photo = FileStorage(io.BytesIO(png_bytes()), "photo.png", "content")
    assert service.probe(photo, LIMITS) == {"clip": False}
