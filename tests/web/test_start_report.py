"""Weights and data said at start (issue #28, point 6): with no VGG16 weights at hand the studio
says so in its first log lines, every page shows a banner and a submission gets 503 naming the
weights instead of becoming a job that fails; the data folder is the user's data folder (or
IMPASTO_DATA_DIR, or an earlier version's ./instance that holds jobs), printed at start, never
the working directory."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Callable

import pytest
from flask import Flask

from impasto import cli, startup
from impasto.config import Settings
from impasto.data_dir import default_data_dir, start_lines
from impasto.nst.errors import WeightsError
from impasto.nst.vgg import IMAGENET_FILE, missing_weights
from tests.web.conftest import form, png_bytes, style_bytes
from tests.weights import UNTRAINED_WEIGHTS


@pytest.fixture
def empty_keras(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Keras cache with nothing downloaded, and IMPASTO_VGG_WEIGHTS unset: offline, nothing fetched."""
    home = tmp_path / "keras"
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.delenv("IMPASTO_VGG_WEIGHTS", raising=False)
    return home


def cache(home: Path) -> None:
    """The ImageNet file, as Keras's download would leave it (any VGG16 notop file will do here)."""
    (home / "models").mkdir(parents=True, exist_ok=True)
    shutil.copy(UNTRAINED_WEIGHTS, home / "models" / IMAGENET_FILE)


def test_no_weights_a_banner_and_503_naming_them_then_weights_put_in_place(
        make_app: Callable[..., Flask], empty_keras: Path) -> None:
    app = make_app(IMPASTO_VGG_WEIGHTS="")
    client = app.test_client()
    page = client.get("/")
    assert page.status_code == 200 and 'id="weights-banner"' in page.text and "VGG16 weights" in page.text
    answer = client.post("/api/jobs", data=form(png_bytes(), style_bytes()), content_type="multipart/form-data")
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    assert answer.json["error"].startswith("no VGG16 weights: IMPASTO_VGG_WEIGHTS is unset")
    assert str(empty_keras) not in answer.text and "/" not in answer.json["error"]  # never a server path
    refused = client.post("/", data=form(png_bytes(), style_bytes()), content_type="multipart/form-data")
    assert refused.status_code == 503 and "no VGG16 weights" in refused.text  # the form again, with the reason
    assert app.extensions["impasto"].store.counts() == {}  # nothing stored: no job that would only fail
    assert client.get("/readyz").status_code == 503
    cache(empty_keras)  # seen without a restart
    assert 'id="weights-banner"' not in client.get("/").text
    ok = client.post("/api/jobs", data=form(png_bytes(), style_bytes()), content_type="multipart/form-data")
    assert ok.status_code == 202


def test_a_weights_file_that_cannot_be_loaded_is_named_without_its_path(
        make_app: Callable[..., Flask], tmp_path: Path) -> None:
    weights = tmp_path / "secret-place" / "vgg16.weights.h5"
    weights.parent.mkdir()
    shutil.copy(UNTRAINED_WEIGHTS, weights)
    client = make_app(IMPASTO_VGG_WEIGHTS=str(weights)).test_client()
    weights.write_bytes(b"not HDF5")
    answer = client.post("/api/jobs", data=form(png_bytes(), style_bytes()), content_type="multipart/form-data")
    assert answer.status_code == 503
    assert answer.json["error"] == "no VGG16 weights: the weights file that IMPASTO_VGG_WEIGHTS names cannot be loaded"
    assert "secret-place" not in answer.text


def test_a_scale_out_web_server_does_not_judge_its_workers_caches(empty_keras: Path) -> None:
    assert missing_weights(None, imagenet_too=False) is None
    assert missing_weights(None) is not None
    cache(empty_keras)
    assert missing_weights(None) is None and missing_weights("imagenet") is None


def serve_log(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, *argv: str) -> list[str]:
    started: list[list[str]] = []
    monkeypatch.setattr(cli.os, "execv", lambda path, args: started.append(args))
    caplog.set_level(logging.INFO)
    assert cli.main(list(argv)) == 0
    return [record.getMessage() for record in caplog.records if record.name.startswith("impasto")]


def test_serve_says_where_the_data_is_and_that_the_weights_are_missing_offline(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, empty_keras: Path, tmp_path: Path) -> None:
    monkeypatch.setenv("IMPASTO_DATA_DIR", str(tmp_path / "studio-data"))
    tried: list[bool] = []

    def offline() -> None:
        tried.append(True)
        raise WeightsError("could not download the ImageNet VGG16 weights: no network")

    monkeypatch.setattr(startup, "fetch_imagenet", offline)
    lines = serve_log(monkeypatch, caplog, "serve")
    assert tried == [True]  # fetched once, before the studio takes work
    assert lines[0].startswith("Impasto studio on http://127.0.0.1:8000/")
    assert lines[1] == f"data dir: {tmp_path / 'studio-data'} (IMPASTO_DATA_DIR)"
    warning = [line for line in lines if line.startswith("no VGG16 weights")]
    assert warning and "submissions get 503 naming the weights" in warning[0] and IMAGENET_FILE in warning[0]
    assert lines.index(warning[0]) <= 4  # among the first lines


def test_serve_fetches_the_imagenet_weights_when_it_can(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, empty_keras: Path, tmp_path: Path) -> None:
    monkeypatch.setenv("IMPASTO_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setattr(startup, "fetch_imagenet", lambda: cache(empty_keras))
    lines = serve_log(monkeypatch, caplog, "serve")
    assert any(line.startswith("weights: ImageNet, ") for line in lines)
    assert not any(line.startswith("no VGG16 weights") for line in lines)


def test_a_worker_says_so_at_start(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
                                   empty_keras: Path) -> None:
    from impasto.jobs import celery_app

    monkeypatch.setenv("IMPASTO_BROKER_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(startup, "fetch_imagenet", lambda: (_ for _ in ()).throw(WeightsError("offline")))
    monkeypatch.setattr(celery_app, "run_worker", lambda settings, **kwargs: 0)
    caplog.set_level(logging.INFO)
    assert cli.main(["worker"]) == 0
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("no VGG16 weights")]
    assert said and said[0].endswith("until then every job this worker takes fails")
    assert "data dir" not in caplog.text  # a worker keeps its jobs in Redis


def test_the_default_data_folder_is_the_users_never_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("IMPASTO_DATA_DIR", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert Settings.from_env().data_dir == tmp_path / "xdg" / "impasto"
    assert start_lines(tmp_path / "xdg" / "impasto", chosen=False)[0].endswith("(your user data folder; "
                                                                                 "IMPASTO_DATA_DIR sets another)")
    (work / "instance").mkdir()  # an empty ./instance is not a data folder: nothing to keep
    assert default_data_dir() == tmp_path / "xdg" / "impasto"


def test_an_earlier_versions_instance_folder_with_jobs_keeps_working(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("IMPASTO_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "jobs.sqlite3").write_bytes(b"")
    assert Settings.from_env().data_dir == tmp_path / "instance"
    lines = start_lines(tmp_path / "instance", chosen=False)
    assert "earlier version" in lines[0] and "IMPASTO_DATA_DIR is unset" in lines[0]
    assert lines[1].startswith("to move it: stop the studio, move that folder to ")
    assert str(tmp_path / "xdg") in lines[1]
    monkeypatch.setenv("IMPASTO_DATA_DIR", str(tmp_path / "chosen"))
    assert Settings.from_env().data_dir == tmp_path / "chosen"  # the setting always wins
