"""A clip as the content, through the API and the pages: accepted formats, every refusal (400, nothing
stored), what a clip cannot have (masks, a start image), limits and ownership as for pictures."""

from __future__ import annotations

import io
from typing import Any

import av
import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from impasto.jobs.store import frame_files
from impasto.nst.clip_metadata import without_metadata
from impasto.nst.clips import ClipLimits, container_kind, probe_clip
from tests.clips import TAG_TEXTS, TAGS, audio_only_mp4, corrupt_mp4, tagged_clip, truncated, video_bytes
from tests.web.conftest import nothing_stored, png_bytes, style_bytes

MIMETYPES = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm", "gif": "image/gif",
             "webp": "image/webp"}


def clip_form(data: bytes, name: str = "clip.mp4", **fields: Any) -> dict[str, Any]:
    return {"size": "48", "iterations": "2", "content": (io.BytesIO(data), name),
            "style": (io.BytesIO(style_bytes()), "painting.jpg"), **fields}


def post(client: FlaskClient, body: dict[str, Any]):
    return client.post("/api/jobs", data=body, content_type="multipart/form-data")


@pytest.mark.parametrize("fmt", ["mp4", "mov", "webm", "gif", "webp"])
def test_a_clip_is_accepted_and_stored_without_its_metadata(app: Flask, client: FlaskClient, fmt: str) -> None:
    data = video_bytes(fmt, frames=4)
    response = post(client, clip_form(data, f"clip.{fmt}"))
    assert response.status_code == 202, response.json
    job = response.json
    assert job["clip"]["frames"] == 4 and (job["clip"]["width"], job["clip"]["height"]) == (64, 48)
    assert job["clip"]["container"] == fmt
    assert job["progress"]["frame"] == 0 and job["progress"]["frames"] == 4
    store = app.extensions["impasto"].store
    stored = store.get(job["id"])
    assert set(stored.files) == {"content.clip", "poster.jpg", "style.png"}
    stored_clip = store.get_file(job["id"], "content.clip")
    assert stored_clip == without_metadata(data, fmt)  # the clip as sent, its tracks copied untouched
    content = client.get(job["urls"]["content"])
    assert content.status_code == 200 and content.data == stored_clip and content.mimetype == MIMETYPES[fmt]
    poster = client.get(job["urls"]["poster"])
    assert poster.mimetype == "image/jpeg" and Image.open(io.BytesIO(poster.data)).size == (64, 48)
    assert "result" not in job["urls"]


@pytest.mark.parametrize("fmt", ["mov", "webp"])
def test_a_clip_stored_before_clips_lost_their_metadata_is_served_without_it(app: Flask, client: FlaskClient,
                                                                            fmt: str) -> None:
    """A job from an earlier version holds the clip as it was sent: it is stripped as it is served,
    and what is stored stays as it was."""
    data = tagged_clip(fmt)
    store = app.extensions["impasto"].store
    job = store.create({"size": 48}, {"content.clip": data, "poster.jpg": b"p"},
                       meta={"clip": probe_clip(data, ClipLimits(10, 10, 512)).to_dict()})
    served = client.get(f"/api/jobs/{job.id}/content")
    assert served.status_code == 200 and served.mimetype == MIMETYPES[fmt]
    assert served.data == without_metadata(data, fmt) and not_tagged(served.data)
    again = client.get(f"/api/jobs/{job.id}/content", headers={"If-None-Match": served.headers["ETag"]})
    assert again.status_code == 304  # stripped the same way each time: one ETag
    assert store.get_file(job.id, "content.clip") == data


def test_a_still_webp_stays_a_picture(app: Flask, client: FlaskClient) -> None:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(out, format="WEBP")
    response = post(client, clip_form(out.getvalue(), "still.webp"))
    assert response.status_code == 202
    assert response.json["clip"] is None and "frames" not in response.json["progress"]
    assert "content.png" in app.extensions["impasto"].store.get(response.json["id"]).files


