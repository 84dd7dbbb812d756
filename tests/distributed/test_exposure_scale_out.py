"""Scale-out mode, safe to expose: a Redis URL with a password (a Redis ACL user made for the test)
never shows in what `impasto serve` and `impasto worker` print, and the submission rate limit
counts in Redis, so it holds across web processes (and web containers)."""

from __future__ import annotations

import http.client
import secrets
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROOT
from tests.distributed.procs import impasto_command, scale_out_env, spawn
from tests.helpers import free_port, wait_for
from tests.web.netclient import wait_until_up

pytestmark = pytest.mark.redis
LIMIT = 3


@pytest.fixture
def secret_url(redis_url: str) -> Iterator[tuple[str, str]]:
    """The test Redis through a user of its own with a password: (URL with the password, password)."""
    import redis

    admin = redis.Redis.from_url(redis_url)
    user, password = f"impasto-test-{uuid.uuid4().hex[:8]}", f"hunter2-{secrets.token_hex(8)}"
    admin.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=["*"], channels=["*"],
                      commands=["+@all"])
    parts = urlsplit(redis_url)
    try:
        yield parts._replace(netloc=f"{user}:{password}@{parts.hostname}:{parts.port}").geturl(), password
    finally:
        admin.acl_deluser(user)
        admin.close()


def post(port: int, body: bytes) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", "/api/jobs", body=body,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_passwords_stay_hidden_and_the_limit_counts_in_redis(secret_url: tuple[str, str], prefix: str,
                                                             tmp_path: Path) -> None:
    url, password = secret_url
    env = scale_out_env(url, prefix, IMPASTO_RATE_LIMIT=f"{LIMIT}/minute", IMPASTO_DATA_DIR=str(tmp_path / "data"))
    port = free_port()
    web = spawn([*impasto_command(), "serve", "--port", str(port), "--workers", "2"], env, tmp_path / "web.log", ROOT)
    worker = spawn([*impasto_command(), "worker", "--loglevel=info"], env, tmp_path / "worker.log", ROOT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz")  # the web reaches Redis with the password
        wait_for(lambda: " ready." in worker.text() or not worker.alive(), 60, "the worker to be ready")
        assert worker.alive(), worker.text()[-3000:]
        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(pool.map(lambda _: post(port, b"size=48"), range(4 * LIMIT)))
        assert statuses.count(400) == LIMIT and statuses.count(429) == 3 * LIMIT, statuses
    finally:
        web.kill_group()
        worker.kill_group()
    import redis

    store = redis.Redis.from_url(url)
    assert list(store.scan_iter(match=f"*{prefix}:rate*"))  # the counters live in the job store's Redis
    store.close()
    printed = web.text() + worker.text()
    assert "***" in printed  # the URL was printed, masked ...
    assert password not in printed  # ... and the password never
