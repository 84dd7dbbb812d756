"""Running jobs: progress and previews, cancel, error mapping, runner threads, restart, retention."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from flask import Flask

from impasto.config import Settings
from impasto.jobs.execute import EngineSettings, run_job
from impasto.jobs.runner import RunnerConfig, housekeeping
from impasto.jobs.sqlite_store import SqliteJobStore
from impasto.nst.images import encode_image
from impasto.nst.options import Options
from tests.conftest import gradient_image, stripes_image
from tests.dispatch import Gate, Inline, threads
from tests.helpers import Clock, wait_for
from tests.web.conftest import form, png_bytes
from tests.weights import UNTRAINED_WEIGHTS

WORKER = "test-worker"
UNTRAINED = EngineSettings(weights=UNTRAINED_WEIGHTS)


def new_job(store: SqliteJobStore, content: bytes | None = None, **options) -> str:
    opts = Options.from_mapping({"size": 32, "iterations": 3, **options}).to_dict()
    files = {"content.png": content or encode_image(gradient_image(32, 40)),
             "style.png": encode_image(stripes_image(32, 40))}
    job_id = store.create(opts, files).id
    assert store.claim(WORKER, 1, job_id=job_id)
    return job_id


@pytest.fixture
def store(tmp_path: Path) -> SqliteJobStore:
    return SqliteJobStore(tmp_path)


def test_run_job_writes_progress_preview_result(store: SqliteJobStore) -> None:
    job_id = new_job(store, seed=3)
    assert run_job(store, job_id, worker=WORKER, engine=UNTRAINED) == "done"
    job = store.get(job_id)
    assert job.progress["iteration"] == job.progress["total"] == 3 and job.progress["preview_iteration"] == 3
    assert {"result.png", "preview.jpg", "thumb.jpg"} <= set(job.files)
    assert job.summary["seed"] == 3 == job.seed and job.finished >= job.started


def test_cancel_stops_a_running_job(store: SqliteJobStore, monkeypatch) -> None:
    import impasto.jobs.execute

    monkeypatch.setattr(impasto.jobs.execute, "CANCEL_CHECK_SECONDS", 0.0)  # ask the store at every evaluation
    job_id = new_job(store, iterations=200)
    gate, outcome = Gate(), {}
    thread = threading.Thread(target=lambda: outcome.update(state=run_job(
        store, job_id, worker=WORKER, engine=UNTRAINED, painter=gate.painter)))
    thread.start()
    assert gate.wait_held().iteration == 0 == store.get(job_id).progress["iteration"]  # held at its start
    store.request_cancel(job_id)
    gate.open()
    thread.join(30)
    assert outcome["state"] == "cancelled" and store.get(job_id).state == "cancelled"
    assert store.get_file(job_id, "result.png") is None


def test_bad_stored_input_fails_with_the_engine_message(store: SqliteJobStore) -> None:
    job_id = new_job(store, content=b"garbage")
    assert run_job(store, job_id, worker=WORKER, engine=UNTRAINED) == "failed"
    assert "content: not a readable image" in store.get(job_id).error


def test_unexpected_error_fails_with_a_short_reason(store: SqliteJobStore, monkeypatch, caplog) -> None:
    import impasto.nst.engine

    def broken(*args, **kwargs):
        raise RuntimeError("tensor shapes exploded")
    monkeypatch.setattr(impasto.nst.engine, "stylize", broken)
    job_id = new_job(store)
    assert run_job(store, job_id, worker=WORKER) == "failed"
    assert store.get(job_id).error == "internal error (RuntimeError); see the server log"
    assert "tensor shapes exploded" in caplog.text  # the traceback goes to the log


def test_a_job_taken_over_is_not_written_by_its_old_runner(store: SqliteJobStore) -> None:
    job_id = new_job(store)
    store.recover_stale(stale_after=-1, max_attempts=5)  # as if our heartbeat had gone stale
    assert run_job(store, job_id, worker=WORKER, engine=UNTRAINED) == "queued"
    assert store.get(job_id).state == "queued"


def test_runner_thread_runs_submitted_jobs_in_order(make_app) -> None:
    app: Flask = make_app(DISPATCHER=threads())
    client = app.test_client()
    ids = [client.post("/api/jobs", data=form(content=png_bytes(), style_name="the_scream")).json["id"]
           for _ in range(2)]
    done = wait_for(lambda: all(client.get(f"/api/jobs/{i}").json["state"] == "done" for i in ids))
    assert done
    jobs = [client.get(f"/api/jobs/{i}").json for i in ids]
    # One runner thread: the second job starts after the first has finished, in the same thread.
    assert jobs[0]["started"] < jobs[1]["started"] and jobs[0]["finished"] <= jobs[1]["started"]


def test_job_left_running_is_requeued_at_start_up(make_app) -> None:
    app = make_app()
    job_id = app.test_client().post("/api/jobs", data=form(content=png_bytes(), style_name="the_scream")).json["id"]
    app.extensions["impasto"].store.claim("a process that died", 1)
    restarted = make_app(IMPASTO_STALE_AFTER=0.001)
    job = restarted.test_client().get(f"/api/jobs/{job_id}").json
    assert job["state"] == "queued" and job["queue_position"] == 1


def test_job_left_running_too_often_is_failed_with_a_reason(make_app) -> None:
    app = make_app()
    job_id = app.test_client().post("/api/jobs", data=form(content=png_bytes(), style_name="the_scream")).json["id"]
    app.extensions["impasto"].store.claim("a process that died", 1)
    restarted = make_app(IMPASTO_STALE_AFTER=0.001, IMPASTO_MAX_ATTEMPTS=1)
    job = restarted.test_client().get(f"/api/jobs/{job_id}").json
    assert job["state"] == "failed" and "the server stopped while this job was running" in job["error"]


def test_results_survive_a_restart(make_app) -> None:
    app = make_app(DISPATCHER=Inline)
    created = app.test_client().post("/api/jobs", data=form(content=png_bytes(), style_name="the_scream")).json
    first = app.test_client().get(created["urls"]["result"]).data
    assert first.startswith(b"\x89PNG")
    client = make_app().test_client()
    assert client.get(created["urls"]["self"]).json["state"] == "done"
    assert client.get(created["urls"]["result"]).data == first


def test_retention_removes_old_finished_jobs_never_running_ones(tmp_path: Path) -> None:
    clock = Clock()
    store = SqliteJobStore(tmp_path, clock=clock)
    finished = new_job(store)
    store.finish(finished, WORKER, "done")
    running = new_job(store)
    clock.now += 2 * 3600  # two hours later; the running job still beats
    store.heartbeat(running, WORKER)
    housekeeping(store, RunnerConfig(retention_seconds=3600))  # what every start and runner does
    assert store.get(finished) is None and not (tmp_path / "jobs" / finished).exists()
    assert store.get(running).state == "running"


def test_retention_in_days_deletes_only_jobs_finished_longer_ago(tmp_path: Path) -> None:
    clock = Clock()
    store = SqliteJobStore(tmp_path, clock=clock)
    config = RunnerConfig.from_settings(Settings.from_env({"IMPASTO_RETENTION_DAYS": "2"}))
    old = new_job(store)
    store.finish(old, WORKER, "done")
    clock.now += 1.5 * 86400
    young = new_job(store)
    store.finish(young, WORKER, "failed", error="broke")
    cancelled = store.create({}, {"content.png": b"c"}).id
    store.request_cancel(cancelled)  # a queued job is cancelled, so finished, at once
    queued, running = store.create({}, {"content.png": b"q"}).id, new_job(store)
    clock.now += 0.6 * 86400  # the first job ended 2.1 days ago, the others 0.6 days ago
    store.heartbeat(running, WORKER)
    housekeeping(store, config)
    assert store.get(old) is None and not (tmp_path / "jobs" / old).exists()
    states = [store.get(job_id).state for job_id in (young, cancelled, queued, running)]
    assert states == ["failed", "cancelled", "queued", "running"]


@pytest.mark.parametrize("environ", [{}, {"IMPASTO_RETENTION_DAYS": "0"}, {"IMPASTO_RETENTION_HOURS": "0"}])
def test_without_retention_no_finished_job_is_ever_deleted(tmp_path: Path, environ: dict[str, str]) -> None:
    clock = Clock()
    store = SqliteJobStore(tmp_path, clock=clock)
    settings = Settings.from_env(environ)
    assert settings.retention_days is None
    finished = new_job(store)
    store.finish(finished, WORKER, "done")
    clock.now += 10 * 365 * 86400
    housekeeping(store, RunnerConfig.from_settings(settings))
    assert store.get(finished).state == "done" and (tmp_path / "jobs" / finished / "content.png").exists()


def test_the_older_hours_setting_is_read_as_days_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert Settings.from_env({"IMPASTO_RETENTION_HOURS": "36"}).retention_days == 1.5
    assert "IMPASTO_RETENTION_HOURS is deprecated: set IMPASTO_RETENTION_DAYS=1.5 instead" in caplog.text
    assert Settings.from_env({"IMPASTO_RETENTION_HOURS": "36", "IMPASTO_RETENTION_DAYS": "3"}).retention_days == 3
    assert "IMPASTO_RETENTION_HOURS is ignored: IMPASTO_RETENTION_DAYS is set" in caplog.text


# -- a store that fails now and then --------------------------------------------------------------

class FlakyStore(SqliteJobStore):
    """A SqliteJobStore whose calls fail on purpose: ``failures[name]`` calls of ``name`` raise (the
    first ones, or every one with -1), as a locked database or a Redis blip would."""

    def __init__(self, *args, failures: dict[str, int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.failures, self.calls = dict(failures), {name: 0 for name in failures}
        self.working_gets = 0  # reads that work before the failures start

    def _maybe_fail(self, name: str) -> None:
        if name in self.failures:
            self.calls[name] += 1
            if self.failures[name] == -1 or self.calls[name] <= self.failures[name]:
                raise OSError(f"store unavailable ({name})")

    def update_progress(self, *args, **kwargs):
        self._maybe_fail("update_progress")
        return super().update_progress(*args, **kwargs)

    def put_file(self, job_id, name, data):
        if name == "preview.jpg":
            self._maybe_fail("put_preview")
        return super().put_file(job_id, name, data)

    def finish(self, *args, **kwargs):
        self._maybe_fail("finish")
        return super().finish(*args, **kwargs)

    def get(self, job_id):
        if self.working_gets > 0:
            self.working_gets -= 1
        else:
            self._maybe_fail("get")
        return super().get(job_id)


@pytest.fixture
def no_backoff(monkeypatch) -> None:
    import impasto.jobs.execute

    monkeypatch.setattr(impasto.jobs.execute, "FINISH_BACKOFF_SECONDS", 0.0)
    monkeypatch.setattr(impasto.jobs.execute, "CANCEL_CHECK_SECONDS", 0.0)  # ask the store at every evaluation


def flaky_job(tmp_path: Path, **failures: int) -> tuple[FlakyStore, str]:
    store = FlakyStore(tmp_path, failures=failures)
    store.working_gets = 1_000
    job_id = new_job(store, iterations=5)
    store.working_gets = 1  # run_job's own first read works; the cancel checks after it fail
    return store, job_id


def test_failed_progress_preview_and_cancel_checks_do_not_fail_the_job(tmp_path: Path, no_backoff,
                                                                       caplog) -> None:
    store, job_id = flaky_job(tmp_path, update_progress=2, put_preview=1, get=-1)
    assert run_job(store, job_id, worker=WORKER, engine=UNTRAINED) == "done"
    job = SqliteJobStore(tmp_path).get(job_id)
    assert job.state == "done" and "result.png" in job.files
    assert job.progress["iteration"] == 5 and "preview.jpg" in job.files  # later writes made it
    assert store.calls["get"] > 5  # the cancel check kept asking, and carried on each time
    # Logged once per run of failures, not at every call.
    assert caplog.text.count("checking for a cancel failed") == 1
    assert caplog.text.count("writing the progress failed") == 1


def test_the_final_state_is_retried_until_the_store_answers(tmp_path: Path, no_backoff, caplog) -> None:
    store, job_id = flaky_job(tmp_path, finish=3)
    assert run_job(store, job_id, worker=WORKER, engine=UNTRAINED) == "done"
    assert store.calls["finish"] == 4
    assert SqliteJobStore(tmp_path).get(job_id).state == "done"
    assert caplog.text.count("recording its final state 'done' failed") == 3


def test_a_store_that_never_answers_leaves_the_job_to_the_reaper(tmp_path: Path, no_backoff, caplog) -> None:
    store, job_id = flaky_job(tmp_path, finish=-1)
    run_job(store, job_id, worker=WORKER, engine=UNTRAINED)
    from impasto.jobs.execute import FINISH_TRIES

    assert store.calls["finish"] == FINISH_TRIES
    assert "could not record its final state 'done'" in caplog.text
    plain = SqliteJobStore(tmp_path)
    assert plain.get(job_id).state == "running"
    assert plain.recover_stale(stale_after=-1, max_attempts=3) == [job_id]  # re-queued, as if it had died
    assert plain.get(job_id).state == "queued"


def test_a_heartbeat_that_keeps_failing_is_logged_once_per_outage(monkeypatch, caplog) -> None:
    import impasto.jobs.execute as execute

    class Store:
        calls, down = 0, True

        def heartbeat(self, job_id, worker):
            self.calls += 1
            if self.calls == 6:
                self.down = False  # back after five failures ...
            elif self.calls == 9:
                self.down = True  # ... and away again
            if self.down:
                raise ConnectionError("store away")

    store = Store()
    caplog.set_level(logging.INFO, logger="impasto.jobs.execute")
    monkeypatch.setattr(execute, "HEARTBEAT_SECONDS", 0.0)
    with execute._Heartbeat(store, "job-1", WORKER):
        wait_for(lambda: store.calls >= 12)
    assert caplog.text.count("job job-1: the heartbeat failed") == 2  # one per outage, not one per beat
    assert caplog.text.count("Traceback") == 2
    assert "job job-1: the heartbeat works again after 5 failure(s)" in caplog.text