BAD_CLIPS = {
    "not a video": (lambda: b"just some text, not a film", "clip.mp4", {}, "is not a video"),
    "corrupt container": (corrupt_mp4, "clip.mp4", {}, "container is corrupt"),
    "truncated": (lambda: truncated(video_bytes("mp4", frames=12)), "clip.mp4", {}, "corrupt or truncated"),
    "no frames": (audio_only_mp4, "sound.mp4", {}, "has no frames"),
    "too many frames": (lambda: video_bytes("mp4", frames=6), "clip.mp4", {"IMPASTO_MAX_CLIP_FRAMES": 5},
                        "more than 5 frames; at most 5 (IMPASTO_MAX_CLIP_FRAMES)"),
    "too long": (lambda: video_bytes("webm", frames=6, fps=4), "clip.webm", {"IMPASTO_MAX_CLIP_SECONDS": 1},
                 "1.5 s long; at most 1 s (IMPASTO_MAX_CLIP_SECONDS)"),
    "too large": (lambda: video_bytes("mp4", frames=2), "clip.mp4", {"IMPASTO_MAX_CLIP_SIDE": 48},
                  "64×48 px; at most 48 px on the longest side (IMPASTO_MAX_CLIP_SIDE)"),
    "gif too many frames": (lambda: video_bytes("gif", frames=6), "clip.gif", {"IMPASTO_MAX_CLIP_FRAMES": 5},
                            "at most 5 (IMPASTO_MAX_CLIP_FRAMES)"),
}


@pytest.mark.parametrize("case", list(BAD_CLIPS))
def test_every_bad_clip_is_a_400_naming_the_problem_and_stores_nothing(make_app, case: str) -> None:
    make, name, settings, expected = BAD_CLIPS[case]
    app = make_app(**settings)
    response = post(app.test_client(), clip_form(make(), name))
    assert response.status_code == 400, response.json
    assert response.json["field"] == "content" and expected in response.json["error"]
    assert response.json["error"].startswith("content: the clip")
    assert "/" not in response.json["error"].replace("×", "")  # no server path
    assert nothing_stored(app)


def test_a_clip_with_a_mask_is_refused(app: Flask, client: FlaskClient) -> None:
    body = clip_form(video_bytes("mp4"), mask=(io.BytesIO(png_bytes()), "mask.png"))
    response = post(client, body)
    assert response.status_code == 400 and response.json["field"] == "mask"
    assert "masks are for pictures" in response.json["error"]
    assert nothing_stored(app)


@pytest.mark.parametrize("fields", [{"init": "image"}, {"init_image": "upload"}])
def test_a_clip_cannot_start_from_an_image(app: Flask, client: FlaskClient, fields: dict[str, str]) -> None:
    if "init_image" in fields:
        fields = {"init_image": (io.BytesIO(png_bytes()), "start.png")}
    response = post(client, clip_form(video_bytes("mp4"), **fields))
    assert response.status_code == 400 and response.json["errors"]["init_image"].startswith(
        "init_image: a clip cannot start from an image")
    assert nothing_stored(app)


def test_the_per_client_limit_counts_clip_jobs(make_app) -> None:
    app = make_app(IMPASTO_MAX_QUEUED_PER_CLIENT=1)
    client = app.test_client()
    client.get("/")  # the browser's cookie: its jobs count against it
    assert post(client, clip_form(video_bytes("mp4"))).status_code == 202
    refused = post(client, clip_form(video_bytes("mp4")))
    assert refused.status_code == 429 and refused.json["limit"] == 1
    assert app.extensions["impasto"].store.counts() == {"queued": 1}


def test_only_its_owner_deletes_a_clip_job_and_then_every_file_is_gone(app: Flask, client: FlaskClient) -> None:
    client.get("/")  # the browser's cookie: the job is its own
    job = post(client, clip_form(video_bytes("mp4"))).json
    store = app.extensions["impasto"].store
    store.put_file(job["id"], "frame_0001.png", png_bytes())
    stranger = app.test_client()
    assert stranger.delete(job["urls"]["self"]).status_code == 404
    assert client.delete(job["urls"]["delete"]).status_code == 200
    assert nothing_stored(app)


def test_again_with_the_same_settings_reuses_the_clip(app: Flask, client: FlaskClient) -> None:
    data = video_bytes("webm")
    first = post(client, clip_form(data, "clip.webm")).json
    again = client.post("/api/jobs", data={"source_job": first["id"], "size": "48", "iterations": "2"},
                        content_type="multipart/form-data")
    assert again.status_code == 202, again.json
    assert again.json["clip"]["frames"] == 4
    store = app.extensions["impasto"].store
    first_clip = store.get_file(first["id"], "content.clip")
    assert first_clip == without_metadata(data, "webm")
    assert store.get_file(again.json["id"], "content.clip") == without_metadata(first_clip, "webm")


