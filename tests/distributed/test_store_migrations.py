"""Versioned storage: a store written before versioning (tests/fixtures/store-v0, kept from the
previous release) opens with this code, upgraded, in SQLite and in Redis; a newer one is refused."""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from impasto.jobs import redis_layout, sqlite_schema
from impasto.jobs.sqlite_store import SqliteJobStore
from impasto.jobs.store import JobStore, style_names

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store-v0"


@pytest.fixture
def old_sqlite(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(FIXTURE / "sqlite", data)
    return data


def sqlite_ids() -> dict[str, str]:
    return json.loads((FIXTURE / "sqlite-ids.json").read_text())


def load_redis_fixture(client: Any, prefix: str) -> dict[str, str]:
    dump = json.loads((FIXTURE / "redis.json").read_text())
    for name, entry in dump["keys"].items():
        key = f"{prefix}:{name}"
        if entry["type"] == "hash":
            client.hset(key, mapping={f: base64.b64decode(v) for f, v in entry["value"].items()})
        elif entry["type"] == "zset":
            client.zadd(key, {member: score for member, score in entry["value"]})
        else:
            client.set(key, entry["value"])
    return dump["ids"]


def check_upgraded(store: JobStore, ids: dict[str, str]) -> None:
    """What a store upgraded from the fixture must hold: the old jobs, whole, with no fallbacks needed."""
    old, blend, failed = (store.get(ids[k]) for k in ("done_before_blending", "queued_blend", "failed"))
    assert old.state == "done" and old.seed == 42 and old.summary == {"seconds": 10.0}
    assert old.progress["iteration"] == 5 and old.options == {"size": 64, "iterations": 5}
    assert set(old.files) == {"content.png", "style.png", "result.png", "thumb.jpg"}
    assert store.get_file(old.id, "result.png").startswith(b"\x89PNG")
    assert style_names(old) == ["starry_night"]  # filled in by the migration
    assert style_names(blend) == [None, "the_scream"] and blend.state == "queued"
    assert store.queue_position(blend.id) == 1
    assert failed.error == "style image too small" and style_names(failed) == ["shipwreck"]
    assert old.owner is None and store.jobs_of("browser:x") == []  # jobs from before belong to nobody
    # The new features work on the old data.
    mine = store.create({"size": 48}, {"content.png": b"c", "style.png": b"s"}, meta={"style_names": [None]},
                        owner="browser:x", client="browser:x", client_limit=1)
    assert [job.id for job in store.jobs_of("browser:x")] == [mine.id]
    assert store.add_token("ci", "digest") and store.token_name("digest") == "ci"
    store.add_session("session-digest", "anonymous", 60)  # sessions are new in version 5
    assert store.session_principal("session-digest", 60) == "anonymous"
    assert store.delete(old.id) and store.get_file(old.id, "content.png") is None
    assert store.claim("w", 1).id == blend.id  # FIFO order kept


def test_sqlite_database_from_before_versioning_is_upgraded(old_sqlite: Path) -> None:
    with sqlite3.connect(old_sqlite / "jobs.sqlite3") as db:
        assert sqlite_schema.version(db) == 0
    store = SqliteJobStore(old_sqlite)
    with store._connection() as db:
        assert sqlite_schema.version(db) == sqlite_schema.VERSION == 6
    check_upgraded(store, sqlite_ids())
    assert not (old_sqlite / "jobs" / sqlite_ids()["done_before_blending"]).exists()


def test_sqlite_opening_again_runs_no_step(old_sqlite: Path) -> None:
    SqliteJobStore(old_sqlite)
    db = sqlite3.connect(old_sqlite / "jobs.sqlite3", isolation_level=None)
    assert sqlite_schema.migrate(db) == []
    fresh = sqlite3.connect(old_sqlite / "fresh.sqlite3", isolation_level=None)
    assert sqlite_schema.migrate(fresh) == [1, 2, 3, 4, 5, 6]


def test_sqlite_failed_step_leaves_the_database_as_it_was(old_sqlite: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(db: sqlite3.Connection) -> None:
        db.execute("UPDATE jobs SET state='broken'")
        raise RuntimeError("step failed")

    monkeypatch.setattr(sqlite_schema, "MIGRATIONS", [*sqlite_schema.MIGRATIONS[:2], ("broken", broken)])
    with pytest.raises(RuntimeError):
        SqliteJobStore(old_sqlite)
    db = sqlite3.connect(old_sqlite / "jobs.sqlite3")
    assert sqlite_schema.version(db) == 0
    assert "owner" not in {row[1] for row in db.execute("PRAGMA table_info(jobs)")}  # step 2 rolled back too
    assert {row[0] for row in db.execute("SELECT state FROM jobs")} == {"done", "queued", "failed"}


def test_sqlite_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    SqliteJobStore(tmp_path)
    with sqlite3.connect(tmp_path / "jobs.sqlite3") as db:
        db.execute("PRAGMA user_version=99")
    with pytest.raises(sqlite_schema.SchemaError, match="schema version 99.*up to 6"):
        SqliteJobStore(tmp_path)


@pytest.mark.redis
def test_redis_namespace_from_before_versioning_is_upgraded(redis_url: str, prefix: str) -> None:
    import redis

    from impasto.jobs.redis_store import RedisJobStore

    client = redis.Redis.from_url(redis_url)
    ids = load_redis_fixture(client, prefix)
    assert redis_layout.version(client, prefix) == 1
    store = RedisJobStore(redis_url, prefix=prefix)
    assert int(client.get(f"{prefix}:layout")) == redis_layout.VERSION == 5
    check_upgraded(store, ids)
    assert redis_layout.migrate(client, prefix) == []


@pytest.mark.redis
def test_redis_fresh_and_newer_namespaces(redis_url: str, prefix: str) -> None:
    import redis

    from impasto.jobs.redis_store import RedisJobStore

    client = redis.Redis.from_url(redis_url)
    assert redis_layout.version(client, prefix) == 0
    RedisJobStore(redis_url, prefix=prefix)
    assert redis_layout.version(client, prefix) == 5
    client.set(f"{prefix}:layout", 99)
    with pytest.raises(redis_layout.LayoutError, match="layout version 99"):
        RedisJobStore(redis_url, prefix=prefix)
