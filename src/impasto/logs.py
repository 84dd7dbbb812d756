"""How Impasto's processes log: a plain line per record (the default), or one JSON object per line
(IMPASTO_LOG_FORMAT=json) for a log shipper to read without parsing text.

A JSON line holds ``timestamp`` (ISO 8601, UTC), ``level``, ``logger`` and ``message``, a
traceback as ``exc_info`` (one string), and every field the call passed with ``extra=``: the job
lifecycle passes ``job_id`` and ``state`` (and ``worker``, ``run_seconds``, ``queue_seconds``
where it has them), so a job's whole story is one filter away. The formatter is python-json-logger's
JsonFormatter: a maintained, dependency-free ``logging.Formatter`` that turns ``extra=`` fields
into keys, escapes whatever a message holds and leaves out LogRecord's own attributes; a
formatter of our own would have to get all of that right again.

The same format reaches every process: create_app (the web, under `impasto serve` or a gunicorn
started by hand) and the CLI call ``configure``; gunicorn's own lines (start-up, workers, access)
go through src/impasto/web/worker.py's ``StudioLogger``; `impasto worker` sets Celery's handlers'
formatter (src/impasto/jobs/celery_app.py). What is written past Python's logging stays text:
TensorFlow's native start-up lines, Celery's one shutdown line.
"""

from __future__ import annotations

import logging
from typing import IO

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")


def formatter(log_format: str) -> logging.Formatter:
    """The formatter of ``log_format``: 'text' or 'json'."""
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter("{levelname}{name}{message}", style="{", timestamp=True,
                             rename_fields={"levelname": "level", "name": "logger"})
    return logging.Formatter(TEXT_FORMAT)


def handler(log_format: str, stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing to ``stream`` (default: stderr) in ``log_format``."""
    made = logging.StreamHandler(stream)
    made.setFormatter(formatter(log_format))
    return made


def configure(log_format: str, level: int = logging.INFO) -> None:
    """Log to stderr in ``log_format`` from ``level`` on, unless logging is configured already (a host
    application, pytest): under gunicorn the root logger has no handler, and the INFO lines (job
    queued, claimed, done) would vanish."""
    root = logging.getLogger()
    if root.handlers:
        return
    root.addHandler(handler(log_format))
    root.setLevel(level)
    if log_format == "json":
        logging.captureWarnings(True)  # a library's warnings (Celery's "running as root") as JSON lines too


def reformat(logger: logging.Logger, log_format: str) -> None:
    """Give every handler of ``logger`` the formatter of ``log_format`` (handlers another library set up)."""
    for each in logger.handlers:
        each.setFormatter(formatter(log_format))
