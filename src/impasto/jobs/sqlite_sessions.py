"""Browser sessions and the readiness ping of ``SqliteJobStore``, kept apart from its job storage.

A session is a row of the ``sessions`` table (src/impasto/jobs/sqlite_schema.py, step 5): the
SHA-256 digest of the cookie's random session id (the id itself is never kept, as with API
tokens), its principal and when it started. Every gunicorn process opens the same file, so a
session ended in one process is ended in all of them at once.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from typing import Callable


class SqliteSessions:
    """Mixed into SqliteJobStore, whose connection helpers and clock it uses."""

    clock: Callable[[], float]
    _connection: Callable[[], AbstractContextManager[sqlite3.Connection]]
    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def add_session(self, digest: str, principal: str, max_age: float) -> None:
        now = self.clock()
        with self._write() as db:
            # Each new session also clears the expired ones: the table never outgrows the live sessions.
            db.execute("DELETE FROM sessions WHERE created <= ?", (now - max_age,))
            db.execute("INSERT OR REPLACE INTO sessions (digest, principal, created) VALUES (?,?,?)",
                       (digest, principal, now))

    def session_principal(self, digest: str, max_age: float) -> str | None:
        with self._connection() as db:
            row = db.execute("SELECT principal FROM sessions WHERE digest=? AND created>?",
                             (digest, self.clock() - max_age)).fetchone()
        return row[0] if row else None

    def end_session(self, digest: str) -> bool:
        with self._write() as db:
            return db.execute("DELETE FROM sessions WHERE digest=?", (digest,)).rowcount == 1

    def end_sessions(self, principal: str) -> int:
        with self._write() as db:
            return db.execute("DELETE FROM sessions WHERE principal=?", (principal,)).rowcount

    def ping(self) -> None:
        """Raises sqlite3.Error when the job table cannot be read (a missing or broken file)."""
        with self._connection() as db:
            db.execute("SELECT 1 FROM jobs LIMIT 1").fetchall()
