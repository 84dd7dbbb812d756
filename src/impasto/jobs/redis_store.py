"""``RedisJobStore``: the JobStore interface in Redis, for web processes and Celery workers on
different machines (scale-out mode, IMPASTO_BROKER_URL).

The logic both backends share lives in src/impasto/jobs/store_core.py; here are its storage
primitives. Every step that reads and then writes (create with the queue limit, claim, owner-only
writes, cancel, settling a stale job, retention) is one Lua script (redis_scripts.py), so it is
atomic across all clients without locks.
Files are bytes in Redis, so a worker needs nothing but the Redis URL and the weights.

Keys, all under ``<prefix>:`` (IMPASTO_REDIS_PREFIX, default ``impasto``):

- ``job:<id>``    hash: id, state, seq, created, started, finished, heartbeat, sent, worker,
  attempts, cancel, options, meta (JSON), seed, error, summary (JSON), ``p:<field>`` progress (JSON),
  owner, client
- ``files:<id>``  hash: file name → bytes
- ``seq``         counter giving FIFO order
- ``all``         sorted set id by seq (history); ``owner:<owner>`` the same for one owner's jobs
- ``state:queued`` id by seq; ``state:running`` id by heartbeat (stale = lowest scores);
  ``state:done|failed|cancelled`` id by finish time (retention = lowest scores)
- ``tokens``      hash: API token name → JSON {digest, created}; ``token-hashes`` digest → name
- ``session:<digest>``, ``sessions-of:<principal>``  browser sessions (src/impasto/jobs/redis_sessions.py)
- ``layout``      the layout's version (src/impasto/jobs/redis_layout.py upgrades older namespaces at start)

Times: by default the Redis server's clock (``TIME`` inside the scripts), so heartbeats written on
one machine and judged stale on another never suffer from clock skew between them. Tests pass
``clock=`` to move time by hand. Plain (non-cluster) Redis: the scripts build key names themselves.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable, Mapping

from impasto.config import default
from impasto.jobs import redis_layout
from impasto.jobs import redis_scripts as lua
from impasto.jobs.redis_sessions import RedisSessions
from impasto.jobs.store import PROGRESS_FIELDS, QUEUED, RUNNING, STATES, Job, Token
from impasto.jobs.store_core import (
    REFUSED_CLIENT_LIMIT,
    REFUSED_QUEUE_FULL,
    Final,
    NewJob,
    StaleJob,
    StoreCore,
    Verdict,
)

log = logging.getLogger(__name__)

DELETE_BATCH = 1000  # jobs removed per state and call of delete_finished: keeps each script short

class RedisJobStore(RedisSessions, StoreCore):
    """Jobs and their files in one Redis database, under ``prefix``."""

    def __init__(self, url_or_client: Any, *, prefix: str = default("redis_prefix"),
                 clock: Callable[[], float] | None = None) -> None:
        import redis  # the distributed extra: imported only when this backend is used

        if isinstance(url_or_client, str):
            # Timeouts: a vanished Redis makes calls fail (and jobs get reaped) instead of hanging.
            self.redis = redis.Redis.from_url(url_or_client, socket_timeout=30, socket_connect_timeout=10,
                                              health_check_interval=30)
        else:
            self.redis = url_or_client
        self.prefix = prefix
        self.clock = clock
        self._scripts = {name: self.redis.register_script(source) for name, source in (
            ("create", lua.CREATE), ("claim", lua.CLAIM), ("owned", lua.OWNED_UPDATE), ("cancel", lua.CANCEL),
            ("settle_stale", lua.SETTLE_STALE), ("delete_finished", lua.DELETE_FINISHED), ("delete", lua.DELETE),
            ("put_file", lua.PUT_FILE), ("mark_sent", lua.MARK_SENT), ("add_token", lua.ADD_TOKEN),
            ("revoke_token", lua.REVOKE_TOKEN))}
        steps = redis_layout.migrate(self.redis, prefix)
        if steps:
            log.info("Redis job store %r upgraded to layout %d (steps %s)", prefix, redis_layout.VERSION, steps)

    # -- helpers ----------------------------------------------------------------------------

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def _run(self, script: str, *args: Any) -> Any:
        now = "" if self.clock is None else repr(float(self.clock()))
        return self._scripts[script](keys=[], args=[self.prefix, now, *args])

    def _now(self) -> float:
        return self.clock() if self.clock is not None else _server_time(self.redis)

    def now(self) -> float:
        """The store's clock (the Redis server's, unless a test gave one): for the metrics' worker beats."""
        return self._now()

    def close(self) -> None:
        self.redis.close()

    # -- creating and reading ---------------------------------------------------------------

    def _insert(self, job: NewJob, queue_limit: int | None, client_limit: int | None) -> str | None:
        file_args = [part for name, data in job.files.items() for part in (name, bytes(data))]
        created = self._run("create", _blank(queue_limit), job.id, json.dumps(job.options), json.dumps(job.meta),
                            _blank(job.seed), job.owner or "", job.client or "", _blank(client_limit), *file_args)
        return {0: REFUSED_QUEUE_FULL, -1: REFUSED_CLIENT_LIMIT}.get(created)

    def get(self, job_id: str) -> Job | None:
        pipe = self.redis.pipeline(transaction=True)  # MULTI: the job and its file list as one snapshot
        pipe.hgetall(self._key("job", job_id))
        pipe.hkeys(self._key("files", job_id))
        fields, files = pipe.execute()
        return _to_job(fields, files) if fields else None

    def recent(self, limit: int = 50) -> list[Job]:
        return self._jobs(self.redis.zrevrange(self._key("all"), 0, max(0, limit - 1)))

    def jobs_of(self, owner: str, limit: int = 50) -> list[Job]:
        return self._jobs(self.redis.zrevrange(self._key("owner", owner), 0, max(0, limit - 1)))

    def _jobs(self, ids: list[bytes]) -> list[Job]:
        pipe = self.redis.pipeline(transaction=True)
        for job_id in ids:
            pipe.hgetall(self._key("job", job_id.decode()))
            pipe.hkeys(self._key("files", job_id.decode()))
        replies = pipe.execute()
        pairs = zip(replies[0::2], replies[1::2])
        return [_to_job(fields, files) for fields, files in pairs if fields]  # skip jobs deleted meanwhile

    def queue_position(self, job_id: str) -> int | None:
        rank = self.redis.zrank(self._key("state", QUEUED), job_id)
        return None if rank is None else rank + 1

    def counts(self) -> dict[str, int]:
        pipe = self.redis.pipeline(transaction=True)
        for state in STATES:
            pipe.zcard(self._key("state", state))
        return {state: n for state, n in zip(STATES, pipe.execute()) if n}

    # -- running ----------------------------------------------------------------------------

    def _claim(self, worker: str, max_running: int, job_id: str | None) -> str | None:
        claimed = self._run("claim", worker, max_running, job_id or "")
        return claimed.decode() if claimed else None

    def _owned_write(self, job_id: str, worker: str, progress: Mapping[str, Any], final: Final | None) -> bool:
        pairs = [part for key, value in progress.items()
                 for part in (f"p:{key}", "" if value is None else json.dumps(value))]
        if final is not None:
            pairs += ["error", final.error or ""]
            if final.summary is not None:
                pairs += ["summary", json.dumps(final.summary)]
            if final.seed is not None:
                pairs += ["seed", str(final.seed)]
        return bool(self._run("owned", job_id, worker, final.state if final else "", *pairs))

    # -- cancelling -------------------------------------------------------------------------

    def _request_cancel(self, job_id: str) -> int:
        return int(self._run("cancel", job_id) or 0)

    def cancel_requested(self, job_id: str) -> bool:
        return self.redis.hget(self._key("job", job_id), "cancel") == b"1"

    # -- files ------------------------------------------------------------------------------

    def _delete(self, job_id: str) -> bool:
        return bool(self._run("delete", job_id))

    def _put_file(self, job_id: str, name: str, data: bytes) -> bool:
        return bool(self._run("put_file", job_id, name, data))  # deleted or unknown: never resurrect it

    def _get_file(self, job_id: str, name: str) -> bytes | None:
        return self.redis.hget(self._key("files", job_id), name)

    def _delete_files(self, job_id: str, names: list[str]) -> int:
        return int(self.redis.hdel(self._key("files", job_id), *names))

    # -- recovery and retention -------------------------------------------------------------

    def _stale_jobs(self, stale_after: float) -> list[StaleJob]:
        cutoff = self._now() - stale_after
        ids = [job_id.decode() for job_id in
               self.redis.zrangebyscore(self._key("state", RUNNING), "-inf", f"({cutoff!r}")]
        pipe = self.redis.pipeline(transaction=False)
        for job_id in ids:
            pipe.hmget(self._key("job", job_id), "worker", "attempts", "cancel")
        return [StaleJob(job_id, (worker or b"").decode(), int(attempts or 0), cancel == b"1")
                for job_id, (worker, attempts, cancel) in zip(ids, pipe.execute())]

    def _settle_stale(self, job: StaleJob, stale_after: float, verdict: Verdict) -> bool:
        return bool(self._run("settle_stale", job.id, job.worker, job.attempts, int(job.cancel_requested),
                              stale_after, verdict.state, verdict.error or ""))

    def _delete_finished(self, older_than: float) -> list[str]:
        return [job_id.decode() for job_id in self._run("delete_finished", older_than, DELETE_BATCH)]

    # -- API tokens ---------------------------------------------------------------------------

    def add_token(self, name: str, digest: str) -> bool:
        return bool(self._run("add_token", name, digest))

    def token_name(self, digest: str) -> str | None:
        name = self.redis.hget(self._key("token-hashes"), digest)
        return name.decode() if name is not None else None

    def tokens(self) -> list[Token]:
        entries = self.redis.hgetall(self._key("tokens"))
        listed = [Token(name.decode(), float(json.loads(entry)["created"])) for name, entry in entries.items()]
        return sorted(listed, key=lambda token: (token.created, token.name))

    def revoke_token(self, name: str) -> bool:
        return bool(self._run("revoke_token", name))

    # -- scale-out extras (not part of JobStore): which queued jobs have a Celery message -----

    def mark_sent(self, job_id: str) -> None:
        """Note that a task message for this queued job was just sent to the broker."""
        self._run("mark_sent", job_id)

    def unsent_queued(self, grace: float, resend_after: float) -> list[str]:
        """Queued jobs with no task message sent (older than ``grace`` seconds: the web process is
        sending it right now) or whose last message is older than ``resend_after`` seconds."""
        now = self._now()
        ids = [job_id.decode() for job_id in self.redis.zrange(self._key("state", QUEUED), 0, -1)]
        pipe = self.redis.pipeline(transaction=False)
        for job_id in ids:
            pipe.hmget(self._key("job", job_id), "created", "sent")
        due = []
        for job_id, (created, sent) in zip(ids, pipe.execute()):
            if created is None:
                continue
            never_sent = sent is None and now - float(created) > grace
            if never_sent or (sent is not None and now - float(sent) > resend_after):
                due.append(job_id)
        return due


    def stored_bytes(self) -> int:
        """Bytes of every job's files (inputs, previews, results), summed by Redis without fetching them."""
        keys = list(self.redis.scan_iter(match=self._key("files", "*"), count=1000))
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.hkeys(key)
        pairs = [(key, name) for key, names in zip(keys, pipe.execute()) for name in names]
        for key, name in pairs:
            pipe.hstrlen(key, name)
        return sum(pipe.execute()) if pairs else 0


