"""A clip on Celery workers (real redis-server, real `impasto worker` processes, jobs held at gates): one job on one
worker, frames stored in Redis as they finish, results through the API; a worker killed mid-clip
leaves its finished frames, and the other worker resumes after them."""

from __future__ import annotations

import io
import os
import signal
from typing import Any

import pytest
from flask import Flask

from impasto.jobs.store import frame_files
from impasto.nst.clips import ClipLimits, probe_clip
from tests.clips import video_bytes
from tests.distributed.procs import STALE_AFTER, Cluster, WorkerGates, record, worker_pid
from tests.distributed.test_scale_out import (  # noqa: F401
    FINISHED,
    STYLE,
    browser,
    poll,
    the_other,
    wait_state,
    web_app,
)
from tests.helpers import wait_for

pytestmark = pytest.mark.redis

LOOSE = ClipLimits(max_frames=1000, max_seconds=1000, max_side=4096)


def submit_clip(app: Flask, frames: int, **fields: Any) -> str:
    data = {"size": "32", "iterations": "3", "frame_iterations": "3", **{k: str(v) for k, v in fields.items()},
            "content": (io.BytesIO(video_bytes("mp4", frames=frames)), "clip.mp4"),
            "style": (io.BytesIO(STYLE), "painting.png")}
    response = browser(app).post("/api/jobs", data=data, content_type="multipart/form-data")
    assert response.status_code == 202, response.json
    return response.json["id"]


def clip_pid(app: Flask, job_id: str) -> int:
    """The worker pid of a clip job once it has reported (a closed gate then holds it)."""
    wait_for(lambda: poll(app, job_id)["progress"].get("frame", 0) >= 1, 120, "the first frame", interval=0.2)
    return worker_pid(app.extensions["impasto"].store.get(job_id))


def test_a_clip_is_one_job_on_one_worker(cluster: Cluster, web_app: Flask,  # noqa: F811
                                         gates: WorkerGates) -> None:
    workers = {proc.pid for proc in cluster.ensure_workers(2)}
    job_id = submit_clip(web_app, frames=4)
    pid = clip_pid(web_app, job_id)
    assert gates.run_until(pid, frame=2)["frame"] == 2  # held in frame 2
    running = poll(web_app, job_id)
    assert running["state"] == "running" and running["progress"]["frames"] == 4
    assert running["progress"]["frame"] == 2 and running["progress"]["preview_frame"] == 1
    gates.open(pid)
    done = wait_state(web_app, job_id, FINISHED, timeout=120)
    assert done["state"] == "done", done["error"]
    store = web_app.extensions["impasto"].store
    job = store.get(job_id)
    assert job.attempts == 1 and worker_pid(job) in workers and worker_pid(job) != os.getpid()
    assert not frame_files(job.files)  # deleted from Redis once the videos were stored
    assert {"poster.jpg", "preview.jpg", "thumb.jpg", "result.mp4", "result.gif"} <= set(job.files)
    client = browser(web_app)
    for fmt in ("mp4", "gif"):
        result = client.get(done["urls"][f"result_{fmt}"])
        assert result.status_code == 200 and probe_clip(result.data, LOOSE).frames == 4
    assert done["summary"]["frames"] == 4 and done["summary"]["resumed_frames"] == 0


def test_a_worker_killed_mid_clip_is_resumed_after_its_finished_frames(
        cluster: Cluster, web_app: Flask, gates: WorkerGates) -> None:  # noqa: F811
    cluster.ensure_workers(2)
    store = web_app.extensions["impasto"].store
    job_id = submit_clip(web_app, frames=8)
    victim = clip_pid(web_app, job_id)
    gates.run_until(victim, frame=3)  # held in frame 3: frames 1 and 2 finished and stored
    kept = len(frame_files(store.get(job_id).files))
    assert kept == 2 and poll(web_app, job_id)["progress"]["preview_frame"] == 2
    os.kill(victim, signal.SIGKILL)  # the whole `impasto worker`, mid-frame
    gates.open(the_other(cluster, victim))

    done = wait_state(web_app, job_id, FINISHED, timeout=3 * STALE_AFTER + 180)
    job = store.get(job_id)
    assert done["state"] == "done", done["error"]
    assert job.attempts == 2 and worker_pid(job) != victim
    assert done["summary"]["resumed_frames"] == kept  # not painted again
    assert done["summary"]["frames"] == 8 and not frame_files(job.files)
    assert probe_clip(browser(web_app).get(done["urls"]["result_mp4"]).data, LOOSE).frames == 8
    record(f"kill -9 of a worker mid-clip: resumed on the other worker after {done['summary']['resumed_frames']} "
           f"finished frame(s) of 8")
    cluster.ensure_workers(2)
