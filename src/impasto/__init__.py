"""Impasto: a self-hosted neural style transfer studio.

``create_app()`` is the Flask application factory (gunicorn runs ``impasto:create_app()``). Settings
come from IMPASTO_* environment variables (src/impasto/config.py); ``test_config`` overrides them (and
Flask's own keys). A bad setting stops create_app with ``SettingsError``, one line naming the
variable. ``test_config["DISPATCHER"]``, a callable (store, RunnerConfig) -> Dispatcher, replaces the
runner threads of embedded mode: tests run jobs inline, by hand, or on threads that hold them.
With IMPASTO_BROKER_URL set, jobs go to Redis and Celery workers (src/impasto/jobs/distributed.py).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from flask import Flask

from impasto.config import Settings
from impasto.logs import configure as configure_logs


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings, job store (with start-up recovery), runners, blueprints.

    Raises impasto.config.SettingsError (one line naming the variable) for a bad IMPASTO_* value.
    """
    from impasto.web.body import GuardedRequest

    app = Flask(__name__)  # templates/ and static/ sit inside the package
    app.request_class = GuardedRequest  # exact size limit, upload time limit, 400 for broken framing
    overrides = dict(test_config or {})
    settings = Settings.from_env(overrides=overrides)  # test_config's IMPASTO_* values are checked too
    app.config.update(settings.as_flask_config())
    app.config.update({k: v for k, v in overrides.items() if k not in settings.as_flask_config()})
    app.config["MAX_CONTENT_LENGTH"] = int(settings.max_upload_mb * 1024 * 1024)
    configure_logs(settings.log_format)  # before the store and runners log their first lines
    _wire_jobs(app, settings)
    _register_web(app)
    return app


def _wire_jobs(app: Flask, settings: Settings) -> None:
    from impasto.web import Services

    if settings.broker_url:
        # Scale-out mode: jobs in Redis, run by Celery workers (src/impasto/jobs/distributed.py).
        from impasto.jobs.celery_app import build

        store, dispatcher = build(settings)
    else:
        store, dispatcher = _embedded(settings, app.config.get("DISPATCHER") or _runner_threads)
    app.extensions["impasto"] = Services(store, dispatcher, _storage(settings, store), _weights_check(settings))


def _weights_check(settings: Settings) -> Callable[[], Any]:
    """Whether jobs would find their weights (src/impasto/nst/vgg.py); in scale-out mode the workers'
    Keras caches are out of sight, so only a named weights file is checked here."""
    from functools import partial

    from impasto.nst.vgg import missing_weights

    return partial(missing_weights, settings.vgg_weights, imagenet_too=not settings.broker_url)


def _storage(settings: Settings, store: Any) -> Any:
    """The cap and the usage: the data dir's files, or in scale-out mode the memory Redis uses."""
    from functools import partial

    from impasto.storage import Storage, redis_usage_bytes, usage_bytes

    if settings.broker_url:
        measure = partial(redis_usage_bytes, store.redis)
    else:
        measure = partial(usage_bytes, settings.data_dir)
    return Storage(measure, limit_mb=settings.storage_limit_mb, retention_days=settings.retention_days)


def _embedded(settings: Settings, make_dispatcher: Callable[[Any, Any], Any]) -> tuple[Any, Any]:
    """The default: jobs in SQLite in the data dir, run by runner threads in each server process."""
    from impasto.jobs.runner import RunnerConfig, housekeeping
    from impasto.jobs.sqlite_store import SqliteJobStore

    store = SqliteJobStore(settings.data_dir)
    if settings.metrics:  # before housekeeping: a job it gives up on is counted
        from impasto.jobs.metrics_files import file_metrics

        store.metrics = file_metrics(settings.data_dir)
    runner_config = RunnerConfig.from_settings(settings)
    housekeeping(store, runner_config)  # jobs left running by a crash or restart; expired jobs
    return store, make_dispatcher(store, runner_config)


def _runner_threads(store: Any, config: Any) -> Any:
    from impasto.jobs.runner import ThreadRunner

    runner = ThreadRunner(store, config)
    runner.start()
    store.metrics.runner_alive()
    return runner


def _register_web(app: Flask) -> None:
    from impasto.web import api, auth, errors, headers, health, hosts, metrics, origin, pages, ratelimit, signin

    metrics.register(app)  # /metrics answers before every other hook: it has its own access rule
    # before_request hooks run in this order: the Host check first (400 before any other work),
    # then who is asking (auth sets g.owner; with a password, sends others to /login or 401), then
    # the origin check; the rate limit wraps the submission views, so it runs after them all and
    # its key can use g.owner.
    hosts.register(app)
    auth.register(app)
    origin.register(app)
    signin.register(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    health.register(app)
    ratelimit.register(app)
    headers.register(app)
    errors.register(app)
