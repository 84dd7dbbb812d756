"""A runner's warm-up: TensorFlow, the weights and this machine's speed, before any job.

A fresh server's first job paid TensorFlow's start, the weights and its tracing (~3 s at 256 px),
and its "takes about" was the cost model's own machine's time: a constant. When a process's runners
start (IMPASTO_WARM_UP, on by default), one of them loads the engine and times a few evaluations
(src/impasto/nst/calibrate.py) before it takes a job. Until jobs have finished here, the estimates of
this process go by that speed (src/impasto/web/estimate.py). A web server whose jobs run on Celery
workers has no runner, and keeps the model's own speed until its workers' jobs finish.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from impasto.nst.errors import ImpastoError

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Measured:
    speed: float  # this machine's seconds per cost-model second
    seconds: float  # how long the warm-up took (TensorFlow's import included)


_lock = threading.Lock()
_measured: Measured | None = None
_tried = False


def measured() -> Measured | None:
    """This process's warm-up measurement, or None (not warmed up, or it failed)."""
    return _measured


def warm_up(weights: str | None, precision: str, lock_file: Path | None = None,
            clock: Callable[[], float] = time.perf_counter) -> Measured | None:
    """Warm this process up once (later calls, from other runner threads, wait for the first and
    return its measurement). The processes on this machine take turns by ``lock_file`` (default
    ``lock_path()``): two timing at once would each measure half of it. Never raises: a server
    without its weights starts, and the warning says why."""
    global _measured, _tried
    with _lock:
        if _tried:
            return _measured
        _tried = True
        try:
            with _turn(lock_file or lock_path()):
                started = clock()
                from impasto.nst import calibrate  # imports TensorFlow

                speed = calibrate.speed(weights, precision, clock)
        except (ImpastoError, OSError) as exc:
            log.warning("warm-up skipped: %s", getattr(exc, "message", exc))
            return None
        _measured = Measured(speed, clock() - started)
        log.info("warmed up in %.1f s: an evaluation here takes %.2f× the cost model's time", _measured.seconds, speed)
        return _measured


def lock_path() -> Path:
    """The lock this user's Impasto processes on this machine take turns by (the machine is what they measure)."""
    return Path(tempfile.gettempdir()) / f"impasto-warm-up-{os.getuid()}.lock"


@contextmanager
def _turn(lock_file: Path) -> Iterator[None]:
    """This process's turn: an exclusive lock on ``lock_file``, held until the block ends."""
    descriptor = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # and the lock with it


def forget() -> None:
    """As if this process had never warmed up (tests)."""
    global _measured, _tried
    with _lock:
        _measured, _tried = None, False
