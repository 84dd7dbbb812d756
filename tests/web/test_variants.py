"""Variants (issue 28, point 3): one submission as 2 to 6 jobs (by seed, preset or style weight), the
group as its owner sees it, the caps counting every variant, and "paint this one larger"."""

from __future__ import annotations

import re
from typing import Any, Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.web.conftest import form, nothing_stored, png_bytes, style_bytes


def send(client: FlaskClient, **fields: Any) -> Any:
    return client.post("/api/jobs", data=form(content=png_bytes(), style=style_bytes(), **fields),
                       content_type="multipart/form-data")


def test_variants_by_seed_make_a_group_of_jobs_with_seed_seed_plus_one(app: Flask, client: FlaskClient) -> None:
    response = send(client, variants="3", seed="41", init="noise")
    assert response.status_code == 202
    body = response.json
    group = body["group"]
    assert response.headers["Location"] == body["urls"]["group"] == f"/api/groups/{group}"
    assert body["urls"]["page"] == f"/groups/{group}"
    assert [job["options"]["seed"] for job in body["jobs"]] == [41, 42, 43]
    assert [job["variant"]["caption"] for job in body["jobs"]] == ["seed 41", "seed 42", "seed 43"]
    assert [job["variant"]["index"] for job in body["jobs"]] == [0, 1, 2]
    store = app.extensions["impasto"].store
    assert store.counts() == {"queued": 3}
    # every job has its own copy of the uploads: deleting one leaves the others whole
    first, second = body["jobs"][0]["id"], body["jobs"][1]["id"]
    assert store.get_file(first, "content.png") == store.get_file(second, "content.png") is not None
    listed = client.get(body["urls"]["group"])
    assert listed.status_code == 200 and [job["id"] for job in listed.json["jobs"]] == [j["id"] for j in body["jobs"]]
    assert all(job["state"] == "queued" for job in listed.json["jobs"])


def test_without_a_seed_the_group_starts_from_a_random_one(client: FlaskClient) -> None:
    seeds = [job["options"]["seed"] for job in send(client, variants="2", init="noise").json["jobs"]]
    assert seeds[0] is not None and seeds[1] == seeds[0] + 1 or seeds[1] == 0


def test_one_variant_is_one_job(client: FlaskClient) -> None:
    response = send(client, variants="1")
    assert response.status_code == 202 and "id" in response.json and response.json["variant"] is None


def test_from_the_photo_a_group_varies_the_style_weight_and_never_the_seed(client: FlaskClient) -> None:
    """The seed only draws a noise start: from the photo every seed would paint the same picture."""
    jobs = send(client, variants="3", style_weight="300", seed="9").json["jobs"]
    assert [job["options"]["style_weight"] for job in jobs] == [300.0, 600.0, 150.0]
    assert [job["options"]["seed"] for job in jobs] == [9, 9, 9]
    assert [job["variant"]["caption"] for job in jobs] == ["style weight 300.0", "style weight 600.0",
                                                           "style weight 150.0"]
    refused = send(client, variants="2", vary="seed")
    assert refused.status_code == 400 and "the seed only draws a noise start" in refused.json["errors"]["vary"]
    # the article's preset starts from noise: there the seed is what varies
    article = send(client, variants="2", preset="article", seed="3").json["jobs"]
    assert [job["options"]["seed"] for job in article] == [3, 4]


def test_variants_by_preset_and_by_style_weight_share_one_seed(client: FlaskClient) -> None:
    presets = send(client, vary="preset", variant_values="balanced, strong-style,keep-detail", seed="7").json["jobs"]
    assert [job["options"]["seed"] for job in presets] == [7, 7, 7]
    assert [job["options"]["style_weight"] for job in presets[:2]] == [100.0, 1000.0]
    assert [job["variant"]["value"] for job in presets] == ["balanced", "strong-style", "keep-detail"]
    weights = send(client, vary="style_weight", variant_values="10,1000", variants="2").json["jobs"]
    assert [job["options"]["style_weight"] for job in weights] == [10.0, 1000.0]
    assert weights[0]["options"]["seed"] == weights[1]["options"]["seed"] is not None


@pytest.mark.parametrize(("fields", "field", "said"), [
    ({"variants": "7"}, "variants", "variants must be a whole number from 1 to 6 (1: one picture), got 7"),
    ({"variants": "0"}, "variants", "from 1 to 6"),
    ({"variants": "two"}, "variants", "got 'two'"),
    ({"variants": "2", "vary": "colour"}, "vary", "vary must be one of seed, preset, style_weight, got 'colour'"),
    ({"vary": "preset", "variants": "2"}, "variant_values", "list one preset per variant"),
    ({"vary": "preset", "variant_values": "balanced,loud"}, "variant_values", "variant_values 2: unknown preset"),
    ({"vary": "style_weight", "variant_values": "10,-1"}, "variant_values", "variant_values 2: style_weight"),
    ({"vary": "style_weight", "variant_values": "10,20", "variants": "3"}, "variant_values", "lists 2 values"),
    ({"vary": "seed", "variant_values": ",".join("1234567")}, "variant_values", "from 2 to 6 values, got 7"),
    ({"variants": "2", "vary": "seed", "init": "content"}, "vary", "from the photo every seed paints the same"),
    ({"variants": "3", "seed": "-4"}, "seed", "seed"),
])
def test_bad_variant_fields_are_refused_by_name(app: Flask, client: FlaskClient, fields: dict[str, str],
                                                field: str, said: str) -> None:
    response = send(client, **fields)
    assert response.status_code == 400, response.json
    assert response.json["field"] == field and said in response.json["error"]
    assert nothing_stored(app)


