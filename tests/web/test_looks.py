"""Looks to share (issue #28, point 7): a look (preset and options, as JSON) is checked like a
submission's options by POST /api/looks/validate, and a submission's ``look`` field sets its
settings under the fields it sends; a bad value is a 400 naming the field, nothing stored."""

from __future__ import annotations

import json
from typing import Callable

from flask import Flask
from flask.testing import FlaskClient

from tests.web.conftest import form, nothing_stored, png_bytes

LOOK = {"impasto_look": 1, "preset": "strong-style", "options": {"size": 64, "iterations": 7, "preserve_colors": True,
                                                                  "style_scale": "1.5"}}


def validate(client: FlaskClient, look) -> object:
    return client.post("/api/looks/validate", data=json.dumps(look), content_type="application/json")


def test_a_look_comes_back_as_the_engine_reads_it(client: FlaskClient) -> None:
    answer = validate(client, LOOK)
    assert answer.status_code == 200
    assert answer.json == {"look": {"impasto_look": 1, "preset": "strong-style",
                                    "options": {"size": 64, "iterations": 7, "preserve_colors": True,
                                                "style_scale": 1.5}}}
    assert validate(client, {"impasto_look": 1}).json == {"look": {"impasto_look": 1, "preset": None, "options": {}}}


def test_bad_values_are_named_like_a_submissions(client: FlaskClient) -> None:
    answer = validate(client, {**LOOK, "options": {"tv_weight": -1, "style_weight": "lots"}})
    assert answer.status_code == 400 and set(answer.json["errors"]) == {"tv_weight", "style_weight"}  # every one
    assert answer.json["errors"]["style_weight"].startswith("style_weight must be a number")
    answer = validate(client, {**LOOK, "options": {"size": 5000}})  # this server's limit, as for a submission
    assert answer.json["errors"] == {"size": "size must be a whole number from 32 to 1024, got 5000"}
    assert answer.json["messages"]["size"] == "Size must be a whole number from 32 to 1024; you entered 5000"
    assert validate(client, {**LOOK, "preset": "loud"}).json["field"] == "preset"
    assert validate(client, {**LOOK, "options": {"brush": 3}}).json["field"] == "brush"
    assert validate(client, {**LOOK, "options": {"style_blend": [1, 2]}}).json["field"] == "style_blend"
    assert validate(client, {**LOOK, "impasto_look": 2}).json["field"] == "impasto_look"
    assert validate(client, {**LOOK, "pictures": []}).json["field"] == "pictures"
    assert validate(client, [1, 2]).json["field"] == "look"
    not_json = client.post("/api/looks/validate", data="{size: 3", content_type="application/json")
    assert not_json.status_code == 400 and not_json.json["error"].startswith("look: not JSON")
    as_form = client.post("/api/looks/validate", data={"look": "{}"})
    assert as_form.status_code == 415 and as_form.json["field"] == "look"


def test_a_submission_takes_a_look_under_its_own_fields(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    client = app.test_client()
    body = form(png_bytes(), style_name="the_scream", look=json.dumps(LOOK))
    body.pop("iterations")  # the look's 7 then; TINY's size 48 wins over the look's 64
    job = client.post("/api/jobs", data=body, content_type="multipart/form-data").json
    assert job["options"]["iterations"] == 7 and job["options"]["size"] == 48
    assert job["options"]["preserve_colors"] is True and job["options"]["style_scale"] == 1.5
    assert app.extensions["impasto"].store.get(job["id"]).meta["preset"] == "strong-style"


def test_a_submission_with_a_bad_look_stores_nothing(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    client = app.test_client()
    bad = form(png_bytes(), style_name="the_scream", look=json.dumps({**LOOK, "options": {"tv_weight": -1}}))
    answer = client.post("/api/jobs", data=bad, content_type="multipart/form-data")
    assert answer.status_code == 400 and answer.json["field"] == "tv_weight"
    broken = client.post("/api/jobs", data=form(png_bytes(), style_name="the_scream", look="[oops"),
                         content_type="multipart/form-data")
    assert broken.status_code == 400 and broken.json["field"] == "look"
    assert nothing_stored(app)
