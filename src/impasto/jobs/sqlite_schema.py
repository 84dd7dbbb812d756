"""The SQLite job store's schema, versioned with ``PRAGMA user_version``.

``MIGRATIONS`` is the ordered list of steps; step N brings a database from version N-1 to N.
``migrate(db)`` runs the steps a database lacks, all in one ``BEGIN IMMEDIATE`` transaction (SQLite
DDL is transactional), so several server processes starting at once never run a step twice and a
failed step leaves the database as it was. Version 0 is an empty file or a database written before
the schema had a version (Impasto up to 2026-11-30): step 1 is that schema, written so that it
changes nothing in such a database.

Adding a column or a table, or changing what a stored field means (a renamed option, a new meta
key that readers rely on): append a step that rewrites the old rows, so that no reader needs a
fallback for "a job from an older version". Never edit a step that has shipped; the upgrade test
(tests/distributed/test_store_migrations.py) opens a database kept from the version before.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from contextlib import contextmanager
from typing import Callable, Iterator

from impasto.jobs.migrations import add_style_names, upgrade

# Step 1: the schema as it was before versioning (CREATE ... IF NOT EXISTS: a no-op on those databases).
_V1_JOBS = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,      -- FIFO order
    id TEXT NOT NULL UNIQUE,                    -- secrets.token_urlsafe: unguessable
    state TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL, finished REAL, heartbeat REAL,
    worker TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    options TEXT NOT NULL,                      -- JSON of Options.to_dict()
    meta TEXT NOT NULL DEFAULT '{}',            -- JSON: built-in style names, preset
    seed INTEGER,
    iteration INTEGER, total INTEGER, evaluations INTEGER,
    loss REAL, content_loss REAL, style_loss REAL, tv_loss REAL,
    eta REAL, scale INTEGER, scales INTEGER, preview_iteration INTEGER,
    error TEXT,
    summary TEXT,                               -- JSON of Result.summary()
    files TEXT NOT NULL DEFAULT '{}'            -- JSON {name: path relative to data_dir}
);
CREATE INDEX IF NOT EXISTS jobs_state_seq ON jobs(state, seq);
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs(finished);
"""

# Step 2: ownership and API tokens. owner: who may list, cancel and delete the job ('browser:<id>',
# 'token:<name>'; NULL for jobs from before: listed to nobody, still reachable by link). client: whose
# share of the per-client queue cap the job counts against (the owner, else 'addr:<address>').
_V2_OWNERS_AND_TOKENS = """
ALTER TABLE jobs ADD COLUMN owner TEXT;
ALTER TABLE jobs ADD COLUMN client TEXT;
CREATE INDEX jobs_owner_seq ON jobs(owner, seq);
CREATE TABLE tokens (
    name TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,                  -- sha256 of the token; the token itself is never kept
    created REAL NOT NULL
);
"""


def _v3_style_names(db: sqlite3.Connection) -> None:
    """Every job lists its built-in style names (migrations.add_style_names)."""
    rows = db.execute("SELECT id, meta FROM jobs").fetchall()
    for job_id, text in rows:
        meta = json.loads(text or "{}")
        if add_style_names(meta):
            db.execute("UPDATE jobs SET meta=? WHERE id=?", (json.dumps(meta), job_id))


# Step 4: clip jobs (a video as the content) report the frame being painted, the clip's number of
# frames and the latest finished frame (the preview). NULL for every job from before: none is a clip.
_V4_CLIP_PROGRESS = """
ALTER TABLE jobs ADD COLUMN frame INTEGER;
ALTER TABLE jobs ADD COLUMN frames INTEGER;
ALTER TABLE jobs ADD COLUMN preview_frame INTEGER;
"""


# Step 5: browser sessions, ended on the server (sign-out, sign-out everywhere, their lifetime). Only a
# digest of the cookie's session id is kept; principal: 'password:<fingerprint>' or 'anonymous'.
_V5_SESSIONS = """
CREATE TABLE sessions (
    digest TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX sessions_principal ON sessions(principal);
CREATE INDEX sessions_created ON sessions(created);
"""


# Step 6: when the ETA was said (seconds since the epoch), so that a page polled between two of the
# engine's reports counts it down. NULL for every job from before: their ETA is shown as it was.
_V6_ETA_AT = """
ALTER TABLE jobs ADD COLUMN eta_at REAL;
"""


def _script(sql: str) -> Callable[[sqlite3.Connection], None]:
    def run(db: sqlite3.Connection) -> None:
        # executescript would COMMIT first; run the statements one by one inside our transaction.
        statement = ""
        for line in sql.splitlines(keepends=True):
            statement += line
            if sqlite3.complete_statement(statement):
                db.execute(statement)
                statement = ""
    return run


MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("jobs table (the schema before versioning)", _script(_V1_JOBS)),
    ("job owners, per-client counts, API tokens", _script(_V2_OWNERS_AND_TOKENS)),
    ("every job lists its built-in style names", _v3_style_names),
    ("clip jobs' frame progress", _script(_V4_CLIP_PROGRESS)),
    ("browser sessions", _script(_V5_SESSIONS)),
    ("when each ETA was said", _script(_V6_ETA_AT)),
]
VERSION = len(MIGRATIONS)


class SchemaError(RuntimeError):
    """The database was written by a newer Impasto than this one."""


def version(db: sqlite3.Connection) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite3.Connection) -> list[int]:
    """Bring ``db`` (autocommit connection) to ``VERSION``; return the steps run (often none)."""
    return upgrade(known=VERSION, steps=[functools.partial(step, db) for _, step in MIGRATIONS],
                   version=lambda: version(db), lock=lambda: _transaction(db),
                   # no placeholders for PRAGMA; an int of ours
                   set_version=lambda known: db.execute(f"PRAGMA user_version={int(known)}"),
                   too_new=_too_new)


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _too_new(current: int) -> SchemaError:
    return SchemaError(f"the job database has schema version {current}, but this Impasto knows "
                       f"versions up to {VERSION}; run the newer Impasto (or a fresh IMPASTO_DATA_DIR)")
