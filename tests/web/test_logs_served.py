"""`impasto serve` with IMPASTO_LOG_FORMAT=json: every line it writes (gunicorn's start-up and access
lines, the app's, a job's lifecycle from the runner threads) is one JSON object. Except TensorFlow's
native start-up lines: its C++ library writes them to stderr itself, past Python's logging."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from tests.helpers import free_port, stop_process, venv_tool, wait_for
from tests.web.conftest import png_bytes, style_bytes
from tests.web.netclient import Browser, get_json, wait_until_up
from tests.weights import UNTRAINED_WEIGHTS

# absl/glog lines of TensorFlow's C++ code ("I0000 00:00:17.. port.cc:153] oneDNN ...").
NATIVE = re.compile(r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR|"
                    r"[IWE]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] .*")


def test_serve_logs_one_json_object_per_line(tmp_path: Path) -> None:
    port, log_path = free_port(), tmp_path / "server.log"
    env = {**os.environ, "IMPASTO_DATA_DIR": str(tmp_path / "data"), "IMPASTO_VGG_WEIGHTS": UNTRAINED_WEIGHTS,
           "IMPASTO_LOG_FORMAT": "json", "TF_CPP_MIN_LOG_LEVEL": "3"}
    base = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        server = subprocess.Popen([venv_tool("impasto") or "impasto", "serve", "--port", str(port), "--workers", "1"],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_up(base + "/healthz")
            assert get_json(base + "/readyz")[0] == 200
            files = {"content": ("photo.png", png_bytes()), "style": ("art.jpg", style_bytes())}
            status, _, job = Browser(base).submit({"size": "48", "iterations": "2"}, files)
            assert status == 202, job
            wait_for(lambda: get_json(base + job["urls"]["self"])[1]["state"] == "done", 120, "the job to finish")
        finally:
            stop_process(server, 30)
    lines = [line for line in log_path.read_text().splitlines() if line.strip() and not NATIVE.fullmatch(line)]
    records = [json.loads(line) for line in lines]  # fails on any other line that is not JSON
    loggers = {record["logger"] for record in records}
    assert {"impasto.cli_server", "gunicorn.error", "gunicorn.access", "impasto.jobs.store_core"} <= loggers, loggers
    access = [record for record in records if record["logger"] == "gunicorn.access"]
    assert {"path": "/readyz", "status": 200} in [{k: r[k] for k in ("path", "status")} for r in access]
    states = [record["state"] for record in records if record.get("job_id") == job["id"]]
    assert states[:2] == ["queued", "running"] and states[-1] == "done", states
