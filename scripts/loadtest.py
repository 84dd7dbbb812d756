#!/usr/bin/env python3
"""Load test of scale-out mode on one machine, loopback only, bounded in time.

Starts redis-server (unless --redis-url), two `impasto worker` processes and the web studio with
`impasto serve` (gunicorn) in broker mode; then 5 client threads submit 20 tiny jobs while 50
clients poll job status. Reports request errors, whether every job finished exactly once, status
latency percentiles and the total time. Everything it starts is stopped at the end.

    python scripts/loadtest.py                 # defaults: 20 jobs, 5 submitters, 50 pollers, 2 workers
    python scripts/loadtest.py --jobs 40 --workers 3 --timeout 600
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import free_port  # noqa: E402
from tests.weights import untrained_weights  # noqa: E402

log = logging.getLogger("loadtest")
FINISHED = ("done", "failed", "cancelled")


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(interval)
    return value


class Processes:
    """Everything started here, each in its own session so that the whole group can be killed."""

    def __init__(self, logs: Path) -> None:
        self.logs, self.started = logs, []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, Path]:
        path = self.logs / f"{name}.log"
        with open(path, "ab") as out:
            process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        self.started.append(process)
        return process, path

    def stop_all(self) -> None:
        for process in reversed(self.started):
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        deadline = time.monotonic() + 10
        for process in self.started:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None,
         timeout: float = 30) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="{name}"\r\n'
              f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n"
              for k, (name, data) in files.items()]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def sample_images() -> tuple[bytes, bytes]:
    import numpy as np
    from PIL import Image

    y, x = np.mgrid[0:48, 0:64]
    content = np.stack([x * 4, y * 5, (x + y) * 2], axis=2).astype(np.uint8)
    style = np.array([[20, 40, 160], [240, 200, 40], [30, 140, 60]], dtype=np.uint8)[((x + y) // 6) % 3]
    encoded = []
    for array in (content, style):
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, "PNG")
        encoded.append(buffer.getvalue())
    return encoded[0], encoded[1]


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = {"submit": [], "status": []}
        self.errors: list[str] = []
        self.full = 0  # 503 queue full (expected back-pressure, retried)

    def add(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.latency[kind].append(seconds)

    def error(self, text: str) -> None:
        with self.lock:
            self.errors.append(text)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def run(args: argparse.Namespace) -> int:
    logs = Path(tempfile.mkdtemp(prefix="impasto-loadtest-"))
    procs = Processes(logs)
    prefix = f"impasto-load-{uuid.uuid4().hex[:8]}"
    try:
        redis_url = args.redis_url or start_redis(procs)
        env = dict(os.environ, IMPASTO_BROKER_URL=redis_url, IMPASTO_REDIS_PREFIX=prefix,
                   IMPASTO_VGG_WEIGHTS=args.weights, IMPASTO_DATA_DIR=str(logs / "data"),
                   IMPASTO_QUEUE_LIMIT=str(args.jobs + 10), IMPASTO_RATE_LIMIT="off",  # one client, many jobs
                   IMPASTO_MAX_QUEUED_PER_CLIENT="0", TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="",
                   PYTHONUNBUFFERED="1")
        impasto = [sys.executable, "-m", "impasto.cli"]
        workers = [procs.start(f"worker-{i}", [*impasto, "worker"], env) for i in range(args.workers)]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        procs.start("web", [*impasto, "serve", "--port", str(port), "--workers", str(args.web_workers)], env)
        wait_for(lambda: all(" ready." in path.read_text(errors="replace") for _, path in workers), 90, "workers")
        wait_for(lambda: _healthy(base), 60, "the web server")
        log.info("web on %s, %d workers ready, logs in %s", base, args.workers, logs)
        return measure(args, base, redis_url, prefix, workers)
    finally:
        procs.stop_all()
        if args.redis_url:
            _delete_keys(args.redis_url, prefix)
        if not args.keep_logs:
            shutil.rmtree(logs, ignore_errors=True)


def start_redis(procs: Processes) -> str:
    port = free_port()
    procs.start("redis", ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                          "--appendonly", "no"], dict(os.environ))
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    wait_for(lambda: _pings(redis.Redis.from_url(url)), 10, "redis-server")
    return url


def _pings(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001 - not up yet
        return False


def _healthy(base: str) -> bool:
    try:
        return http("GET", base + "/healthz", timeout=2)[0] == 200
    except OSError:
        return False


def _delete_keys(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


def measure(args: argparse.Namespace, base: str, redis_url: str, prefix: str,
            workers: list[tuple[subprocess.Popen, Path]]) -> int:
    from impasto.jobs.redis_store import RedisJobStore

    content, style = sample_images()
    stats, ids, ids_lock = Stats(), [], threading.Lock()
    stop = threading.Event()
    deadline = time.monotonic() + args.timeout
    started = time.monotonic()

    def submitter(count: int) -> None:
        for _ in range(count):
            body, content_type = multipart({"size": "32", "iterations": str(args.iterations)},
                                           {"content": ("photo.png", content), "style": ("style.png", style)})
            while time.monotonic() < deadline:
                t0 = time.monotonic()
                try:
                    status, data = http("POST", base + "/api/jobs", body, {"Content-Type": content_type})
                except OSError as exc:
                    stats.error(f"submit: {exc}")
                    break
                stats.add("submit", time.monotonic() - t0)
                if status == 202:
                    with ids_lock:
                        ids.append(json.loads(data)["id"])
                    break
                if status == 503:
                    stats.full += 1
                    time.sleep(1)
                    continue
                stats.error(f"submit: HTTP {status}")
                break

    def poller() -> None:
        rng = random.Random()
        while not stop.is_set() and time.monotonic() < deadline:
            with ids_lock:
                job_id = rng.choice(ids) if ids else None
            if job_id is None:
                time.sleep(0.05)
                continue
            t0 = time.monotonic()
            try:
                status, _ = http("GET", f"{base}/api/jobs/{job_id}")
            except OSError as exc:
                stats.error(f"status: {exc}")
                continue
            stats.add("status", time.monotonic() - t0)
            if status != 200:
                stats.error(f"status: HTTP {status}")
            time.sleep(args.poll_interval)

    per_thread = [args.jobs // args.submitters + (i < args.jobs % args.submitters) for i in range(args.submitters)]
    threads = [threading.Thread(target=submitter, args=(n,)) for n in per_thread]
    threads += [threading.Thread(target=poller, daemon=True) for _ in range(args.pollers)]
    for thread in threads:
        thread.start()
    for thread in threads[:args.submitters]:
        thread.join()
    store = RedisJobStore(redis_url, prefix=prefix)
    try:
        wait_for(lambda: all((j := store.get(i)) and j.state in FINISHED for i in ids),
                 max(1.0, deadline - time.monotonic()), "all jobs to finish", interval=0.5)
        timed_out = False
    except TimeoutError:
        timed_out = True
    total = time.monotonic() - started
    stop.set()
    for thread in threads[args.submitters:]:
        thread.join(5)
    return report(args, stats, store, ids, workers, total, timed_out)


def report(args: argparse.Namespace, stats: Stats, store: Any, ids: list[str],
           workers: list[tuple[subprocess.Popen, Path]], total: float, timed_out: bool) -> int:
    jobs = [store.get(job_id) for job_id in ids]
    states: dict[str, int] = {}
    for job in jobs:
        states[job.state] = states.get(job.state, 0) + 1
    logs = "".join(path.read_text(errors="replace") for _, path in workers)
    claims = [logs.count(f"job {job_id} claimed by") for job_id in ids]
    once = all(job.attempts == 1 for job in jobs) and claims == [1] * len(ids)
    per_worker: dict[str, int] = {}
    for job in jobs:  # worker names are host:pid:random-per-task
        pid = job.worker.split(":")[1] if job.worker else "-"
        per_worker[pid] = per_worker.get(pid, 0) + 1
    status = stats.latency["status"]
    runs = [job.finished - job.started for job in jobs if job.finished and job.started]
    lines = [
        f"jobs submitted: {len(ids)} of {args.jobs} ({args.submitters} client threads), "
        f"{args.pollers} pollers, {args.workers} workers, web: impasto serve --workers {args.web_workers}",
        f"final states: {states}{' (TIMED OUT)' if timed_out else ''}",
        f"every job ran exactly once: {'yes' if once else 'NO'} (attempts all 1, one claim each in the worker logs)",
        f"jobs per worker process: {sorted(per_worker.values(), reverse=True)}",
        f"request errors: {len(stats.errors)}{' ' + str(stats.errors[:5]) if stats.errors else ''}; "
        f"503 queue-full answers: {stats.full}",
        f"status polls: {len(status)}, {len(status) / total:.0f}/s; "
        f"latency p50 {percentile(status, 50) * 1000:.0f} ms, "
        f"p95 {percentile(status, 95) * 1000:.0f} ms, p99 {percentile(status, 99) * 1000:.0f} ms, "
        f"max {max(status, default=float('nan')) * 1000:.0f} ms",
        f"submits: p50 {percentile(stats.latency['submit'], 50) * 1000:.0f} ms, "
        f"p95 {percentile(stats.latency['submit'], 95) * 1000:.0f} ms",
        f"job run time (claim to finish): median {statistics.median(runs) if runs else float('nan'):.1f} s, "
        f"max {max(runs, default=float('nan')):.1f} s",
        f"total: {total:.1f} s from the first submit to the last job finished",
    ]
    print("\n".join(lines))
    ok = once and not stats.errors and not timed_out and states.get("done", 0) == args.jobs
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--submitters", type=int, default=5)
    parser.add_argument("--pollers", type=int, default=50)
    parser.add_argument("--poll-interval", type=float, default=0.5, help="seconds each poller waits between polls")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn processes")
    parser.add_argument("--iterations", type=int, default=5, help="iterations per job (32 px)")
    parser.add_argument("--weights", default=None,
                        help="IMPASTO_VGG_WEIGHTS for the workers (default: the tests' seeded random weights)")
    parser.add_argument("--redis-url", help="use this Redis instead of starting redis-server")
    parser.add_argument("--timeout", type=float, default=300, help="give up after this many seconds")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args()
    args.weights = args.weights or untrained_weights()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