def test_a_picture_job_refuses_clip_formats_and_a_clip_job_picture_formats(app: Flask, client: FlaskClient) -> None:
    clip_job = post(client, clip_form(video_bytes("mp4"))).json
    picture = post(client, {"size": "48", "iterations": "2", "content": (io.BytesIO(png_bytes()), "p.png"),
                            "style": (io.BytesIO(style_bytes()), "s.jpg")}).json
    assert client.get(f"/api/jobs/{clip_job['id']}/result?format=png").status_code == 400
    assert client.get(f"/api/jobs/{picture['id']}/result?format=mp4").status_code == 400
    assert "has no mp4 result (it is queued)" in client.get(f"/api/jobs/{clip_job['id']}/result").json["error"]
    assert client.get(f"/api/jobs/{clip_job['id']}/frames/1").status_code == 404
    assert client.get(f"/api/jobs/{clip_job['id']}/frames/5").json["error"].endswith("(it has 4)")


# -- end to end: the in-process runner paints the clip with untrained weights ---------------------

def frame_count(data: bytes, fmt: str) -> int:
    return probe_clip(data, ClipLimits(max_frames=1000, max_seconds=1000, max_side=4096)).frames


def not_tagged(data: bytes) -> bool:
    """Neither the tags' texts in the bytes nor, for a video, any tag of TAGS (the creation time included)."""
    if any(text in data for text in TAG_TEXTS):
        return False
    if container_kind(data) not in ("iso", "matroska"):
        return True
    with av.open(io.BytesIO(data)) as opened:
        tags = [dict(opened.metadata), *(dict(stream.metadata) for stream in opened.streams)]
    return not any(key.lower() in map(str.lower, TAGS) for found in tags for key in found)


