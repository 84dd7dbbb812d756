"""SqliteJobStore specifics: files on disk, and transactions that never outlive an error.

The JobStore behaviour itself (FIFO claims, ownership, cancel, recovery, retention) is checked
against both backends in tests/distributed/test_store_contract.py."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from impasto.jobs.sqlite_store import SqliteJobStore
from impasto.jobs.store import QueueFull
from tests.helpers import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> SqliteJobStore:
    return SqliteJobStore(tmp_path, clock=clock)


def add(store: SqliteJobStore, **kwargs: Any) -> str:
    return store.create({"size": 48}, {"content.png": b"c", "style.png": b"s"}, **kwargs).id


def test_files_live_in_a_folder_per_job(store: SqliteJobStore, tmp_path: Path) -> None:
    job_id = add(store)
    assert (tmp_path / "jobs" / job_id / "style.png").read_bytes() == b"s"
    (tmp_path / "jobs" / job_id / "content.png").unlink()  # lost on disk: no file, not an error
    assert store.get_file(job_id, "content.png") is None


def test_a_refused_job_leaves_no_folder(store: SqliteJobStore, tmp_path: Path) -> None:
    add(store, queue_limit=1)
    with pytest.raises(QueueFull):
        add(store, queue_limit=1)
    assert len(list((tmp_path / "jobs").iterdir())) == 1


def test_retention_removes_the_folder(store: SqliteJobStore, clock: Clock, tmp_path: Path) -> None:
    job_id = add(store)
    store.claim("w", 1)
    store.finish(job_id, "w", "done")
    clock.now += 10_000
    assert store.delete_finished(older_than=3600) == [job_id]
    assert not (tmp_path / "jobs" / job_id).exists()


def test_a_requeued_job_loses_the_files_of_the_dead_run(store: SqliteJobStore, clock: Clock,
                                                        tmp_path: Path) -> None:
    job_id = add(store)
    store.claim("dead", 1)
    for name in ("preview.jpg", "result.png", "thumb.jpg"):
        store.put_file(job_id, name, b"old run")
    clock.now += 100
    assert store.recover_stale(stale_after=30, max_attempts=3) == [job_id]
    assert sorted(p.name for p in (tmp_path / "jobs" / job_id).iterdir()) == ["content.png", "style.png"]


class FailingCommit:
    """A connection whose next COMMIT fails (as a full disk or an I/O error would make it)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db, self.fail = db, True

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT" and self.fail:
            self.fail = False
            raise sqlite3.OperationalError("disk I/O error")
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


def test_a_failed_commit_is_rolled_back_and_the_connection_stays_usable(store: SqliteJobStore) -> None:
    job_id = add(store)
    store.claim("w", 1)
    with store._connection() as db:
        failing = FailingCommit(db)
    store._local.db = failing
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        store.update_progress(job_id, "w", {"iteration": 2})
    assert not failing.in_transaction  # not left holding the write lock
    assert "iteration" not in store.get(job_id).progress  # the failed write is undone
    assert store.update_progress(job_id, "w", {"iteration": 3})  # the next write works
    assert SqliteJobStore(store.data_dir).get(job_id).progress["iteration"] == 3  # and others see it
