"""Processes for the scale-out tests: `impasto worker`s and a gunicorn web, each in its own session
(so teardown can kill the whole group), logs in files (a full pipe would stall a process), the
test's side of the workers' gates, plus a tiny JSON API client over urllib."""

from __future__ import annotations

import http.cookiejar
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.dispatch import reached
from tests.helpers import free_port, venv_tool, wait_for
from tests.weights import UNTRAINED_WEIGHTS

GATE_VARIABLE = "IMPASTO_TEST_GATE"  # gated_worker.py's gate keys' prefix in the broker's Redis
STALE_AFTER = 10.0  # several heartbeats (5 s); the first iteration (TensorFlow start-up) beats only by thread
REAP_SECONDS = 1.0
MEASUREMENTS: list[str] = []  # printed at the end of the run by conftest (redelivery time and the like)


def record(line: str) -> None:
    MEASUREMENTS.append(line)


def impasto_command() -> list[str]:
    """The installed `impasto` script next to this Python, else the same entry point via -m."""
    script = venv_tool("impasto")
    return [script] if script else [sys.executable, "-m", "impasto.cli"]


def scale_out_env(redis_url: str, prefix: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "IMPASTO_BROKER_URL": redis_url, "IMPASTO_REDIS_PREFIX": prefix, "IMPASTO_VGG_WEIGHTS": UNTRAINED_WEIGHTS,
        "IMPASTO_STALE_AFTER": str(STALE_AFTER),
        "IMPASTO_REAP_SECONDS": str(REAP_SECONDS), "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "",
        "PYTHONUNBUFFERED": "1", "IMPASTO_MAX_QUEUED_PER_CLIENT": "0",
        # every test of the session submits from 127.0.0.1 into one Redis limiter; the limit has its own test
        "IMPASTO_RATE_LIMIT": "off", **extra,
    })
    env.pop("IMPASTO_STORE_URL", None)
    return env


@dataclass
class Proc:
    process: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill_group(self) -> None:
        """SIGKILL the process and everything it started; reap it."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            pass


def spawn(command: list[str], env: dict[str, str], log: Path, cwd: Path) -> Proc:
    with open(log, "ab") as out:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    return Proc(process, log)


@dataclass(frozen=True)
class GateKeys:
    """The Redis keys of one worker process's gate (tests/distributed/gated_worker.py waits at it)."""

    base: str
    pid: int

    def _key(self, name: str) -> str:
        return f"{self.base}:{self.pid}:{name}"

    @property
    def all_open(self) -> str:  # every worker's gate is open while this exists
        return f"{self.base}:open"

    @property
    def open(self) -> str:  # this worker's gate is open while this exists
        return self._key("open")

    @property
    def until(self) -> str:  # JSON {"iteration": 5}: reports pass until one reaches it, then it holds
        return self._key("until")

    @property
    def held(self) -> str:  # JSON facts of the report the job waits after (tests.dispatch.facts + "report")
        return self._key("held")

    @property
    def reports(self) -> str:  # how many reports the worker has made
        return self._key("reports")

    @property
    def wake(self) -> str:  # a waiting job BLPOPs here; the test pushes after every change
        return self._key("wake")


class WorkerGates:
    """The test's side of the workers' gates: each job waits after every progress report until the
    test lets it on at the gate of the worker that runs it (by pid: ``worker_pid(job)``). A closed gate
    holds a job after its first report. Every wait ends after ``timeout`` seconds (AssertionError)."""

    def __init__(self, redis_url: str, base: str, timeout: float = 60) -> None:
        import redis

        self.client, self.base, self.timeout = redis.Redis.from_url(redis_url), base, timeout

    def close_all(self) -> None:
        """Forget every gate's state: the next report of any job waits."""
        keys = list(self.client.scan_iter(match=f"{self.base}:*", count=1000))
        if keys:
            self.client.delete(*keys)

    def open_all(self, pids: list[int]) -> None:
        """Let every job on, now and later: a test's jobs never hold a worker for the next test."""
        self.client.set(GateKeys(self.base, 0).all_open, 1)
        for pid in pids:
            self.client.rpush(GateKeys(self.base, pid).wake, 1)

    def open(self, pid: int) -> None:
        """Let the jobs of worker ``pid`` on, now and at every later report."""
        keys = GateKeys(self.base, pid)
        self.client.set(keys.open, 1)
        self.client.rpush(keys.wake, 1)

    def run_until(self, pid: int, **at_least: int) -> dict[str, int]:
        """Let the job of worker ``pid`` (held, or its next) report on until a report reaches
        ``at_least`` (e.g. iteration=2); return that report's facts once the job waits after it."""
        keys = GateKeys(self.base, pid)
        start = int(self.client.get(keys.reports) or 0)
        self.client.set(keys.until, json.dumps(at_least))
        self.client.rpush(keys.wake, 1)

        def held() -> dict[str, int] | None:
            raw = self.client.get(keys.held)
            found = json.loads(raw) if raw else None
            return found if found and found["report"] > start and reached(found, at_least) else None

        return wait_for(held, self.timeout, f"worker {pid}'s job to wait at {at_least}", interval=0.05)


