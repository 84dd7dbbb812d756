"""HTTP details of the API: 405 with Allow, conditional GETs (ETag, Last-Modified, 304) for job
images, ?download as a real switch, the JPEG rendition made once, and built-in paintings referenced
by name and hash instead of copied into every job."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from impasto.styles import catalog
from tests.web.conftest import form, png_bytes, style_bytes


def _done_job(app: Flask, client: FlaskClient, **fields: str) -> dict:
    job = client.post("/api/jobs", data=form(content=png_bytes(), **fields)).json
    assert app.extensions["impasto"].dispatcher.run_next() == job["id"]
    return client.get(job["urls"]["self"]).json


@pytest.fixture
def done(app: Flask, client: FlaskClient) -> dict:
    return _done_job(app, client, style_name="starry_night")


def test_wrong_methods_get_405_with_allow(client: FlaskClient, done: dict) -> None:
    response = client.get(f"/api/jobs/{done['id']}/cancel")
    assert response.status_code == 405 and response.headers["Allow"] == "POST"
    assert "allowed: POST" in response.json["error"]
    response = client.put(done["urls"]["self"])
    assert response.status_code == 405 and {"GET", "DELETE"} <= set(response.headers["Allow"].split(", "))
    page = client.get(f"/jobs/{done['id']}/cancel")
    assert page.status_code == 405 and "POST" in page.headers["Allow"]


@pytest.mark.parametrize("kind", ["content", "style", "preview", "thumb"])
def test_job_images_answer_conditional_gets(client: FlaskClient, done: dict, kind: str) -> None:
    url = f"/api/jobs/{done['id']}/{kind}"
    first = client.get(url)
    assert first.status_code == 200 and first.headers["ETag"]
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    changed = client.get(url, headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200 and changed.data == first.data
    assert first.headers["Cache-Control"] == "private, no-cache"  # kept, but always asked again


def test_the_result_has_last_modified(client: FlaskClient, done: dict) -> None:
    first = client.get(done["urls"]["result"])
    assert first.status_code == 200 and first.headers["Last-Modified"] and first.headers["ETag"]
    since = client.get(done["urls"]["result"], headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304


@pytest.mark.parametrize("value, attachment", [("1", True), ("true", True), ("0", False), ("false", False),
                                               ("", False)])
def test_download_is_a_switch(client: FlaskClient, done: dict, value: str, attachment: bool) -> None:
    response = client.get(f"{done['urls']['result']}?download={value}")
    assert response.status_code == 200
    assert ("Content-Disposition" in response.headers) == attachment
    assert client.get(f"{done['urls']['result']}?download=maybe").status_code == 400


def test_the_jpeg_rendition_is_made_once(app: Flask, client: FlaskClient, done: dict, monkeypatch) -> None:
    import impasto.web.api as api

    made = []
    real = api._to_jpeg
    monkeypatch.setattr(api, "_to_jpeg", lambda png: made.append(1) or real(png))
    first = client.get(done["urls"]["result_jpeg"])
    second = client.get(done["urls"]["result_jpeg"])
    assert first.data.startswith(b"\xff\xd8") and second.data == first.data and len(made) == 1
    assert app.extensions["impasto"].store.get_file(done["id"], "result.jpg") == first.data


def test_a_built_in_painting_is_referenced_not_copied(app: Flask, client: FlaskClient) -> None:
    job = client.post("/api/jobs", data=form(content=png_bytes(), style_name="starry_night", size="32")).json
    folder = Path(app.config["IMPASTO_DATA_DIR"]) / "jobs" / job["id"]
    stored = sum(path.stat().st_size for path in folder.iterdir())
    assert stored < 20_000, f"a 32 px job with a built-in painting stores {stored:,} bytes"
    uploaded = client.post("/api/jobs", data=form(content=png_bytes(), style=style_bytes(), size="32")).json
    assert (Path(app.config["IMPASTO_DATA_DIR"]) / "jobs" / uploaded["id"] / "style.png").is_file()
    # "Again" references the earlier job's built-in painting again.
    again = client.post("/api/jobs", data={"source_job": job["id"], "size": "32", "iterations": "3"})
    assert again.status_code == 202, again.json
    repeat = app.extensions["impasto"].store.get(again.json["id"])
    assert repeat.meta["style_names"] == ["starry_night"] and "style.png" not in repeat.files


def test_a_changed_built_in_painting_fails_the_job_clearly(app: Flask, client: FlaskClient) -> None:
    store = app.extensions["impasto"].store
    job = client.post("/api/jobs", data=form(content=png_bytes(), style_name="shipwreck")).json
    with store._write() as db:  # as if the server's painting had been replaced since the job was queued
        db.execute("UPDATE jobs SET meta=json_set(meta, '$.style_sha256[0]', ?) WHERE id=?", ("0" * 64, job["id"]))
    app.extensions["impasto"].dispatcher.run_next()
    finished = store.get(job["id"])
    assert finished.state == "failed" and "'shipwreck' has changed since the job was submitted" in finished.error
    assert catalog()["shipwreck"].sha256 != "0" * 64


def test_a_413_names_the_limit_it_hit(client: FlaskClient) -> None:
    photo = (io.BytesIO(png_bytes()), "photo.png")
    field = client.post("/api/jobs", data={"content": photo, "size": "4" * 600_000})
    assert field.status_code == 413 and "a text field is larger than the limit of 500,000 bytes" in field.json["error"]
    parts = client.post("/api/jobs", data={"content": (io.BytesIO(png_bytes()), "photo.png"),
                                           **{f"x{n}": "1" for n in range(1001)}})
    assert parts.status_code == 413 and "more than 1000 parts" in parts.json["error"]
    body = client.post("/api/jobs", data=b"x" * (20 * 1024 * 1024 + 1), content_type="multipart/form-data; boundary=b")
    assert body.status_code == 413 and "limit of 20 MB (20,971,520 bytes" in body.json["error"]
    page = client.post("/", data={"content": (io.BytesIO(png_bytes()), "photo.png"), "size": "4" * 600_000})
    assert page.status_code == 413 and "A text field is larger" in page.get_data(as_text=True)


def test_a_field_too_large_in_a_form_at_the_parts_limit_is_told_as_the_field(client: FlaskClient) -> None:
    # 1000 parts (the limit), the last a text field over its limit: the field, not the parts
    fields = {**{f"x{n}": "1" for n in range(998)}, "size": "4" * 600_000}
    response = client.post("/api/jobs", data={"content": (io.BytesIO(png_bytes()), "photo.png"), **fields})
    assert response.status_code == 413 and "a text field is larger than the limit" in response.json["error"]
    fewer = client.post("/api/jobs", data={"content": (io.BytesIO(png_bytes()), "photo.png"),
                                           **{f"x{n}": "1" for n in range(999)}})
    assert fewer.status_code == 400 and "unknown" in fewer.json["error"]  # 1000 parts: read, then refused


def test_the_api_says_it_takes_multipart(client: FlaskClient) -> None:
    response = client.post("/api/jobs", json={"size": 48})
    assert response.status_code == 415
    assert "multipart/form-data" in response.json["error"] and "application/json" in response.json["error"]
