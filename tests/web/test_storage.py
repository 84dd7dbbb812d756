"""The storage cap (IMPASTO_STORAGE_LIMIT_MB): once the stored jobs take the room it allows, a new
submission gets 507 naming the limit and the usage, on the API and on the page, and nothing stored
is lost. The usage is measured from the data dir at most every few seconds (an injected clock)."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask

from impasto.storage import MB, Storage, usage_bytes
from tests.dispatch import Inline
from tests.helpers import Clock
from tests.web.conftest import form, png_bytes


def test_usage_is_the_files_under_the_data_dir(tmp_path: Path) -> None:
    (tmp_path / "jobs" / "a").mkdir(parents=True)
    (tmp_path / "jobs" / "a" / "result.png").write_bytes(b"x" * 1000)
    (tmp_path / "jobs.sqlite3").write_bytes(b"y" * 24)
    (tmp_path / "elsewhere").symlink_to("/usr")  # never followed out of the data dir
    assert usage_bytes(tmp_path) == 1024 and usage_bytes(tmp_path / "missing") == 0


def test_the_usage_is_measured_again_only_after_the_cache_time() -> None:
    sizes, clock = [5 * MB, 12 * MB], Clock()
    storage = Storage(lambda: sizes.pop(0), limit_mb=10, cache_seconds=5, clock=clock)
    assert storage.used_bytes() == 5 * MB and not storage.full()
    clock.now += 4.9
    assert storage.used_bytes() == 5 * MB  # no new walk yet
    clock.now += 0.1
    assert storage.full() and storage.used_bytes() == 12 * MB and storage.limit_bytes == 10 * MB


def test_without_a_cap_nothing_is_measured_for_a_submission() -> None:
    def measure() -> int:
        raise AssertionError("measured")

    assert not Storage(measure).full() and Storage(measure).limit_bytes is None


def _stored_job(make_app) -> tuple[Flask, dict, bytes]:
    """An app without a cap and one finished job of it, with its result's bytes."""
    app = make_app(DISPATCHER=Inline)
    job = app.test_client().post("/api/jobs", data=form(content=png_bytes(), style_name="the_scream")).json
    result = app.test_client().get(job["urls"]["result"]).data
    assert result.startswith(b"\x89PNG")
    return app, job, result


def test_a_full_store_refuses_new_jobs_with_507_on_the_api_and_keeps_what_it_has(make_app) -> None:
    first, job, result = _stored_job(make_app)
    data = Path(first.config["IMPASTO_DATA_DIR"])
    used = usage_bytes(data)
    limit_mb = round(used / MB / 2, 3)
    client = make_app(DISPATCHER=Inline, IMPASTO_STORAGE_LIMIT_MB=limit_mb).test_client()
    response = client.post("/api/jobs", data=form(content=png_bytes(), style_name="the_scream"))
    body = response.json
    assert response.status_code == 507 and abs(body["limit_mb"] - limit_mb) < 0.002
    assert abs(body["used_mb"] - used / MB) < 0.2
    assert re.fullmatch(r"the studio's storage is full: [\d.]+ MB used of the [\d.]+ MB it may hold "
                        r"\(IMPASTO_STORAGE_LIMIT_MB\); no new job can be stored until older ones are deleted",
                        body["error"]), body["error"]
    assert str(data) not in body["error"]
    assert body["messages"]["form"].startswith("The studio's storage is full: ")  # the page's script shows it
    assert "IMPASTO_" not in body["messages"]["form"]
    store = first.extensions["impasto"].store
    assert store.counts() == {"done": 1} and len(list((data / "jobs").iterdir())) == 1
    assert client.get(job["urls"]["result"]).data == result  # what was stored is all there


def test_a_full_store_shows_the_studio_form_again_with_507(make_app) -> None:
    first, job, result = _stored_job(make_app)
    client = make_app(IMPASTO_STORAGE_LIMIT_MB=0.001).test_client()  # about 1 kB: full already
    response = client.post("/", data=form(content=png_bytes(), style_name="the_scream", tv_weight="0.5"))
    html = response.get_data(as_text=True)
    assert response.status_code == 507
    assert re.search(r"The studio&#39;s storage is full: [\d.]+ MB used of the 0.001 MB it may hold; no new job", html)
    assert "IMPASTO_" not in html and 'value="0.5"' in html  # no server setting; what was typed stays
    assert first.extensions["impasto"].store.counts() == {"done": 1}
    assert client.get(job["urls"]["result"]).data == result


def test_the_storage_settings_are_there_for_metrics(make_app) -> None:
    storage = make_app(IMPASTO_STORAGE_LIMIT_MB=50, IMPASTO_RETENTION_DAYS=30).extensions["impasto"].storage
    assert (storage.limit_bytes, storage.retention_days) == (50 * MB, 30) and storage.used_bytes() > 0
