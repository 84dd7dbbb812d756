"""The reverse proxy example of docs/deployment.md (docs/deploy/nginx-impasto.conf), run as written in front of
`impasto serve`: uploads pass, stalled uploads end at nginx (closed after client_body_timeout) and
never reach the studio.

Needs nginx (Debian: apt-get install nginx-light; .ci/run installs it): skipped where it is
missing, a failure in CI.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, require
from tests.helpers import free_port, stop_process
from tests.web import netclient
from tests.web.conftest import png_bytes
from tests.web.netclient import request, wait_until_up
from tests.web.test_hostile_server import _read_all, multipart, post
from tests.weights import UNTRAINED_WEIGHTS

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
EXAMPLE = ROOT / "docs" / "deploy" / "nginx-impasto.conf"
STALLED = 20
BODY_TIMEOUT = 2  # seconds: the example's client_body_timeout, shortened for the test



@pytest.fixture
def nginx() -> str:
    require(Path(NGINX).is_file(), "nginx is not installed (apt-get install nginx-light)")
    return NGINX


def _nginx_config(folder: Path, listen: int, upstream: int) -> Path:
    """The example as written, but on test ports and with a short body timeout, inside a minimal
    main configuration whose files all live in ``folder``."""
    site = EXAMPLE.read_text()
    site = site.replace("listen 80;", f"listen 127.0.0.1:{listen};")
    site = site.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};")
    site, count = re.subn(r"client_body_timeout \d+s;", f"client_body_timeout {BODY_TIMEOUT}s;", site)
    assert count == 1, "the example sets client_body_timeout once"
    (folder / "site.conf").write_text(site)
    main = folder / "nginx.conf"
    user = "user root;" if os.geteuid() == 0 else ""  # workers must reach the temp folders below
    main.write_text(f"""{user}
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/site.conf;
}}
""")
    return main


def _what_went_wrong(statuses: list[int], folder: Path, studio: subprocess.Popen) -> str:
    """The statuses, whether the studio is still running, and the last lines both logs wrote:
    whole lines, which pytest's shortened reprs of a long assertion cut in the middle."""
    tails = {name: (folder / name).read_text().splitlines()[-12:] for name in ("error.log", "studio.log")}
    return "\n".join([f"/healthz through nginx answered {statuses}; the studio's exit code: {studio.poll()}",
                      *(f"--- {name}:\n" + "\n".join(lines) for name, lines in tails.items())])


def test_the_nginx_example_drops_stalled_uploads_before_the_studio(nginx: str, tmp_path: Path) -> None:
    studio_port, proxy_port = free_port(), free_port()
    env = {**os.environ, "IMPASTO_DATA_DIR": str(tmp_path / "data"), "IMPASTO_VGG_WEIGHTS": UNTRAINED_WEIGHTS,
           "TF_CPP_MIN_LOG_LEVEL": "2", "IMPASTO_PROXY_COUNT": "1"}  # as the example's header says
    config = _nginx_config(tmp_path, proxy_port, studio_port)
    check = subprocess.run([nginx, "-t", "-c", str(config)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    with (tmp_path / "studio.log").open("w") as log:
        studio = subprocess.Popen([sys.executable, "-m", "impasto.cli", "serve", "--port", str(studio_port)],
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        proxy = subprocess.Popen([nginx, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{proxy_port}"
            wait_until_up(base + "/healthz")
            # A browser's POST (Origin: the page's own site, port included), as the studio behind the proxy
            # must see it; a prefix the client forged is not believed (nginx drops X-Forwarded-Prefix).
            form, content_type = netclient.multipart({"size": "48", "style_name": "shipwreck"},
                                                     {"content": ("photo.png", png_bytes())})
            status, headers, answer = request(base + "/api/jobs", form, {
                "Content-Type": content_type, "Origin": base, "X-Forwarded-Prefix": "//evil.example"})
            assert status == 202, answer
            assert headers["Location"].startswith("/api/jobs/"), headers["Location"]
            body = multipart(50_000)
            stalled = []
            for _ in range(STALLED):
                sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=30)
                sock.sendall(post("/api/jobs", b"", f"Content-Length: {len(body)}\r\n") + body[:20_000])
                stalled.append(sock)
            time.sleep(0.5)  # let nginx take them all up (nothing to poll for) before asking the studio
            statuses = [request(base + "/healthz", timeout=5)[0] for _ in range(5)]
            if statuses != [200] * 5:
                pytest.fail(_what_went_wrong(statuses, tmp_path, studio), pytrace=False)
            # nginx ends each one after client_body_timeout: it logs a 408 and closes the connection.
            answers = [_read_all(sock) for sock in stalled]
            assert all(answer == b"" or b" 408 " in answer.split(b"\r\n")[0] for answer in answers), answers[:2]
            for sock in stalled:
                sock.close()
        finally:
            stop_process(proxy, 10)
            stop_process(studio, 30)
    access = (tmp_path / "studio.log").read_text()
    assert access.count("POST /api/jobs") == 1, access[-2000:]  # only the whole upload reached the studio


def test_the_nginx_example_keeps_metrics_off_the_public_side(nginx: str, tmp_path: Path) -> None:
    studio_port, proxy_port = free_port(), free_port()
    env = {**os.environ, "IMPASTO_DATA_DIR": str(tmp_path / "data"), "IMPASTO_VGG_WEIGHTS": UNTRAINED_WEIGHTS,
           "TF_CPP_MIN_LOG_LEVEL": "2", "IMPASTO_PROXY_COUNT": "1", "IMPASTO_METRICS": "on"}
    config = _nginx_config(tmp_path, proxy_port, studio_port)
    with (tmp_path / "studio.log").open("w") as log:
        studio = subprocess.Popen([sys.executable, "-m", "impasto.cli", "serve", "--port", str(studio_port)],
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        proxy = subprocess.Popen([nginx, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_up(f"http://127.0.0.1:{proxy_port}/healthz")
            assert request(f"http://127.0.0.1:{proxy_port}/metrics")[0] == 404
            status, _, body = request(f"http://127.0.0.1:{studio_port}/metrics")  # Prometheus on this machine
            assert status == 200 and b"impasto_jobs_total" in body
        finally:
            stop_process(proxy, 10)
            stop_process(studio, 30)
