"""Scale-out mode end to end: a real redis-server, two real `impasto worker` processes, the Flask app
(test client, or real gunicorn) in broker mode. Jobs are tiny (32 px, untrained weights) and wait at
their worker's gate after every report (tests/distributed/gated_worker.py), so that a test holds a job
mid-run while it cancels it, kills its worker or restarts the web, then lets it on."""

from __future__ import annotations

import io
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from impasto import create_app
from impasto.jobs.distributed import CeleryDispatcher
from impasto.nst.images import encode_image
from tests.conftest import gradient_image, stripes_image
from tests.distributed.procs import (
    REAP_SECONDS,
    STALE_AFTER,
    Api,
    Cluster,
    Web,
    WorkerGates,
    record,
    scale_out_env,
    worker_pid,
)
from tests.helpers import wait_for
from tests.weights import UNTRAINED_WEIGHTS

pytestmark = pytest.mark.redis

CONTENT = encode_image(gradient_image(48, 64), "PNG")
STYLE = encode_image(stripes_image(48, 64), "PNG")
FINISHED = ("done", "failed", "cancelled")


@pytest.fixture
def web_app(cluster: Cluster, tmp_path: Path) -> Iterator[Flask]:
    """create_app in broker mode on the cluster's queue (this test process is the web process)."""
    app = create_app({"TESTING": True, "IMPASTO_BROKER_URL": cluster.redis_url, "IMPASTO_REDIS_PREFIX": cluster.prefix,
                      "IMPASTO_DATA_DIR": str(tmp_path / "data"), "IMPASTO_STALE_AFTER": STALE_AFTER,
                      "IMPASTO_VGG_WEIGHTS": UNTRAINED_WEIGHTS, "IMPASTO_MAX_QUEUED_PER_CLIENT": 0})
    yield app
    app.extensions["impasto"].dispatcher.stop()


def browser(app: Flask) -> FlaskClient:
    """One browser for the whole test: it owns the jobs it submits, so it may cancel them."""
    return app.extensions.setdefault("test_browser", app.test_client())


def submit(app: Flask, **fields: Any) -> str:
    data = {"size": "32", "iterations": "4", **{k: str(v) for k, v in fields.items()},
            "content": (io.BytesIO(CONTENT), "photo.png"), "style": (io.BytesIO(STYLE), "painting.png")}
    response = browser(app).post("/api/jobs", data=data, content_type="multipart/form-data")
    assert response.status_code == 202, response.json
    return response.json["id"]


def poll(app: Flask, job_id: str) -> dict[str, Any]:
    response = browser(app).get(f"/api/jobs/{job_id}")
    assert response.status_code == 200
    return response.json


def wait_state(app: Flask, job_id: str, states: tuple[str, ...], timeout: float = 90) -> dict[str, Any]:
    return wait_for(lambda: (job := poll(app, job_id))["state"] in states and job, timeout,
                    f"job {job_id} to be {'/'.join(states)}", interval=0.2)


def running_pid(app: Flask, job_id: str) -> int:
    """The worker pid of a job once it has reported (a closed gate then holds it)."""
    wait_for(lambda: "evaluations" in poll(app, job_id)["progress"], 90, f"job {job_id} to run",  # its start too
             interval=0.2)
    return worker_pid(app.extensions["impasto"].store.get(job_id))


def the_other(cluster: Cluster, pid: int) -> int:
    return next(proc.pid for proc in cluster.workers if proc.alive() and proc.pid != pid)


def test_a_job_runs_on_a_worker_and_comes_back_through_the_api(cluster: Cluster, web_app: Flask,
                                                               gates: WorkerGates) -> None:
    dispatcher = web_app.extensions["impasto"].dispatcher
    assert isinstance(dispatcher, CeleryDispatcher)
    assert not [t for t in threading.enumerate() if t.name.startswith("impasto-runner")]  # no local runners
    job_id = submit(web_app, iterations=12)
    client = browser(web_app)

    pid = running_pid(web_app, job_id)
    running = poll(web_app, job_id)  # held after its first report (its start), its first preview stored
    assert running["state"] == "running" and running["progress"]["iteration"] == 0
    assert running["progress"]["total"] == 12
    assert "preview" in running["urls"] and client.get(running["urls"]["preview"]).mimetype == "image/jpeg"
    gates.open(pid)
    done = wait_state(web_app, job_id, FINISHED)
    assert done["state"] == "done", done["error"]
    assert done["summary"]["iterations"] == 12 and done["progress"]["iteration"] == 12

    job = web_app.extensions["impasto"].store.get(job_id)
    live = {proc.pid for proc in cluster.workers if proc.alive()}
    assert worker_pid(job) in live and worker_pid(job) != os.getpid()  # ran in a worker, not here
    assert job.worker.startswith(socket.gethostname() + ":")
    result = client.get(done["urls"]["result"])
    assert result.mimetype == "image/png" and Image.open(io.BytesIO(result.data)).size == (32, 24)
    assert client.get(done["urls"]["thumb"]).status_code == 200
    assert client.get(f"/jobs/{job_id}").status_code == 200  # the job page
    assert job_id in [j["id"] for j in client.get("/api/jobs").json["jobs"]]  # history
    assert client.get("/healthz").json["status"] == "ok"


