"""Canvases over the limits are refused from the header, on every route and in every image field.

A few dozen bytes can declare a canvas of gigabytes (tests/hostile_files.py). Each is sent as the
photo, the painting, the start image and the mask, to the probe, the API and the page without
JavaScript: each gets a 4xx whose message names the field, the limit and the value, nothing is
stored, and a process's peak memory rises by at most PEAK_RISE_MIB for any one of them (measured
in a fresh process, tests/web/peak_memory.py). Before the fix, the GIF and WebP canvases sent as the
photo got 500s, and the animated ones that passed Pillow's own limit were decoded before they were
measured: 0.7 GB for the GIF whose second frame is 12000×12000, 2.2 GB for the 12000×12000 WebP;
and a still GIF sent as a picture, whose only frame is 9000×9000, made Pillow's GIF reader allocate
77 MiB as it opened the file, before its format was refused.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from PIL import Image

from tests.conftest import ROOT
from tests.hostile_files import HOSTILE
from tests.web.conftest import nothing_stored, png_bytes, style_bytes

PEAK_RISE_MIB = 16  # the most one hostile request may raise a process's peak resident memory
PIXELS = "over the limit of 40,000,000 pixels"  # IMPASTO_MAX_PIXELS' default
CLIP_SIDE = "at most 1920 px on the longest side (IMPASTO_MAX_CLIP_SIDE)"
# As a picture a GIF is refused by its format before Pillow's GIF reader opens it.
GIF_PICTURE = (400, "GIF images are not supported", "accepted: JPEG, PNG, WebP, BMP, TIFF")

# (file, field) -> (status, what the message says: the value, then the limit). As the photo, an
# animated GIF or WebP is a clip, judged by the clip limits; every other upload is a picture.
PICTURE = {
    "PNG 100000×100000": (413, "declares 10,000,000,000 pixels", PIXELS),
    "APNG 100000×100000": (413, "declares 10,000,000,000 pixels", PIXELS),
    "GIF screen 65535×65535": GIF_PICTURE,
    "GIF frame 2 12000×12000": GIF_PICTURE,
    "still GIF 9000×9000": GIF_PICTURE,
    "animated WebP 16384×16384": (413, "16384×16384 = 268,435,456 pixels", PIXELS),
    "animated WebP 12000×12000": (413, "12000×12000 = 144,000,000 pixels", PIXELS),
    "still WebP 16384×16384": (413, "16384×16384 = 268,435,456 pixels", PIXELS),
}
AS_PHOTO = {
    **PICTURE,
    "GIF screen 65535×65535": (400, "the clip is 65535×65535 px", CLIP_SIDE),
    "GIF frame 2 12000×12000": (400, "the clip is 12000×12000 px", CLIP_SIDE),
    "animated WebP 16384×16384": (400, "the clip is 16384×16384 px", CLIP_SIDE),
    "animated WebP 12000×12000": (400, "the clip is 12000×12000 px", CLIP_SIDE),
}
# The probe looks at a picture's size only: a still GIF is a picture to it ({"clip": false}), and
# is refused by its format when it is sent.
AS_PROBE = {**AS_PHOTO, "still GIF 9000×9000": (200, "", "")}
FIELDS = ("content", "style", "init_image", "mask")
CASES = [(name, field) for name in PICTURE for field in FIELDS]


def _form(field: str, data: bytes) -> dict[str, Any]:
    return {"size": "48", "iterations": "2", "content": (io.BytesIO(png_bytes()), "photo.png"),
            "style": (io.BytesIO(style_bytes()), "painting.jpg"), field: (io.BytesIO(data), "upload.bin")}


@pytest.fixture
def app(make_app) -> Flask:
    return make_app(IMPASTO_RATE_LIMIT="off", IMPASTO_PROBE_RATE_LIMIT="off")


@pytest.mark.parametrize("name, field", CASES, ids=[f"{name} as {field}" for name, field in CASES])
def test_a_canvas_over_the_limits_is_refused_from_its_header(app: Flask, client: FlaskClient, name: str,
                                                             field: str) -> None:
    status, value, limit = (AS_PHOTO if field == "content" else PICTURE)[name]
    api = client.post("/api/jobs", data=_form(field, HOSTILE[name]), content_type="multipart/form-data")
    assert api.status_code == status, api.get_json()
    message = api.json["errors"][field]
    assert message.startswith(f"{field}: ") and value in message and limit in message, message
    assert str(app.config["IMPASTO_DATA_DIR"]) not in api.get_data(as_text=True)
    page = client.post("/", data=_form(field, HOSTILE[name]), content_type="multipart/form-data")
    assert page.status_code == status and str(escape(api.json["messages"][field])) in page.get_data(as_text=True)
    assert nothing_stored(app)


@pytest.mark.parametrize("name", list(PICTURE))
def test_the_probe_refuses_it_too(app: Flask, client: FlaskClient, name: str) -> None:
    status, value, limit = AS_PROBE[name]
    probe = client.post("/api/probe", data={"content": (io.BytesIO(HOSTILE[name]), "upload.bin")},
                        content_type="multipart/form-data")
    assert probe.status_code == status
    if status == 200:
        assert probe.json == {"clip": False}
    else:
        assert probe.json["field"] == "content" and value in probe.json["error"] and limit in probe.json["error"]
    assert nothing_stored(app)


def test_a_tiff_is_its_first_page(app: Flask, client: FlaskClient) -> None:
    """The huge second page of a TIFF is never decoded: the photo is the 8×8 first page."""
    response = client.post("/api/jobs", data=_form("content", HOSTILE["TIFF page 2 100000×100000"]),
                           content_type="multipart/form-data")
    assert response.status_code == 202, response.get_json()
    stored = app.extensions["impasto"].store.get_file(response.json["id"], "content.png")
    assert Image.open(io.BytesIO(stored)).size == (8, 8)


def test_no_hostile_upload_raises_the_peak_memory_by_more_than_the_bound(tmp_path) -> None:
    """Every file, field and route in a fresh process: each request's rise of the peak resident memory."""
    run = subprocess.run([sys.executable, "-m", "tests.web.peak_memory", str(tmp_path / "data")], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(rows) == len(HOSTILE) * 9  # the probe, and four fields on the API and on the page
    assert all(row["status"] < 500 for row in rows), [row for row in rows if row["status"] >= 500]
    worst = max(rows, key=lambda row: row["rise_kib"])
    print(f"\nworst rise of the peak: {worst['rise_kib']} KiB ({worst['file']}, {worst['field']}, {worst['route']})")
    assert worst["rise_kib"] <= PEAK_RISE_MIB * 1024, worst
