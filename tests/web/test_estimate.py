"""The run-time estimate before submitting, and the queue wait: from this server's finished jobs."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from impasto.jobs.sqlite_store import SqliteJobStore
from impasto.jobs.store import DONE, Job
from impasto.nst import cost
from impasto.nst.options import Options
from impasto.web.estimate import DEFAULT_SPEED, FIXED_SECONDS, RECENT, START_SECONDS, learn, queue_ahead, work
from impasto.web.views import duration
from tests.helpers import Clock
from tests.web.conftest import form, png_bytes


def finished_at(speed: float, options: Options, frames: int = 1) -> Job:
    """A done 256×192 job that ran at ``speed`` times the cost model's seconds (plus the fixed part)."""
    meta = {"clip": {"frames": frames}} if frames > 1 else {}
    seconds = FIXED_SECONDS + speed * work(options, 0.75, frames)  # no one-off costs in its timings
    return Job(id="j", state=DONE, created=0.0, options=options.to_dict(), meta=meta, started=100.0,
               finished=100.0 + seconds, summary={"width": 256, "height": 192})


def estimated(rate: float, options: Options, frames: int = 1) -> float:
    """What a server learned at ``rate`` says: the fixed part, tracing the shapes, the model's seconds."""
    return (FIXED_SECONDS + cost.trace_seconds(options) + cost.clip_trace_seconds(options, frames)
            + rate * work(options, frames=frames))


def test_work_is_the_cost_model_s_seconds_for_each_scale():
    two_scales = Options(size=512, iterations=100)  # 85 iterations at 256 px, 15 at 512 px
    assert work(two_scales, aspect=0.75) == pytest.approx(work(Options(size=256, iterations=85, scales=1), 0.75)
                                                          + work(Options(size=512, iterations=15, scales=1), 0.75))
    rounds = Options(size=256, iterations=10, round_evals=20, scales=1)  # the article's 10 × 20
    same_evaluations = Options(size=256, iterations=200 - cost.EXTRA_EVALUATIONS, scales=1)  # 200 evaluations
    assert work(rounds, aspect=0.75) == pytest.approx(work(same_evaluations, aspect=0.75))
    # a small picture costs mostly what every evaluation pays whatever its size
    small = Options(size=96, iterations=100, scales=1)
    matrix = cost.style_matrix_seconds(small, 96 * 72 / 1e6, 0.75)
    network = cost.PER_MEGAPIXEL * 96 * 72 / 1e6
    fixed = cost.PER_EVALUATION["wasserstein"]
    assert fixed > network and fixed > matrix  # the calls, not the pixels, are most of a small picture
    assert work(small, 0.75) > (100 + cost.EXTRA_EVALUATIONS) * (fixed + matrix + network)
    # block4's 512 channels from 12×9 positions: its eigenproblem is 108×108, not 512×512
    assert matrix < cost.style_matrix_seconds(small, 256 * 192 / 1e6, 0.75) / 5


def test_speed_is_learned_from_finished_jobs_and_predicts_them_back():
    options = Options(size=256, iterations=100)
    jobs = [finished_at(1.2, options), finished_at(1.6, options), finished_at(1.4, options)]
    speed = learn(jobs)
    assert speed.jobs == 3
    assert speed.seconds(options) == pytest.approx(estimated(1.4, options))  # the median
    # Twice the iterations, twice the painting time; float32 by its own jobs once there are some.
    twice = Options(size=256, iterations=200)
    megapixels = 256 * 192 / 1e6  # each evaluation: the loss, and the optimiser's own vector work
    per_evaluation = cost.evaluation_seconds(options, megapixels, 0.75) + cost.OPTIMIZER_PER_EVALUATION * megapixels
    assert speed.seconds(twice) - speed.seconds(options) == pytest.approx(1.4 * 100 * per_evaluation)
    in_float32 = options.replace(precision="float32")
    assert speed.seconds(in_float32) == pytest.approx(estimated(1.4, in_float32))
    with_float32 = learn([*jobs, finished_at(3.0, in_float32)])
    assert with_float32.seconds(in_float32) == pytest.approx(estimated(3.0, in_float32))


def test_without_finished_jobs_the_cost_model_is_used_as_it_is():
    unfinished = Job(id="q", state="queued", created=0.0, options=Options().to_dict())
    speed = learn([unfinished])
    assert speed.jobs == 0
    default = Options(size=512, iterations=100)
    # a fresh server's first job also loads the network
    assert speed.seconds(default) == pytest.approx(estimated(DEFAULT_SPEED, default) + START_SECONDS)
    assert 25 < speed.seconds(default) < 60  # the default 512 px job: 40 s on a warm 2-core studio


