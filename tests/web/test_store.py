"""SqliteJobStore: creation, FIFO claims with a global limit, ownership, cancel, recovery, retention."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.jobs.sqlite_store import SqliteJobStore
from app.jobs.store import QueueFull


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> SqliteJobStore:
    return SqliteJobStore(tmp_path, clock=clock)


def add(store: SqliteJobStore, **kwargs) -> str:
    return store.create({"size": 48}, {"content.png": b"c", "style.png": b"s"}, **kwargs).id


def test_create_stores_files_and_queues(store: SqliteJobStore, tmp_path: Path) -> None:
    job = store.create({"size": 48, "seed": 7}, {"content.png": b"c", "style.png": b"s"}, meta={"style_name": "x"})
    assert job.state == "queued" and job.seed == 7 and job.meta == {"style_name": "x"}
    assert store.get_file(job.id, "content.png") == b"c"
    assert (tmp_path / "jobs" / job.id / "style.png").read_bytes() == b"s"
    assert store.get_file(job.id, "result.png") is None
    assert len(job.id) >= 20 and store.get("nope") is None


def test_queue_limit_stores_nothing(store: SqliteJobStore, tmp_path: Path) -> None:
    add(store, queue_limit=1)
    with pytest.raises(QueueFull):
        add(store, queue_limit=1)
    assert store.counts() == {"queued": 1}
    assert len(list((tmp_path / "jobs").iterdir())) == 1


def test_claims_are_fifo_and_respect_the_global_limit(store: SqliteJobStore) -> None:
    first, second, third = add(store), add(store), add(store)
    assert [store.queue_position(i) for i in (first, second, third)] == [1, 2, 3]
    job = store.claim("w1", max_running=1)
    assert job.id == first and job.state == "running" and job.attempts == 1
    assert store.claim("w2", max_running=1) is None  # one job uses every core
    assert store.queue_position(second) == 1 and store.queue_position(first) is None
    assert store.claim("w2", max_running=2).id == second
    assert store.claim("w3", max_running=5, job_id=third).id == third


def test_only_the_owner_writes(store: SqliteJobStore) -> None:
    job_id = add(store)
    store.claim("owner", 1)
    assert store.update_progress(job_id, "owner", {"iteration": 2, "total": 5, "loss": 1.5})
    assert not store.update_progress(job_id, "intruder", {"iteration": 4})
    assert not store.finish(job_id, "intruder", "done")
    assert store.get(job_id).progress["iteration"] == 2
    assert store.finish(job_id, "owner", "done", summary={"seconds": 1.0}, seed=5)
    done = store.get(job_id)
    assert done.state == "done" and done.summary == {"seconds": 1.0} and done.seed == 5


def test_cancel_queued_at_once_running_by_flag(store: SqliteJobStore) -> None:
    running, queued = add(store), add(store)
    store.claim("w", 1)
    assert store.request_cancel(queued).state == "cancelled"
    assert store.request_cancel(running).state == "running"
    assert store.cancel_requested(running)
    assert store.request_cancel("unknown") is None


def test_stale_running_jobs_are_requeued_then_failed(store: SqliteJobStore, clock: Clock) -> None:
    job_id = add(store)
    for attempt in (1, 2):
        assert store.claim("dead", 1).id == job_id
        clock.now += 100
        assert store.recover_stale(stale_after=30, max_attempts=2) == [job_id]
        expected = "queued" if attempt == 1 else "failed"
        assert store.get(job_id).state == expected
    assert "2 attempts" in store.get(job_id).error


def test_a_fresh_heartbeat_is_not_stale(store: SqliteJobStore, clock: Clock) -> None:
    job_id = add(store)
    store.claim("alive", 1)
    clock.now += 20
    store.heartbeat(job_id, "alive")
    clock.now += 20
    assert store.recover_stale(stale_after=30, max_attempts=3) == []
    assert store.get(job_id).state == "running"


def test_retention_deletes_old_finished_jobs_only(store: SqliteJobStore, clock: Clock, tmp_path: Path) -> None:
    old_done, running, queued = add(store), add(store), add(store)
    store.claim("w", 1)
    store.finish(old_done, "w", "done")
    store.claim("w", 1)
    clock.now += 10_000
    store.heartbeat(running, "w")
    assert store.delete_finished(older_than=3600) == [old_done]
    assert store.get(old_done) is None and not (tmp_path / "jobs" / old_done).exists()
    assert store.get(running).state == "running" and store.get(queued).state == "queued"
    with pytest.raises(KeyError):
        store.put_file(old_done, "preview.jpg", b"late")  # a runner must not resurrect a deleted job


def test_unknown_file_names_are_refused(store: SqliteJobStore) -> None:
    job_id = add(store)
    with pytest.raises(ValueError):
        store.put_file(job_id, "../../etc/passwd", b"x")
