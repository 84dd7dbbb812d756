"""Safe to expose, against a real `impasto serve` (gunicorn, two processes): the DNS-rebinding Host
refused, 429s with Retry-After counted across both processes, the security headers everywhere."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import ROOT
from tests.helpers import free_port, stop_process
from tests.web.netclient import wait_until_up
from tests.weights import UNTRAINED_WEIGHTS

LIMIT = 5  # submissions per minute for this server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    tmp = tmp_path_factory.mktemp("exposure")
    port = free_port()
    env = {**os.environ, "IMPASTO_DATA_DIR": str(tmp / "data"), "IMPASTO_VGG_WEIGHTS": UNTRAINED_WEIGHTS,
           "IMPASTO_RATE_LIMIT": f"{LIMIT}/minute", "TF_CPP_MIN_LOG_LEVEL": "2"}
    for name in ("IMPASTO_TRUSTED_HOSTS", "IMPASTO_PROXY_COUNT", "IMPASTO_BROKER_URL"):
        env.pop(name, None)
    log_path = tmp / "server.log"
    with log_path.open("w") as log:
        command = [sys.executable, "-m", "impasto.cli", "serve", "--port", str(port), "--workers", "2"]
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_up(f"http://127.0.0.1:{port}/healthz")
            yield port, log_path
        finally:
            stop_process(process, 30)


def call(port: int, method: str, path: str, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request with exactly these headers (Host included: what a rebinding page's browser sends)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def test_a_dns_rebinding_host_is_refused(server: tuple[int, Path]) -> None:
    port, _ = server
    attacker = f"evil.example:{port}"
    status, _, body = call(port, "POST", "/api/jobs", {"Host": attacker, "Origin": f"http://{attacker}",
                                                       "Content-Type": "application/x-www-form-urlencoded"}, b"size=48")
    assert status == 400 and "IMPASTO_TRUSTED_HOSTS" in json.loads(body)["error"]
    assert call(port, "GET", "/history", {"Host": attacker})[0] == 400
    assert call(port, "GET", "/api/jobs", {"Host": attacker})[0] == 400
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
        assert call(port, "GET", "/history", {"Host": host})[0] == 200


def test_security_headers_on_pages_api_static_and_errors(server: tuple[int, Path]) -> None:
    port, _ = server
    seen = set()
    for method, path, headers in [("GET", "/", {}), ("GET", "/history", {}), ("GET", "/api/jobs", {}),
                                  ("GET", "/healthz", {}), ("GET", "/static/studio.js", {}),
                                  ("GET", "/no-such-page", {}), ("GET", "/api/jobs/nope", {}),
                                  ("GET", "/", {"Host": "evil.example"})]:
        status, answer, _ = call(port, method, path, headers)
        seen.add(status)
        assert "script-src 'self';" in answer["Content-Security-Policy"], path
        assert "frame-ancestors 'none'" in answer["Content-Security-Policy"], path
        assert answer["X-Content-Type-Options"] == "nosniff" and answer["Referrer-Policy"] == "same-origin", path
    assert seen == {200, 400, 404}


def test_submissions_over_the_limit_get_429_across_both_processes(server: tuple[int, Path]) -> None:
    port, _ = server
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    # Many submissions at once reach both processes. Refused ones (no pictures) count too and cost
    # nothing to run. Both processes count in one SQLite file, so exactly LIMIT get through in all;
    # with a counter per process, up to twice as many would.
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: call(port, "POST", "/api/jobs", form, b"size=48"), range(4 * LIMIT)))
    statuses = [status for status, _, _ in answers]
    assert statuses.count(400) == LIMIT and statuses.count(429) == 3 * LIMIT, statuses
    status, headers, body = next(answer for answer in answers if answer[0] == 429)
    assert 1 <= int(headers["Retry-After"]) <= 60
    assert json.loads(body)["error"].startswith(f"too many job submissions: this server takes at most {LIMIT} "
                                                "per 1 minute from one client")
    assert call(port, "GET", "/healthz")[0] == 200  # only submissions are limited
