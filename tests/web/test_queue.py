"""Your queue (issue #28, point 1): GET /api/queue lists the caller's jobs waiting and running (this
browser's, or this token's), running first, with the place in the queue and where each stands in
words; nobody else's. The studio page shows the same as "Your queue", with Cancel for a waiting job."""

from __future__ import annotations

from typing import Callable

from flask import Flask

from impasto.jobs.store import CANCELLED, QUEUED, RUNNING
from tests.web.conftest import form, png_bytes


def submit(client, **fields) -> str:
    return client.post("/api/jobs", data=form(png_bytes(), style_name="the_scream", **fields),
                       content_type="multipart/form-data").json["id"]


def test_the_queue_lists_only_the_callers_jobs_under_way_with_their_places(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    mine, theirs = app.test_client(), app.test_client()
    assert mine.get("/api/queue").json == {"jobs": []}  # no cookie yet: nothing, and no error
    first = submit(mine)
    submit(theirs)  # another browser's job sits between mine in the one queue
    second = submit(mine)
    jobs = mine.get("/api/queue").json["jobs"]
    assert [(j["id"], j["state"], j["queue_position"]) for j in jobs] == [(first, QUEUED, 1), (second, QUEUED, 3)]
    assert jobs[0]["said"].startswith("Waiting: next in line, starts in ")
    assert jobs[1]["said"].startswith("Waiting: 2 jobs ahead, starts in ")
    assert jobs[0]["title"] == "The Scream" and jobs[0]["urls"]["cancel"].endswith(f"/api/jobs/{first}/cancel")
    assert [j["id"] for j in theirs.get("/api/queue").json["jobs"]] != [first, second]

    store = app.extensions["impasto"].store
    assert store.claim("test-worker", 1, first).state == RUNNING
    assert store.update_progress(first, "test-worker", {"iteration": 4, "total": 10})
    jobs = mine.get("/api/queue").json["jobs"]
    assert [(j["id"], j["state"]) for j in jobs] == [(first, RUNNING), (second, QUEUED)]
    assert jobs[0]["said"] == "Painting: 40 % (4 of 10 iterations)"
    assert jobs[1]["said"].startswith("Waiting: 1 job ahead")

    assert mine.post(jobs[1]["urls"]["cancel"]).json["state"] == CANCELLED
    assert [j["id"] for j in mine.get("/api/queue").json["jobs"]] == [first]  # finished ones leave the queue


def test_an_api_token_sees_its_own_queue(make_app: Callable[..., Flask]) -> None:
    from impasto.jobs import tokens

    app = make_app()
    store = app.extensions["impasto"].store
    secret, digest = tokens.new_token()
    assert store.add_token("script", digest)
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    job = submit(api)
    assert [j["id"] for j in api.get("/api/queue").json["jobs"]] == [job]
    assert app.test_client().get("/api/queue").json["jobs"] == []


def test_the_studio_page_shows_your_queue_with_cancel_for_a_waiting_job(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    client = app.test_client()
    empty = client.get("/").text.split('id="queue"', 1)[1].split(">", 1)[0]
    assert "hidden" in empty  # nothing under way: no queue shown
    job = submit(client)
    page = client.get("/").text
    section = page.split('id="queue"', 1)[1].split("</section>", 1)[0]
    assert "hidden" not in section.split(">", 1)[0]
    assert "Waiting: next in line" in section and f'action="/jobs/{job}/cancel"' in section
    # Without JavaScript the Cancel button posts the form: the job is cancelled, its page shown.
    answer = client.post(f"/jobs/{job}/cancel")
    assert answer.status_code == 303
    assert 'data-id="' not in client.get("/").text.split('id="queue"', 1)[1].split("</section>", 1)[0]


def test_the_history_says_whose_pictures_it_lists(make_app: Callable[..., Flask]) -> None:
    page = make_app().test_client().get("/history").text
    assert "Your pictures and clips in this browser" in page and "on this server" not in page.split("<footer")[0]
    assert "kept until you delete them" in page
    assert "deleted 7 days after they end" in make_app(IMPASTO_RETENTION_DAYS=7).test_client().get("/history").text
