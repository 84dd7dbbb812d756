"""Scale-out metrics end to end: a real `impasto worker` process counts the job it runs into Redis, and
the web's /metrics (this test process, in broker mode) tells it, with the worker alive."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from impasto import create_app
from tests.conftest import ROOT
from tests.distributed.procs import STALE_AFTER, scale_out_env, spawn
from tests.helpers import wait_for
from tests.web.conftest import png_bytes, style_bytes
from tests.weights import UNTRAINED_WEIGHTS

pytestmark = pytest.mark.redis


def test_a_job_a_worker_ran_is_in_the_web_scrape(redis_url: str, prefix: str, tmp_path: Path) -> None:
    env = scale_out_env(redis_url, prefix, IMPASTO_METRICS="on")
    worker = spawn([sys.executable, "-m", "impasto.cli", "worker", "--loglevel=info"], env, tmp_path / "worker.log",
                   ROOT)
    app = create_app({"TESTING": True, "IMPASTO_BROKER_URL": redis_url, "IMPASTO_REDIS_PREFIX": prefix,
                      "IMPASTO_DATA_DIR": str(tmp_path / "data"), "IMPASTO_STALE_AFTER": STALE_AFTER,
                      "IMPASTO_VGG_WEIGHTS": UNTRAINED_WEIGHTS, "IMPASTO_METRICS": "on"})
    try:
        wait_for(lambda: " ready." in worker.text() or not worker.alive(), 60, "the worker to be ready")
        client = app.test_client()
        data = {"size": "32", "iterations": "3", "content": (io.BytesIO(png_bytes()), "photo.png"),
                "style": (io.BytesIO(style_bytes()), "painting.jpg")}
        job_id = client.post("/api/jobs", data=data, content_type="multipart/form-data").json["id"]
        store = app.extensions["impasto"].store
        job = wait_for(lambda: (j := store.get(job_id)) and j.state in ("done", "failed") and j, 120,
                       "the worker to finish the job")
        assert job.state == "done", (job.error, worker.text()[-2000:])
        answer = client.get("/metrics")
        assert answer.status_code == 200
        found = {(s.name, tuple(sorted(s.labels.items()))): s.value
                 for family in text_string_to_metric_families(answer.get_data(as_text=True))
                 for s in family.samples}
        assert found[("impasto_jobs_total", (("state", "done"),))] == 1
        assert found[("impasto_job_duration_seconds_count", (("state", "done"),))] == 1
        assert found[("impasto_job_duration_seconds_sum", (("state", "done"),))] == pytest.approx(job.elapsed())
        assert found[("impasto_queue_wait_seconds_count", ())] == 1
        assert found[("impasto_evaluations_total", ())] == job.progress["evaluations"] > 0
        assert found[("impasto_workers_alive", ())] == 1
        assert found[("impasto_storage_bytes", ())] == store.stored_bytes() > 0
    finally:
        worker.kill_group()
        app.extensions["impasto"].dispatcher.stop()
