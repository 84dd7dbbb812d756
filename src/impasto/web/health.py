"""The probes, open without signing in: /healthz (is the process alive) and /readyz (can it take work).

/healthz stays cheap: the job counts, which the store answers anyway, and the process id.
/readyz answers 200 only when every dependency of a job is there: the job store answers (the
SQLite file, or Redis in scale-out), the VGG16 weights are at hand (the file that
IMPASTO_VGG_WEIGHTS names holds VGG16's kernels: its HDF5 index is read, milliseconds; unset, Keras's
cache holds the ImageNet file; submissions are refused on the same check), and the data dir's
disk has IMPASTO_MIN_FREE_DISK_MB free. Otherwise 503, naming what is wrong in words, never a path,
URL or secret; the log has the details, once per change of state in each process (a probe every
few seconds must not fill the log).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from flask import Blueprint, Flask, Response, current_app, jsonify

from impasto.jobs.store import QUEUED, RUNNING
from impasto.web import services

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)
MB = 1024 * 1024
RETRY_SECONDS = 10

Problem = tuple[str, str]  # what the answer says, what the log says


def disk_free(path: Path) -> int:
    """Bytes free for this process on the disk holding ``path`` (or its nearest existing folder)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


@dataclass
class Readiness:
    """What /readyz reads the disk with (tests pass a full one), and the problems it logged last."""

    disk_free: Callable[[Path], int] = disk_free
    logged: tuple[str, ...] = ()
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, problems: dict[str, Problem]) -> None:
        """Log a change: new problems (with their details), or ready again."""
        details = tuple(detail for _, detail in problems.values())
        with self.lock:
            changed, self.logged = details != self.logged, details
        if changed and details:
            log.warning("not ready: %s", "; ".join(details))
        elif changed:
            log.info("ready again")


def register(app: Flask) -> None:
    """``test_config["DISK_FREE"]``, a callable (path) -> bytes free, replaces the disk's answer."""
    app.extensions["impasto_readiness"] = Readiness(app.config.get("DISK_FREE") or disk_free)
    app.register_blueprint(bp)


@bp.get("/healthz")
def healthz() -> Response:
    counts = services().store.counts()  # also proves the store answers
    # The process id tells which server process answered (several run under gunicorn -w N).
    return jsonify({"status": "ok", "queued": counts.get(QUEUED, 0), "running": counts.get(RUNNING, 0),
                    "process": os.getpid()})


@bp.get("/readyz")
def readyz() -> Response:
    checks = {"store": _store(), "weights": _weights(), "disk": _disk(current_app.config)}
    problems = {name: problem for name, problem in checks.items() if problem is not None}
    current_app.extensions["impasto_readiness"].note(problems)
    listed = {name: problem[0] if problem else "ok" for name, problem in checks.items()}
    if not problems:
        return jsonify({"status": "ready", "checks": listed})
    said = "; ".join(said for said, _ in problems.values())
    response = jsonify({"status": "not ready", "error": f"not ready: {said}", "checks": listed})
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_SECONDS)
    return response


def _store() -> Problem | None:
    try:
        services().store.ping()
    except Exception as exc:  # noqa: BLE001 - whatever the backend raises, it does not answer
        return "the job store does not answer", f"the job store does not answer ({type(exc).__name__}: {exc})"
    return None


def _weights() -> Problem | None:
    missing = services().weights()  # the same check that refuses submissions (src/impasto/nst/vgg.py)
    return None if missing is None else (missing.said, missing.detail)


def _disk(config: Any) -> Problem | None:
    minimum = float(config["IMPASTO_MIN_FREE_DISK_MB"])
    if minimum <= 0:
        return None
    try:
        free = current_app.extensions["impasto_readiness"].disk_free(Path(config["IMPASTO_DATA_DIR"]))
    except OSError as exc:
        return "the data dir's disk cannot be read", f"the data dir's disk cannot be read ({exc})"
    if free >= minimum * MB:
        return None
    said = (f"{free / MB:,.0f} MB free on the data dir's disk, less than IMPASTO_MIN_FREE_DISK_MB "
            f"({minimum:,.0f} MB)")
    return said, said
