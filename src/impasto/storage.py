"""How much room the stored jobs take, and the studio's cap on it (IMPASTO_STORAGE_LIMIT_MB).

- ``usage_bytes(data_dir)``: the sizes of every file under the data dir added up (the job database
  and its WAL, every job's files, the session key, the rate-limit counters): what the studio holds
  on its disk. One walk of the folder, no file opened.
- ``redis_usage_bytes(client)``: in scale-out mode the jobs and their files live in Redis, so the
  room they take is the memory Redis reports using (``INFO memory``), one cheap call.
- ``Storage``: the configured cap and retention, with the usage measured at most once every
  ``cache_seconds`` (a walk of a large data dir costs milliseconds; a submission should not pay
  it each time). Metrics and the submission check read it (``app.extensions["impasto"].storage``).

The cap is checked before a job is stored, never while one runs: a job accepted under the cap
still writes its previews and result, so the usage may pass the cap by the jobs under way. Nothing
stored is ever deleted to make room. Standard library only.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

MB = 1024 * 1024
CACHE_SECONDS = 5.0


def usage_bytes(data_dir: str | os.PathLike) -> int:
    """Bytes of all files under ``data_dir`` (links not followed); 0 for a folder not made yet."""
    total = 0
    folders = [Path(data_dir)]
    while folders:
        try:
            entries = os.scandir(folders.pop())
        except (FileNotFoundError, NotADirectoryError):  # a job deleted while the folder was walked
            continue
        with entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(Path(entry.path))
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
                except FileNotFoundError:
                    continue
    return total


def redis_usage_bytes(client: Any) -> int:
    """The memory the Redis server uses (all its data, the broker's queues included)."""
    return int(client.info("memory")["used_memory"])


class Storage:
    """The storage settings and the usage, measured by ``measure`` and kept ``cache_seconds``."""

    def __init__(self, measure: Callable[[], int], *, limit_mb: float | None = None,
                 retention_days: float | None = None, cache_seconds: float = CACHE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.measure, self.limit_mb, self.retention_days = measure, limit_mb, retention_days
        self.cache_seconds, self.clock = cache_seconds, clock
        self._lock = threading.Lock()
        self._measured: tuple[float, int] | None = None  # (when, bytes)

    @property
    def limit_bytes(self) -> int | None:
        """The cap in bytes; None: no cap."""
        return int(self.limit_mb * MB) if self.limit_mb else None

    def used_bytes(self) -> int:
        """The usage, measured anew only when the last measure is ``cache_seconds`` old."""
        with self._lock:
            now = self.clock()
            if self._measured is None or now - self._measured[0] >= self.cache_seconds:
                self._measured = (now, int(self.measure()))
            return self._measured[1]

    def full(self) -> bool:
        """Whether new jobs must be refused: a cap is set and the usage has reached it."""
        limit = self.limit_bytes
        return limit is not None and self.used_bytes() >= limit


def unlimited() -> Storage:
    """Storage with no cap and no measure (what code handed no settings gets)."""
    return Storage(lambda: 0)
