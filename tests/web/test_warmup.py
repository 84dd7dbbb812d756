"""A runner's warm-up (src/impasto/jobs/warmup.py): the engine loaded and this machine's speed
measured before the first job; a fresh server's estimates go by that speed, not the model's own."""

from __future__ import annotations

import fcntl
import itertools
import threading
from pathlib import Path
from typing import Callable

import pytest
from flask import Flask

from impasto.jobs import warmup
from impasto.nst import calibrate, cost, vgg
from impasto.nst.options import DEFAULTS, Options
from impasto.web.estimate import FIXED_SECONDS, START_SECONDS, work
from tests.dispatch import threads
from tests.helpers import wait_for
from tests.web.conftest import form, png_bytes
from tests.weights import UNTRAINED_WEIGHTS


def test_the_speed_is_the_timed_evaluations_over_the_cost_model_s() -> None:
    ticks = itertools.count(step=0.05)  # every evaluation "takes" 0.05 s: the clock is read before and after
    speed = calibrate.speed(UNTRAINED_WEIGHTS, "auto", clock=lambda: next(ticks))
    options = DEFAULTS.replace(size=calibrate.WIDTH)
    height, width = calibrate.HEIGHT, calibrate.WIDTH
    model = cost.evaluation_seconds(options, height * width / 1e6, height / width)
    assert speed == pytest.approx(0.05 / model)


def test_a_fresh_server_s_estimate_goes_by_the_warm_up(make_app: Callable[..., Flask], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_app().test_client()
    options = Options(size=256)
    untouched = client.get("/api/estimate?size=256&aspect=0.75").get_json()
    assert untouched["seconds"] == pytest.approx(FIXED_SECONDS + cost.trace_seconds(options) + START_SECONDS
                                                 + work(options, 0.75), abs=0.05)
    assert "no picture has finished here yet" in untouched["line"]

    monkeypatch.setattr(calibrate, "speed", lambda weights, precision, clock: 0.4)
    assert warmup.warm_up(UNTRAINED_WEIGHTS, "auto", tmp_path / "warm-up.lock").speed == 0.4
    warm = client.get("/api/estimate?size=256&aspect=0.75").get_json()
    # this machine's speed, and no TensorFlow start: a runner here has paid it
    assert warm["seconds"] == pytest.approx(FIXED_SECONDS + cost.trace_seconds(options) + 0.4 * work(options, 0.75),
                                            abs=0.05)
    assert warm["measured_jobs"] == 0 and "a first guess from this server's measured speed" in warm["line"]


def test_processes_take_turns_and_a_failed_warm_up_leaves_the_model_s_speed(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    timed = threading.Event()

    def speed(weights, precision, clock):
        timed.set()
        return 1.5

    monkeypatch.setattr(calibrate, "speed", speed)
    lock_file = tmp_path / "warm-up.lock"
    with open(lock_file, "a") as other_process:  # another process of the server, warming up now
        fcntl.flock(other_process, fcntl.LOCK_EX)
        thread = threading.Thread(target=warmup.warm_up, args=(UNTRAINED_WEIGHTS, "auto", lock_file))
        thread.start()
        assert not timed.wait(0.3)  # it waits for its turn
        fcntl.flock(other_process, fcntl.LOCK_UN)
    thread.join(10)
    assert timed.is_set() and warmup.measured().speed == 1.5

    warmup.forget()
    monkeypatch.undo()  # the real measurement, of weights that are not there
    assert warmup.warm_up(str(tmp_path / "missing.weights.h5"), "auto", lock_file) is None
    assert warmup.measured() is None


def test_runner_threads_warm_up_and_their_first_job_loads_and_traces_nothing(make_app: Callable[..., Flask]) -> None:
    vgg._cache.pop(UNTRAINED_WEIGHTS, None)  # as in a fresh process
    app = make_app(DISPATCHER=threads(), IMPASTO_WARM_UP="on")
    wait_for(lambda: warmup.measured() is not None, 120, "the warm-up")
    assert warmup.measured().speed > 0
    client = app.test_client()
    answer = client.post("/api/jobs", data=form(content=png_bytes(192, 256), style_name="the_scream", size="256"))
    assert answer.status_code == 202, answer.get_json()
    job_url = answer.headers["Location"]
    wait_for(lambda: client.get(job_url).get_json()["state"] == "done", 120, "the job")
    timings = client.get(job_url).get_json()["summary"]["timings"]
    assert timings["weights"]["seconds"] < 0.01  # loaded by the warm-up
    assert "scale 1 trace" not in timings  # the 4:3 program at 256 px was traced by the warm-up


def test_a_process_stuck_in_its_warm_up_holds_no_other_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """The turn is waited for a while, then this warm-up is skipped: its runner takes jobs."""
    monkeypatch.setattr(calibrate, "speed", lambda weights, precision, clock: pytest.fail("no turn, no timing"))
    lock_file = tmp_path / "warm-up.lock"
    with open(lock_file, "a") as stuck:
        fcntl.flock(stuck, fcntl.LOCK_EX)
        assert warmup.warm_up(UNTRAINED_WEIGHTS, "auto", lock_file, wait=0.3) is None
    assert "warm-up skipped: another Impasto process on this machine held" in caplog.text
    assert not warmup.in_progress()


def test_a_worker_stopped_during_its_warm_up_leaves_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python's own exit could wait for ever on TensorFlow half imported in the warm-up's thread."""
    from gunicorn.workers.gthread import ThreadWorker

    from impasto.web.worker import StudioWorker

    exits = []
    monkeypatch.setattr(ThreadWorker, "run", lambda self: None)  # gunicorn stopped the process
    monkeypatch.setattr("impasto.web.worker.os._exit", exits.append)
    worker = object.__new__(StudioWorker)
    worker.run()
    assert exits == []  # no warm-up under way: the usual exit
    warmup._running.set()
    try:
        worker.run()
    finally:
        warmup._running.clear()
    assert exits == [0]
