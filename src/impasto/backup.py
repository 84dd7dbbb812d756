"""The backup archive: a tar (gzip when its name ends in .gz or .tgz) that ``impasto backup`` writes
while the studio runs and ``impasto restore`` reads into an empty data folder.

Its first entry is ``manifest.json``: {"format": "impasto-backup", "format_version": 1, "impasto":
the version that wrote it, "store": "sqlite" or "redis", "created": UTC time, ...}. Then:

- ``data/<name>.sqlite3``: each database of the data dir (the jobs, sessions and API tokens; the
  rate-limit counters), copied by SQLite's online backup, so each is one consistent snapshot
  however busy the studio is (src/impasto/backup_sqlite.py);
- ``data/jobs/<id>/<file>``: the files the jobs snapshot lists (uploads, previews, results);
- ``data/secret_key``: the key that signs session cookies, unless left out (see docs/deployment.md);
- ``redis/keys.jsonl``: in scale-out mode, every key of the store's prefix (src/impasto/backup_redis.py).

Nothing else is written or read: on restore every entry is checked by name and kind before a byte
of it lands, and any other entry, a link, or a path out of the folder refuses the whole file.
The archive is written beside its final name and renamed into place when complete (0600).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import json
import os
import re
import shutil
import tarfile
import time
import zlib
from pathlib import Path
from typing import IO, Any, Iterator

from impasto.data_dir import FILE_MODE, SECRET_FILE, private_dir
from impasto.jobs.store import check_file_name

FORMAT = "impasto-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE, REDIS = "sqlite", "redis"
REDIS_KEYS = "redis/keys.jsonl"
MAX_MANIFEST_BYTES = 64 * 1024
_DATABASE = re.compile(r"data/([a-z0-9_]+\.sqlite3)")
JOB_FILE = re.compile(r"data/jobs/([A-Za-z0-9_-]{1,200})/([^/]+)")


class BackupError(Exception):
    """A backup or a restore that cannot be done; the message is one line saying why."""


def version() -> str:
    try:
        return importlib.metadata.version("impasto")
    except importlib.metadata.PackageNotFoundError:  # a source tree never installed
        return "unknown"


def manifest(store: str, **facts: Any) -> dict[str, Any]:
    """What the archive is: its format, the Impasto and store that wrote it, when, and ``facts``."""
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "impasto": version(), "store": store,
            "created": created, **facts}


# -- writing ---------------------------------------------------------------------------------------

@contextlib.contextmanager
def writing(path: str | os.PathLike, about: dict[str, Any]) -> Iterator[tarfile.TarFile]:
    """A new archive at ``path`` with ``about`` as its manifest: written to a temporary name beside
    it (0600) and renamed over ``path`` once complete; on an error nothing is left behind."""
    path = Path(path)
    if path.is_dir():
        raise BackupError(f"{path} is a folder; name the archive file to write")
    mode = "w:gz" if path.name.endswith((".gz", ".tgz")) else "w"
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    except OSError as exc:
        raise BackupError(f"cannot write {path} ({exc.strerror or type(exc).__name__})") from None
    try:
        with os.fdopen(fd, "wb") as file, tarfile.open(fileobj=file, mode=mode) as tar:
            add_bytes(tar, MANIFEST, json.dumps(about, indent=1).encode())
            yield tar
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, FILE_MODE, int(time.time())
    return info


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_info(name, len(data)), io.BytesIO(data))


def add_file(tar: tarfile.TarFile, name: str, path: Path) -> int | None:
    """``path`` as the entry ``name``; its size, or None if it is gone (a job deleted meanwhile).
    An open file is read whole even if it is replaced or deleted while it is read."""
    try:
        file = open(path, "rb")
    except FileNotFoundError:
        return None
    with file:
        size = os.fstat(file.fileno()).st_size
        tar.addfile(_info(name, size), file)
    return size


# -- reading ---------------------------------------------------------------------------------------

@contextlib.contextmanager
def reading(path: str | os.PathLike) -> Iterator[tuple[tarfile.TarFile, dict[str, Any]]]:
    """The archive at ``path`` and its checked manifest; BackupError for a file that is not one."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path}: no such file" if not path.exists() else f"{path} is not a file")
    try:
        tar = tarfile.open(path, "r:*")
    except (tarfile.TarError, EOFError, OSError, zlib.error):
        raise BackupError(f"{path} is not an Impasto backup (not a tar archive)") from None
    with tar:
        yield tar, _manifest(tar, path)


