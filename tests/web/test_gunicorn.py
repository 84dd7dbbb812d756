"""The real thing: `impasto serve` (gunicorn -w 2). Polls reach both processes and always find
the job; the job runs once and finishes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.helpers import free_port, stop_process, wait_for
from tests.web.conftest import png_bytes, style_bytes
from tests.web.netclient import get_json, post_multipart, request, wait_until_up
from tests.weights import UNTRAINED_WEIGHTS


def test_gunicorn_two_workers_share_the_jobs(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "IMPASTO_DATA_DIR": str(tmp_path), "IMPASTO_VGG_WEIGHTS": UNTRAINED_WEIGHTS,
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "impasto.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/healthz")
        status, job = post_multipart(base + "/api/jobs", {"size": "48", "iterations": "4"},
                                     {"content": ("photo.png", png_bytes()), "style": ("art.jpg", style_bytes())})
        assert status == 202, job
        processes: set[int] = set()

        def finished() -> dict | None:
            status, body = get_json(base + job["urls"]["self"])
            assert status == 200, body  # no process ever answers 404 for a job another one stored
            processes.add(get_json(base + "/healthz")[1]["process"])
            return body if body["state"] in ("done", "failed", "cancelled") and len(processes) >= 2 else None

        body = wait_for(finished, 120, "the job to end, polled through both processes", interval=0.1)
        assert body["state"] == "done", (body["state"], body.get("error"))
        assert len(processes) == 2, f"polls reached only {processes}"
        assert request(base + body["urls"]["result"])[2].startswith(b"\x89PNG")
        assert body["progress"]["iteration"] == 4
    finally:
        stop_process(server, 30)
        log.close()
    text = (tmp_path / "server.log").read_text()
    assert text.count("claimed by") == 1, text[-3000:]