@dataclass
class Cluster:
    """Real workers (`impasto worker`'s run_worker, painting behind gates) sharing one queue."""

    redis_url: str
    prefix: str
    logs: Path
    python: str
    root: Path
    workers: list[Proc] = field(default_factory=list)

    @property
    def gate_base(self) -> str:
        # Beside the namespace, not in it (the store's keys are "<prefix>:..."), and deleted with it.
        return f"{self.prefix}-gate"

    def gates(self) -> WorkerGates:
        return WorkerGates(self.redis_url, self.gate_base)

    def env(self) -> dict[str, str]:
        return scale_out_env(self.redis_url, self.prefix)

    def start_worker(self) -> Proc:
        log = self.logs / f"worker-{len(self.workers)}.log"
        env = {**self.env(), GATE_VARIABLE: self.gate_base}
        proc = spawn([self.python, "-m", "tests.distributed.gated_worker", "--loglevel=info"], env, log, self.root)
        self.workers.append(proc)
        return proc

    def ensure_workers(self, count: int, timeout: float = 60) -> list[Proc]:
        """At least ``count`` live workers, all ready to take a message."""
        live = [proc for proc in self.workers if proc.alive()]
        started = [self.start_worker() for _ in range(count - len(live))]
        for proc in started:
            wait_for(lambda proc=proc: " ready." in proc.text() or not proc.alive(), timeout,
                     f"worker {proc.pid} to be ready")
            assert proc.alive(), f"worker {proc.pid} exited:\n{proc.text()[-3000:]}"
        return [proc for proc in self.workers if proc.alive()]

    def by_pid(self, pid: int) -> Proc | None:
        return next((proc for proc in self.workers if proc.pid == pid), None)

    def close(self) -> None:
        for proc in self.workers:
            proc.kill_group()

    def store(self):
        from impasto.jobs.redis_store import RedisJobStore

        return RedisJobStore(self.redis_url, prefix=self.prefix)


def worker_pid(job: dict[str, Any] | Any) -> int | None:
    """The `impasto worker` pid in a job's worker name (host:pid:random)."""
    name = job.get("worker") if isinstance(job, dict) else job.worker
    return int(name.split(":")[1]) if name else None


class Web:
    """gunicorn serving create_app() in scale-out mode."""

    def __init__(self, env: dict[str, str], log: Path, root: Path, workers: int = 2, threads: int = 1) -> None:
        import sys

        self.env, self.log, self.root, self.workers, self.threads = env, log, root, workers, threads
        self.python = sys.executable
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: Proc | None = None

    def start(self, timeout: float = 30) -> Web:
        command = [self.python, "-m", "gunicorn", "--workers", str(self.workers), "--threads", str(self.threads),
                   "--bind", f"127.0.0.1:{self.port}", "--timeout", "60", "--graceful-timeout", "5",
                   "impasto:create_app()"]
        self.proc = spawn(command, self.env, self.log, self.root)
        wait_for(lambda: self._healthy() or not self.proc.alive(), timeout, "gunicorn to answer /healthz")
        assert self.proc.alive(), f"gunicorn exited:\n{self.proc.text()[-3000:]}"
        return self

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.base + "/healthz", timeout=2) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill_group()


class Api:
    """The JSON API over HTTP (urllib: no dependency beyond the standard library), as one client
    with a cookie jar: it owns the jobs it submits, so it may cancel them."""

    def __init__(self, base: str, timeout: float = 10) -> None:
        self.base, self.timeout = base, timeout
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        url = path if path.startswith("http") else self.base + path
        request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def submit(self, content: bytes, style: bytes, **fields: Any) -> dict[str, Any]:
        body, content_type = multipart({k: str(v) for k, v in fields.items()},
                                       {"content": ("photo.png", content), "style": ("painting.png", style)})
        status, data = self.request("POST", "/api/jobs", body, {"Content-Type": content_type})
        assert status == 202, (status, data[:500])
        return json.loads(data)

    def job(self, job_id: str) -> dict[str, Any]:
        status, data = self.request("GET", f"/api/jobs/{job_id}")
        assert status == 200, (status, data[:500])
        return json.loads(data)

    def cancel(self, job_id: str) -> dict[str, Any]:
        status, data = self.request("POST", f"/api/jobs/{job_id}/cancel", b"")
        assert status == 200, (status, data[:500])
        return json.loads(data)


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
