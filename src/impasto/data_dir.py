"""The data folder, readable by the studio's own user only: the folder and every folder in it 0700,
every file 0600 (the job database, the session key, the rate-limit counters, the uploads, previews
and results).

Everything the studio makes there is made so (``private_dir``, ``private_file``, and the store
writes its files with ``FILE_MODE``), whatever the process's umask; a data folder that already
exists with looser modes (made by an earlier version, by hand, by Docker) is tightened when the
store opens it, and the log says how many entries were. Only group and other bits are removed:
nothing is made readable that was not, nothing is moved or deleted.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
_OTHERS = stat.S_IRWXG | stat.S_IRWXO  # group and other: what is taken away


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
