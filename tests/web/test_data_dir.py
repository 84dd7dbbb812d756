"""The data folder is its owner's only: the folder and its folders 0700, every file in it 0600 (the
job database and its -wal/-shm, the session key, the rate-limit counters, the jobs' files), as the
studio makes them whatever the umask, and tightened at start when they exist with looser modes,
without losing anything (src/impasto/data_dir.py)."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Callable, Iterator

import pytest
from flask import Flask

from impasto import create_app
from tests.dispatch import Manual
from tests.web.conftest import form, png_bytes
from tests.weights import UNTRAINED_WEIGHTS


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask of 0: what is made 0700/0600 is so by the studio's own doing, not by the umask."""
    before = os.umask(0)
    yield
    os.umask(before)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[[], Flask]]:
    apps: list[Flask] = []

    def factory() -> Flask:
        app = create_app({"TESTING": True, "IMPASTO_DATA_DIR": str(tmp_path / "data"), "DISPATCHER": Manual,
                          "IMPASTO_VGG_WEIGHTS": UNTRAINED_WEIGHTS})
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["impasto"].dispatcher.stop()


def modes(root: Path) -> dict[str, int]:
    """Every entry under ``root`` (itself as '.') and its permission bits."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def owner_only(root: Path) -> dict[str, int]:
    """The entries that are not: folders other than 0700, files other than 0600."""
    return {name: mode for name, mode in modes(root).items()
            if mode != (0o700 if (root / name).is_dir() else 0o600)}


def submit(app: Flask) -> str:
    client = app.test_client()
    response = client.post("/api/jobs", data=form(content=png_bytes(), style_name="starry_night"))
    assert response.status_code == 202
    return response.json["id"]


def test_a_new_data_dir_and_everything_in_it_are_owner_only(open_umask: None, start, tmp_path: Path) -> None:
    app = start()
    job_id = submit(app)
    app.extensions["impasto"].store.put_file(job_id, "preview.jpg", png_bytes())
    data = tmp_path / "data"
    assert {".", "jobs", "jobs.sqlite3", "jobs.sqlite3-wal", "secret_key", "ratelimits.sqlite3",
            f"jobs/{job_id}", f"jobs/{job_id}/content.png", f"jobs/{job_id}/preview.jpg"} <= set(modes(data))
    assert owner_only(data) == {}


def test_a_loose_data_dir_is_tightened_at_start_and_nothing_is_lost(start, tmp_path: Path, caplog) -> None:
    first = start()
    job_id = submit(first)
    key = first.secret_key
    content = first.extensions["impasto"].store.get_file(job_id, "content.png")
    data = tmp_path / "data"
    for path in [data, *data.rglob("*")]:  # as an earlier version, a copy or a umask of 0 left them
        path.chmod(0o777 if path.is_dir() else 0o666)
    loose = len(modes(data))
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("not the studio's")
    outside.chmod(0o644)
    (data / "a-link").symlink_to(outside)
    with caplog.at_level(logging.WARNING, logger="impasto.data_dir"):
        second = start()
    assert owner_only(data) == {"a-link": stat.S_IMODE((data / "a-link").lstat().st_mode)}  # links are left be
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644  # a link is never followed out of the folder
    assert any(f"{loose} folders and files were open to other users" in r.getMessage() for r in caplog.records)
    store = second.extensions["impasto"].store
    assert store.get(job_id) is not None and store.get_file(job_id, "content.png") == content
    assert second.secret_key == key  # sessions survive the restart
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="impasto.data_dir"):
        start()
    assert not caplog.records  # nothing left to tighten, nothing said
