"""Cache-Control: what each kind of response lets caches keep.

Pages, JSON, redirects and errors: no-store (made for one caller, or a job's live state). A job's
files: private, no-cache (someone's pictures, shared by link: never in a shared cache, asked again
each time, so a deleted job's pictures stop showing). Built-in painting thumbnails and the static
files keep their caching.
"""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.clips import video_bytes
from tests.web.conftest import form, png_bytes, style_bytes

JOB_FILES = "private, no-cache"


@pytest.fixture
def done(app: Flask, client: FlaskClient) -> dict:
    """A finished job of this browser, with an uploaded painting, a preview, a result and a thumbnail."""
    client.get("/")
    job = client.post("/api/jobs", data=form(content=png_bytes(), style=style_bytes())).json
    store = app.extensions["impasto"].store
    store.claim("w", 1)
    for name in ("preview.jpg", "result.png", "thumb.jpg"):
        store.put_file(job["id"], name, png_bytes())
    store.finish(job["id"], "w", "done")
    return client.get(job["urls"]["self"]).json


def test_pages_json_redirects_and_errors_are_never_stored(client: FlaskClient, done: dict) -> None:
    gets = ["/", "/history", done["urls"]["page"], "/api/jobs", done["urls"]["self"], "/healthz",
            "/api/estimate?size=64", "/api/jobs/no-such-job", "/no-such-page", "/api/estimate?size=abc"]
    responses = [client.get(path) for path in gets]
    responses += [
        client.post("/api/jobs", data=form(content=png_bytes(), style_name="starry_night")),  # 202
        client.post("/", data=form(content=png_bytes(), style_name="starry_night")),  # 303 to the job page
        client.post("/api/probe", data={"content": (io.BytesIO(png_bytes()), "photo.png")}),
        client.post("/api/jobs", data=form(content=b"not a picture", style_name="starry_night")),  # 400
        client.delete("/healthz"),  # 405
    ]
    assert {r.status_code for r in responses} >= {200, 202, 303, 400, 404, 405}
    for response in responses:
        assert response.headers["Cache-Control"] == "no-store", (response.request.path, response.status_code)


@pytest.mark.parametrize("url", ["content", "style", "preview", "thumb", "result", "result_jpeg"])
def test_a_job_s_files_are_private_and_asked_again_each_time(client: FlaskClient, done: dict, url: str) -> None:
    first = client.get(done["urls"][url])
    assert first.status_code == 200 and first.headers["Cache-Control"] == JOB_FILES and first.headers["ETag"]
    again = client.get(done["urls"][url], headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.headers["Cache-Control"] == JOB_FILES


def test_once_the_job_is_deleted_asking_again_finds_nothing(client: FlaskClient, done: dict) -> None:
    """Why no-cache rather than a day's max-age: the browser asks before it shows a kept picture."""
    etag = client.get(done["urls"]["result"]).headers["ETag"]
    assert client.delete(done["urls"]["delete"]).status_code == 200
    assert client.get(done["urls"]["result"], headers={"If-None-Match": etag}).status_code == 404


def test_a_clip_and_its_results_are_job_files_too(app: Flask, client: FlaskClient) -> None:
    body = {"size": "48", "iterations": "2", "content": (io.BytesIO(video_bytes("mp4")), "clip.mp4"),
            "style_name": "starry_night"}
    job = client.post("/api/jobs", data=body, content_type="multipart/form-data").json
    for kind in ("content", "poster"):
        response = client.get(job["urls"][kind])
        assert response.status_code == 200 and response.headers["Cache-Control"] == JOB_FILES


def test_built_in_thumbnails_and_static_files_keep_their_caching(client: FlaskClient) -> None:
    assert client.get("/styles/starry_night.jpg").headers["Cache-Control"] == "public, max-age=86400"
    static = client.get("/static/style.css")
    assert static.headers["Cache-Control"] == "no-cache" and static.headers["ETag"]  # Flask's: revalidated


def test_a_browser_that_signed_out_is_not_answered_from_its_cache(make_app) -> None:
    """With a password: asking again for a kept picture after signing out gets 401, not a 304."""
    app = make_app(IMPASTO_PASSWORD="a studio password")
    client = app.test_client()
    assert client.post("/login", data={"password": "a studio password"}).status_code == 303
    job = client.post("/api/jobs", data=form(content=png_bytes(), style_name="starry_night")).json
    etag = client.get(job["urls"]["content"]).headers["ETag"]
    assert client.post("/logout").status_code == 303
    assert client.get(job["urls"]["content"], headers={"If-None-Match": etag}).status_code == 401
