"""The scale-out studio's job store (Redis), backed up while it runs and restored into an empty
namespace (the archive's format: src/impasto/backup.py).

Backup: one script reads every key of the prefix (jobs, their files, the queue and history sets,
API tokens, browser sessions, the layout version) with Redis's own ``DUMP`` and its time to live,
as one atomic step: the archive holds one moment of the store, however busy. Redis serves nothing
else while the script copies (about a second per GB), and the reply holds the whole store, so the
machine that runs the backup needs that much memory. ``redis/keys.jsonl`` has one line per key:
{"key": the name after "<prefix>:", "ttl_ms": 0 for none, "dump": base64 of DUMP}. Keys of the
broker (Celery's queue and its bookkeeping) are not the store's and are left out: queued jobs get
their task sent again after a restore.

Restore: into a namespace with no key at all (IMPASTO_REDIS_PREFIX may differ from the backup's:
keys are renamed to it) with ``RESTORE``, which needs a Redis of the same or a newer version than
the one backed up. Queued jobs lose their "task sent" mark, so the reaper sends their tasks within
seconds; running ones are re-queued once their heartbeat goes stale, as after a crash. The store is
then opened once, which upgrades an older layout as a start does.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import tarfile
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator

from impasto.backup import (
    REDIS,
    REDIS_KEYS,
    SECRET_FILE,
    BackupError,
    add_file,
    entries,
    manifest,
    write_entry,
    writing,
)
from impasto.backup_sqlite import Counts
from impasto.jobs import redis_layout

log = logging.getLogger(__name__)

RESTORE_BATCH = 100  # keys per round trip

# ARGV: the pattern of the prefix's keys, the migration lock's key (a lock is never restored).
DUMP_ALL = """
local found = {}
for _, key in ipairs(redis.call('KEYS', ARGV[1])) do
  if key ~= ARGV[2] then
    found[#found + 1] = key
    found[#found + 1] = redis.call('DUMP', key)
    found[#found + 1] = redis.call('PTTL', key)
  end
end
return found
"""


def pattern(prefix: str) -> str:
    """The glob of every key under ``prefix``, its own glob characters escaped."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + ":*"


def backup(client: Any, prefix: str, data_dir: Path, archive: Path, *, secret_key: bool = True) -> Counts:
    """Every key of ``prefix`` (one atomic read) and the data dir's session key into ``archive``."""
    flat = client.eval(DUMP_ALL, 0, pattern(prefix), f"{prefix}:layout-lock")
    start, counts = len(prefix) + 1, Counts()
    key_file = data_dir / SECRET_FILE
    about = manifest(REDIS, prefix=prefix, schema=redis_layout.version(client, prefix),
                     secret_key=secret_key and key_file.is_file())
    with tempfile.TemporaryDirectory(prefix="impasto-backup-") as scratch, writing(archive, about) as tar:
        lines = Path(scratch) / "keys.jsonl"
        with open(lines, "w", encoding="ascii") as out:
            for key, dump, ttl in zip(flat[0::3], flat[1::3], flat[2::3]):
                name = key.decode() if isinstance(key, bytes) else key
                counts.jobs += name.startswith(f"{prefix}:job:")
                out.write(json.dumps({"key": name[start:], "ttl_ms": max(0, int(ttl)),
                                      "dump": base64.b64encode(dump).decode()}) + "\n")
        counts.add(add_file(tar, REDIS_KEYS, lines))
        if about["secret_key"]:
            counts.add(add_file(tar, f"data/{SECRET_FILE}", key_file))
    return counts


def check_empty(client: Any, prefix: str) -> None:
    if next(iter(client.scan_iter(match=pattern(prefix), count=1000)), None) is not None:
        raise BackupError(f"the Redis job store (prefix {prefix!r}) is not empty; restore only into an empty "
                          "one (another IMPASTO_REDIS_PREFIX, or another Redis database)")


def restore(tar: tarfile.TarFile, client: Any, prefix: str, data_dir: Path) -> Counts:
    """The archive's keys into ``prefix`` (empty: checked by the caller) and its session key into
    ``data_dir``; on a failure the keys written so far are deleted again."""
    counts, written = Counts(), []
    try:
        for member, source in entries(tar):
            if member.name == REDIS_KEYS:
                counts.jobs += _restore_keys(client, prefix, source, written)
                counts.add(member.size)
            elif member.name == f"data/{SECRET_FILE}":
                counts.add(write_entry(source, data_dir, Path(SECRET_FILE)))
            else:
                raise BackupError(f"the backup holds {member.name[:80]!r}, which a Redis studio's backup has not; "
                                  "refused")
        _forget_sent_tasks(client, prefix)
        from impasto.jobs.redis_store import RedisJobStore

        RedisJobStore(client, prefix=prefix)  # upgrades an older layout; refuses a newer one
    except BaseException:
        for batch in range(0, len(written), RESTORE_BATCH):
            client.delete(*written[batch:batch + RESTORE_BATCH])
        raise
    return counts


def _restore_keys(client: Any, prefix: str, source: IO[bytes], written: list[str]) -> int:
    """Each line's key, RESTOREd under ``prefix``; the number of jobs among them."""
    import redis

    jobs = 0
    for batch in _batches(source):
        pipe = client.pipeline(transaction=False)
        for key, ttl, dump in batch:
            pipe.restore(f"{prefix}:{key}", ttl, dump)
            written.append(f"{prefix}:{key}")
            jobs += key.startswith("job:")
        try:
            pipe.execute()
        except redis.ResponseError as exc:
            raise BackupError(f"Redis refused a key of the backup ({str(exc)[:120]}); restore into a Redis of "
                              "the same or a newer version") from None
    return jobs


def _batches(source: IO[bytes]) -> Iterator[list[tuple[str, int, bytes]]]:
    batch: list[tuple[str, int, bytes]] = []
    for number, line in enumerate(source, 1):
        try:
            entry = json.loads(line)
            batch.append((str(entry["key"]), int(entry["ttl_ms"]), base64.b64decode(entry["dump"], validate=True)))
        except (ValueError, KeyError, TypeError):
            raise BackupError(f"line {number} of the backup's {REDIS_KEYS} is not a key; refused") from None
        if len(batch) == RESTORE_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _forget_sent_tasks(client: Any, prefix: str) -> None:
    """The broker's messages were not backed up: queued jobs must get theirs again (the reaper sends
    a task for a queued job with no 'sent' mark; src/impasto/jobs/redis_store.py, unsent_queued)."""
    for job_id in client.zrange(f"{prefix}:state:queued", 0, -1):
        client.hdel(f"{prefix}:job:{job_id.decode()}", "sent")
