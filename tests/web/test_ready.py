"""/readyz: 200 only when the job store answers, the weights file is there and holds VGG16, and the
data dir's disk has room; else 503 naming what is wrong, without a path or a secret. /healthz stays
the cheap liveness probe. (A closed Redis: tests/distributed/test_scale_out_sessions.py.)"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Callable

import pytest
from flask import Flask

from tests.weights import UNTRAINED_WEIGHTS

MB = 1024 * 1024
ALL_OK = {"store": "ok", "weights": "ok", "disk": "ok"}


def test_ready_answers_200_without_signing_in_or_a_session(make_app: Callable[..., Flask]) -> None:
    client = make_app(IMPASTO_PASSWORD="a password").test_client()
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json == {"status": "ready", "checks": ALL_OK}
    assert "Set-Cookie" not in response.headers and client.get("/healthz").status_code == 200


def test_a_missing_weights_file_is_not_ready(make_app: Callable[..., Flask], tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    weights = tmp_path / "private-folder" / "vgg16.weights.h5"
    weights.parent.mkdir()
    shutil.copy(UNTRAINED_WEIGHTS, weights)
    client = make_app(IMPASTO_VGG_WEIGHTS=str(weights)).test_client()
    assert client.get("/readyz").status_code == 200
    weights.unlink()
    caplog.set_level(logging.INFO, logger="impasto.web.health")
    answers = [client.get("/readyz") for _ in range(3)]
    response = answers[0]
    assert response.status_code == 503 and response.headers["Retry-After"] == "10"
    assert response.json["checks"] == {**ALL_OK, "weights": "no VGG16 weights: the weights file that "
                                                            "IMPASTO_VGG_WEIGHTS names "
                                                            "cannot be loaded"}
    assert response.json["error"] == ("not ready: no VGG16 weights: the weights file that IMPASTO_VGG_WEIGHTS "
                                      "names cannot be loaded")
    assert all("private-folder" not in answer.text for answer in answers)
    assert caplog.text.count("private-folder") == 1  # the operator's details, logged once per change
    weights.write_bytes(b"not HDF5 at all")
    assert client.get("/readyz").status_code == 503  # there, but not loadable
    shutil.copy(UNTRAINED_WEIGHTS, weights)
    assert client.get("/readyz").status_code == 200 and "ready again" in caplog.text


def test_a_full_disk_is_not_ready(make_app: Callable[..., Flask]) -> None:
    free = {"bytes": 10 * MB}
    asked: list[Path] = []

    def disk_free(path: Path) -> int:
        asked.append(path)
        return free["bytes"]

    app = make_app(DISK_FREE=disk_free, IMPASTO_MIN_FREE_DISK_MB=500)
    client = app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["disk"] == ("10 MB free on the data dir's disk, less than "
                                               "IMPASTO_MIN_FREE_DISK_MB (500 MB)")
    assert asked == [Path(app.config["IMPASTO_DATA_DIR"])]
    free["bytes"] = 500 * MB
    assert client.get("/readyz").status_code == 200
    free["bytes"] = 0
    assert make_app(DISK_FREE=disk_free, IMPASTO_MIN_FREE_DISK_MB=0).test_client().get("/readyz").status_code == 200


def test_a_disk_that_cannot_be_read_is_not_ready(make_app: Callable[..., Flask]) -> None:
    def broken(path: Path) -> int:
        raise PermissionError(13, "Permission denied", str(path))

    response = make_app(DISK_FREE=broken).test_client().get("/readyz")
    assert response.status_code == 503 and response.json["checks"]["disk"] == "the data dir's disk cannot be read"
    assert "/" not in response.json["checks"]["disk"]


def test_a_job_database_that_is_gone_is_not_ready(app: Flask) -> None:
    client = app.test_client()
    store = app.extensions["impasto"].store
    (Path(app.config["IMPASTO_DATA_DIR"]) / "jobs.sqlite3").unlink()
    store.close()  # the next connection opens an empty file: no job table
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json["checks"]["store"] == "the job store does not answer"
    assert "sqlite" not in response.text and str(app.config["IMPASTO_DATA_DIR"]) not in response.text


def test_the_free_disk_minimum_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from impasto.config import Settings, SettingsError

    monkeypatch.delenv("IMPASTO_MIN_FREE_DISK_MB", raising=False)
    assert Settings.from_env().min_free_disk_mb == 500
    monkeypatch.setenv("IMPASTO_MIN_FREE_DISK_MB", "-1")
    with pytest.raises(SettingsError, match="IMPASTO_MIN_FREE_DISK_MB must be a number of at least 0"):
        Settings.from_env()
