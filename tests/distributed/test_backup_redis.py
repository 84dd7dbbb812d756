"""`impasto backup` and `impasto restore` in scale-out mode: the store's keys (jobs, files, indexes,
tokens, sessions with their lifetimes) and the web's session key round-trip into another, empty
namespace; queued jobs lose their "task sent" mark so the reaper sends them again; a namespace that
is not empty is refused."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Iterator

import pytest

from impasto.cli import main as cli
from impasto.jobs.redis_store import RedisJobStore

pytestmark = pytest.mark.redis


@pytest.fixture
def other_prefix(redis_url: str) -> Iterator[str]:
    import redis

    name = f"impasto-test-{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{name}*", count=1000))
    if keys:
        client.delete(*keys)


def run_cli(monkeypatch: pytest.MonkeyPatch, url: str, prefix: str, data_dir: Path, *argv: str) -> int:
    for name, value in {"IMPASTO_BROKER_URL": url, "IMPASTO_REDIS_PREFIX": prefix,
                        "IMPASTO_DATA_DIR": str(data_dir)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("IMPASTO_STORE_URL", raising=False)
    return cli(list(argv))


def test_a_redis_store_round_trips_into_an_empty_namespace(redis_url: str, prefix: str, other_prefix: str,
                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    store = RedisJobStore(redis_url, prefix=prefix)
    done = store.create({"size": 32}, {"content.png": b"photo"}, owner="token:ci").id
    store.claim("w", 1)
    store.put_file(done, "result.png", b"\x89PNG result")
    store.finish(done, "w", "done")
    queued = store.create({"size": 32}, {"content.png": b"queued photo"}).id
    store.mark_sent(queued)
    store.add_token("ci", "digest-of-ci")
    store.add_session("digest-1", "anonymous", 3600)
    data = tmp_path / "web-data"
    data.mkdir()
    (data / "secret_key").write_text("k" * 64)

    archive = tmp_path / "scale-out.tar.gz"
    assert run_cli(monkeypatch, redis_url, prefix, data, "backup", str(archive)) == 0
    assert capsys.readouterr().err.startswith("backed up 2 jobs")
    restored_data = tmp_path / "restored"
    assert run_cli(monkeypatch, redis_url, other_prefix, restored_data, "restore", str(archive)) == 0
    assert "restored 2 jobs" in capsys.readouterr().err

    again = RedisJobStore(redis_url, prefix=other_prefix)
    assert again.get_file(done, "result.png") == b"\x89PNG result" and again.get(done).state == "done"
    assert [job.id for job in again.recent()] == [queued, done] and again.jobs_of("token:ci")[0].id == done
    assert again.get_file(queued, "content.png") == b"queued photo" and again.get(queued).state == "queued"
    assert again.redis.hget(f"{other_prefix}:job:{queued}", "sent") is None  # its task is sent again
    assert again.token_name("digest-of-ci") == "ci" and again.session_principal("digest-1", 3600) == "anonymous"
    assert 3500 < again.redis.ttl(f"{other_prefix}:session:digest-1") <= 3660  # its lifetime came along
    assert (restored_data / "secret_key").read_text() == "k" * 64
    assert RedisJobStore(redis_url, prefix=prefix).get(done).state == "done"  # the original untouched

    assert run_cli(monkeypatch, redis_url, other_prefix, tmp_path / "fresh", "restore", str(archive)) == 2
    err = capsys.readouterr().err
    assert f"the Redis job store (prefix {other_prefix!r}) is not empty" in err and err.count("\n") == 1
    assert not (tmp_path / "fresh").exists()


def test_a_scale_out_backup_needs_a_scale_out_studio_to_restore(redis_url: str, prefix: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    RedisJobStore(redis_url, prefix=prefix).create({}, {"content.png": b"c"})
    archive = tmp_path / "b.tar"
    assert run_cli(monkeypatch, redis_url, prefix, tmp_path / "d", "backup", str(archive)) == 0
    monkeypatch.delenv("IMPASTO_BROKER_URL")
    capsys.readouterr()
    assert cli(["restore", str(archive)]) == 2
    assert "set IMPASTO_BROKER_URL" in capsys.readouterr().err