def test_queue_wait_adds_the_running_job_s_time_left_and_the_jobs_ahead(tmp_path: Path):
    clock = Clock()
    store = SqliteJobStore(tmp_path, clock=clock)
    files = {"content.png": b"c", "style.png": b"s"}
    small = Options(size=256, iterations=100).to_dict()
    running = store.create(small, files)
    store.create(small, files)  # queued ahead of mine
    clock.now += 1
    mine = store.create(small, files)
    store.claim("w1", max_running=1)
    store.update_progress(running.id, "w1", {"iteration": 50, "total": 100, "eta": 20.0})
    speed = learn([finished_at(1.3, Options(size=256, iterations=100))])
    one_job = speed.seconds(Options(size=256, iterations=100))

    recent = store.recent(RECENT)
    new = queue_ahead(recent, speed, runners=1)
    assert new.jobs_ahead == 3 and new.wait_seconds == pytest.approx(20 + 2 * one_job)
    queued = queue_ahead(recent, speed, runners=1, before=store.get(mine.id))
    assert queued.jobs_ahead == 2 and queued.wait_seconds == pytest.approx(20 + one_job)
    assert queue_ahead(recent, speed, runners=2).wait_seconds == pytest.approx((20 + 2 * one_job) / 2)


def test_estimate_endpoint_and_the_form_show_the_time_in_words(app: Flask):
    client = app.test_client()
    body = client.get("/api/estimate?size=256&iterations=100").json
    assert body["measured_jobs"] == 0 and body["jobs_ahead"] == 0
    assert body["line"].startswith("Takes about") and "no picture has finished here yet" in body["line"]
    assert "No queue" in body["line"]
    longer = client.get("/api/estimate?size=256&iterations=200").json
    one_off = FIXED_SECONDS + START_SECONDS + cost.trace_seconds(Options(size=256))
    assert longer["seconds"] - one_off > 1.8 * (body["seconds"] - one_off)
    article = client.get("/api/estimate?preset=article&size=512").json  # float32, 200 evaluations at 512 px
    assert article["seconds"] > 3 * client.get("/api/estimate?size=512").json["seconds"]
    bad = client.get("/api/estimate?size=lots")
    assert bad.status_code == 400 and bad.json["field"] == "size"

    assert client.post("/api/jobs", data=form(content=png_bytes(), style_name="the_scream")).status_code == 202
    queued = client.get("/api/estimate").json
    assert queued["jobs_ahead"] == 1 and "1 job ahead: it starts in about" in queued["line"]
    html = client.get("/").get_data(as_text=True)
    assert 'id="estimate"' in html and "1 job ahead" in html


def test_a_queued_job_says_about_how_long_until_it_starts(app: Flask):
    client = app.test_client()
    first = client.post("/api/jobs", data=form(content=png_bytes(), style_name="the_scream")).json
    second = client.post("/api/jobs", data=form(content=png_bytes(), style_name="the_scream")).json
    assert first["queue_wait"] == 0 and first["queue_wait_text"] == "a moment"
    assert second["queue_wait"] > 0 and second["queue_wait_text"].startswith("about")
    assert "Starts in" in client.get(second["urls"]["page"]).get_data(as_text=True)


@pytest.mark.parametrize("seconds, words", [(3, "about 5 s"), (42, "about 40 s"), (200, "about 3 min"),
                                            (4000, "about 1 h 07 min")])
def test_duration_in_words(seconds, words):
    assert duration(seconds) == words


def test_settings_that_plan_too_much_work_say_so_before_submitting(make_app):
    client = make_app(IMPASTO_MAX_ITERATIONS=300).test_client()
    body = client.get("/api/estimate?preset=article&iterations=20").json  # 20 rounds × 20 evaluations
    assert body["line"] == ("Too long for this server: these settings plan 400 iterations in all, and it "
                            "allows 300. Choose at most 15 iterations with these settings.")
    assert client.get("/api/estimate?preset=article&iterations=15").json["line"].startswith("Takes about")


