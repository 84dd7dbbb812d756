"""``SqliteJobStore``: the job store in one SQLite file, safe for several processes and threads.

WAL mode lets readers (status polls) run while one writer holds the lock; ``busy_timeout`` makes a
writer wait instead of failing with "database is locked"; claims run inside ``BEGIN IMMEDIATE`` so
that checking the running count and taking a job is one atomic step across processes (measured:
2 web + 3 worker processes, no job claimed twice; docs/design-notes.md). Files live under
``data_dir/jobs/<id>/``, written atomically; the table keeps their paths. The schema is versioned
(src/impasto/jobs/sqlite_schema.py): opening a store upgrades an older database. The logic both
backends share lives in src/impasto/jobs/store_core.py; here are its storage primitives (browser
sessions: src/impasto/jobs/sqlite_sessions.py).
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from impasto.data_dir import DIR_MODE, FILE_MODE, private_dir, private_file, secure_data_dir
from impasto.jobs import sqlite_schema
from impasto.jobs.sqlite_sessions import SqliteSessions
from impasto.jobs.store import (
    ACTIVE_STATES,
    CANCELLED,
    FINISHED_STATES,
    OUTPUT_FILES,
    PROGRESS_FIELDS,
    QUEUED,
    RUNNING,
    Job,
    Token,
)
from impasto.jobs.store_core import (
    CANCELLED_QUEUED,
    KNOWN,
    REFUSED_CLIENT_LIMIT,
    REFUSED_QUEUE_FULL,
    Final,
    NewJob,
    StaleJob,
    StoreCore,
    Verdict,
)
from impasto.nst.images import write_atomic
from impasto.storage import usage_bytes

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000


class SqliteJobStore(SqliteSessions, StoreCore):
    """Jobs in ``data_dir/jobs.sqlite3``, files in ``data_dir/jobs/<id>/``."""

    def __init__(self, data_dir: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        # Owner-only, as it is made and when an existing one is opened (src/impasto/data_dir.py).
        self.data_dir = secure_data_dir(data_dir)
        self.jobs_dir = private_dir(self.data_dir / "jobs")
        self.db_path = private_file(self.data_dir / "jobs.sqlite3")
        self.clock = clock  # tests move time forward to test staleness and retention
        self._local = threading.local()  # sqlite3 connections must not cross threads
        with self._connection() as db:
            db.execute("PRAGMA journal_mode=WAL")
            steps = sqlite_schema.migrate(db)
        if steps:
            log.info("job database upgraded to schema version %d (steps %s)", sqlite_schema.VERSION, steps)

    # -- connections ------------------------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        db = getattr(self._local, "db", None)
        if db is None:
            # isolation_level=None: autocommit, so every transaction below is explicit.
            db = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a crash loses at most the last commit
            self._local.db = db
        yield db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taking the lock at BEGIN so read-then-write steps are atomic.

        Whatever fails inside, the COMMIT included, the transaction is rolled back; a connection
        that cannot even roll back is dropped, so that this thread never stays inside a
        transaction (holding the write lock) after an error.
        """
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                self._abort(db)
                raise

    def _abort(self, db: sqlite3.Connection) -> None:
        if not db.in_transaction:
            return
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error:
            log.exception("rollback failed; dropping this thread's database connection")
            self.close()

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            self._local.db = None
            try:
                db.close()
            except sqlite3.Error:
                log.exception("closing the database connection failed")

    # -- creating and reading ---------------------------------------------------------------

    def _insert(self, job: NewJob, queue_limit: int | None, client_limit: int | None) -> str | None:
        folder = self.jobs_dir / job.id
        try:
            with self._write() as db:
                refused = self._refusal(db, queue_limit, job.client, client_limit)
                if refused:
                    return refused
                # Files first, inside the lock: a runner must never claim a job whose inputs are missing.
                paths = self._write_files(folder, job.id, job.files)
                db.execute(
                    "INSERT INTO jobs (id, state, created, options, meta, seed, files, owner, client) "
                    "VALUES (?,?,?,?,?,?,?,?,?)",
                    (job.id, QUEUED, self.clock(), json.dumps(job.options), json.dumps(job.meta),
                     job.seed, json.dumps(paths), job.owner, job.client))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return None

    @staticmethod
    def _refusal(db: sqlite3.Connection, queue_limit: int | None, client: str | None,
                 client_limit: int | None) -> str | None:
        if queue_limit is not None:
            waiting = db.execute("SELECT COUNT(*) FROM jobs WHERE state=?", (QUEUED,)).fetchone()[0]
            if waiting >= queue_limit:
                return REFUSED_QUEUE_FULL
        if client_limit is not None:
            active = db.execute("SELECT COUNT(*) FROM jobs WHERE client=? AND state IN (?,?)",
                                (client, *ACTIVE_STATES)).fetchone()[0]
            if active >= client_limit:
                return REFUSED_CLIENT_LIMIT
        return None

    def _write_files(self, folder: Path, job_id: str, files: Mapping[str, bytes]) -> dict[str, str]:
        if files:
            folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        paths = {}
        for name, data in files.items():
            write_atomic(folder / name, data, FILE_MODE)
            paths[name] = f"jobs/{job_id}/{name}"
        return paths

    def get(self, job_id: str) -> Job | None:
        with self._connection() as db:
            row = db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        return _to_job(row) if row else None

    def recent(self, limit: int = 50) -> list[Job]:
        with self._connection() as db:
            rows = db.execute("SELECT * FROM jobs ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [_to_job(row) for row in rows]

    def jobs_of(self, owner: str, limit: int = 50) -> list[Job]:
        with self._connection() as db:
            rows = db.execute("SELECT * FROM jobs WHERE owner=? ORDER BY seq DESC LIMIT ?", (owner, limit)).fetchall()
        return [_to_job(row) for row in rows]

    def queue_position(self, job_id: str) -> int | None:
        with self._connection() as db:
            row = db.execute(
                "SELECT (SELECT COUNT(*) FROM jobs AS q WHERE q.state=? AND q.seq <= j.seq) "
                "FROM jobs AS j WHERE j.id=? AND j.state=?", (QUEUED, job_id, QUEUED)).fetchone()
        return row[0] if row else None

    def counts(self) -> dict[str, int]:
        with self._connection() as db:
            rows = db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        return {row[0]: row[1] for row in rows}

    # -- running ----------------------------------------------------------------------------

    def _claim(self, worker: str, max_running: int, job_id: str | None) -> str | None:
        with self._connection() as db:
            # Idle runners ask every second: answer "nothing queued" without taking the write lock.
            if db.execute("SELECT 1 FROM jobs WHERE state=? LIMIT 1", (QUEUED,)).fetchone() is None:
                return None
        with self._write() as db:
            running = db.execute("SELECT COUNT(*) FROM jobs WHERE state=?", (RUNNING,)).fetchone()[0]
            if running >= max_running:
                return None
            if job_id is None:
                row = db.execute("SELECT id FROM jobs WHERE state=? ORDER BY seq LIMIT 1", (QUEUED,)).fetchone()
            else:
                row = db.execute("SELECT id FROM jobs WHERE state=? AND id=?", (QUEUED, job_id)).fetchone()
            if row is None:
                return None
            now = self.clock()
            db.execute(
                "UPDATE jobs SET state=?, worker=?, started=?, heartbeat=?, attempts=attempts+1 "
                "WHERE id=? AND state=?", (RUNNING, worker, now, now, row["id"], QUEUED))
        return row["id"]

    def _owned_write(self, job_id: str, worker: str, progress: Mapping[str, Any], final: Final | None) -> bool:
        values = dict(progress)
        if final is None:
            values["heartbeat"] = self.clock()
        else:
            values.update(state=final.state, finished=self.clock(), error=final.error)
            if final.summary is not None:
                values["summary"] = json.dumps(final.summary)
            if final.seed is not None:
                values["seed"] = final.seed
        assignments = ", ".join(f"{key}=?" for key in values)  # keys come from our own lists only
        with self._write() as db:
            cursor = db.execute(f"UPDATE jobs SET {assignments} WHERE id=? AND state=? AND worker=?",
                                (*values.values(), job_id, RUNNING, worker))
        return cursor.rowcount == 1

    # -- cancelling -------------------------------------------------------------------------

    def _request_cancel(self, job_id: str) -> int:
        with self._write() as db:
            row = db.execute("SELECT state FROM jobs WHERE id=?", (job_id,)).fetchone()
            if row is None:
                return 0
            if row["state"] == QUEUED:
                db.execute("UPDATE jobs SET state=?, finished=?, cancel_requested=1 WHERE id=?",
                           (CANCELLED, self.clock(), job_id))
                return CANCELLED_QUEUED
            if row["state"] == RUNNING:
                db.execute("UPDATE jobs SET cancel_requested=1 WHERE id=?", (job_id,))
        return KNOWN

    def cancel_requested(self, job_id: str) -> bool:
        with self._connection() as db:
            row = db.execute("SELECT cancel_requested FROM jobs WHERE id=?", (job_id,)).fetchone()
        return bool(row and row[0])

    # -- files ------------------------------------------------------------------------------

    def _delete(self, job_id: str) -> bool:
        with self._write() as db:
            deleted = db.execute("DELETE FROM jobs WHERE id=?", (job_id,)).rowcount == 1
        if deleted:
            # After the commit: a put_file that takes the lock from now on finds no row and writes nothing.
            shutil.rmtree(self.jobs_dir / job_id, ignore_errors=True)
        return deleted

    def _put_file(self, job_id: str, name: str, data: bytes) -> bool:
        folder = self.jobs_dir / job_id
        # The file is written inside the write lock, after the row was seen: a job deleted meanwhile
        # (by its owner or by retention) never gets its folder back.
        with self._write() as db:
            if db.execute("SELECT 1 FROM jobs WHERE id=?", (job_id,)).fetchone() is None:
                return False
            folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            write_atomic(folder / name, data, FILE_MODE)
            db.execute("UPDATE jobs SET files=json_set(files, ?, ?) WHERE id=?",
                       (f'$."{name}"', f"jobs/{job_id}/{name}", job_id))
        return True

    def _get_file(self, job_id: str, name: str) -> bytes | None:
        path = self._files_of(job_id).get(name)
        if path is None:
            return None
        try:
            return (self.data_dir / path).read_bytes()
        except FileNotFoundError:
            return None

    def _delete_files(self, job_id: str, names: list[str]) -> int:
        with self._write() as db:
            row = db.execute("SELECT files FROM jobs WHERE id=?", (job_id,)).fetchone()
            files = json.loads(row[0]) if row else {}
            held = {name: files[name] for name in names if name in files}
            for name in held:
                db.execute("UPDATE jobs SET files=json_remove(files, ?) WHERE id=?", (f'$."{name}"', job_id))
        # After the commit: the row no longer lists them, so no reader looks for them any more.
        for path in held.values():
            (self.data_dir / path).unlink(missing_ok=True)
        return len(held)

    def stored_bytes(self) -> int:
        """Bytes of every job's files under data_dir/jobs (a stat per file, no reading)."""
        return usage_bytes(self.jobs_dir)

    def _files_of(self, job_id: str) -> dict[str, str]:
        with self._connection() as db:
            row = db.execute("SELECT files FROM jobs WHERE id=?", (job_id,)).fetchone()
        return json.loads(row[0]) if row else {}

    # -- recovery and retention -------------------------------------------------------------

    def _stale_jobs(self, stale_after: float) -> list[StaleJob]:
        with self._connection() as db:
            rows = db.execute("SELECT id, worker, attempts, cancel_requested FROM jobs WHERE state=? AND heartbeat<?",
                              (RUNNING, self.clock() - stale_after)).fetchall()
        return [StaleJob(row["id"], row["worker"], row["attempts"], bool(row["cancel_requested"])) for row in rows]

    def _settle_stale(self, job: StaleJob, stale_after: float, verdict: Verdict) -> bool:
        now = self.clock()
        with self._write() as db:
            same_run = db.execute(
                "SELECT 1 FROM jobs WHERE id=? AND state=? AND worker=? AND attempts=? AND cancel_requested=? "
                "AND heartbeat<?", (job.id, RUNNING, job.worker, job.attempts, int(job.cancel_requested),
                                    now - stale_after)).fetchone()
            if same_run is None:
                return False
            if verdict.state == QUEUED:
                self._requeue(db, job.id)
            else:
                db.execute("UPDATE jobs SET state=?, finished=?, error=?, worker=NULL WHERE id=?",
                           (verdict.state, now, verdict.error, job.id))
        return True

    def _requeue(self, db: sqlite3.Connection, job_id: str) -> None:
        """Back to the queue in its old place (seq is unchanged), as it was before its first run:
        no progress, no preview, result or thumbnail of the run that died."""
        progress = ", ".join(f"{key}=NULL" for key in PROGRESS_FIELDS)
        outputs = ", ".join(f"'$.\"{name}\"'" for name in OUTPUT_FILES)
        db.execute(f"UPDATE jobs SET state=?, worker=NULL, started=NULL, heartbeat=NULL, {progress}, "
                   f"files=json_remove(files, {outputs}) WHERE id=?", (QUEUED, job_id))
        # Inside the lock: no runner can claim the job and write new ones meanwhile.
        for name in OUTPUT_FILES:
            (self.jobs_dir / job_id / name).unlink(missing_ok=True)

    def _delete_finished(self, older_than: float) -> list[str]:
        cutoff = self.clock() - older_than
        placeholders = ",".join("?" * len(FINISHED_STATES))
        with self._write() as db:
            rows = db.execute(f"SELECT id FROM jobs WHERE state IN ({placeholders}) AND finished<?",
                              (*FINISHED_STATES, cutoff)).fetchall()
            ids = [row["id"] for row in rows]
            db.executemany("DELETE FROM jobs WHERE id=?", [(job_id,) for job_id in ids])
        for job_id in ids:
            shutil.rmtree(self.jobs_dir / job_id, ignore_errors=True)
        return ids

    # -- API tokens ---------------------------------------------------------------------------

    def add_token(self, name: str, digest: str) -> bool:
        with self._write() as db:
            cursor = db.execute("INSERT OR IGNORE INTO tokens (name, hash, created) VALUES (?,?,?)",
                                (name, digest, self.clock()))
        return cursor.rowcount == 1

    def token_name(self, digest: str) -> str | None:
        with self._connection() as db:
            row = db.execute("SELECT name FROM tokens WHERE hash=?", (digest,)).fetchone()
        return row[0] if row else None

    def tokens(self) -> list[Token]:
        with self._connection() as db:
            rows = db.execute("SELECT name, created FROM tokens ORDER BY created, name").fetchall()
        return [Token(row[0], row[1]) for row in rows]

    def revoke_token(self, name: str) -> bool:
        with self._write() as db:
            return db.execute("DELETE FROM tokens WHERE name=?", (name,)).rowcount == 1


def _to_job(row: sqlite3.Row) -> Job:
    progress = {key: row[key] for key in PROGRESS_FIELDS if row[key] is not None}
    return Job(
        id=row["id"], state=row["state"], created=row["created"], options=json.loads(row["options"]),
        meta=json.loads(row["meta"]), started=row["started"], finished=row["finished"],
        heartbeat=row["heartbeat"], worker=row["worker"], attempts=row["attempts"],
        cancel_requested=bool(row["cancel_requested"]), seed=row["seed"], error=row["error"],
        summary=json.loads(row["summary"]) if row["summary"] else None, progress=progress,
        files=tuple(json.loads(row["files"])), owner=row["owner"], client=row["client"],
    )

