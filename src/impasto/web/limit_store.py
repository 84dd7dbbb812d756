"""A rate-limit counter store in SQLite, for the embedded mode (no Redis).

Flask-Limiter keeps its counters in memory by default, and memory is per process: under
``gunicorn -w 2`` a client would get twice the limit, one per process it happens to reach. A small
SQLite file in the data dir is shared by every process on the machine, like the job table. It is
a storage for the ``limits`` library (Flask-Limiter's back end), registered under the scheme
``impasto-sqlite``, and supports its default fixed-window strategy.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from limits.storage import Storage

from impasto.data_dir import private_dir, private_file

SCHEME = "impasto-sqlite"


def storage_uri(data_dir: str | Path) -> str:
    """The Flask-Limiter storage URI of the counters file in ``data_dir``."""
    return f"{SCHEME}://{Path(data_dir).resolve() / 'ratelimits.sqlite3'}"


class SqliteLimitStorage(Storage):
    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions, **options)
        self.path = Path((uri or "").removeprefix(f"{SCHEME}://"))
        private_dir(self.path.parent)
        private_file(self.path)  # 0600 before SQLite opens it (its -wal and -shm take its mode)
        self._local = threading.local()
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, count INTEGER NOT NULL, "
                       "expires REAL NOT NULL)")

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _db(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections must stay in their thread)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            self._local.db = db
        return db

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        db = self._db()
        db.execute("BEGIN IMMEDIATE")  # one writer at a time across processes: no lost counts
        try:
            db.execute("DELETE FROM counters WHERE expires <= ?", (now,))  # also keeps the table small
            db.execute("INSERT INTO counters VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET count = count + ?",
                       (key, amount, now + expiry, amount))
            (count,) = db.execute("SELECT count FROM counters WHERE key = ?", (key,)).fetchone()
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return int(count)

    def _row(self, key: str) -> tuple[int, float] | None:
        row = self._db().execute("SELECT count, expires FROM counters WHERE key = ? AND expires > ?",
                                 (key, time.time())).fetchone()
        return (int(row[0]), float(row[1])) if row else None

    def get(self, key: str) -> int:
        row = self._row(key)
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row[1] if row else time.time()

    def check(self) -> bool:
        try:
            self._db().execute("SELECT 1")
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        return self._db().execute("DELETE FROM counters").rowcount

    def clear(self, key: str) -> None:
        self._db().execute("DELETE FROM counters WHERE key = ?", (key,))