def _blank(number: int | None) -> int | str:
    """A number for a script's ARGV, '' for None."""
    return "" if number is None else int(number)


def _server_time(client: Any) -> float:
    seconds, micros = client.time()
    return seconds + micros / 1e6


def _to_job(fields: Mapping[bytes, bytes], files: list[bytes]) -> Job:
    raw = {key.decode(): value.decode() for key, value in fields.items()}

    def number(name: str) -> float | None:
        return float(raw[name]) if raw.get(name) else None

    progress = {key: json.loads(raw[f"p:{key}"]) for key in PROGRESS_FIELDS if f"p:{key}" in raw}
    return Job(
        id=raw["id"], state=raw["state"], created=float(raw["created"]), options=json.loads(raw["options"]),
        meta=json.loads(raw.get("meta") or "{}"), started=number("started"), finished=number("finished"),
        heartbeat=number("heartbeat"), worker=raw.get("worker"), attempts=int(raw.get("attempts") or 0),
        cancel_requested=raw.get("cancel") == "1", seed=int(raw["seed"]) if raw.get("seed") else None,
        error=raw.get("error") or None, summary=json.loads(raw["summary"]) if raw.get("summary") else None,
        progress=progress, files=tuple(sorted(name.decode() for name in files)),
        owner=raw.get("owner"), client=raw.get("client"),
    )
