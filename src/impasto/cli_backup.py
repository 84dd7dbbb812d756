"""``impasto backup FILE`` and ``impasto restore FILE``: the studio's data as one archive, taken
while it runs, and put back into an empty data folder (or empty Redis namespace).

Both work on the store the server is configured with (IMPASTO_DATA_DIR; in scale-out mode the Redis
of IMPASTO_STORE_URL under IMPASTO_REDIS_PREFIX, and the data dir's session key). The archive's
format: src/impasto/backup.py. Bad input (a file that is not a backup, a folder that is not empty)
exits 2 with one line on stderr; a store or disk that fails midway exits 1, leaving nothing behind.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from impasto.backup import REDIS, SQLITE, BackupError, check_empty, empty_again, reading
from impasto.config import Settings, masked_url
from impasto.data_dir import secure_data_dir
from impasto.exit_codes import EXIT_BAD_INPUT, EXIT_FAILED


def add_backup(sub: Any) -> None:
    p = sub.add_parser("backup", help="write an archive of the studio's jobs while it runs", description=(
        "Write the jobs (their uploads, previews and results), API tokens, browser sessions and the session key "
        "into one archive, consistent even while the studio runs; `impasto restore` puts it back."))
    p.add_argument("file", help="the archive to write: .tar, or .tar.gz / .tgz to compress it (replaced if it "
                   "exists, once the new one is complete)")
    p.add_argument("--without-secret-key", action="store_true", help="leave out the key that signs session "
                   "cookies: after a restore every browser signs in again and starts an empty history")


def add_restore(sub: Any) -> None:
    p = sub.add_parser("restore", help="put an archive of `impasto backup` into an empty data folder",
                       description="Restore an archive of `impasto backup` into IMPASTO_DATA_DIR, which must be "
                       "empty or missing (in scale-out mode: into the empty Redis namespace IMPASTO_REDIS_PREFIX). "
                       "Start the studio afterwards; it upgrades data from an older version as usual.")
    p.add_argument("file", help="the archive (.tar, .tar.gz or .tgz)")


def backup(args: argparse.Namespace, settings: Settings) -> int:
    from impasto import backup_redis, backup_sqlite

    keep_key = not args.without_secret_key
    try:
        if settings.broker_url:
            client = _redis(settings)
            counts = backup_redis.backup(client, settings.redis_prefix, settings.data_dir, Path(args.file),
                                         secret_key=keep_key)
        else:
            counts = backup_sqlite.backup(settings.data_dir, Path(args.file), secret_key=keep_key)
    except BackupError as exc:
        return _error(str(exc), EXIT_BAD_INPUT)
    except Exception as exc:  # noqa: BLE001 - a store or disk failing midway: one line, nothing left behind
        return _error(_failure("back up", exc, settings), EXIT_FAILED)
    print(f"backed up {counts.line()} into {args.file}", file=sys.stderr)
    return 0


def restore(args: argparse.Namespace, settings: Settings) -> int:
    data_dir = settings.data_dir
    try:
        with reading(args.file) as (tar, about):
            _check_mode(about, settings)
            check_empty(data_dir)
            client = _redis(settings) if settings.broker_url else None
            if client is not None:
                from impasto.backup_redis import check_empty as check_namespace

                check_namespace(client, settings.redis_prefix)
            counts = _restore(tar, client, settings)
    except BackupError as exc:
        return _error(str(exc), EXIT_BAD_INPUT)
    except Exception as exc:  # noqa: BLE001 - as for backup
        return _error(_failure("restore", exc, settings), EXIT_FAILED)
    print(f"restored {counts.line()} from {args.file} (made {about['created']} by Impasto {about['impasto']}); "
          "start the studio on it", file=sys.stderr)
    return 0


def _restore(tar: Any, client: Any, settings: Settings) -> Any:
    """The entries into the data dir (and Redis); a failure leaves the folder as it was found."""
    from impasto import backup_redis, backup_sqlite

    existed = settings.data_dir.exists()
    try:
        if client is None:
            return backup_sqlite.restore(tar, secure_data_dir(settings.data_dir))
        counts = backup_redis.restore(tar, client, settings.redis_prefix, secure_data_dir(settings.data_dir))
        secure_data_dir(settings.data_dir)
        return counts
    except BaseException:
        empty_again(settings.data_dir, existed)
        raise


def _check_mode(about: dict[str, Any], settings: Settings) -> None:
    """An embedded studio's backup goes into an embedded one, a scale-out one's into Redis."""
    if about["store"] == SQLITE and settings.broker_url:
        raise BackupError("this backup is of a studio that kept its jobs in SQLite; unset IMPASTO_BROKER_URL to "
                          "restore it into IMPASTO_DATA_DIR")
    if about["store"] == REDIS and not settings.broker_url:
        raise BackupError("this backup is of a scale-out studio (jobs in Redis); set IMPASTO_BROKER_URL (and "
                          "IMPASTO_STORE_URL) to restore it into Redis")


def _redis(settings: Settings) -> Any:
    try:
        import redis
    except ImportError as exc:
        raise BackupError(f"the distributed extra is not installed ({exc}); pip install 'impasto[distributed]'"
                          ) from None
    return redis.Redis.from_url(settings.store_url, socket_timeout=300, socket_connect_timeout=10)


def _failure(doing: str, exc: Exception, settings: Settings) -> str:
    """One line for a failure that is not the input's fault; never a password of the store's URL."""
    where = f"the Redis job store at {masked_url(str(settings.store_url))}" if settings.broker_url else "the data"
    text = str(getattr(exc, "strerror", None) or exc).replace(str(settings.store_url or "\0"), "***")
    return f"could not {doing} {where}: {type(exc).__name__}: {text[:200]}"


def _error(line: str, code: int) -> int:
    print(f"impasto: error: {line}", file=sys.stderr)
    return code
