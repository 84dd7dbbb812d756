"""The data folder, readable by the studio's own user only: the folder and every folder in it 0700,
every file 0600 (the job database, the session key, the rate-limit counters, the uploads, previews
and results).

Everything the studio makes there is made so (``private_dir``, ``private_file``, and the store
writes its files with ``FILE_MODE``), whatever the process's umask; a data folder that already
exists with looser modes (made by an earlier version, by hand, by Docker) is tightened when the
store opens it, and the log says how many entries were. Only group and other bits are removed:
nothing is made readable that was not, nothing is moved or deleted.

Where it is (``default_data_dir``, when IMPASTO_DATA_DIR is unset): the user's data folder that
platformdirs names (~/.local/share/impasto on Linux, ~/Library/Application Support/impasto on a
Mac), never the working directory. Earlier versions kept it in ``./instance``; one that holds a job
database is used still, so that nobody's pictures vanish on upgrade, and `impasto serve` says so at
start with how to move it (``start_lines``).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from platformdirs import user_data_dir

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
_OTHERS = stat.S_IRWXG | stat.S_IRWXO  # group and other: what is taken away
LEGACY_DIR = "instance"  # the working directory's folder that versions before this one used
STORE_FILE = "jobs.sqlite3"  # what makes a folder a data folder with jobs in it
SECRET_FILE = "secret_key"  # the session cookies' signing key, when IMPASTO_SECRET_KEY is unset (web/auth.py)


def user_folder() -> Path:
    """The user's own data folder for Impasto (made only when the store opens it)."""
    return Path(user_data_dir("impasto", appauthor=False)).resolve()


def legacy_folder(cwd: str | os.PathLike | None = None) -> Path | None:
    """``./instance`` when an earlier version left a job database in it, else None."""
    folder = Path(cwd if cwd is not None else Path.cwd()) / LEGACY_DIR
    return folder.resolve() if (folder / STORE_FILE).is_file() else None


def default_data_dir(cwd: str | os.PathLike | None = None) -> Path:
    """The data folder when IMPASTO_DATA_DIR is unset: an earlier version's ``./instance`` with jobs in
    it (its jobs stay where they were), else the user's data folder."""
    return legacy_folder(cwd) or user_folder()


def start_lines(data_dir: Path, chosen: bool, cwd: str | os.PathLike | None = None) -> list[str]:
    """What the start of `impasto serve` and `impasto worker` logs about the data folder; ``chosen``:
    IMPASTO_DATA_DIR is set."""
    if chosen:
        return [f"data dir: {data_dir} (IMPASTO_DATA_DIR)"]
    if data_dir == legacy_folder(cwd):
        return [f"data dir: {data_dir}, the ./{LEGACY_DIR} folder an earlier version made here, used because it "
                "holds jobs and IMPASTO_DATA_DIR is unset",
                f"to move it: stop the studio, move that folder to {user_folder()} (or anywhere, then set "
                "IMPASTO_DATA_DIR to it) and start again"]
    return [f"data dir: {data_dir} (your user data folder; IMPASTO_DATA_DIR sets another)"]


def secure_data_dir(path: str | os.PathLike) -> Path:
    """``path`` made (0700) if missing; it and everything in it tightened to its owner only."""
    path = private_dir(path)
    tightened = sum(_tighten(entry) for entry in _entries(path))
    if tightened:
        log.warning("data dir %s: %d folders and files were open to other users; now owner-only "
                    "(folders 0700, files 0600)", path, tightened)
    return path


def private_dir(path: str | os.PathLike) -> Path:
    """A folder only its owner may enter: made 0700 if missing (its missing parents as usual)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:
        pass
    else:
        os.chmod(path, DIR_MODE)  # mkdir's mode passes through the umask: set it outright
    return path


def private_file(path: str | os.PathLike) -> Path:
    """An empty file made 0600 if missing (a database SQLite then opens: its -wal and -shm files
    take the database's mode)."""
    path = Path(path)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass
    return path


def _entries(root: Path):
    """``root`` and everything under it, never following a symbolic link out of it."""
    yield root
    for folder, folders, files in os.walk(root):
        for name in (*folders, *files):
            yield Path(folder) / name


def _tighten(path: Path) -> bool:
    """Take group and other bits away from ``path``; True if it had any. A link is left alone (its
    target may lie outside), and so is what vanished meanwhile or is not ours to change (logged)."""
    try:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode) or not mode & _OTHERS:
            return False
        os.chmod(path, stat.S_IMODE(mode) & ~_OTHERS)
        return True
    except FileNotFoundError:  # a job deleted by another process while the folder was walked
        return False
    except PermissionError:
        log.warning("data dir: cannot make %s owner-only (it belongs to another user)", path)
        return False
