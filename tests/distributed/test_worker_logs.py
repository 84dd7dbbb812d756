"""`impasto worker` with IMPASTO_LOG_FORMAT=json: Celery's lines and the job's lifecycle, one JSON object
per line, the job's with its id and state. Two kinds of line stay text, written past Python's logging:
TensorFlow's native start-up lines, and Celery's one "worker: Warm shutdown" print."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import pytest

from impasto import create_app
from tests.conftest import ROOT
from tests.distributed.procs import impasto_command, scale_out_env, spawn
from tests.helpers import wait_for
from tests.web.conftest import form, png_bytes, style_bytes
from tests.weights import UNTRAINED_WEIGHTS

pytestmark = pytest.mark.redis
TEXT = re.compile(r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR|"
                  r"[IWE]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] .*|worker: Warm shutdown \(MainProcess\)")


def test_the_worker_logs_one_json_object_per_line(redis_url: str, prefix: str, tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    worker = spawn([*impasto_command(), "worker"], scale_out_env(redis_url, prefix, IMPASTO_LOG_FORMAT="json"),
                   log, ROOT)
    app = create_app({"TESTING": True, "IMPASTO_DATA_DIR": str(tmp_path / "web"), "IMPASTO_BROKER_URL": redis_url,
                      "IMPASTO_REDIS_PREFIX": prefix, "IMPASTO_VGG_WEIGHTS": UNTRAINED_WEIGHTS})
    try:
        client = app.test_client()
        job = client.post("/api/jobs", data=form(content=png_bytes(), style=style_bytes(), iterations="2"),
                          content_type="multipart/form-data").json
        wait_for(lambda: client.get(job["urls"]["self"]).json["state"] == "done", 180, "the worker to paint it")
    finally:
        app.extensions["impasto"].dispatcher.stop()
        worker.process.send_signal(signal.SIGTERM)
        try:
            worker.process.wait(30)
        finally:
            worker.kill_group()
    lines = [line for line in log.read_text().splitlines() if line.strip() and not TEXT.fullmatch(line)]
    records = [json.loads(line) for line in lines]  # fails on any other line that is not JSON
    assert any(record["logger"].startswith("celery") for record in records)
    if any("superuser privileges" in record["message"] for record in records):  # as root: Celery's warning
        assert any(record["logger"] == "py.warnings" for record in records)
    states = [record["state"] for record in records if record.get("job_id") == job["id"]]
    assert "running" in states and states[-1] == "done", states
