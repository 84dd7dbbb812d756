"""Masks through the API: repeated ``mask`` files, checked, stored as grey PNGs the photo's size,
used by the job; every bad mask a 400 naming the field, with nothing stored."""

from __future__ import annotations

import io

import numpy as np
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from impasto.nst.images import encode_image
from tests.conftest import gradient_image
from tests.web.conftest import form, nothing_stored, png_bytes, style_bytes, upload


def mask_bytes(height: int = 24, width: int = 32, keep_left: bool = True) -> bytes:
    mask = np.full((height, width), 255, np.uint8)
    mask[:, : width // 2] = 0 if keep_left else 255
    return encode_image(mask, "PNG")


def post(client: FlaskClient, *masks: bytes, **fields):
    body = form(content=png_bytes(), style=style_bytes(), size="64", **fields)
    if masks:
        body["mask"] = [upload(m, f"mask{i}.png") for i, m in enumerate(masks)]
    return client.post("/api/jobs", data=body, content_type="multipart/form-data")


def test_mask_is_stored_at_the_photo_size_and_used(app: Flask, client: FlaskClient) -> None:
    response = post(client, mask_bytes())
    assert response.status_code == 202, response.json
    body = response.json
    mask_url = body["styles"][0]["mask"]
    stored = Image.open(io.BytesIO(client.get(mask_url).data))
    assert stored.mode == "L" and stored.size == (64, 48)
    assert np.asarray(stored)[:, :30].max() == 0 and np.asarray(stored)[:, 34:].min() == 255
    assert app.extensions["impasto"].dispatcher.run_next() == body["id"]
    result = np.asarray(Image.open(io.BytesIO(client.get(f"/api/jobs/{body['id']}/result").data))).astype(int)
    assert np.abs(result[:, :28] - gradient_image(48, 64)[:, :28]).mean() < 1.0  # black: the photo
    # "Again" with the same paintings keeps the masks.
    again = client.post("/api/jobs", data={"source_job": body["id"], "size": "64", "iterations": "3"},
                        content_type="multipart/form-data").json
    assert again["styles"][0]["mask"] and client.get(again["styles"][0]["mask"]).data == client.get(mask_url).data


def test_no_mask_no_mask_url(client: FlaskClient) -> None:
    assert post(client).json["styles"][0]["mask"] is None


def test_bad_masks_are_400_and_store_nothing(app: Flask, client: FlaskClient) -> None:
    cases = [
        ((b"not a picture",), "mask: not a readable image"),
        ((mask_bytes(), mask_bytes()), "2 mask(s) for 1 painting(s)"),
        ((mask_bytes(40, 40),), "draw the mask on this photo"),
    ]
    for masks, message in cases:
        response = post(client, *masks)
        assert response.status_code == 400 and response.json["field"] == "mask", response.json
        assert message in response.json["error"]
        assert "/" not in response.json["error"].replace("mask(s)", "").replace("painting(s)", "")  # no paths
    response = post(client, mask_bytes(), preset="article")
    assert response.status_code == 400 and "normalization 'gatys'" in response.json["errors"]["mask"]
    assert nothing_stored(app)