def test_a_size_over_the_servers_limit_says_so_instead_of_a_time(make_app):
    client = make_app(IMPASTO_MAX_SIZE=512).test_client()
    body = client.get("/api/estimate?size=2048").json  # the engine's range allows it, this server does not
    assert body["line"] == "Too large for this server: it paints at most 512 px on the longest side."
    assert client.get("/api/estimate?size=512").json["line"].startswith("Takes about")


def test_a_clip_counts_every_frame_in_the_speed_and_in_the_queue():
    options = Options(size=256, iterations=100, frame_iterations=20, scales=1, new_ground="photo")
    first, later = cost.picture_seconds(options, 0.75), cost.later_frame_seconds(options, 0.75)
    assert work(options, 0.75, frames=10) == pytest.approx(first + 9 * later)
    # new ground painted first on crops: each later frame pays its iterations' evaluations again, on a crop
    painted = options.replace(new_ground="paint")
    assert cost.later_frame_seconds(painted, 0.75) > later + 20 * cost.evaluation_seconds(painted, 0.001, 0.75)
    independent = options.replace(temporal_weight=0)  # every frame painted like the first
    assert work(independent, 0.75, frames=10) == pytest.approx(10 * first)
    picture, clip = finished_at(1.5, Options(size=256, iterations=100, scales=1)), finished_at(1.5, options, 10)
    # The clip ran at the picture's speed: the same speed, not a slower server.
    assert learn([picture, clip]).by_precision["auto"] == pytest.approx(1.5)
    queued = Job(id="q", state="queued", created=1.0, options=options.to_dict(), meta={"clip": {"frames": 10}})
    assert queue_ahead([queued], learn([picture]), 1).wait_seconds == pytest.approx(
        estimated(1.5, options, frames=10))
    # Traced once: the later frames' program; for painted new ground, each later frame's crops too.
    assert cost.clip_trace_seconds(options, 10) == pytest.approx(cost.scale_trace_seconds(256))
    assert cost.clip_trace_seconds(painted, 10) == pytest.approx(cost.scale_trace_seconds(256)
                                                                 + 9 * cost.CROP_TRACE_SECONDS)
    assert cost.clip_trace_seconds(independent, 10) == cost.clip_trace_seconds(painted, 1) == 0.0


def test_a_runners_first_job_is_learned_without_its_start():
    """A job that loaded the weights paid the runner's start outside its timings: the speed learned
    from it leaves that out, as it leaves out the weights and the tracing it timed."""
    options = Options(size=256, iterations=50, scales=1)
    warm = finished_at(1.0, options)
    first = finished_at(1.0, options)
    # the weights read from the file in 0.03 s (src/impasto/nst/weights_h5.py): still a first job
    one_off = {"weights": {"seconds": 0.03, "count": 1}, "scale 1 trace": {"seconds": 1.5, "count": 1}}
    first.finished += START_SECONDS + 0.03 + 1.5
    first.summary = {**first.summary, "timings": one_off}
    assert learn([first]).seconds_per_unit("auto") == pytest.approx(learn([warm]).seconds_per_unit("auto"))
    # a warm job whose weights came from the cache (0 s) paid no start
    cached = finished_at(1.0, options)
    cached.finished += 1.5
    cached.summary = {**cached.summary, "timings": {**one_off, "weights": {"seconds": 0.0, "count": 1}}}
    assert learn([cached]).seconds_per_unit("auto") == pytest.approx(1.0)


def test_a_running_jobs_eta_counts_down_between_the_engines_reports(app: Flask):
    """A scale's set-up or a clip frame's crops go seconds without a report: the page's ETA counts
    down meanwhile instead of repeating the last one."""
    import time

    client = app.test_client()
    job_id = client.post("/api/jobs", data=form(content=png_bytes(), style_name="the_scream")).json["id"]
    store = app.extensions["impasto"].store
    store.claim("w1", max_running=1)
    store.update_progress(job_id, "w1", {"iteration": 5, "total": 50, "eta": 20.0, "eta_at": time.time() - 5})
    progress = client.get(f"/api/jobs/{job_id}").json["progress"]
    assert progress["eta"] == pytest.approx(15, abs=1) and "eta_at" not in progress
    store.update_progress(job_id, "w1", {"iteration": 6, "total": 50, "eta": 20.0, "eta_at": time.time() - 60})
    assert client.get(f"/api/jobs/{job_id}").json["progress"]["eta"] == 0  # late, never negative
    queue = queue_ahead(store.recent(RECENT), learn([]), runners=1)
    assert queue.jobs_ahead == 1 and queue.wait_seconds == 0
