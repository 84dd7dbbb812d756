"""/metrics (IMPASTO_METRICS): who may read it, and the numbers after real jobs (untrained weights)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from impasto.jobs.execute import Painter
from impasto.jobs.metrics import FAILURE_REASONS, JobMetrics
from impasto.jobs.metrics_files import prepare, sweep_dead
from impasto.nst.errors import ImpastoError
from tests.conftest import ROOT
from tests.dispatch import Manual
from tests.web.conftest import form, png_bytes, style_bytes

TOKEN = "t" * 40
REMOTE = {"REMOTE_ADDR": "203.0.113.7"}
NAMES = {"impasto_jobs_total", "impasto_job_duration_seconds_count", "impasto_queue_wait_seconds_count",
         "impasto_queue_length", "impasto_jobs_running", "impasto_evaluations_total",
         "impasto_job_failures_total", "impasto_storage_bytes", "impasto_workers_alive"}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, parsed by prometheus_client's own parser: (name, labels) -> value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict, name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def scrape(client: Any, **kwargs: Any) -> dict:
    answer = client.get("/metrics", **kwargs)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert answer.content_type.startswith("text/plain")
    return samples(answer.get_data(as_text=True))


def submit(client: Any) -> str:
    answer = client.post("/api/jobs", data=form(png_bytes(), style_bytes()), content_type="multipart/form-data")
    assert answer.status_code == 202, answer.json
    return answer.json["id"]


def test_metrics_off_is_404(make_app):
    client = make_app().test_client()
    assert client.get("/metrics").status_code == 404


def test_on_it_answers_loopback_with_every_metric_at_zero(make_app):
    found = scrape(make_app(IMPASTO_METRICS="on").test_client())
    assert NAMES <= {name for name, _ in found}
    assert {value(found, "impasto_jobs_total", state=s) for s in ("done", "failed", "cancelled")} == {0}
    assert {value(found, "impasto_job_failures_total", reason=r) for r in FAILURE_REASONS} == {0}
    assert value(found, "impasto_queue_length") == 0 and value(found, "impasto_storage_bytes") == 0


def test_the_storage_cap_its_usage_and_the_retention_are_gauges(make_app):
    off = scrape(make_app(IMPASTO_METRICS="on").test_client())
    assert value(off, "impasto_storage_limit_bytes") == 0 and value(off, "impasto_retention_days") == 0
    app = make_app(IMPASTO_METRICS="on", IMPASTO_STORAGE_LIMIT_MB="2", IMPASTO_RETENTION_DAYS="7")
    client = app.test_client()
    submit(client)  # the cap's check measured the data folder; a scrape reads that (kept 5 s)
    found = scrape(client)
    assert value(found, "impasto_storage_limit_bytes") == 2 * 1024 * 1024
    assert value(found, "impasto_retention_days") == 7
    assert value(found, "impasto_storage_used_bytes") == app.extensions["impasto"].storage.used_bytes() > 0


def test_other_clients_need_the_token(make_app):
    client = make_app(IMPASTO_METRICS="on", IMPASTO_METRICS_TOKEN=TOKEN).test_client()
    assert client.get("/metrics", environ_base=REMOTE).status_code == 404
    wrong = {"Authorization": "Bearer " + "x" * 40}
    assert client.get("/metrics", environ_base=REMOTE, headers=wrong).status_code == 404
    right = {"Authorization": "Bearer " + TOKEN}
    # with the token, also by a host name the studio does not list (Prometheus asks for web:8000 in Compose)
    found = scrape(client, environ_base=REMOTE, headers={**right, "Host": "web:8000"})
    assert value(found, "impasto_queue_length") == 0


def test_without_a_token_setting_no_bearer_opens_it(make_app):
    client = make_app(IMPASTO_METRICS="on").test_client()
    assert client.get("/metrics", environ_base=REMOTE, headers={"Authorization": "Bearer "}).status_code == 404


def test_loopback_by_an_unknown_name_or_through_an_undeclared_proxy_is_refused(make_app):
    client = make_app(IMPASTO_METRICS="on").test_client()
    assert client.get("/metrics", headers={"Host": "evil.example"}).status_code == 404  # a DNS-rebinding page
    assert client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.2"}).status_code == 404
    behind = make_app(IMPASTO_METRICS="on", IMPASTO_PROXY_COUNT=1).test_client()
    assert behind.get("/metrics", headers={"X-Forwarded-For": "198.51.100.2"}).status_code == 404
    assert behind.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::ffff:127.0.0.1"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::ffff:203.0.113.7"}).status_code == 404


def test_the_token_must_be_long():
    from impasto.config import Settings, SettingsError

    with pytest.raises(SettingsError, match="IMPASTO_METRICS_TOKEN must be at least 32"):
        Settings.from_env({"IMPASTO_METRICS_TOKEN": "short"})


def test_a_finished_job_is_counted_once_with_its_times_and_evaluations(make_app):
    app = make_app(IMPASTO_METRICS="on")
    client = app.test_client()
    job_id = submit(client)
    before = scrape(client)
    assert value(before, "impasto_queue_length") == 1
    assert value(before, "impasto_storage_bytes") == _bytes_under(Path(app.config["IMPASTO_DATA_DIR"]) / "jobs") > 0
    app.extensions["impasto"].dispatcher.run_all()
    job = app.extensions["impasto"].store.get(job_id)
    assert job.state == "done"
    found = scrape(client)
    assert value(found, "impasto_jobs_total", state="done") == 1
    assert value(found, "impasto_jobs_total", state="failed") == 0
    assert value(found, "impasto_job_duration_seconds_count", state="done") == 1
    assert value(found, "impasto_job_duration_seconds_sum", state="done") == pytest.approx(job.elapsed(), abs=1e-3)
    assert value(found, "impasto_queue_wait_seconds_count") == 1
    assert value(found, "impasto_queue_wait_seconds_sum") == pytest.approx(job.started - job.created, abs=1e-3)
    assert value(found, "impasto_evaluations_total") == job.progress["evaluations"] > 0
    assert value(found, "impasto_queue_length") == 0
    assert value(found, "impasto_storage_bytes") == _bytes_under(Path(app.config["IMPASTO_DATA_DIR"]) / "jobs")


def _bytes_under(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _painting_raises(error: BaseException):
    def paint(*args: Any, **kwargs: Any) -> Any:
        raise error

    return lambda store, config: Manual(store, dataclasses.replace(config, painter=Painter(picture=paint)))


@pytest.mark.parametrize("error, reason", [(MemoryError(), "memory"), (ImpastoError("the photo is empty"), "input"),
                                           (KeyError("x"), "internal")])
def test_a_failed_job_counts_under_its_reason(make_app, error, reason):
    app = make_app(IMPASTO_METRICS="on", DISPATCHER=_painting_raises(error))
    client = app.test_client()
    submit(client)
    app.extensions["impasto"].dispatcher.run_all()
    found = scrape(client)
    assert value(found, "impasto_jobs_total", state="failed") == 1
    assert value(found, "impasto_job_duration_seconds_count", state="failed") == 1
    assert {r: value(found, "impasto_job_failures_total", reason=r) for r in FAILURE_REASONS} == {
        r: (1 if r == reason else 0) for r in FAILURE_REASONS}


def test_a_queued_job_cancelled_counts_without_a_run(make_app):
    app = make_app(IMPASTO_METRICS="on")
    client = app.test_client()
    job_id = submit(client)
    assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 200
    assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 200  # again: nothing more to count
    found = scrape(client)
    assert value(found, "impasto_jobs_total", state="cancelled") == 1
    assert value(found, "impasto_job_duration_seconds_count", state="cancelled") == 0
    assert value(found, "impasto_queue_wait_seconds_count") == 0


def test_a_failure_is_counted_under_the_reason_handed_over_never_one_read_from_its_text():
    counted: list[dict] = []

    class Recorded(JobMetrics):
        def count(self, spec, labels, amount=1.0):
            counted.append(labels)

    metrics = Recorded()
    for reason in (*FAILURE_REASONS, None, "the photo is empty"):
        metrics.finished(None, "failed", reason)
    reasons = [labels["reason"] for labels in counted if "reason" in labels]
    assert reasons == [*FAILURE_REASONS, "internal", "internal"]


CHILD = """
import sys
from impasto.jobs.metrics_files import file_metrics
metrics = file_metrics(sys.argv[1])
metrics.runner_alive()
metrics.finished(None, "done", None)
metrics.finished(None, "failed", "internal")
metrics.progress("job", 7)
"""


def test_the_scrape_adds_up_what_another_process_wrote(make_app, tmp_path):
    app = make_app(IMPASTO_METRICS="on")
    data_dir = app.config["IMPASTO_DATA_DIR"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", CHILD, data_dir], check=True, env=env, cwd=ROOT, timeout=60)
    app.extensions["impasto"].store.metrics.finished(None, "done", None)  # and this process's own
    found = scrape(app.test_client())
    assert value(found, "impasto_jobs_total", state="done") == 3
    assert value(found, "impasto_job_failures_total", reason="internal") == 2
    assert value(found, "impasto_evaluations_total") == 14
    assert value(found, "impasto_workers_alive") == 0  # both children have exited: their live gauges are gone
    assert sweep_dead(Path(data_dir) / "metrics") == []


def test_serve_starts_the_metrics_folder_empty(tmp_path, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_123.db").write_bytes(b"old")
    (folder / "keep.txt").write_text("not ours")
    assert prepare(tmp_path) == folder
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(folder)


def test_a_gauge_is_one_entry_and_an_unreadable_one_is_left_out(make_app, monkeypatch):
    from impasto.web import metric_gauges

    def broken(store, config):
        raise OSError("disk gone")

    extra = [("impasto_test_max_size", "IMPASTO_MAX_SIZE", lambda store, config: config["IMPASTO_MAX_SIZE"]),
             ("impasto_test_broken", "never read", broken)]
    monkeypatch.setattr(metric_gauges, "GAUGES", [*metric_gauges.GAUGES, *extra])
    found = scrape(make_app(IMPASTO_METRICS="on", IMPASTO_MAX_SIZE=512).test_client())
    assert value(found, "impasto_test_max_size") == 512 and value(found, "impasto_queue_length") == 0
    assert not any(name == "impasto_test_broken" for name, _ in found)


def test_a_studio_password_does_not_stand_in_the_scrapers_way(make_app):
    client = make_app(IMPASTO_METRICS="on", IMPASTO_METRICS_TOKEN=TOKEN, IMPASTO_PASSWORD="a password").test_client()
    answer = client.get("/metrics")
    assert answer.status_code == 200 and "Set-Cookie" not in answer.headers  # no session started
    assert scrape(client, environ_base=REMOTE, headers={"Authorization": "Bearer " + TOKEN})
    assert client.get("/metrics", environ_base=REMOTE).status_code == 404
    assert client.get("/api/jobs").status_code == 401  # the rest of the studio still asks for the password
