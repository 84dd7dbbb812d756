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


TURN_WAIT_SECONDS = 60.0  # for another process's warm-up; then this one is skipped (never a job held up)

_lock = threading.Lock()
_measured: Measured | None = None
_tried = False
_running = threading.Event()  # set while this process warms up (src/impasto/web/worker.py asks)


def measured() -> Measured | None:
    """This process's warm-up measurement, or None (not warmed up, or it failed)."""
    return _measured


def in_progress() -> bool:
    """Whether this process is warming up now (TensorFlow may be half imported)."""
    return _running.is_set()


def warm_up(weights: str | None, precision: str, lock_file: Path | None = None,
            clock: Callable[[], float] = time.perf_counter, wait: float = TURN_WAIT_SECONDS) -> Measured | None:
    """Warm this process up once (later calls, from other runner threads, wait for the first and
    return its measurement). The processes on this machine take turns by ``lock_file`` (default
    ``lock_path()``): two timing at once would each measure half of it; after ``wait`` seconds
    for a turn this one is skipped. Never raises: a server without its weights starts, and the
    warning says why."""
    global _measured, _tried
    with _lock:
        if _tried:
            return _measured
        _tried = True
        _running.set()
        try:
            _measured = _measure(weights, precision, lock_file or lock_path(), clock, wait)
        except (ImpastoError, OSError) as exc:
            log.warning("warm-up skipped: %s", getattr(exc, "message", exc))
        finally:
            _running.clear()
        return _measured


def _measure(weights: str | None, precision: str, lock_file: Path, clock: Callable[[], float],
             wait: float) -> Measured:
    with _turn(lock_file, wait):
        started = clock()
        from impasto.nst import calibrate  # imports TensorFlow

        speed = calibrate.speed(weights, precision, clock)
    measured = Measured(speed, clock() - started)
    log.info("warmed up in %.1f s: an evaluation here takes %.2f× the cost model's time", measured.seconds, speed)
    return measured


def lock_path() -> Path:
    """The lock this user's Impasto processes on this machine take turns by (the machine is what they measure)."""
    return Path(tempfile.gettempdir()) / f"impasto-warm-up-{os.getuid()}.lock"


@contextmanager
def _turn(lock_file: Path, wait: float) -> Iterator[None]:
    """This process's turn: an exclusive lock on ``lock_file``, held until the block ends;
    TimeoutError after ``wait`` seconds without it (a process stuck in its own warm-up)."""
    descriptor = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        deadline = time.monotonic() + wait
        while not _try_lock(descriptor):
            if time.monotonic() > deadline:
                raise TimeoutError(f"another Impasto process on this machine held {lock_file} for {wait:g} s")
            time.sleep(0.1)
        yield
    finally:
        os.close(descriptor)  # and the lock with it


def _try_lock(descriptor: int) -> bool:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def forget() -> None:
    """As if this process had never warmed up (tests)."""
    global _measured, _tried
    with _lock:
        _measured, _tried = None, False