def test_a_group_is_seen_only_by_its_owner(app: Flask, client: FlaskClient) -> None:
    client.get("/")
    group = send(client, variants="2").json["group"]
    stranger = app.test_client()
    stranger.get("/")
    assert stranger.get(f"/api/groups/{group}").status_code == 404
    assert stranger.get(f"/groups/{group}").status_code == 404
    assert app.test_client(use_cookies=False).get(f"/api/groups/{group}").status_code == 404
    assert client.get("/api/groups/nope").status_code == 404
    assert client.get(f"/groups/{group}").status_code == 200


def test_the_per_client_cap_counts_every_variant(make_app: Callable[..., Flask]) -> None:
    app = make_app(IMPASTO_MAX_QUEUED_PER_CLIENT=3)
    client = app.test_client()
    client.get("/")
    refused = send(client, variants="4")
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert refused.json["limit"] == 3
    assert "at most 3 jobs queued or running (IMPASTO_MAX_QUEUED_PER_CLIENT)" in refused.json["error"]
    assert nothing_stored(app)
    assert send(client).status_code == 202
    assert send(client, variants="3").status_code == 429  # 1 + 3 would pass 3: none of them stored
    assert app.extensions["impasto"].store.counts() == {"queued": 1}
    assert send(client, variants="2").status_code == 202


def test_the_queue_limit_counts_every_variant(make_app: Callable[..., Flask]) -> None:
    app = make_app(IMPASTO_QUEUE_LIMIT=4)
    client = app.test_client()
    assert send(client, variants="3").status_code == 202
    refused = send(client, variants="2")
    assert refused.status_code == 503 and "at most 4 waiting jobs (IMPASTO_QUEUE_LIMIT)" in refused.json["error"]
    assert app.extensions["impasto"].store.counts() == {"queued": 3}


def test_paint_this_one_larger_repaints_a_finished_variant_with_its_seed(make_app: Callable[..., Flask]) -> None:
    app = make_app(IMPASTO_MAX_SIZE=80)
    client = app.test_client()
    jobs = send(client, variants="2", seed="5", init="noise").json["jobs"]
    first = jobs[0]["id"]
    assert client.post(f"/api/jobs/{first}/larger").status_code == 400  # not done yet
    app.extensions["impasto"].dispatcher.run_all()
    group = client.get(f"/api/groups/{jobs[0]['variant']['group']}").json
    assert [job["state"] for job in group["jobs"]] == ["done", "done"]
    larger = client.post(group["jobs"][1]["urls"]["larger"])
    assert larger.status_code == 202
    assert larger.json["options"]["size"] == 80 and larger.json["options"]["seed"] == 6  # twice 48, at most 80
    assert larger.json["options"]["iterations"] == 3 and larger.json["variant"] is None
    strong = send(client, vary="preset", variant_values="strong-style,keep-detail").json["jobs"]
    app.extensions["impasto"].dispatcher.run_all()
    again = client.post(f"/api/jobs/{strong[0]['id']}/larger", data={"size": "64"}).json
    assert again["options"] == {**strong[0]["options"], "size": 64, "seed": strong[0]["options"]["seed"]}
    assert app.extensions["impasto"].store.get(again["id"]).meta["preset"] == "strong-style"
    store = app.extensions["impasto"].store
    assert store.get_file(larger.json["id"], "content.png") == store.get_file(first, "content.png")
    refused = client.post(f"/api/jobs/{first}/larger", data={"size": "40"})
    assert refused.status_code == 400 and refused.json["field"] == "size" and "from 49 to 80" in refused.json["error"]
    page = client.post(f"/jobs/{first}/larger")
    assert page.status_code == 303 and page.headers["Location"].startswith("/jobs/")


def test_the_form_without_javascript_goes_to_the_contact_sheet(app: Flask, client: FlaskClient) -> None:
    client.get("/")
    response = client.post("/", data=form(content=png_bytes(), style=style_bytes(), variants="2"),
                           content_type="multipart/form-data")
    assert response.status_code == 303 and response.headers["Location"].startswith("/groups/")
    sheet = client.get(response.headers["Location"])
    assert sheet.status_code == 200 and sheet.text.count('class="variant-cell"') == 2
    first = re.search(r'href="(/jobs/[^"]+)"', sheet.text).group(1)
    job_page = client.get(first).text
    assert "Variant 1 of 2" in job_page and response.headers["Location"] in job_page  # the way back to the sheet
    assert "Variant 1 of 2" not in app.test_client().get(first).text  # a shared link: no sheet to go back to
    refused = client.post("/", data=form(content=png_bytes(), style=style_bytes(), variants="9"),
                          content_type="multipart/form-data")
    assert refused.status_code == 400 and "Variants" in refused.text and "9" in refused.text


def test_the_rate_limit_counts_every_variant(make_app: Callable[..., Flask]) -> None:
    app = make_app(IMPASTO_RATE_LIMIT="3/minute")
    client = app.test_client()
    assert send(client, variants="2").status_code == 202  # two of the minute's three submissions
    refused = send(client, variants="2")  # one would fit, two do not
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert "at most 3 per 1 minute from one client (IMPASTO_RATE_LIMIT)" in refused.json["error"]
    assert app.extensions["impasto"].store.counts() == {"queued": 2}
