"""The server side of the ``impasto`` command line: ``serve`` runs the studio under gunicorn,
``worker`` a scale-out Celery worker, ``token`` makes, lists and revokes API tokens."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

from impasto import startup
from impasto.config import Settings
from impasto.exit_codes import EXIT_BAD_INPUT

log = logging.getLogger(__name__)

SERVE_THREADS = 32  # per gunicorn process: 20 stalled uploads on one process still leave 12 free
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def add_serve(sub) -> None:
    p = sub.add_parser("serve", help="run the web studio under gunicorn")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    p.add_argument("--threads", type=int, default=SERVE_THREADS,
                   help=f"request threads per process (default {SERVE_THREADS}): a slow upload holds one thread, "
                        "never the process")


def add_worker(sub) -> None:
    p = sub.add_parser("worker", help="run a Celery worker (needs IMPASTO_BROKER_URL)")
    p.add_argument("--concurrency", type=int, default=1, help="jobs at once (default 1: a job uses all cores)")
    p.add_argument("--loglevel", default="info", choices=LOG_LEVELS, metavar="{" + ",".join(LOG_LEVELS) + "}",
                   help="how much the worker logs (default: info)")


def add_token(sub) -> None:
    p = sub.add_parser("token", help="API tokens (Authorization: Bearer TOKEN)", description=(
        "API tokens, kept in the job store (IMPASTO_DATA_DIR, or Redis with IMPASTO_BROKER_URL) as a hash "
        "only. A job submitted with a token belongs to that token's name."))
    actions = p.add_subparsers(dest="token_command", required=True, parser_class=type(p))  # refusals as ours
    actions.add_parser("create", help="make a token; it is printed once, on the last line").add_argument("name")
    actions.add_parser("list", help="names and creation times (never the tokens)")
    actions.add_parser("revoke", help="the token stops working at once").add_argument("name")


def serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the studio under gunicorn: the same command the README and the Dockerfile use."""
    if not 1 <= args.port <= 65535:
        print(f"impasto: error: --port must be from 1 to 65535, got {args.port}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not 1 <= args.workers <= 64:
        print(f"impasto: error: --workers must be from 1 to 64, got {args.workers}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.host not in ("127.0.0.1", "localhost", "::1") and not settings.trusted_hosts:
        log.warning("the studio answers to IP addresses and localhost; set IMPASTO_TRUSTED_HOSTS to the host "
                    "names people use to reach it (see README, \"Exposing Impasto\")")
    if not 1 <= args.threads <= 1000:
        print(f"impasto: error: --threads must be from 1 to 1000, got {args.threads}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if settings.metrics and not settings.broker_url:
        from impasto.jobs.metrics_files import prepare

        prepare(settings.data_dir)  # emptied, and named in the environment gunicorn's processes inherit
    command = [sys.executable, "-m", "gunicorn", *gunicorn_options(args), "impasto:create_app()"]
    log.info("Impasto studio on http://%s:%s/", args.host, args.port)  # a log line: JSON too with IMPASTO_LOG_FORMAT
    startup.report(settings, os.environ, data_dir=not settings.broker_url)  # where the data is; the weights
    os.execv(sys.executable, command)
    return 0  # not reached


def gunicorn_options(args: argparse.Namespace) -> list[str]:
    """How `impasto serve` runs gunicorn.

    gthread workers: each request has a thread of its own, so uploads that stall mid-body (each
    dropped after IMPASTO_UPLOAD_TIMEOUT by the app) hold threads, never a whole process, and the
    process's main thread keeps telling gunicorn it is alive: a slow client can never get a process
    (with its job runner threads) killed by --timeout. The worker class is gthread answering a
    request line over gunicorn's 8,190-byte limit with JSON (src/impasto/web/worker.py).
    """
    from impasto.web.worker import MAX_REQUEST_LINE, StudioLogger, StudioWorker

    worker_class = f"{StudioWorker.__module__}.{StudioWorker.__name__}"
    logger_class = f"{StudioLogger.__module__}.{StudioLogger.__name__}"  # gunicorn's lines as IMPASTO_LOG_FORMAT says
    return ["--workers", str(args.workers), "--worker-class", worker_class, "--threads", str(args.threads),
            "--logger-class", logger_class,
            "--bind", f"{args.host}:{args.port}", "--timeout", "120", "--graceful-timeout", "30",
            "--limit-request-line", str(MAX_REQUEST_LINE), "--access-logfile", "-"]


def worker(args: argparse.Namespace, settings: Settings) -> int:
    try:
        from impasto.jobs.celery_app import run_worker
    except ImportError as exc:
        print(f"impasto: error: the distributed extra is not installed ({exc}); "
              "pip install 'impasto[distributed]'", file=sys.stderr)
        return EXIT_BAD_INPUT
    if settings.broker_url:  # else run_worker refuses, with nothing else said first
        startup.report(settings, os.environ, data_dir=False, meaning=startup.WORKER)
    return run_worker(settings, concurrency=args.concurrency, loglevel=args.loglevel)


def token(args: argparse.Namespace, settings: Settings) -> int:
    """impasto token create NAME | list | revoke NAME, against the store the server uses."""
    from impasto.jobs import tokens

    name = getattr(args, "name", None)
    problem = tokens.check_name(name) if name is not None else None
    if problem:
        print(f"impasto: error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        store = _job_store(settings)
    except (ValueError, ImportError) as exc:
        print(f"impasto: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.token_command == "list":
        listed = store.tokens()
        for entry in listed:
            print(f"{entry.name}\tcreated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(entry.created))}")
        if not listed:
            print("no API tokens", file=sys.stderr)
        return 0
    if args.token_command == "revoke":
        if not store.revoke_token(name):
            print(f"impasto: error: there is no token named {name!r} (impasto token list shows them)", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"revoked token {name!r}", file=sys.stderr)
        return 0
    secret, digest = tokens.new_token()
    if not store.add_token(name, digest):
        print(f"impasto: error: a token named {name!r} exists; revoke it first or pick another name", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"token {name!r} created; it is shown only this once:", file=sys.stderr)
    print(secret)
    return 0


def _job_store(settings: Settings):
    """The job store of the configured server: SQLite in IMPASTO_DATA_DIR, or Redis in scale-out mode."""
    if settings.broker_url:
        from impasto.jobs.distributed import DistributedConfig, make_store

        return make_store(DistributedConfig.from_settings(settings))
    from impasto.jobs.sqlite_store import SqliteJobStore

    return SqliteJobStore(settings.data_dir)
