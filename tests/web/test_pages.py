"""The HTML pages: the form with engine defaults, errors next to fields, job pages, history."""

from __future__ import annotations

import io
import re
import subprocess
import sys

from flask import Flask
from flask.testing import FlaskClient

from impasto.nst.options import DEFAULTS
from impasto.nst.presets import PRESETS
from tests.conftest import ROOT
from tests.web.conftest import form, no_js_form, png_bytes, style_bytes


def field_value(html: str, name: str) -> str:
    match = re.search(rf'<input type="text" class="value" id="f-{name}" name="{name}" value="([^"]*)"', html)
    assert match, f"no text input for {name}"
    return match.group(1)


def run_all(app: Flask) -> None:
    app.extensions["impasto"].dispatcher.run_all()


def test_studio_form_shows_engine_defaults_presets_and_styles(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    assert field_value(html, "content_weight") == f"{DEFAULTS.content_weight:g}"
    assert field_value(html, "style_weight") == f"{DEFAULTS.style_weight:g}"
    assert field_value(html, "tv_weight") == f"{DEFAULTS.tv_weight:g}"
    assert field_value(html, "size") == str(DEFAULTS.size)
    assert field_value(html, "iterations") == str(DEFAULTS.iterations)
    assert html.count('class="slider log"') == 4  # the three weights, and a clip's temporal weight
    assert field_value(html, "frame_iterations") == str(DEFAULTS.frame_iterations)
    for preset in PRESETS:
        assert f'data-preset="{preset}"' in html
    for credit in ("Vincent van Gogh, 1889", "Edvard Munch, 1893", "J. M. W. Turner, 1805"):
        assert credit in html
    assert 'name="preserve_colors"' in html and 'name="init"' in html and 'name="seed"' in html
    assert 'type="file" name="content"' in html and 'type="file" name="style"' in html


def test_form_error_is_shown_next_to_the_field_and_input_kept(app: Flask, client: FlaskClient) -> None:
    response = client.post("/", data=form(content=png_bytes(), style_name="the_scream", style_weight="heaps",
                                          tv_weight="0.5", seed="77"))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    # In the page's words: the label, not the field name (the API keeps field names).
    assert re.search(r'id="error-style_weight" role="alert">Style weight must be a number from 0 to 1,000,000; '
                     r"you entered &#39;heaps&#39;", html)
    assert field_value(html, "style_weight") == "heaps"
    assert field_value(html, "tv_weight") == "0.5" and field_value(html, "seed") == "77"
    assert 'value="the_scream" checked' in html
    assert app.extensions["impasto"].store.counts() == {}


def test_form_bad_upload_message_next_to_the_file(client: FlaskClient) -> None:
    # a GIF that is no clip is refused as a picture without Pillow's GIF reader ever opening it
    html = client.post("/", data=form(content=b"GIF89a....", style_name="the_scream")).get_data(as_text=True)
    assert re.search(r'id="error-content" role="alert">Photo: GIF images are not supported', html)
    html = client.post("/", data=form(content=b"\x89PNG....", style_name="the_scream")).get_data(as_text=True)
    assert re.search(r'id="error-content" role="alert">Photo: not a readable image', html)


def test_form_upload_too_large_shows_the_form_again(make_app) -> None:
    client = make_app(IMPASTO_MAX_UPLOAD_MB=0.01).test_client()
    response = client.post("/", data=form(content=b"\0" * 20_000, style_name="the_scream"))
    assert response.status_code == 413
    assert "larger than the limit of 0.01 MB" in response.get_data(as_text=True)


def test_form_submit_redirects_to_the_job_page(app: Flask, client: FlaskClient) -> None:
    response = client.post("/", data=form(content=png_bytes(), style=style_bytes()))
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Waiting for its turn" in page and "Place in queue" in page and 'id="cancel"' in page
    job_id = response.headers["Location"].rsplit("/", 1)[1]
    assert client.post(f"/jobs/{job_id}/cancel").status_code == 303
    assert "Cancelled" in client.get(f"/jobs/{job_id}").get_data(as_text=True)


def test_done_page_and_again_with_the_same_settings(app: Flask, client: FlaskClient) -> None:
    created = client.post("/api/jobs", data=form(content=png_bytes(), style_name="shipwreck", tv_weight="0.02",
                                                 preset="keep-detail", preserve_colors="1")).json
    run_all(app)
    job = client.get(created["urls"]["self"]).json
    page = client.get(created["urls"]["page"]).get_data(as_text=True)
    for text in ("Finished", "Download PNG", "Download JPEG", "Again with the same settings",
                 "The Shipwreck, J. M. W. Turner (1805)", f"seed {job['seed']}"):
        assert text in page
    again = client.get(job["urls"]["again"]).get_data(as_text=True)
    assert field_value(again, "tv_weight") == "0.02" and field_value(again, "seed") == str(job["seed"])
    assert f'name="source_job" value="{job["id"]}"' in again
    assert 'data-earlier-name="shipwreck"' in again  # the earlier painting, reused unless changed
    assert 'id="preset" value="keep-detail"' in again
    # Submitting it unchanged (no new files) repeats the job exactly, seed included.
    fields = no_js_form(again)
    fields.update(preserve_colors="1", init="content")
    repeat = client.post("/api/jobs", data=fields)
    assert repeat.status_code == 202, repeat.json
    assert repeat.json["options"] == {**job["options"], "seed": job["seed"]}
    assert repeat.json["style_name"] == "shipwreck"
    original = client.get(created["urls"]["content"]).data
    assert client.get(repeat.json["urls"]["content"]).data == original


def test_failed_job_page_shows_the_error(app: Flask, client: FlaskClient) -> None:
    created = client.post("/api/jobs", data=form(content=png_bytes(), style_name="shipwreck")).json
    store = app.extensions["impasto"].store
    store.claim("w", 1)
    store.finish(created["id"], "w", "failed", error="the loss became nan")
    page = client.get(created["urls"]["page"]).get_data(as_text=True)
    assert "Something went wrong" in page and "the loss became nan" in page and "Try again" in page


def test_history_shows_thumbnails(app: Flask, client: FlaskClient) -> None:
    created = client.post("/api/jobs", data=form(content=png_bytes(), style_name="the_scream")).json
    html = client.get("/history").get_data(as_text=True)
    assert created["urls"]["page"] in html and created["urls"]["content"] in html
    assert 'href="/history"' in client.get("/").get_data(as_text=True)


def test_history_off(make_app) -> None:
    client = make_app(IMPASTO_HISTORY=False).test_client()
    assert client.get("/history").status_code == 404
    assert 'href="/history"' not in client.get("/").get_data(as_text=True)


def test_style_thumbnails_and_static_files(client: FlaskClient) -> None:
    assert client.get("/styles/starry_night.jpg").content_type == "image/jpeg"
    assert client.get("/styles/nope.jpg").status_code == 404
    for name in ("style.css", "studio.js", "job.js", "favicon.svg"):
        assert client.get(f"/static/{name}").status_code == 200


def test_the_web_layer_never_imports_tensorflow(tmp_path) -> None:
    """Pages and the health check need no TensorFlow. (The runners' warm-up loads it on purpose, in
    its own thread: off here, so that only the web layer is looked at; tests/web/test_warmup.py.)"""
    code = (
        "import sys, io\n"
        "from impasto import create_app\n"
        f"app = create_app({{'IMPASTO_DATA_DIR': {str(tmp_path)!r}, 'IMPASTO_WARM_UP': 'off'}})\n"
        "client = app.test_client()\n"
        "assert client.get('/').status_code == 200\n"
        "assert client.get('/healthz').status_code == 200\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]


def test_again_keeps_options_the_form_does_not_show(app: Flask, client: FlaskClient) -> None:
    created = client.post("/api/jobs", data=form(content=png_bytes(), style_name="the_scream",
                                                 content_layers="block3_conv1", tv_exponent="1.25")).json
    again = client.get(created["urls"]["again"]).get_data(as_text=True)
    assert '<input type="hidden" name="content_layers" value="block3_conv1" data-extra>' in again
    assert '<input type="hidden" name="tv_exponent" value="1.25" data-extra>' in again


def test_without_javascript_an_uploaded_painting_replaces_the_default_pick(app: Flask, client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    fields = no_js_form(page)
    assert fields["style_name"] == "starry_night" and fields["style_blend"] == ""  # what the browser sends too
    fields.update(size="48", iterations="3")
    fields["content"] = (io.BytesIO(png_bytes()), "photo.png")
    fields["style"] = (io.BytesIO(style_bytes()), "painting.jpg")
    response = client.post("/", data=fields, content_type="multipart/form-data")
    assert response.status_code == 303
    job_id = response.headers["Location"].rsplit("/", 1)[1]
    job = client.get(f"/api/jobs/{job_id}").json
    assert [s["name"] for s in job["styles"]] == [None]  # the upload alone, not blended with The Starry Night
    # Without an upload, the checked painting is the one used.
    fields = {**no_js_form(page), "size": "48", "iterations": "3", "content": (io.BytesIO(png_bytes()), "photo.png")}
    response = client.post("/", data=fields, content_type="multipart/form-data")
    job = client.get("/api" + response.headers["Location"]).json
    assert [s["name"] for s in job["styles"]] == ["starry_night"]


def test_the_api_still_blends_an_upload_with_a_named_painting(client: FlaskClient) -> None:
    response = client.post("/api/jobs", data=form(content=png_bytes(), style=style_bytes(), style_name="the_scream"))
    assert [s["name"] for s in response.json["styles"]] == [None, "the_scream"]


def test_cross_site_posts_to_the_pages_are_refused(app: Flask, client: FlaskClient) -> None:
    job_id = client.post("/api/jobs", data=form(content=png_bytes(), style_name="the_scream")).json["id"]
    evil = {"Origin": "https://evil.example"}
    response = client.post(f"/jobs/{job_id}/cancel", headers=evil)
    assert response.status_code == 403 and "another site" in response.get_data(as_text=True)
    assert client.get(f"/api/jobs/{job_id}").json["state"] == "queued"
    response = client.post("/", data=form(content=png_bytes(), style_name="the_scream"),
                           headers={"Referer": "https://evil.example/trap.html"})
    assert response.status_code == 403 and app.extensions["impasto"].store.counts() == {"queued": 1}
    same_site = {"Origin": "http://localhost", "Referer": f"http://localhost/jobs/{job_id}"}
    assert client.post(f"/jobs/{job_id}/cancel", headers=same_site).status_code == 303
    assert client.get(f"/api/jobs/{job_id}").json["state"] == "cancelled"


def test_a_full_queue_shows_the_form_again_with_retry_after(make_app) -> None:
    client = make_app(IMPASTO_QUEUE_LIMIT=1).test_client()
    assert client.post("/", data=form(content=png_bytes(), style_name="the_scream")).status_code == 303
    response = client.post("/", data=form(content=png_bytes(), style_name="the_scream", tv_weight="0.5"))
    assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
    html = response.get_data(as_text=True)
    assert "The queue is full (1 job waiting)" in html and field_value(html, "tv_weight") == "0.5"
