"""The embedded studio's data dir, backed up while it runs and restored into an empty folder (the
archive's format: src/impasto/backup.py).

Backup: each ``*.sqlite3`` of the data dir is copied by SQLite's online backup API, which reads one
consistent snapshot while the studio goes on writing (WAL mode: writers are not blocked). Then the
files that the jobs snapshot lists are added, each read whole: a file written after the snapshot is
left out (its job is not in it either), and one deleted since (its job was deleted, or a re-queued
job lost its preview) is missing from the archive, which restore notes and forgets.

Restore: every entry is checked, written 0600 into folders made 0700, each database checked with
``PRAGMA quick_check``; files the restored database lists but the archive lacked are dropped from
its rows; then the job store is opened once, which upgrades an older schema as a start does.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import tarfile
import tempfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator

from impasto.backup import (
    JOB_FILE,
    SECRET_FILE,
    SQLITE,
    BackupError,
    add_file,
    data_path,
    entries,
    manifest,
    write_entry,
    writing,
)
from impasto.data_dir import STORE_FILE as JOBS_DB
from impasto.data_dir import secure_data_dir
from impasto.jobs.store import check_file_name
from impasto.storage import MB

log = logging.getLogger(__name__)


@dataclass
class Counts:
    """What a backup or restore carried: jobs, files (the databases and key included), bytes."""

    jobs: int = 0
    files: int = 0
    bytes: int = 0
    missing: int = 0  # files a job listed that were gone by the time they were read

    def add(self, size: int | None) -> None:
        if size is None:
            self.missing += 1
        else:
            self.files, self.bytes = self.files + 1, self.bytes + size

    def line(self) -> str:
        gone = f"; {_count(self.missing, 'file')} deleted meanwhile left out" if self.missing else ""
        return f"{_count(self.jobs, 'job')}, {_count(self.files, 'file')}, {self.bytes / MB:.1f} MB{gone}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def backup(data_dir: Path, archive: Path, *, secret_key: bool = True) -> Counts:
    """The data dir's databases, job files and (if ``secret_key``) session key, into ``archive``."""
    if not (data_dir / JOBS_DB).is_file():
        raise BackupError(f"{data_dir} holds no job database ({JOBS_DB}): nothing to back up (is "
                          "IMPASTO_DATA_DIR the studio's?)")
    key = data_dir / SECRET_FILE
    with tempfile.TemporaryDirectory(prefix="impasto-backup-") as scratch:  # 0700
        snapshots = {db.name: _snapshot(db, Path(scratch) / db.name) for db in sorted(data_dir.glob("*.sqlite3"))}
        about = manifest(SQLITE, schema=_schema(snapshots[JOBS_DB]), secret_key=secret_key and key.is_file())
        counts = Counts()
        with writing(archive, about) as tar:
            for name, path in snapshots.items():
                counts.add(add_file(tar, f"data/{name}", path))
            for job_id, names in _listed_files(snapshots[JOBS_DB]):
                counts.jobs += 1
                for name in names:
                    counts.add(add_file(tar, f"data/jobs/{job_id}/{name}", data_dir / "jobs" / job_id / name))
            if about["secret_key"]:
                counts.add(add_file(tar, f"data/{SECRET_FILE}", key))
    return counts


def _snapshot(source: Path, target: Path) -> Path:
    """``source`` copied to ``target`` by SQLite's online backup: one consistent state of it."""
    try:
        with closing(sqlite3.connect(source, timeout=30)) as db, closing(sqlite3.connect(target)) as copy:
            db.backup(copy)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot back up {source.name}: {exc}") from None
    return target


def _schema(database: Path) -> int:
    with closing(sqlite3.connect(database)) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


def _listed_files(database: Path) -> Iterator[tuple[str, list[str]]]:
    """Each job of the snapshot and its file names (an id or name that is not one is skipped:
    nothing outside the job's folder is ever read)."""
    with closing(sqlite3.connect(database)) as db:
        rows = db.execute("SELECT id, files FROM jobs ORDER BY seq").fetchall()
    for job_id, files in rows:
        if not JOB_FILE.fullmatch(f"data/jobs/{job_id}/x"):
            log.warning("backup: a job id that is not one was skipped")
            continue
        yield job_id, [name for name in json.loads(files or "{}") if _is_file_name(name)]


def _is_file_name(name: Any) -> bool:
    try:
        check_file_name(name)
        return True
    except (ValueError, TypeError):
        return False


def restore(tar: tarfile.TarFile, data_dir: Path) -> Counts:
    """The archive's entries into ``data_dir`` (empty: checked by the caller), checked and opened."""
    counts = Counts()
    for member, source in entries(tar):
        counts.add(_restore_entry(member, source, data_dir))
    if not (data_dir / JOBS_DB).is_file():
        raise BackupError(f"the backup holds no {JOBS_DB}; refused")
    for database in sorted(data_dir.glob("*.sqlite3")):
        _check(database)
    try:
        counts.jobs, counts.missing = _forget_missing_files(data_dir / JOBS_DB, data_dir)
    except (sqlite3.Error, ValueError, TypeError, AttributeError):
        raise BackupError(f"the backup's {JOBS_DB} is not one Impasto wrote; refused") from None
    from impasto.jobs.sqlite_store import SqliteJobStore

    try:
        SqliteJobStore(data_dir).close()  # upgrades an older schema; refuses a newer one
    except (sqlite3.Error, RuntimeError, ValueError) as exc:
        raise BackupError(f"the restored job database cannot be opened: {exc}") from None
    secure_data_dir(data_dir)  # 0700/0600, whatever else touched it
    return counts


def _restore_entry(member: tarfile.TarInfo, source: IO[bytes], data_dir: Path) -> int:
    relative = data_path(member.name)
    if relative is None:
        raise BackupError(f"the backup holds {member.name[:80]!r}, which a SQLite studio's backup has not; refused")
    return write_entry(source, data_dir, relative)


def _check(database: Path) -> None:
    try:
        with closing(sqlite3.connect(database)) as db:
            verdict = db.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.Error:
        verdict = "not a database"
    if verdict != "ok":
        raise BackupError(f"the backup's {database.name} is damaged ({str(verdict)[:80]}); refused")


def _forget_missing_files(database: Path, data_dir: Path) -> tuple[int, int]:
    """Each restored row lists the files the archive brought, at the paths the store writes (a row's
    own paths are not trusted); those it lacked are dropped. (jobs, files dropped)"""
    dropped = 0
    with closing(sqlite3.connect(database, isolation_level=None)) as db:
        rows = db.execute("SELECT id, files FROM jobs").fetchall()
        for job_id, files in rows:
            if not isinstance(job_id, str) or not JOB_FILE.fullmatch(f"data/jobs/{job_id}/x"):
                raise BackupError("the backup's job database holds a job id that is not one; refused")
            listed = [name for name in json.loads(files or "{}") if _is_file_name(name)]
            kept = {name: f"jobs/{job_id}/{name}" for name in listed if (data_dir / "jobs" / job_id / name).is_file()}
            dropped += len(json.loads(files or "{}")) - len(kept)
            db.execute("UPDATE jobs SET files=? WHERE id=?", (json.dumps(kept), job_id))
    if dropped:
        log.warning("restore: %d files were deleted while the backup was made; their jobs no longer list them",
                    dropped)
    return len(rows), dropped