def _manifest(tar: tarfile.TarFile, path: Path) -> dict[str, Any]:
    try:
        first = tar.next()
        if first is None or first.name != MANIFEST or not first.isfile() or first.size > MAX_MANIFEST_BYTES:
            raise BackupError(f"{path} is not an Impasto backup (it does not start with its {MANIFEST})")
        about = json.loads(tar.extractfile(first).read())  # type: ignore[union-attr]
    except (tarfile.TarError, EOFError, OSError, zlib.error, ValueError):
        raise BackupError(f"{path} is not an Impasto backup (it is damaged or cut short)") from None
    if not isinstance(about, dict) or about.get("format") != FORMAT:
        raise BackupError(f"{path} is not an Impasto backup (its {MANIFEST} is of something else)")
    if not isinstance(about.get("format_version"), int) or about["format_version"] > FORMAT_VERSION:
        raise BackupError(f"{path} was written by a newer Impasto ({about.get('impasto')!r}, backup format "
                          f"{about.get('format_version')!r}); this one reads format {FORMAT_VERSION}")
    if about.get("store") not in (SQLITE, REDIS):
        raise BackupError(f"{path} is not an Impasto backup (unknown store {about.get('store')!r})")
    return about


def entries(tar: tarfile.TarFile) -> Iterator[tuple[tarfile.TarInfo, IO[bytes]]]:
    """The entries after the manifest, each a plain file (anything else refuses the archive)."""
    try:
        for index, member in enumerate(tar):
            if index == 0:  # the manifest, read already
                continue
            if not member.isfile():
                raise BackupError(f"the backup holds {member.name[:80]!r}, which is not a plain file; refused")
            yield member, tar.extractfile(member)  # type: ignore[misc]
    except (tarfile.TarError, EOFError, zlib.error):
        raise BackupError("the backup is damaged or cut short") from None


def data_path(name: str) -> Path | None:
    """Where a ``data/...`` entry goes, relative to the data dir; None for a name of another kind.
    BackupError for a name no backup writes (a path out of the folder, an unknown file)."""
    if not name.startswith("data/"):
        return None
    if name == f"data/{SECRET_FILE}" or _DATABASE.fullmatch(name):
        return Path(name.removeprefix("data/"))
    found = JOB_FILE.fullmatch(name)
    try:
        if found is None:
            raise ValueError(name)
        check_file_name(found.group(2))
    except ValueError:
        raise BackupError(f"the backup holds {name[:80]!r}, which no Impasto backup has; refused") from None
    return Path("jobs", found.group(1), found.group(2))


def write_entry(source: IO[bytes], data_dir: Path, relative: Path) -> int:
    """One entry's bytes into a new file ``data_dir/relative`` (0600; its folders made 0700); the
    bytes written. An entry seen twice refuses the archive (the file exists)."""
    folder = data_dir
    for part in relative.parent.parts:
        folder = private_dir(folder / part)
    try:
        fd = os.open(data_dir / relative, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        raise BackupError(f"the backup holds {relative.as_posix()!r} twice; refused") from None
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(source, out, 1024 * 1024)
        return out.tell()


# -- the folder restored into ----------------------------------------------------------------------

def check_empty(data_dir: Path) -> None:
    """Restore writes into an empty or missing folder only: it never mixes with, or overwrites, data."""
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise BackupError(f"the data dir {data_dir} is not empty; restore only into an empty or new "
                          "folder (set IMPASTO_DATA_DIR to one)")


def empty_again(data_dir: Path, existed: bool) -> None:
    """A restore that failed leaves the folder as it found it: missing, or empty."""
    if not existed:
        shutil.rmtree(data_dir, ignore_errors=True)
        return
    for entry in data_dir.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
