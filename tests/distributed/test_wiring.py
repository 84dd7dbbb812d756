"""Scale-out wiring without workers: Celery settings, the switch in create_app, `impasto worker`
without a broker, the reaper's decisions, and that embedded mode never imports Redis or Celery."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from impasto.config import Settings, SettingsError
from impasto.jobs.distributed import DistributedConfig, Reaper
from impasto.jobs.redis_store import RedisJobStore
from tests.conftest import ROOT
from tests.distributed.procs import impasto_command, scale_out_env
from tests.helpers import Clock
from tests.weights import UNTRAINED_WEIGHTS


def config(**environ) -> DistributedConfig:
    """The scale-out config of the settings read from ``environ`` (a broker URL unless given)."""
    return DistributedConfig.from_settings(Settings.from_env({"IMPASTO_BROKER_URL": "redis://127.0.0.1:1/0",
                                                              **environ}))


def test_celery_settings_are_the_reliable_ones() -> None:
    from impasto.jobs.celery_app import celery_settings, create_celery

    settings = celery_settings(config(IMPASTO_VISIBILITY_TIMEOUT="7200"))
    assert settings["accept_content"] == ["json"] and settings["task_serializer"] == "json"
    assert settings["task_acks_late"] and settings["task_reject_on_worker_lost"]
    assert settings["worker_prefetch_multiplier"] == 1 and settings["worker_concurrency"] == 1
    assert settings["broker_transport_options"] == {"visibility_timeout": 7200, "unacked_restore_throttle": 1}
    assert config().visibility_timeout >= 6 * 3600  # above the longest job the web accepts
    amqp = celery_settings(config(IMPASTO_BROKER_URL="amqp://host//", IMPASTO_STORE_URL="redis://h/0"))
    assert "broker_transport_options" not in amqp  # Redis-only options only for a Redis broker
    celery = create_celery(config())
    assert "impasto.run_job" in celery.tasks and celery.conf.task_default_queue == "impasto"


def test_scale_out_config_comes_from_the_settings() -> None:
    cfg = config(IMPASTO_REAP_SECONDS="2", IMPASTO_REDIS_PREFIX="studio", IMPASTO_STALE_AFTER="12",
                 IMPASTO_VGG_WEIGHTS=UNTRAINED_WEIGHTS, IMPASTO_PRECISION="float32", IMPASTO_MAX_MEMORY_GB="6")
    assert (cfg.prefix, cfg.queue, cfg.reap_seconds, cfg.stale_after) == ("studio", "studio", 2.0, 12.0)
    assert (cfg.engine.weights, cfg.engine.precision, cfg.engine.memory_gb) == (UNTRAINED_WEIGHTS, "float32", 6.0)
    assert cfg.store_url == cfg.broker_url
    with pytest.raises(SettingsError, match="IMPASTO_STORE_URL"):
        config(IMPASTO_BROKER_URL="amqp://host//")
    with pytest.raises(ValueError, match="IMPASTO_BROKER_URL"):
        DistributedConfig.from_settings(Settings.from_env({}))


def test_worker_without_a_broker_says_so_and_exits_2() -> None:
    env = scale_out_env("", "x")
    env.pop("IMPASTO_BROKER_URL")
    done = subprocess.run([*impasto_command(), "worker"], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "IMPASTO_BROKER_URL" in lines[0]


def test_embedded_mode_imports_neither_redis_nor_celery(tmp_path: Path) -> None:
    code = ("import sys; from impasto import create_app; "
            f"app = create_app({{'IMPASTO_DATA_DIR': {str(tmp_path)!r}}}); "
            "bad = [m for m in ('redis', 'celery', 'kombu') if m in sys.modules]; "
            "print(type(app.extensions['impasto'].store).__name__, bad)")
    env = scale_out_env("", "x")
    env.pop("IMPASTO_BROKER_URL")
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "SqliteJobStore []", done.stderr[-2000:]


@pytest.mark.redis
def test_the_reaper_requeues_dead_workers_jobs_and_sends_them_again(redis_url: str, prefix: str) -> None:
    clock = Clock()
    store = RedisJobStore(redis_url, prefix=prefix, clock=clock)
    sent: list[str] = []
    reaper = Reaper(store, config(IMPASTO_STALE_AFTER=30, IMPASTO_MAX_ATTEMPTS=2),
                    lambda job_id: (sent.append(job_id), store.mark_sent(job_id)))
    dead, cancelled, alive = (store.create({}, {}).id for _ in range(3))
    for job_id in (dead, cancelled, alive):
        store.mark_sent(job_id)
        store.claim("w", 10, job_id=job_id)
    store.request_cancel(cancelled)
    clock.now += 60
    store.heartbeat(alive, "w")
    assert reaper.tick() == [dead] and sent == [dead]  # only the re-queued one gets a new message
    assert store.get(dead).state == "queued" and store.get(cancelled).state == "cancelled"
    assert store.get(alive).state == "running"
    store.claim("w2", 10, job_id=dead)
    clock.now += 60
    store.heartbeat(alive, "w")
    assert reaper.tick() == [] and store.get(dead).state == "failed"  # max_attempts reached
    assert "2 attempts" in store.get(dead).error


@pytest.mark.redis
def test_the_reaper_sends_a_task_for_a_job_whose_message_was_never_sent(redis_url: str, prefix: str) -> None:
    clock = Clock()
    store = RedisJobStore(redis_url, prefix=prefix, clock=clock)
    cfg = config(IMPASTO_VISIBILITY_TIMEOUT=3600)
    sent: list[str] = []
    reaper = Reaper(store, cfg, lambda job_id: (sent.append(job_id), store.mark_sent(job_id)))
    lost, fine = store.create({}, {}).id, store.create({}, {}).id
    store.mark_sent(fine)
    assert reaper.tick() == []  # the web process may be sending it right now
    clock.now += 30
    assert reaper.tick() == [lost] and reaper.tick() == []
    clock.now += 3600 + 1  # after the visibility timeout the broker would have redelivered; so do we
    assert sorted(reaper.tick()) == sorted([lost, fine])


@pytest.mark.redis
@pytest.mark.parametrize("days, kept", [(None, True), ("0", True), ("1", False)])
def test_the_reaper_deletes_old_finished_jobs_only_with_a_retention(redis_url: str, prefix: str, days: str | None,
                                                                     kept: bool) -> None:
    clock = Clock()
    store = RedisJobStore(redis_url, prefix=prefix, clock=clock)
    finished, queued = store.create({}, {}).id, store.create({}, {}).id
    store.claim("w", 1, job_id=finished)
    store.finish(finished, "w", "done")
    clock.now += 86400 + 1
    Reaper(store, config(**({"IMPASTO_RETENTION_DAYS": days} if days else {})), lambda job_id: None).tick()
    assert (store.get(finished) is not None) == kept and store.get(queued).state == "queued"


@pytest.mark.redis
def test_times_come_from_the_redis_server_clock(redis_url: str, prefix: str) -> None:
    store = RedisJobStore(redis_url, prefix=prefix)
    server_now = store.redis.time()[0]
    job = store.create({}, {})
    assert abs(job.created - server_now) < 5
    claimed = store.claim("w", 1)
    assert claimed.heartbeat >= job.created and store.recover_stale(60, 3) == []


def test_messages_are_wake_ups_so_jobs_run_in_the_stores_order(redis_url: str, prefix: str, monkeypatch) -> None:
    """The reaper's new message for a recovered job joins the tail of the broker's queue; the job
    still runs first, because a message claims the oldest queued job, whichever it was sent for."""
    from impasto.jobs import celery_app

    ran: list[str] = []

    def fake_run_job(store, job_id: str, *, worker: str, **engine) -> str:
        ran.append(job_id)
        assert store.finish(job_id, worker, "done")
        return "done"

    monkeypatch.setattr(celery_app, "run_job", fake_run_job)
    cfg = config(IMPASTO_BROKER_URL=redis_url, IMPASTO_REDIS_PREFIX=prefix)
    store = RedisJobStore(redis_url, prefix=prefix)
    recovered, waiting = store.create({}, {}).id, store.create({}, {}).id
    store.claim("a worker that died", 10, job_id=recovered)
    assert store.recover_stale(stale_after=-1, max_attempts=3) == [recovered]
    assert store.queue_position(recovered) == 1 and store.queue_position(waiting) == 2
    assert celery_app.execute(cfg, waiting) == "done"  # the older message, for the job behind
    assert ran == [recovered]
    assert celery_app.execute(cfg, recovered) == "done"  # the reaper's message, at the tail
    assert ran == [recovered, waiting]
    assert celery_app.execute(cfg, recovered) == "skipped"  # a redelivered duplicate runs nothing
    assert ran == [recovered, waiting] and store.get(recovered).attempts == 2 and store.get(waiting).attempts == 1


def test_a_bad_store_url_is_named_without_its_password() -> None:
    with pytest.raises(ValueError) as caught:
        config(IMPASTO_STORE_URL="amqp://impasto:s3cret@mq.internal:5672//")
    assert "s3cret" not in str(caught.value) and "mq.internal:5672" in str(caught.value)


def test_bad_scale_out_settings_are_named() -> None:
    with pytest.raises(SettingsError, match=r"^IMPASTO_REAP_SECONDS must be a number above 0, got 'soon'$"):
        config(IMPASTO_REAP_SECONDS="soon")
    with pytest.raises(SettingsError, match="IMPASTO_VISIBILITY_TIMEOUT"):
        config(IMPASTO_VISIBILITY_TIMEOUT="-5")


def test_worker_with_a_bad_setting_says_which_in_one_line() -> None:
    env = scale_out_env("redis://127.0.0.1:1/0", "x", IMPASTO_MAX_ATTEMPTS="0")
    done = subprocess.run([*impasto_command(), "worker"], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "impasto: error: IMPASTO_MAX_ATTEMPTS must be a whole number of at least 1, got '0'"]