def test_two_workers_share_a_queue_and_run_each_job_once(cluster: Cluster, web_app: Flask,
                                                         gates: WorkerGates) -> None:
    workers = cluster.ensure_workers(2)
    # A job held at its worker's gate until cancelled keeps that worker busy (one message at a time
    # each), so the jobs after it must go to the other, whose gate is open: both take a share.
    holder = submit(web_app, iterations=1000)
    busy = running_pid(web_app, holder)
    gates.open(the_other(cluster, busy))
    ids = [submit(web_app, iterations=3) for _ in range(6)]
    first = wait_state(web_app, ids[0], FINISHED, timeout=150)  # on the other worker, while the holder waits
    assert browser(web_app).post(f"/api/jobs/{holder}/cancel").status_code == 200  # its owner cancels it
    gates.open(busy)  # the holder goes on, and stops at its next cancel check
    finished = [first] + [wait_state(web_app, job_id, FINISHED, timeout=150) for job_id in ids[1:]]
    assert [job["state"] for job in finished] == ["done"] * 6, [job["error"] for job in finished]
    held = wait_state(web_app, holder, FINISHED, timeout=60)
    assert held["state"] == "cancelled", held["error"]
    store = web_app.extensions["impasto"].store
    jobs = [store.get(job_id) for job_id in [holder, *ids]]
    assert all(job.attempts == 1 for job in jobs)
    assert {worker_pid(jobs[0]), worker_pid(jobs[1])} == {proc.pid for proc in workers}  # both took a share
    logs = "".join(proc.text() for proc in cluster.workers)
    assert all(logs.count(f"job {job_id} claimed by") == 1 for job_id in [holder, *ids])


def test_a_job_failing_on_its_input_is_not_retried(cluster: Cluster, web_app: Flask) -> None:
    store, dispatcher = web_app.extensions["impasto"].store, web_app.extensions["impasto"].dispatcher
    job = store.create({"size": 32, "iterations": 2}, {"content.png": b"not an image", "style.png": STYLE})
    dispatcher.submitted(job.id)
    failed = wait_state(web_app, job.id, FINISHED, timeout=60)
    assert failed["state"] == "failed" and "content" in failed["error"]
    assert dispatcher.reaper.tick() == []  # a reaper's round sends nothing again (instead of sleeping through one)
    assert store.get(job.id).attempts == 1 and store.get(job.id).state == "failed"


def test_cancel_reaches_a_running_job_on_a_worker(cluster: Cluster, web_app: Flask, gates: WorkerGates) -> None:
    cluster.ensure_workers(2)
    job_id = submit(web_app, iterations=60)
    pid = running_pid(web_app, job_id)  # held after its first report
    response = browser(web_app).post(f"/api/jobs/{job_id}/cancel")
    assert response.status_code == 200 and response.json["cancel_requested"]
    started = time.monotonic()
    gates.open(pid)  # it goes on, and stops at its next cancel check
    cancelled = wait_state(web_app, job_id, FINISHED, timeout=30)
    assert cancelled["state"] == "cancelled" and cancelled["progress"]["iteration"] < 60
    record(f"cancel of a running job on a worker: 'cancelled' after {time.monotonic() - started:.1f} s")


def test_kill_9_of_a_worker_mid_job_moves_the_job_to_the_other(cluster: Cluster, web_app: Flask,
                                                                gates: WorkerGates) -> None:
    cluster.ensure_workers(2)
    store = web_app.extensions["impasto"].store
    job_id = submit(web_app, iterations=40)
    victim = running_pid(web_app, job_id)
    assert gates.run_until(victim, iteration=2)["iteration"] == 2  # held mid-job
    other = the_other(cluster, victim)
    proc = cluster.by_pid(victim)
    assert proc is not None
    os.kill(victim, signal.SIGKILL)  # the whole `impasto worker`: its pool child dies with it
    killed = time.monotonic()

    def moved() -> bool:
        job = store.get(job_id)
        return job.state in FINISHED or (job.state == "running" and worker_pid(job) != victim)

    wait_for(moved, 3 * STALE_AFTER + 30, "the job to move to the other worker", interval=0.1)
    redelivered = time.monotonic() - killed
    gates.open(other)  # held there after its first report; now to its end
    done = wait_state(web_app, job_id, FINISHED, timeout=120)
    total = time.monotonic() - killed
    job = store.get(job_id)
    assert done["state"] == "done", done["error"]
    assert job.attempts == 2 and worker_pid(job) == other
    assert not proc.alive()
    record(f"kill -9 of a worker mid-job: running again on the other worker {redelivered:.1f} s later, "
           f"done {total:.1f} s later (IMPASTO_STALE_AFTER={STALE_AFTER:g}, IMPASTO_REAP_SECONDS={REAP_SECONDS:g})")
    cluster.ensure_workers(2)


def test_restarting_the_web_mid_job_loses_nothing(cluster: Cluster, gates: WorkerGates, tmp_path: Path) -> None:
    cluster.ensure_workers(2)
    env = scale_out_env(cluster.redis_url, cluster.prefix, IMPASTO_DATA_DIR=str(tmp_path / "data"))
    web = Web(env, tmp_path / "web.log", cluster.root).start()
    try:
        api = Api(web.base)
        job_id = api.submit(CONTENT, STYLE, size=32, iterations=30)["id"]
        wait_for(lambda: "evaluations" in api.job(job_id)["progress"], 90, "the job to run",
                 interval=0.2)  # held after its first report, for as long as the web is away
        web.kill()  # gunicorn and both of its processes, at once
        web = Web(env, tmp_path / "web2.log", cluster.root).start()
        api = Api(web.base)
        assert api.job(job_id)["state"] == "running"
        gates.open(worker_pid(cluster.store().get(job_id)))
        job = wait_for(lambda: (j := api.job(job_id))["state"] in FINISHED and j, 120, "the job to finish",
                       interval=0.3)
        assert job["state"] == "done", job["error"]
        assert cluster.store().get(job_id).attempts == 1  # the job never noticed
        status, png = api.request("GET", job["urls"]["result"])
        assert status == 200 and Image.open(io.BytesIO(png)).size == (32, 24)
    finally:
        web.kill()
