"""The JSON API: every route, and every bad input answered cleanly with nothing stored."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from impasto.styles import catalog
from impasto.text import clock
from tests.web.conftest import form, nothing_stored, png_bytes, style_bytes


def gif_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(buffer, "GIF")
    return buffer.getvalue()


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header claiming a huge picture, with a tiny (compressed) body: a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + \
        chunk(b"IEND", b"")


def submit(client: FlaskClient, **kwargs):
    return client.post("/api/jobs", data=form(**kwargs), content_type="multipart/form-data")


# -- the happy path -----------------------------------------------------------------------------

def test_submit_answers_at_once_with_urls(app: Flask, client: FlaskClient) -> None:
    response = submit(client, content=png_bytes(), style_name="starry_night", seed="42", preserve_colors="1")
    assert response.status_code == 202
    body = response.json
    assert body["state"] == "queued" and body["queue_position"] == 1
    assert body["options"]["size"] == 48 and body["options"]["seed"] == 42 and body["options"]["preserve_colors"]
    assert body["style_name"] == "starry_night"
    assert response.headers["Location"] == body["urls"]["self"] == f"/api/jobs/{body['id']}"
    assert "result" not in body["urls"]
    # Uploads are stored as PNG, whatever came in; a built-in painting is referenced, not copied.
    assert client.get(body["urls"]["content"]).data.startswith(b"\x89PNG")
    stored = client.get(body["urls"]["style"])
    assert stored.status_code == 200 and stored.data == catalog()["starry_night"].read()
    job = app.extensions["impasto"].store.get(body["id"])
    assert "style.png" not in job.files and job.meta["style_sha256"] == [catalog()["starry_night"].sha256]


def test_job_lifecycle_through_the_api(app: Flask, client: FlaskClient) -> None:
    job_id = submit(client, content=png_bytes(), style=style_bytes()).json["id"]
    assert client.get(f"/api/jobs/{job_id}/result").status_code == 404
    assert client.get(f"/api/jobs/{job_id}/preview").status_code == 404
    assert app.extensions["impasto"].dispatcher.run_next() == job_id
    body = client.get(f"/api/jobs/{job_id}").json
    assert body["state"] == "done" and body["progress"]["iteration"] == body["progress"]["total"] == 3
    assert body["progress"]["loss"] > 0 and body["summary"]["width"] == 48 and body["seed"] is not None
    assert body["clock"]["elapsed"] == clock(body["elapsed"]) and body["clock"]["elapsed"].startswith("0:")
    png = client.get(f"/api/jobs/{job_id}/result")
    assert png.content_type == "image/png" and Image.open(io.BytesIO(png.data)).size == (48, 36)
    jpeg = client.get(f"/api/jobs/{job_id}/result?format=jpeg&download=1")
    assert jpeg.content_type == "image/jpeg" and Image.open(io.BytesIO(jpeg.data)).format == "JPEG"
    assert "attachment" in jpeg.headers["Content-Disposition"]
    assert client.get(f"/api/jobs/{job_id}/result?format=gif").status_code == 400
    assert client.get(f"/api/jobs/{job_id}/preview").content_type == "image/jpeg"
    assert client.get(f"/api/jobs/{job_id}/thumb").status_code == 200
    assert [j["id"] for j in client.get("/api/jobs").json["jobs"]] == [job_id]


def test_cancel_a_queued_job(client: FlaskClient) -> None:
    job_id = submit(client, content=png_bytes(), style_name="shipwreck").json["id"]
    response = client.post(f"/api/jobs/{job_id}/cancel")
    assert response.status_code == 200 and response.json["state"] == "cancelled"


def test_healthz(client: FlaskClient) -> None:
    body = client.get("/healthz").json
    assert body["status"] == "ok" and body["queued"] == 0 and body["running"] == 0 and body["process"] > 0


def test_job_list_is_off_with_history_off(make_app) -> None:
    client = make_app(IMPASTO_HISTORY=False).test_client()
    assert client.get("/api/jobs").status_code == 404
    assert client.get("/history").status_code == 404


# -- bad input: a clear answer, nothing stored --------------------------------------------------

@pytest.mark.parametrize("data, expected", [
    (b"this is not an image at all", "not a readable image"),
    (gif_bytes(), "GIF images are not supported"),
    (png_bytes()[:200], "truncated"),
    (b"", "empty"),
])
def test_bad_content_files(app: Flask, client: FlaskClient, data: bytes, expected: str) -> None:
    response = submit(client, content=data, style_name="starry_night")
    assert response.status_code == 400
    assert response.json["field"] == "content" and expected in response.json["error"]
    assert nothing_stored(app)


def test_bad_style_file(app: Flask, client: FlaskClient) -> None:
    response = submit(client, content=png_bytes(), style=b"GIF89a nonsense")
    assert response.status_code == 400 and response.json["field"] == "style"
    assert nothing_stored(app)


def test_missing_files(app: Flask, client: FlaskClient) -> None:
    response = client.post("/api/jobs", data={"size": "48"})
    assert response.status_code == 400
    assert set(response.json["errors"]) == {"content", "style"}
    assert submit(client, content=png_bytes(), style_name="mona_lisa").json["field"] == "style"
    assert nothing_stored(app)


def test_upload_over_the_limit_is_413(make_app) -> None:
    app = make_app(IMPASTO_MAX_UPLOAD_MB=0.01)  # 10 KiB
    response = app.test_client().post(
        "/api/jobs", data=form(content=b"\0" * 20_000, style_name="starry_night"))
    assert response.status_code == 413 and "limit" in response.json["error"]
    assert nothing_stored(app)


def test_image_over_the_pixel_limit_is_413(make_app) -> None:
    app = make_app(IMPASTO_MAX_PIXELS=1000)
    response = app.test_client().post("/api/jobs", data=form(content=png_bytes(48, 64), style_name="starry_night"))
    assert response.status_code == 413
    assert response.json["field"] == "content" and "over the limit" in response.json["error"]
    assert nothing_stored(app)


def test_decompression_bomb_is_refused_before_decoding(app: Flask, client: FlaskClient) -> None:
    response = submit(client, content=bomb_png(), style_name="starry_night")
    assert response.status_code == 413 and response.json["field"] == "content"
    assert "too large" in response.json["error"] or "over the limit" in response.json["error"]
    assert nothing_stored(app)


@pytest.mark.parametrize("field, value, expected", [
    ("size", "abc", "size must be a whole number from 32 to 1024"),
    ("size", "5000", "size must be a whole number from 32 to 1024"),
    ("size", "16", "size must be a whole number from 32 to 1024"),
    ("iterations", "0", "iterations must be a whole number from 1 to 1000"),
    ("iterations", "2000", "iterations must be a whole number from 1 to 1000"),
    ("style_weight", "-1", "style_weight must be a number from 0 to 1e+06"),
    ("content_weight", "lots", "content_weight must be a number"),
    ("tv_weight", "nan", "tv_weight must be a number"),
    ("style_scale", "9", "style_scale must be a number from 0.1 to 4"),
    ("init", "sketch", "init must be one of content, noise, image"),
    ("init", "image", "init_image: choose the image to start from"),  # init=image needs the image
    ("seed", "-5", "seed must be a whole number"),
    ("preset", "loud", "unknown preset"),
    ("bogus", "1", "unknown option"),
])
def test_bad_options_are_400_naming_the_field(app: Flask, client: FlaskClient, field: str, value: str,
                                              expected: str) -> None:
    response = submit(client, content=png_bytes(), style_name="starry_night", **{field: value})
    assert response.status_code == 400
    assert response.json["field"] == ("init_image" if value == "image" else field)
    assert expected in response.json["error"]
    assert nothing_stored(app)


def test_unknown_job_is_404_everywhere(client: FlaskClient) -> None:
    for url in ("/api/jobs/nope", "/api/jobs/nope/result", "/api/jobs/nope/preview", "/api/jobs/nope/content"):
        response = client.get(url)
        assert response.status_code == 404 and "error" in response.json
    assert client.post("/api/jobs/nope/cancel").status_code == 404
    assert client.get("/jobs/nope").status_code == 404
    assert client.post("/jobs/nope/cancel").status_code == 404
    assert client.get("/api/jobs/x/unknown-kind").status_code == 404


def test_full_queue_is_503_with_retry_after(make_app) -> None:
    app = make_app(IMPASTO_QUEUE_LIMIT=2)
    client = app.test_client()
    for _ in range(2):
        assert submit(client, content=png_bytes(), style_name="starry_night").status_code == 202
    response = submit(client, content=png_bytes(), style_name="starry_night")
    assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
    assert "queue is full" in response.json["error"]
    assert app.extensions["impasto"].store.counts() == {"queued": 2}


def test_unexpected_errors_are_json_500(app: Flask, client: FlaskClient, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(app.extensions["impasto"].store, "counts", broken)
    response = client.get("/healthz")
    assert response.status_code == 500 and response.json == {"error": "internal error; the server log has the details"}


# -- the web's limits: messages, and the total work ---------------------------------------------

@pytest.mark.parametrize("field, value, expected", [
    ("size", "5000", "size must be a whole number from 32 to 1024, got 5000"),
    ("size", "2000.0", "size must be a whole number from 32 to 1024, got 2000.0"),  # as sent, not 2000
    ("size", "abc", "size must be a whole number from 32 to 1024, got 'abc'"),
    ("iterations", "2000", "iterations must be a whole number from 1 to 1000, got 2000"),
])
def test_web_range_messages_show_numbers_as_numbers(client: FlaskClient, field: str, value: str,
                                                    expected: str) -> None:
    response = submit(client, content=png_bytes(), style_name="starry_night", **{field: value})
    assert response.status_code == 400 and response.json["error"] == expected


def test_round_evals_count_against_the_iteration_limit(app: Flask, client: FlaskClient) -> None:
    """iterations counts rounds when round_evals > 0: 1000 rounds of 1000 would be a million."""
    response = submit(client, content=png_bytes(), style_name="starry_night", iterations="1000", round_evals="1000")
    assert response.status_code == 400 and response.json["field"] == "round_evals"
    message = response.json["error"]
    assert "1000000" in message and "at most 1000" in message and "IMPASTO_MAX_ITERATIONS" in message
    assert nothing_stored(app)
    ok = submit(client, content=png_bytes(), style_name="starry_night", iterations="10", round_evals="100")
    assert ok.status_code == 202 and ok.json["progress"]["total"] == 1000  # exactly the limit


def test_every_scale_needs_an_iteration_within_the_limit(make_app) -> None:
    client = make_app(IMPASTO_MAX_ITERATIONS=2).test_client()
    # 1024 px runs 3 scales, at least one iteration each: 3 planned, over the limit of 2.
    response = submit(client, content=png_bytes(), style_name="starry_night", size="1024", iterations="2")
    assert response.status_code == 400 and response.json["field"] == "iterations"
    assert "3 scales" in response.json["error"] and "at most 2" in response.json["error"]


def test_planned_total_while_queued_is_what_the_engine_will_count(client: FlaskClient) -> None:
    """The engine runs at least one iteration per scale: 1 iteration at 1024 px is 3 (3 scales)."""
    body = submit(client, content=png_bytes(), style_name="starry_night", size="1024", iterations="1").json
    assert body["state"] == "queued" and body["progress"] == {"iteration": 0, "total": 3}
    body = submit(client, content=png_bytes(), style_name="starry_night", iterations="4", round_evals="5").json
    assert body["progress"]["total"] == 20


def test_the_result_link_appears_only_when_done(app: Flask, client: FlaskClient) -> None:
    job_id = submit(client, content=png_bytes(), style_name="starry_night").json["id"]
    store = app.extensions["impasto"].store
    store.claim("w", 1)
    store.put_file(job_id, "result.png", png_bytes())  # written, but the job is not finished yet
    body = client.get(f"/api/jobs/{job_id}").json
    assert "result" not in body["urls"] and "result_jpeg" not in body["urls"]
    assert client.get(f"/api/jobs/{job_id}/result").status_code == 404
    store.finish(job_id, "w", "done")
    body = client.get(f"/api/jobs/{job_id}").json
    assert body["urls"]["result"] == f"/api/jobs/{job_id}/result"
    assert client.get(body["urls"]["result"]).status_code == 200


# -- cross-site requests ------------------------------------------------------------------------

def test_a_cross_site_cancel_is_refused_but_curl_and_the_page_work(client: FlaskClient) -> None:
    job_id = submit(client, content=png_bytes(), style_name="starry_night").json["id"]
    evil = client.post(f"/api/jobs/{job_id}/cancel", headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403 and "another site" in evil.json["error"]
    referer = client.post(f"/api/jobs/{job_id}/cancel", headers={"Referer": "https://evil.example/page"})
    assert referer.status_code == 403
    opaque = client.post(f"/api/jobs/{job_id}/cancel", headers={"Origin": "null"})
    assert opaque.status_code == 403
    assert client.get(f"/api/jobs/{job_id}").json["state"] == "queued"  # nothing happened
    # The studio's own page (fetch sends its Origin) and curl (no Origin); behind a proxy: test_exposure.py.
    assert client.post(f"/api/jobs/{job_id}/cancel", headers={"Origin": "http://localhost"}).status_code == 200
    assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 200


def test_a_cross_site_submission_is_refused(app: Flask, client: FlaskClient) -> None:
    response = client.post("/api/jobs", data=form(content=png_bytes(), style_name="starry_night"),
                           headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and nothing_stored(app)


def test_the_old_preset_name_seed_is_accepted_and_stored_as_article(app: Flask, client: FlaskClient) -> None:
    from impasto.nst.options import Options

    response = submit(client, content=png_bytes(), style=style_bytes(), preset="seed", iterations="2", size="48")
    assert response.status_code == 202, response.json
    article = Options.from_mapping({"preset": "article", "iterations": 2, "size": 48}).to_dict()
    assert {k: v for k, v in response.json["options"].items() if k != "seed"} == \
        {k: v for k, v in article.items() if k != "seed"}
    assert app.extensions["impasto"].store.get(response.json["id"]).meta["preset"] == "article"