def test_a_clip_is_painted_end_to_end_into_mp4_webm_and_gif(app: Flask, client: FlaskClient) -> None:
    """A phone's clip, with its place, title, comment and dates: painted, and nothing served of it
    carries them (the clip as stored, the poster, the results)."""
    client.get("/")
    data = tagged_clip("mp4", frames=4)  # with a sound track
    job = post(client, clip_form(data, frame_iterations="2")).json
    assert app.extensions["impasto"].dispatcher.run_all() == [job["id"]]
    done = client.get(job["urls"]["self"]).json
    assert done["state"] == "done", done["error"]
    assert done["progress"]["frame"] == 4 and done["progress"]["frames"] == 4 and done["progress"]["preview_frame"] == 4
    assert done["summary"]["frames"] == 4 and done["summary"]["fps"] == 8
    files = set(app.extensions["impasto"].store.get(job["id"]).files)
    assert not frame_files(files)  # the frames go once the videos are stored; what the pages show stays
    assert {"content.clip", "poster.jpg", "preview.jpg", "thumb.jpg", "result.mp4", "result.webm",
            "result.gif"} <= files
    for fmt, mimetype in (("mp4", "video/mp4"), ("webm", "video/webm"), ("gif", "image/gif")):
        result = client.get(done["urls"][f"result_{fmt}"])
        assert result.status_code == 200 and result.mimetype == mimetype
        assert frame_count(result.data, fmt) == 4
        assert not_tagged(result.data)
    assert all(not_tagged(client.get(done["urls"][kind]).data) for kind in ("content", "poster", "thumb"))
    assert client.get(done["urls"]["result"]).data == client.get(done["urls"]["result_mp4"]).data
    ranged = client.get(done["urls"]["result"], headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and len(ranged.data) == 100  # <video> seeks with ranges
    assert probe_clip(client.get(done["urls"]["result"]).data, ClipLimits(100, 100, 4096)).has_audio  # sound kept
    frame = client.get(f"/api/jobs/{job['id']}/frames/4")
    assert frame.status_code == 404 and frame.json["error"] == (
        f"job {job['id']} is done and keeps no frames; its result is the video "
        f"(/api/jobs/{job['id']}/result?format=mp4)")
    assert Image.open(io.BytesIO(client.get(done["urls"]["thumb"]).data)).width > 0
    download = client.get(done["urls"]["result_gif"] + "&download=1")
    assert download.headers["Content-Disposition"] == f'attachment; filename="impasto-{job["id"][:8]}.gif"'
    page = client.get(job["urls"]["page"]).text  # the result page plays the clip
    assert 'id="result-video" controls loop muted autoplay playsinline' in page
    assert f'<source src="{done["urls"]["result_mp4"]}" type="video/mp4">' in page
    assert f'<source src="{done["urls"]["result_webm"]}" type="video/webm">' in page
    assert 'id="download-mp4"' in page and 'id="download-webm"' in page and 'id="download-gif"' in page
    assert "Painted 4 frames in" in page and 'id="download-png"' not in page
    assert "clip · 4 frames" in client.get("/history").text


def test_the_job_page_shows_frame_i_of_n_and_the_latest_finished_frame(app: Flask, client: FlaskClient) -> None:
    client.get("/")
    job = post(client, clip_form(video_bytes("mp4", frames=4))).json
    page = client.get(job["urls"]["page"]).text
    assert "– of 4" in page and job["urls"]["poster"] in page and "Your clip · 4 frames · 0.5 s" in page
    store = app.extensions["impasto"].store
    store.claim("w", 1)
    store.put_file(job["id"], "preview.jpg", store.get_file(job["id"], "poster.jpg"))
    store.update_progress(job["id"], "w", {"frame": 2, "frames": 4, "preview_frame": 1, "iteration": 1,
                                           "total": 2, "eta": 75})
    page = client.get(job["urls"]["page"]).text
    assert "frame 2 of 4" in page and "Latest finished frame: 1 of 4" in page and "Time left for the clip" in page
    assert "1:15" in page and 'data-preview-frame="1"' in page
    status = client.get(job["urls"]["self"]).json
    assert status["progress"]["frame"] == 2 and status["clock"]["eta"] == "1:15" and "preview" in status["urls"]
    store.request_cancel(job["id"])
    store.finish(job["id"], "w", "cancelled")
    assert "cancelled after frame 1 of 4" in client.get(job["urls"]["page"]).text


def test_probe_tells_a_clip_from_a_picture_and_stores_nothing(make_app) -> None:
    app = make_app(IMPASTO_MAX_CLIP_FRAMES=5)
    client = app.test_client()

    def probe(data: bytes, name: str):
        return client.post("/api/probe", data={"content": (io.BytesIO(data), name)}, content_type="multipart/form-data")

    clip = probe(video_bytes("webm", frames=4, fps=8), "clip.webm")
    assert clip.status_code == 200 and clip.json["clip"] is True
    assert (clip.json["frames"], clip.json["seconds"], clip.json["width"], clip.json["height"]) == (4, 0.5, 64, 48)
    assert probe(png_bytes(), "photo.png").json == {"clip": False}
    refused = probe(video_bytes("mp4", frames=6), "clip.mp4")
    assert refused.status_code == 400 and refused.json["error"].endswith("at most 5 (IMPASTO_MAX_CLIP_FRAMES)")
    assert nothing_stored(app)


def test_the_estimate_counts_a_clip_s_frames(client: FlaskClient) -> None:
    picture = client.get("/api/estimate?size=256&iterations=100&frame_iterations=20").json
    clip = client.get("/api/estimate?size=256&iterations=100&frame_iterations=20&frames=24").json
    assert clip["seconds"] > 3 * picture["seconds"]
    refused = client.get("/api/estimate?size=256&frames=241")
    assert refused.status_code == 400
    assert refused.json["error"] == "frames must be a whole number from 1 to 240, got '241'"


def test_the_form_without_javascript_takes_a_clip_and_again_offers_it(app: Flask, client: FlaskClient) -> None:
    client.get("/")
    body = {**clip_form(video_bytes("gif", frames=3), "loop.gif"), "style_name": "starry_night"}
    del body["style"]
    response = client.post("/", data=body, content_type="multipart/form-data")
    assert response.status_code == 303
    job_id = response.headers["Location"].rsplit("/", 1)[1]
    assert app.extensions["impasto"].store.get(job_id).meta["clip"]["frames"] == 3
    again = client.get(f"/?again={job_id}").text
    assert "The clip of the earlier job, 3 frames" in again and f"/api/jobs/{job_id}/poster" in again
    refused = client.post("/", data=clip_form(corrupt_mp4(), "broken.mp4"), content_type="multipart/form-data")
    assert refused.status_code == 400 and "the container is corrupt or truncated" in refused.text


def test_a_clip_s_frame_iterations_are_within_the_iteration_limit(make_app) -> None:
    app = make_app(IMPASTO_MAX_ITERATIONS=20)
    client = app.test_client()
    picture = {"size": "48", "iterations": "2", "frame_iterations": "30",
               "content": (io.BytesIO(png_bytes()), "p.png"), "style": (io.BytesIO(style_bytes()), "s.jpg")}
    assert post(client, picture).status_code == 202  # a picture has no later frames: not its concern
    refused = post(client, clip_form(video_bytes("mp4"), frame_iterations="30"))
    assert refused.status_code == 400 and refused.json["field"] == "frame_iterations"
    assert refused.json["error"].endswith("got 30; this server allows at most 20 a frame (IMPASTO_MAX_ITERATIONS)")
    assert app.extensions["impasto"].store.counts() == {"queued": 1}
