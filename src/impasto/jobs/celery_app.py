"""The Celery side of scale-out mode: the app's settings, the task, create_app's wiring (``build``)
and ``impasto worker``.

The task carries a job id, but the message is only a wake-up: the task claims the OLDEST queued
job, so jobs run in the store's order (a job re-queued by the reaper keeps its place at the front,
although its new message joins the tail of the broker's queue). Every queued job has at least one
message of its own, and each message claims at most one job, so every job is run; the claim is
atomic, so a message delivered twice (the broker's redelivery after the visibility timeout, plus
the reaper's re-send) never runs a job twice. Everything else (options, inputs, progress, previews,
result) goes through the Redis job store.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import sys
from typing import Any

from celery import Celery, signals

from impasto.config import Settings, masked_url
from impasto.jobs.distributed import TASK_NAME, CeleryDispatcher, DistributedConfig, Reaper, Sender, make_store
from impasto.jobs.execute import Painter, run_job
from impasto.logs import reformat

log = logging.getLogger(__name__)

# A Celery message never waits on the store's global limit: each worker's concurrency is its limit.
UNLIMITED = 1_000_000

_main_pid = os.getpid()  # set again by run_worker; the name of the process operators see and kill
# One Redis client per process and store: pool children must not share sockets.
_stores: dict[tuple[int, str, str], Any] = {}


def celery_settings(config: DistributedConfig) -> dict[str, Any]:
    """Reliability settings (docs/design-notes.md, "Celery and Redis")."""
    settings: dict[str, Any] = {
        "broker_url": config.broker_url,
        # JSON only: no pickle (Celery as root refuses to start with it, and it runs code on load).
        "task_serializer": "json", "result_serializer": "json", "accept_content": ["json"],
        # Ack after the task, and put the message back if the pool process dies mid-task.
        "task_acks_late": True, "task_reject_on_worker_lost": True,
        # One message at a time per process: a long job never holds a second one hostage.
        "worker_prefetch_multiplier": 1,
        "worker_concurrency": 1,
        "task_ignore_result": True,  # state and results live in the job store, not a result backend
        "task_default_queue": config.queue,
        "broker_connection_retry_on_startup": True,
        "worker_send_task_events": False,
        "worker_hijack_root_logger": True,
    }
    if config.broker_is_redis:
        # Redis-only options: an unacked message returns to the queue after the visibility
        # timeout (keep it above the longest job, or a running job's message is handed out
        # again; the claim would refuse it), scanned for at every 10 s sweep (throttle 1).
        settings["broker_transport_options"] = {"visibility_timeout": int(config.visibility_timeout),
                                                "unacked_restore_throttle": config.restore_throttle}
    return settings


def create_celery(config: DistributedConfig, painter: Painter = Painter()) -> Celery:
    """A Celery app with the settings above and the job task registered (``painter``: run_job's)."""
    celery = Celery("impasto", set_as_current=False)
    celery.conf.update(celery_settings(config))

    # shared=False: the task belongs to this app (and its config) only, not to every Celery app.
    @celery.task(name=TASK_NAME, ignore_result=True, shared=False)
    def run_job_task(job_id: str) -> str:
        return execute(config, job_id, painter)

    return celery


def build(settings: Settings) -> tuple[Any, CeleryDispatcher]:
    """create_app's scale-out wiring: (store, dispatcher with its reaper running)."""
    config = DistributedConfig.from_settings(settings)
    store = make_store(config)
    dispatcher = CeleryDispatcher(create_celery(config), store, config)
    dispatcher.start()
    log.info("scale-out mode: jobs go to Celery queue %r on %s", config.queue, masked_url(config.broker_url))
    return store, dispatcher


def task_worker_name() -> str:
    """host:pid:random, pid being the `impasto worker` process (a fresh random part per task)."""
    return f"{socket.gethostname()}:{_main_pid}:{secrets.token_hex(3)}"


def store_for_this_process(config: DistributedConfig) -> Any:
    key = (os.getpid(), config.store_url, config.prefix)
    store = _stores.get(key)
    if store is None:
        store = _stores[key] = make_store(config)
    return store


def execute(config: DistributedConfig, job_id: str, painter: Painter = Painter()) -> str:
    """The task body: claim the oldest queued job and run it; 'skipped' when none is queued.

    ``job_id`` is the job the message was sent for; it may run under another message (an older
    job's, or a duplicate), in which case this one finds the queue without it. A job failing
    because of its input ends 'failed' inside run_job (never retried). A worker that dies mid-job
    leaves it 'running' with a stale heartbeat: the reaper re-queues it (at most max_attempts runs
    in all) and sends a new message.
    """
    store = store_for_this_process(config)
    worker = task_worker_name()
    job = store.claim(worker, UNLIMITED)
    if job is None:
        current = store.get(job_id)
        log.info("message for job %s (%s): no job queued, nothing to do", job_id,
                 current.state if current else "gone")
        return "skipped"
    if job.id != job_id:
        log.info("message for job %s: running job %s first (older in the queue)", job_id, job.id)
    return run_job(store, job.id, worker=worker, engine=config.engine, painter=painter)


def worker_argv(config: DistributedConfig, concurrency: int, loglevel: str, quiet: bool = False) -> list[str]:
    """Celery's command line; ``quiet`` drops its start-up banner (printed, not logged: not JSON)."""
    return [*(["--quiet"] if quiet else []), "worker", f"--concurrency={concurrency}", f"--loglevel={loglevel}",
            "--pool=prefork",
            "--queues", config.queue, "--hostname", f"impasto-{os.getpid()}@%h",
            # No gossip, mingle or event heartbeats: workers share nothing but the queue (and start faster).
            "--without-gossip", "--without-mingle", "--without-heartbeat"]


def _celery_logs(log_format: str) -> bool:
    """True for IMPASTO_LOG_FORMAT=json, whose formatter then goes to every handler Celery sets up
    (it makes its own, worker_hijack_root_logger, after our configure)."""
    if log_format != "json":
        return False
    for signal in (signals.after_setup_logger, signals.after_setup_task_logger):
        signal.connect(json_formatters, weak=False, dispatch_uid="impasto-json-logs")
    return True


def json_formatters(logger: logging.Logger, **_: Any) -> None:
    """Celery's signal receiver: the handlers it just set up write JSON."""
    reformat(logger, "json")


def run_worker(settings: Settings, concurrency: int = 1, loglevel: str = "info",
               painter: Painter = Painter()) -> int:
    """`impasto worker`: a Celery worker for the job queue, plus a reaper thread. Returns the exit code.

    ``painter`` paints every job (the real engine unless a caller wraps it)."""
    global _main_pid
    try:
        config = DistributedConfig.from_settings(settings)
    except ValueError as exc:
        print(f"impasto: error: {exc}; the worker needs the broker, e.g. "
              "IMPASTO_BROKER_URL=redis://localhost:6379/0", file=sys.stderr)
        return 2
    if concurrency < 1:
        print("impasto: error: --concurrency must be at least 1", file=sys.stderr)
        return 2
    _main_pid = os.getpid()
    json_logs = _celery_logs(settings.log_format)
    celery = create_celery(config, painter)
    # The reaper lives in the main process (its own Redis client); pool children run the jobs.
    reaper_store = make_store(config)
    reaper = Reaper(reaper_store, config, Sender(celery, reaper_store, config),
                    beat_as=f"{socket.gethostname()}:{_main_pid}")
    reaper.start()
    try:
        celery.worker_main(worker_argv(config, concurrency, loglevel, quiet=json_logs))
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        reaper.stop(timeout=1.0)
    return 0
