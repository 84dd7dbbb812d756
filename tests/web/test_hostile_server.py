"""Slow and malformed clients against the real thing: `impasto serve` (gunicorn, gthread, 2 processes).

Uploads that stall mid-body hold a thread each, never a process: /healthz and the pages keep
answering, each stalled upload gets 408 after IMPASTO_UPLOAD_TIMEOUT, and no process (with its job
runner threads) is killed. Broken framing, over-long URLs and the exact upload limit are answered
by the app, as JSON.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import ROOT
from tests.helpers import free_port, stop_process, wait_for
from tests.web.netclient import request, wait_until_up
from tests.weights import UNTRAINED_WEIGHTS

STALLED = 20
UPLOAD_TIMEOUT = 3  # seconds: IMPASTO_UPLOAD_TIMEOUT for this server
UPLOAD_LIMIT = int(0.05 * 1024 * 1024)  # IMPASTO_MAX_UPLOAD_MB=0.05: 52,428 bytes


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    data = tmp_path_factory.mktemp("hostile")
    port = free_port()
    env = {**os.environ, "IMPASTO_DATA_DIR": str(data), "IMPASTO_VGG_WEIGHTS": UNTRAINED_WEIGHTS,
           "IMPASTO_UPLOAD_TIMEOUT": str(UPLOAD_TIMEOUT), "IMPASTO_MAX_UPLOAD_MB": "0.05",
           "IMPASTO_RATE_LIMIT": "off",  # 20 uploads from one address: the limit is tested elsewhere
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    log_path = data / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([sys.executable, "-m", "impasto.cli", "serve", "--port", str(port)], cwd=ROOT,
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_up(f"http://127.0.0.1:{port}/healthz")
            yield port, log_path
        finally:
            stop_process(process, 30)


def raw(port: int, data: bytes, timeout: float = 10) -> tuple[int, bytes]:
    """Send raw bytes, read the whole answer (the request says Connection: close): (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        answer = _read_all(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def multipart(size: int, boundary: str = "b0undary") -> bytes:
    """A multipart body of exactly ``size`` bytes: one 'content' file part padded to fit."""
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="x.png"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head + b"x" * (size - len(head) - len(tail)) + tail


def post(path: str, body: bytes, headers: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Content-Type: multipart/form-data; boundary=b0undary\r\n{headers}\r\n").encode() + body


def chunked(body: bytes) -> bytes:
    return f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"


def _booted_workers(log_path: Path, workers: int = 2) -> set[int]:
    """The pids of the serving processes gunicorn booted, from its log (waits until all have booted).

    Read from the log rather than from /healthz: on a loaded machine one process may answer every
    poll, which says nothing about whether the other was killed and replaced."""
    def booted() -> set[int] | None:
        pids = {int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", log_path.read_text())}
        return pids if len(pids) >= workers else None

    return wait_for(booted, 60, f"gunicorn to boot {workers} processes", interval=0.1)


def timed_get(url: str) -> tuple[int, float]:
    started = time.monotonic()
    status = request(url, timeout=10)[0]
    return status, time.monotonic() - started


def test_stalled_uploads_hold_threads_not_the_server(server: tuple[int, Path]) -> None:
    port, log_path = server
    base = f"http://127.0.0.1:{port}"
    processes_before = _booted_workers(log_path)
    assert len(processes_before) == 2, processes_before
    body = multipart(UPLOAD_LIMIT)
    stalled = []
    for _ in range(STALLED):  # each sends its headers and half its body, then nothing
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(post("/api/jobs", b"", f"Content-Length: {len(body)}\r\n") + body[: len(body) // 2])
        stalled.append(sock)
    try:
        time.sleep(0.5)  # let the server take them all up before measuring
        answers = [timed_get(base + "/healthz") for _ in range(10)] + [timed_get(base + "/")]
        assert all(status == 200 for status, _ in answers), answers
        latencies = sorted(seconds for _, seconds in answers)
        print(f"\n/healthz and / with {STALLED} stalled uploads: {len(answers)} answers, "
              f"median {latencies[len(latencies) // 2] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")
        # Each stalled upload is answered 408 once IMPASTO_UPLOAD_TIMEOUT has passed, then dropped.
        statuses = []
        for sock in stalled:
            head = _read_all(sock)
            statuses.append(int(head.split()[1]) if head else None)
        assert statuses == [408] * STALLED, statuses
    finally:
        for sock in stalled:
            sock.close()
    assert _booted_workers(log_path) == processes_before  # the same two: none was killed and replaced
    assert "WORKER TIMEOUT" not in log_path.read_text()


def test_malformed_chunked_body_is_400(server: tuple[int, Path]) -> None:
    port, _ = server
    status, body = raw(port, post("/api/jobs", b"zz\r\nhello\r\n0\r\n\r\n", "Transfer-Encoding: chunked\r\n"))
    assert status == 400
    assert "malformed" in json.loads(body)["error"]


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_body_of_exactly_the_limit_is_accepted(server: tuple[int, Path], framing: str) -> None:
    port, _ = server

    def send(size: int) -> tuple[int, dict]:
        body = multipart(size)
        if framing == "chunked":
            status, answer = raw(port, post("/api/jobs", chunked(body), "Transfer-Encoding: chunked\r\n"))
        else:
            status, answer = raw(port, post("/api/jobs", body, f"Content-Length: {size}\r\n"))
        return status, json.loads(answer)

    status, answer = send(UPLOAD_LIMIT)
    assert status == 400 and answer["field"] == "content"  # read in full: then refused as no image
    status, answer = send(UPLOAD_LIMIT + 1)
    assert status == 413 and f"{UPLOAD_LIMIT:,} bytes" in answer["error"]


def test_a_very_long_url_gets_json_414(server: tuple[int, Path]) -> None:
    port, _ = server
    status, headers, body = request(f"http://127.0.0.1:{port}/api/jobs/{'a' * 9000}")
    assert status == 414 and headers["Content-Type"] == "application/json"  # gunicorn's refusal, in our words
    assert json.loads(body)["error"].startswith("the request line (method, URL and version) is 9,0")
    assert headers["X-Content-Type-Options"] == "nosniff"
    status, _, body = request(f"http://127.0.0.1:{port}/api/jobs/{'a' * 5000}")  # under the limit: plain 404
    assert status == 404 and len(json.loads(body)["error"]) < 200


def test_an_endless_request_line_is_cut_off_at_the_limit(server: tuple[int, Path]) -> None:
    # gunicorn stops reading at its 8,190-byte limit (with no limit it buffered, and copied again
    # for every piece, whatever a client sent: 20 MB took 26 s of a process's CPU).
    port, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET /" + b"a" * 65536)
        head = _read_all(sock)
    assert head.split()[1] == b"414" and b"application/json" in head
