"""Transparency through the web: an RGBA photo's alpha is stored, kept in the result PNG, and the
JPEG download is on white with a note (header and page)."""

from __future__ import annotations

import io

import numpy as np
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from impasto.nst.images import encode_image
from tests.engine.test_transparency import rgba_photo
from tests.web.conftest import form, style_bytes


def test_rgba_photo_round_trips_through_the_api(app: Flask, client: FlaskClient) -> None:
    rgba = rgba_photo()
    body = client.post("/api/jobs", data=form(content=encode_image(rgba, "PNG"), style=style_bytes()),
                       content_type="multipart/form-data").json
    stored = Image.open(io.BytesIO(client.get(body["urls"]["content"]).data))
    assert stored.mode == "RGBA" and np.array_equal(np.asarray(stored)[:, :, 3], rgba[:, :, 3])
    assert app.extensions["impasto"].dispatcher.run_next() == body["id"]
    done = client.get(f"/api/jobs/{body['id']}").json
    assert done["summary"]["transparent"] is True
    png = client.get(done["urls"]["result"])
    result = Image.open(io.BytesIO(png.data))
    assert result.mode == "RGBA" and result.size == (48, 36)
    assert np.asarray(result)[:, :14, 3].max() < 8 and np.asarray(result)[12:, 20:, 3].min() > 247
    assert "X-Impasto-Note" not in png.headers
    jpeg = client.get(done["urls"]["result_jpeg"])
    assert "transparency" in jpeg.headers["X-Impasto-Note"]
    assert np.asarray(Image.open(io.BytesIO(jpeg.data)))[12:, :14].mean() > 240  # on white
    page = client.get(f"/jobs/{body['id']}").get_data(as_text=True)
    assert 'id="transparency-note"' in page


def test_opaque_photo_has_no_note(app: Flask, client: FlaskClient) -> None:
    body = client.post("/api/jobs", data=form(content=encode_image(rgba_photo()[:, :, :3]), style=style_bytes()),
                       content_type="multipart/form-data").json
    app.extensions["impasto"].dispatcher.run_next()
    done = client.get(f"/api/jobs/{body['id']}").json
    assert done["summary"]["transparent"] is False
    assert "X-Impasto-Note" not in client.get(done["urls"]["result_jpeg"]).headers
    assert 'id="transparency-note"' not in client.get(f"/jobs/{body['id']}").get_data(as_text=True)
