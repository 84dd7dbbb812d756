"""Fixtures for scale-out mode: a real redis-server, real `impasto worker` processes, gunicorn.

CI exports IMPASTO_TEST_REDIS_URL (.ci/run starts redis-server); locally a redis-server is started
on a free loopback port for the session and stopped after. Every test gets its own key prefix
(which is also its Celery queue), so tests never see each other's jobs or messages.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest

from impasto.jobs.sqlite_store import SqliteJobStore
from impasto.jobs.store import JobStore
from tests.conftest import ROOT, require
from tests.distributed.procs import MEASUREMENTS, Cluster, WorkerGates
from tests.helpers import Clock, free_port, stop_process, wait_for


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("IMPASTO_TEST_REDIS_URL")
    if url:
        yield url
        return
    binary = shutil.which("redis-server")
    require(binary is not None, "redis-server is not installed (apt-get install redis-server)")
    import redis

    for _ in range(3):  # another process may take the free port before redis-server binds it
        port = free_port()
        process = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                                    "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=port)
        wait_for(lambda c=client, p=process: _pings(c) or p.poll() is not None, 10, "redis-server to answer")
        if process.poll() is None:
            break
    try:
        assert process.poll() is None, "redis-server did not start"
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process(process)


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001 - not up yet
        return False


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A fresh key namespace (and Celery queue) for one test; its keys are removed after."""
    name = f"impasto-test-{uuid.uuid4().hex[:10]}"
    yield name
    _delete_namespace(redis_url, name)


def _delete_namespace(redis_url: str, name: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{name}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(scope="module")
def cluster(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two real `impasto worker` processes on one queue (jobs behind gates, quick reaping), for a module."""
    name = f"impasto-test-{uuid.uuid4().hex[:10]}"
    logs = tmp_path_factory.mktemp("workers")
    cluster = Cluster(redis_url, name, logs, python=sys.executable, root=ROOT)
    try:
        cluster.ensure_workers(2)
        yield cluster
    finally:
        cluster.close()
        _delete_namespace(redis_url, name)


@pytest.fixture
def gates(cluster: Cluster) -> Iterator[WorkerGates]:
    """The cluster's worker gates, closed for this test (a job waits after its first report) and
    opened when it ends, so that no job of this test holds a worker in the next."""
    gates = cluster.gates()
    gates.close_all()
    yield gates
    gates.open_all([proc.pid for proc in cluster.workers])
    gates.client.close()


def pytest_terminal_summary(terminalreporter) -> None:
    if MEASUREMENTS:
        terminalreporter.section("scale-out measurements")
        for line in MEASUREMENTS:
            terminalreporter.write_line(line)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def make_store(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> Callable[[], JobStore]:
    """A factory for the store contract tests: every call is another client of the same store (another
    process, in effect), SQLite and Redis."""
    if request.param == "sqlite":
        return lambda: SqliteJobStore(tmp_path, clock=clock)
    from impasto.jobs.redis_store import RedisJobStore

    url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("prefix")
    return lambda: RedisJobStore(url, prefix=prefix, clock=clock)

