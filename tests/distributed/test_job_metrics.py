"""Job metrics at the store, both backends: every way a job ends is counted once, by the writer that
won it, with the store's own times; and scale-out's Redis totals read back as Prometheus families."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from impasto.jobs.metrics import DURATION, JobMetrics, Spec
from impasto.jobs.states import gave_up
from impasto.jobs.store import JobStore
from tests.helpers import Clock


class Recorded(JobMetrics):
    """What the store told the metrics: ("count", name, labels, amount) and ("observe", name, labels, value)."""

    enabled = True

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[Any, ...]] = []

    def count(self, spec: Spec, labels: dict[str, str], amount: float = 1.0) -> None:
        self.calls.append(("count", spec.name, labels, amount))

    def observe(self, spec: Spec, labels: dict[str, str], value: float) -> None:
        self.calls.append(("observe", spec.name, labels, value))


@pytest.fixture
def two(make_store: Callable[[], JobStore]) -> tuple[JobStore, JobStore]:
    """Two clients of one store (two processes, in effect), each with its own metrics."""
    stores = make_store(), make_store()
    for store in stores:
        store.metrics = Recorded()
    return stores


def add(store: JobStore) -> str:
    return store.create({"size": 48}, {"content.png": b"c", "style.png": b"s"}).id


def test_a_run_is_counted_with_the_store_times(two, clock: Clock) -> None:
    web, runner = two
    job_id = add(web)
    clock.now += 12.5
    assert runner.claim("w1", 1).id == job_id
    for evaluations in (5, 12, 3):  # a clip's next frame starts its count again
        runner.update_progress(job_id, "w1", {"iteration": 1, "total": 3, "evaluations": evaluations})
    clock.now += 40
    assert runner.finish(job_id, "w1", "done")
    assert runner.metrics.calls == [
        ("observe", "impasto_queue_wait_seconds", {}, 12.5),
        ("count", "impasto_evaluations", {}, 5.0), ("count", "impasto_evaluations", {}, 7.0),
        ("count", "impasto_evaluations", {}, 3.0),
        ("count", "impasto_jobs", {"state": "done"}, 1.0),
        ("observe", "impasto_job_duration_seconds", {"state": "done"}, 40.0)]
    assert web.metrics.calls == []
    assert not runner.finish(job_id, "w1", "failed")  # refused: nothing more counted
    assert len(runner.metrics.calls) == 6


def test_a_queued_cancel_is_counted_once_a_running_one_at_its_end(two) -> None:
    web, runner = two
    queued, running = add(web), add(web)
    assert runner.claim("w1", 1, running)
    web.request_cancel(queued)
    web.request_cancel(queued)
    web.request_cancel(running)  # only its flag: the runner ends it
    assert web.metrics.calls == [("count", "impasto_jobs", {"state": "cancelled"}, 1.0)]
    assert runner.finish(running, "w1", "cancelled")
    assert ("count", "impasto_jobs", {"state": "cancelled"}, 1.0) in runner.metrics.calls


def test_the_reaper_counts_a_job_it_gives_up_on(two, clock: Clock) -> None:
    web, runner = two
    job_id = add(web)
    runner.claim("w1", 1)
    clock.now += 100
    assert web.recover_stale(30, max_attempts=1) == [job_id]
    assert web.metrics.calls == [("count", "impasto_jobs", {"state": "failed"}, 1.0),
                                 ("count", "impasto_job_failures", {"reason": "gave_up"}, 1.0),
                                 ("observe", "impasto_job_duration_seconds", {"state": "failed"}, 100.0)]
    assert web.get(job_id).error == gave_up(1)


def test_a_failing_recorder_never_stops_the_store(two) -> None:
    web, runner = two

    def broken(*args: Any) -> None:
        raise OSError("disk full")

    runner.metrics.count = broken  # type: ignore[method-assign]
    job_id = add(web)
    runner.claim("w1", 1)
    assert runner.finish(job_id, "w1", "done") and runner.get(job_id).state == "done"


@pytest.mark.redis
def test_redis_totals_from_two_workers_read_as_one_scrape(redis_url: str, prefix: str, clock: Clock) -> None:
    from impasto.jobs.metrics_redis import RedisMetrics
    from impasto.jobs.redis_store import RedisJobStore

    workers = [RedisJobStore(redis_url, prefix=prefix, clock=clock) for _ in range(2)]
    for store in workers:
        store.metrics = RedisMetrics.of(store, alive_within=30)
    for number, store in enumerate(workers):
        store.metrics.runner_alive(f"host:{number}")
        store.metrics.finished(None, "done", None)
        store.metrics.observe(DURATION, {"state": "done"}, 7.0 + number)
    workers[1].metrics.finished(None, "failed", "memory")
    clock.now += 20
    workers[0].metrics.runner_alive("host:0")
    clock.now += 20  # host:1 last beat 40 s ago: no longer alive
    found = _scrape(workers[0].metrics.collectors())
    assert found[("impasto_jobs_total", (("state", "done"),))] == 2
    assert found[("impasto_job_failures_total", (("reason", "memory"),))] == 1
    assert found[("impasto_job_failures_total", (("reason", "input"),))] == 0
    assert found[("impasto_job_duration_seconds_count", (("state", "done"),))] == 2
    assert found[("impasto_job_duration_seconds_sum", (("state", "done"),))] == 15
    assert found[("impasto_job_duration_seconds_bucket", (("le", "5.0"), ("state", "done")))] == 0
    assert found[("impasto_job_duration_seconds_bucket", (("le", "10.0"), ("state", "done")))] == 2
    assert found[("impasto_workers_alive", ())] == 1


@pytest.mark.redis
def test_redis_stored_bytes_add_up_the_files(redis_url: str, prefix: str) -> None:
    from impasto.jobs.redis_store import RedisJobStore

    store = RedisJobStore(redis_url, prefix=prefix)
    assert store.stored_bytes() == 0
    job_id = store.create({"size": 48}, {"content.png": b"c" * 1000, "style.png": b"s" * 24}).id
    store.put_file(job_id, "preview.jpg", b"p" * 300)
    assert store.stored_bytes() == 1324


def _scrape(collectors: list[Any]) -> dict:
    registry = CollectorRegistry(auto_describe=False)
    for collector in collectors:
        registry.register(collector)
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}
