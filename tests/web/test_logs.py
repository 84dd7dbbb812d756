"""IMPASTO_LOG_FORMAT=json: one JSON object per line, with the job id and state on every line of a
job's lifecycle (and its durations at its end); plain text by default. Here in-process (the store,
run_job, gunicorn's logger class, Celery's hook); tests/web/test_logs_served.py runs `impasto serve`."""

from __future__ import annotations

import io
import json
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

from impasto import logs
from impasto.config import Settings, SettingsError
from impasto.jobs.execute import Painter, run_job
from impasto.jobs.sqlite_store import SqliteJobStore
from impasto.nst.options import Options
from tests.web.conftest import png_bytes, style_bytes


@contextmanager
def captured(log_format: str) -> Iterator[io.StringIO]:
    """What Impasto's loggers write, in ``log_format``, while the block runs."""
    stream, logger = io.StringIO(), logging.getLogger("impasto")
    handler, level = logs.handler(log_format, stream), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


class Painted:
    """What the engine returns, as run_job reads it (no TensorFlow needed for the log lines)."""

    image = np.full((8, 8, 3), 128, dtype=np.uint8)
    options = Options(seed=5)

    def summary(self) -> dict[str, Any]:
        return {"seconds": 0.1}


def broken(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("the engine broke")


def run(store: SqliteJobStore, painter: Painter) -> str:
    job_id = store.create({"size": 48}, {"content.png": png_bytes(), "style.png": style_bytes()}).id
    assert store.claim("runner-1", 1).id == job_id
    run_job(store, job_id, worker="runner-1", painter=painter)
    return job_id


def test_a_jobs_lifecycle_logs_parse_as_json_with_its_id(tmp_path: Path) -> None:
    store = SqliteJobStore(tmp_path)
    with captured("json") as stream:
        done = run(store, Painter(picture=lambda *args, **kwargs: Painted()))
        store.delete(done)
        failed = run(store, Painter(picture=broken))
    records = [json.loads(line) for line in stream.getvalue().splitlines()]  # every line is one JSON object
    assert all({"timestamp", "level", "logger", "message"} <= set(record) for record in records)
    story = [(record["state"], record["message"]) for record in records if record.get("job_id") == done]
    assert [state for state, _ in story] == ["queued", "running", "done", "done", "deleted"]
    assert story[0][1] == f"job {done} queued"
    end = next(record for record in records if record.get("job_id") == done and "run_seconds" in record)
    assert end["run_seconds"] >= 0 and end["queue_seconds"] >= 0 and end["level"] == "INFO"
    crash = next(record for record in records if record.get("job_id") == failed and record["level"] == "ERROR")
    assert "RuntimeError: the engine broke" in crash["exc_info"] and crash["logger"] == "impasto.jobs.execute"
    assert records[0]["timestamp"].endswith("+00:00")


def test_text_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IMPASTO_LOG_FORMAT", raising=False)
    assert Settings.from_env().log_format == "text"
    with captured("text") as stream:
        SqliteJobStore(tmp_path).create({"size": 48}, {"content.png": b"c"})
    line = stream.getvalue().strip()
    assert " INFO impasto.jobs.store_core: job " in line and line.endswith(" queued") and not line.startswith("{")
    monkeypatch.setenv("IMPASTO_LOG_FORMAT", "xml")
    with pytest.raises(SettingsError, match="IMPASTO_LOG_FORMAT must be one of text, json, got 'xml'"):
        Settings.from_env()


def test_gunicorns_own_lines_follow_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from gunicorn.config import Config

    from impasto.web.worker import StudioLogger

    monkeypatch.setenv("IMPASTO_LOG_FORMAT", "json")
    config = Config()
    config.set("accesslog", "-")
    logger = StudioLogger(config)
    stream = io.StringIO()
    for log in (logger.error_log, logger.access_log):
        log.handlers[0].setStream(stream)
    logger.info("Booting worker with pid: %s", 42)
    environ = {"REMOTE_ADDR": "10.0.0.7", "REQUEST_METHOD": "GET", "PATH_INFO": "/readyz", "RAW_URI": "/readyz",
               "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_USER_AGENT": "probe"}
    response = SimpleNamespace(status="503 SERVICE UNAVAILABLE", sent=120, headers=[])
    from datetime import timedelta

    logger.access(response, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=12))
    boot, access = (json.loads(line) for line in stream.getvalue().splitlines())
    assert boot["message"] == "Booting worker with pid: 42" and boot["logger"] == "gunicorn.error"
    assert access["message"] == "GET /readyz 503" and access["status"] == 503 and access["path"] == "/readyz"
    assert access["remote"] == "10.0.0.7" and access["duration_ms"] == 12.0 and access["bytes"] == 120
    monkeypatch.setenv("IMPASTO_LOG_FORMAT", "bad")  # create_app names the variable; gunicorn's lines stay text
    assert not StudioLogger(config).json


def test_celerys_handlers_get_the_json_formatter() -> None:
    from celery import signals

    from impasto.jobs import celery_app

    assert not celery_app._celery_logs("text")
    assert celery_app._celery_logs("json")
    logger, stream = logging.getLogger("test-celery-setup"), io.StringIO()
    logger.addHandler(logging.StreamHandler(stream))
    try:
        signals.after_setup_logger.send(sender=None, logger=logger, loglevel=logging.INFO, logfile=None,
                                        format="", colorize=False)
        logger.warning("job %s: sending its task again", "abc", extra={"job_id": "abc"})
    finally:
        for signal in (signals.after_setup_logger, signals.after_setup_task_logger):
            signal.disconnect(dispatch_uid="impasto-json-logs")
    assert json.loads(stream.getvalue())["job_id"] == "abc"
    config = celery_app.DistributedConfig.from_settings(Settings.from_env({"IMPASTO_BROKER_URL": "redis://h:1/0"}))
    assert celery_app.worker_argv(config, 1, "info", quiet=True)[:2] == ["--quiet", "worker"]  # no banner
