"""The artistic controls through the API and the page: several paintings with a blend, a start
image of one's own, style scale and photo colours, the seed, presets, and "again" for all of them.

Jobs that must reach the engine run inline with untrained weights at 48 px and 3 iterations; a spy
on ``stylize`` records what the engine was given."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient

from impasto.nst.images import encode_image, load_image
from impasto.nst.options import MAX_STYLES, Options
from impasto.nst.presets import apply_preset
from impasto.styles import catalog
from tests.conftest import stripes_image
from tests.dispatch import Inline
from tests.web.conftest import TINY, no_js_form, nothing_stored, png_bytes, style_bytes, upload

OLD_STORE = Path(__file__).resolve().parents[1] / "fixtures" / "store-v0"


@pytest.fixture
def engine_calls(monkeypatch) -> list[dict[str, Any]]:
    """Every stylize call of the jobs run meanwhile: its styles, options and start image."""
    import impasto.nst.engine

    real = impasto.nst.engine.stylize
    calls: list[dict[str, Any]] = []

    def spy(content, style, *, options, init_image=None, **kwargs):
        calls.append({"styles": style, "options": options, "init_image": init_image})
        return real(content, style, options=options, init_image=init_image, **kwargs)

    monkeypatch.setattr(impasto.nst.engine, "stylize", spy)
    return calls


@pytest.fixture
def inline(make_app) -> Flask:
    return make_app(DISPATCHER=Inline)


def post(client: FlaskClient, fields: dict[str, Any], url: str = "/api/jobs"):
    return client.post(url, data={**TINY, **fields}, content_type="multipart/form-data")


def stored(app: Flask, job_id: str, name: str) -> bytes | None:
    return app.extensions["impasto"].store.get_file(job_id, name)


def pixels(data: bytes) -> np.ndarray:
    return load_image(data, name="test").astype(int)


# -- several paintings --------------------------------------------------------------------------

def test_two_paintings_with_a_blend_reach_the_engine(inline: Flask, engine_calls) -> None:
    client = inline.test_client()
    mine = encode_image(stripes_image(), "PNG")
    response = post(client, {"content": upload(png_bytes(), "photo.png"), "style": upload(mine, "mine.png"),
                             "style_name": "the_scream", "style_blend": "3,1", "seed": "5"})
    assert response.status_code == 202, response.json
    job = client.get(response.json["urls"]["self"]).json
    assert job["state"] == "done", job["error"]
    assert job["options"]["style_blend"] == [3.0, 1.0] and job["seed"] == 5
    # Uploads first, then built-ins: style.png is the upload, style_2.png The Scream.
    assert [(s["name"], s["weight"]) for s in job["styles"]] == [(None, 0.75), ("the_scream", 0.25)]
    assert np.array_equal(pixels(stored(inline, job["id"], "style.png")), stripes_image())
    # The Scream is referenced by name and hash, not copied into the job; its URL serves the file.
    assert stored(inline, job["id"], "style_2.png") is None
    assert client.get(job["styles"][1]["url"]).data == catalog()["the_scream"].read()
    (call,) = engine_calls
    assert len(call["styles"]) == 2 and call["options"].style_blend == (3.0, 1.0)
    assert np.array_equal(call["styles"][0], stripes_image())
    scream = call["styles"][1]  # loaded by name, keyed for the style-target cache by name and hash
    assert scream.key == f"builtin:the_scream:{catalog()['the_scream'].sha256}"
    assert scream.pixels.shape[:2] == catalog()["the_scream"].shape
    page = client.get(job["urls"]["page"]).get_data(as_text=True)
    assert page.count('class="painting"') == 2 and "75 %" in page and "25 %" in page
    assert "The Scream, Edvard Munch (1893)" in page and f"seed {job['seed']}" in page


def test_repeated_built_in_names_blend_equally(app: Flask, client: FlaskClient) -> None:
    response = post(client, {"content": upload(png_bytes()), "style_name": ["starry_night", "shipwreck"]})
    assert response.status_code == 202
    body = response.json
    assert [s["name"] for s in body["styles"]] == ["starry_night", "shipwreck"]
    assert [s["weight"] for s in body["styles"]] == [0.5, 0.5] and body["options"]["style_blend"] == []
    job = app.extensions["impasto"].store.get(body["id"])
    assert not any(name.startswith("style") for name in job.files)  # built-ins: referenced, never copied
    assert job.meta["style_names"] == ["starry_night", "shipwreck"]


@pytest.mark.parametrize("names, blend, expected", [
    (["starry_night", "the_scream"], "1,2,3", "style_blend has 3 weights for 2 style images"),
    (["starry_night", "the_scream"], "0,0", "must not all be 0"),
    (["starry_night"], "1,2", "style_blend has 2 weights for 1 style image;"),
    (["starry_night", "the_scream"], "1,-2", "style_blend must be a comma-separated list from 0 to 1000"),
])
def test_bad_blend_is_400_naming_style_blend(app: Flask, client: FlaskClient, names, blend, expected) -> None:
    response = post(client, {"content": upload(png_bytes()), "style_name": names, "style_blend": blend})
    assert response.status_code == 400
    assert response.json["field"] == "style_blend" and expected in response.json["error"]
    assert nothing_stored(app)


def test_more_paintings_than_allowed_is_400(app: Flask, client: FlaskClient) -> None:
    uploads = [upload(style_bytes(), f"p{n}.jpg") for n in range(MAX_STYLES - 1)]
    response = post(client, {"content": upload(png_bytes()), "style": uploads,
                             "style_name": ["starry_night", "the_scream"]})
    assert response.status_code == 400 and response.json["field"] == "style"
    assert f"{MAX_STYLES + 1} paintings given; at most {MAX_STYLES}" in response.json["error"]
    assert nothing_stored(app)


def test_a_bad_second_painting_names_its_number(app: Flask, client: FlaskClient) -> None:
    response = post(client, {"content": upload(png_bytes()), "style": [upload(style_bytes()), upload(b"junk")]})
    assert response.status_code == 400 and response.json["field"] == "style"
    assert response.json["error"].startswith("style 2: not a readable image")
    assert nothing_stored(app)


# -- a start image of one's own -----------------------------------------------------------------

def test_start_image_is_stored_and_used(inline: Flask, engine_calls) -> None:
    # With every weight 0 the loss is flat: the result is the start image itself.
    start = stripes_image(36, 48)  # the photo's size at 48 px
    client = inline.test_client()
    response = post(client, {"content": upload(png_bytes(48, 64)), "style_name": "shipwreck", "init": "image",
                             "init_image": upload(encode_image(start, "PNG"), "start.png"),
                             "content_weight": "0", "style_weight": "0", "tv_weight": "0"})
    assert response.status_code == 202, response.json
    job = client.get(response.json["urls"]["self"]).json
    assert job["state"] == "done", job["error"]
    assert job["options"]["init"] == "image" and "init" in job["urls"]
    assert np.array_equal(pixels(stored(inline, job["id"], "init.png")), start)
    assert np.array_equal(engine_calls[0]["init_image"], start)
    result = pixels(client.get(job["urls"]["result"]).data)
    assert result.shape == start.shape and np.abs(result - start).max() <= 1
    assert "Started from this image" in client.get(job["urls"]["page"]).get_data(as_text=True)


def test_start_image_implies_init_image_and_other_inits_refuse_it(app: Flask, client: FlaskClient) -> None:
    start = upload(png_bytes(20, 30), "start.png")
    body = post(client, {"content": upload(png_bytes()), "style_name": "shipwreck", "init_image": start}).json
    assert body["options"]["init"] == "image" and stored(app, body["id"], "init.png") is not None
    response = post(client, {"content": upload(png_bytes()), "style_name": "shipwreck", "init": "noise",
                             "init_image": upload(png_bytes(20, 30))})
    assert response.status_code == 400 and response.json["field"] == "init_image"
    assert "only used with init=image" in response.json["error"]


@pytest.mark.parametrize("data, status, expected", [
    (b"not a picture", 400, "init_image: not a readable image"),
    (png_bytes()[:100], 400, "init_image:"),
    (png_bytes(200, 200), 413, "over the limit"),
])
def test_bad_start_image_is_refused_and_nothing_stored(make_app, data: bytes, status: int, expected: str) -> None:
    app = make_app(IMPASTO_MAX_PIXELS=20_000)
    response = post(app.test_client(), {"content": upload(png_bytes()), "style_name": "shipwreck", "init": "image",
                                        "init_image": upload(data, "start.png")})
    assert response.status_code == status
    assert response.json["field"] == "init_image" and expected in response.json["error"]
    assert nothing_stored(app)


# -- style scale, photo colours, presets --------------------------------------------------------

def test_style_scale_and_photo_colours_from_the_page_reach_the_engine(inline: Flask, engine_calls) -> None:
    client = inline.test_client()
    response = post(client, {"content": upload(png_bytes()), "style_name": "starry_night", "style_scale": "2.5",
                             "preserve_colors": ["0", "1"], "init": "content"}, url="/")
    assert response.status_code == 303
    job_id = response.headers["Location"].rsplit("/", 1)[1]
    job = client.get(f"/api/jobs/{job_id}").json
    assert job["state"] == "done" and job["options"]["style_scale"] == 2.5 and job["options"]["preserve_colors"]
    options = engine_calls[0]["options"]
    assert options.style_scale == 2.5 and options.preserve_colors
    again = client.get(job["urls"]["again"]).get_data(as_text=True)
    assert 'id="f-style_scale" name="style_scale" value="2.5"' in again
    assert re.search(r'id="f-preserve_colors" name="preserve_colors" value="1" checked', again)


def test_each_preset_button_sets_every_knob_of_its_preset(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    presets = json.loads(re.search(r'<script type="application/json" id="preset-data">(.*?)</script>',
                                   html, re.S).group(1))
    for preset in presets:
        # What the page sends after a click: the preset's name and the values it put in the controls.
        fields = {name: ("" if value is None else ",".join(value) if isinstance(value, list) else str(value))
                  for name, value in preset["values"].items()}
        fields.update(size="48", iterations="3", preset=preset["name"], style_blend="")
        response = post(client, {"content": upload(png_bytes()), "style_name": "shipwreck", **fields})
        assert response.status_code == 202, response.json
        expected = apply_preset(Options(), preset["name"]).replace(size=48, iterations=3).to_dict()
        assert response.json["options"] == expected, preset["name"]


# -- again with the same settings ---------------------------------------------------------------

def test_again_prefills_both_paintings_the_blend_the_seed_and_the_start_image(app: Flask,
                                                                            client: FlaskClient) -> None:
    created = post(client, {"content": upload(png_bytes()), "style": upload(style_bytes(), "mine.jpg"),
                            "style_name": "the_scream", "style_blend": "1,3", "seed": "11",
                            "init_image": upload(png_bytes(30, 40), "start.png")}).json
    again = client.get(created["urls"]["again"]).get_data(as_text=True)
    assert f'data-earlier="{created["styles"][0]["url"]}" data-earlier-name=""' in again
    assert f'data-earlier="{created["styles"][1]["url"]}" data-earlier-name="the_scream"' in again
    assert '<div class="second" id="second-style" >' in again  # the second painting is shown
    assert 'name="style_blend" id="style-blend" value="1.0,3.0"' in again
    assert re.search(r'id="blend" min="0" max="100" step="5" value="75"', again)
    assert 'value="11"' in again and 'value="image" checked' in again and "earlier job's start image" in again
    # Submitted untouched, it repeats the job: same options, same paintings and start image.
    repeat = post(client, no_js_form(again))
    assert repeat.status_code == 202, repeat.json
    body = repeat.json
    assert body["options"] == created["options"] and body["seed"] == 11
    assert [s["name"] for s in body["styles"]] == [None, "the_scream"]
    for name in ("content.png", "style.png", "style_2.png", "init.png"):
        assert stored(app, body["id"], name) == stored(app, created["id"], name), name


def test_again_from_a_job_with_one_painting_keeps_the_page_simple(client: FlaskClient) -> None:
    created = post(client, {"content": upload(png_bytes()), "style_name": "starry_night"}).json
    again = client.get(created["urls"]["again"]).get_data(as_text=True)
    assert '<div class="second" id="second-style" hidden>' in again
    assert again.count("data-earlier=") == 1


def test_a_job_from_before_blending_shows_its_painting_after_the_upgrade(make_app, tmp_path: Path) -> None:
    """A data dir kept from before versioning (tests/fixtures/store-v0): its job from before
    blending named one built-in painting as meta.style_name; after the upgrade it shows it."""
    data = tmp_path / "old-data"
    shutil.copytree(OLD_STORE / "sqlite", data)
    job_id = json.loads((OLD_STORE / "sqlite-ids.json").read_text())["done_before_blending"]
    client = make_app(IMPASTO_DATA_DIR=str(data)).test_client()  # kept: no retention by default
    body = client.get(f"/api/jobs/{job_id}").json
    assert [(s["name"], s["weight"]) for s in body["styles"]] == [("starry_night", 1.0)]
    assert catalog()["starry_night"].credit in client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert client.get(body["urls"]["result"]).data.startswith(b"\x89PNG")
    assert client.get(body["urls"]["again"]).status_code == 200
