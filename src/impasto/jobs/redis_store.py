"""``RedisJobStore``: the JobStore interface in Redis, for web processes and Celery workers on
different machines (scale-out mode, IMPASTO_BROKER_URL).

The logic both backends share lives in src/impasto/jobs/store_core.py; here are its storage
primitives. Every step that reads and then writes (create with the queue limit, claim, owner-only
writes, cancel, settling a stale job, retention) is one Lua script, so it is atomic across all
clients without locks.
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
- ``layout``      the layout's version (src/impasto/jobs/redis_layout.py upgrades older namespaces at start)

Times: by default the Redis server's clock (``TIME`` inside the scripts), so heartbeats written on
one machine and judged stale on another never suffer from clock skew between them. Tests pass
``clock=`` to move time by hand. Plain (non-cluster) Redis: the scripts build key names themselves.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable, Mapping

from impasto.jobs import redis_layout
from impasto.jobs.states import lua_table
from impasto.jobs.store import OUTPUT_FILES, PROGRESS_FIELDS, QUEUED, RUNNING, STATES, Job, Token
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

# Shared Lua preamble: the vocabulary (states, messages, field lists) as one generated table, then
# ARGV[1], the key prefix, and ARGV[2], the time ('' = the server's clock).
_PRELUDE = lua_table([f"p:{key}" for key in PROGRESS_FIELDS], OUTPUT_FILES) + """
local P = ARGV[1] .. ':'
local now_s, now
if ARGV[2] ~= '' then
  now_s = ARGV[2]
else
  local t = redis.call('TIME')
  now_s = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
end
now = tonumber(now_s)
"""

# ARGV: prefix, now, queue_limit ('' = none), id, options, meta, seed ('' = none), owner ('' = none),
# client ('' = none), client_limit ('' = none), name, data, ... → 1, 0 (queue full) or -1 (client limit)
_CREATE = _PRELUDE + """
if ARGV[3] ~= '' and redis.call('ZCARD', P .. 'state:' .. S.queued) >= tonumber(ARGV[3]) then return 0 end
if ARGV[9] ~= '' and ARGV[10] ~= '' then
  -- The client's jobs among the queued and running ones: few (the queue has a limit), so a scan is cheap.
  local active = 0
  for _, state in ipairs({S.queued, S.running}) do
    for _, other in ipairs(redis.call('ZRANGE', P .. 'state:' .. state, 0, -1)) do
      if redis.call('HGET', P .. 'job:' .. other, 'client') == ARGV[9] then active = active + 1 end
    end
  end
  if active >= tonumber(ARGV[10]) then return -1 end
end
local id = ARGV[4]
local key = P .. 'job:' .. id
local seq = redis.call('INCR', P .. 'seq')
redis.call('HSET', key, 'id', id, 'state', S.queued, 'seq', seq, 'created', now_s, 'attempts', 0,
           'cancel', 0, 'options', ARGV[5], 'meta', ARGV[6])
if ARGV[7] ~= '' then redis.call('HSET', key, 'seed', ARGV[7]) end
if ARGV[8] ~= '' then
  redis.call('HSET', key, 'owner', ARGV[8])
  redis.call('ZADD', P .. 'owner:' .. ARGV[8], seq, id)
end
if ARGV[9] ~= '' then redis.call('HSET', key, 'client', ARGV[9]) end
for i = 11, #ARGV, 2 do redis.call('HSET', P .. 'files:' .. id, ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', P .. 'state:' .. S.queued, seq, id)
redis.call('ZADD', P .. 'all', seq, id)
return 1
"""

# ARGV: prefix, now, worker, max_running, job_id ('' = the oldest queued)
_CLAIM = _PRELUDE + """
local queued, running = P .. 'state:' .. S.queued, P .. 'state:' .. S.running
if redis.call('ZCARD', running) >= tonumber(ARGV[4]) then return false end
local id = ARGV[5]
if id == '' then
  local first = redis.call('ZRANGE', queued, 0, 0)
  if #first == 0 then return false end
  id = first[1]
elseif not redis.call('ZSCORE', queued, id) then
  return false
end
local key = P .. 'job:' .. id
redis.call('ZREM', queued, id)
redis.call('ZADD', running, now, id)
redis.call('HSET', key, 'state', S.running, 'worker', ARGV[3], 'started', now_s, 'heartbeat', now_s)
redis.call('HINCRBY', key, 'attempts', 1)
return id
"""

# ARGV: prefix, now, id, worker, final state ('' = stay running), field, value ('' = delete), ...
# Every owner write also counts as a heartbeat.
_OWNED_UPDATE = _PRELUDE + """
local id = ARGV[3]
local key = P .. 'job:' .. id
if redis.call('HGET', key, 'state') ~= S.running or redis.call('HGET', key, 'worker') ~= ARGV[4] then
  return 0
end
for i = 6, #ARGV, 2 do
  if ARGV[i + 1] == '' then redis.call('HDEL', key, ARGV[i]) else redis.call('HSET', key, ARGV[i], ARGV[i + 1]) end
end
if ARGV[5] == '' then
  redis.call('HSET', key, 'heartbeat', now_s)
  redis.call('ZADD', P .. 'state:' .. S.running, now, id)
else
  redis.call('HSET', key, 'state', ARGV[5], 'finished', now_s)
  redis.call('ZREM', P .. 'state:' .. S.running, id)
  redis.call('ZADD', P .. 'state:' .. ARGV[5], now, id)
end
return 1
"""

# ARGV: prefix, now, id → the state after the request, or false for an unknown job
_CANCEL = _PRELUDE + """
local id = ARGV[3]
local key = P .. 'job:' .. id
local state = redis.call('HGET', key, 'state')
if not state then return false end
if state == S.queued then
  redis.call('HSET', key, 'state', S.cancelled, 'finished', now_s, 'cancel', 1)
  redis.call('ZREM', P .. 'state:' .. S.queued, id)
  redis.call('ZADD', P .. 'state:' .. S.cancelled, now, id)
  return S.cancelled
elseif state == S.running then
  redis.call('HSET', key, 'cancel', 1)
end
return state
"""

# ARGV: prefix, now, id, worker, attempts, cancel flag, stale_after, state, error ('' = none) → 1 when
# the job was still that stale run and now has the state the core decided (stale_verdict), else 0.
_SETTLE_STALE = _PRELUDE + """
local id = ARGV[3]
local key = P .. 'job:' .. id
local running = P .. 'state:' .. S.running
local beat = redis.call('ZSCORE', running, id)
if not beat or tonumber(beat) >= now - tonumber(ARGV[7]) then return 0 end
local run = redis.call('HMGET', key, 'worker', 'attempts', 'cancel')
if (run[1] or '') ~= ARGV[4] or (run[2] or '0') ~= ARGV[5] or (run[3] or '0') ~= ARGV[6] then return 0 end
redis.call('ZREM', running, id)
local state = ARGV[8]
if state == S.queued then
  -- Back to the queue in its old place (same seq), as before its first run: no progress, no
  -- preview, result or thumbnail of the run that died.
  redis.call('HSET', key, 'state', S.queued)
  redis.call('HDEL', key, 'worker', 'started', 'heartbeat', 'sent', unpack(PROGRESS_KEYS))
  redis.call('HDEL', P .. 'files:' .. id, unpack(OUTPUT_FILES))
  redis.call('ZADD', P .. 'state:' .. S.queued, tonumber(redis.call('HGET', key, 'seq')), id)
else
  redis.call('HSET', key, 'state', state, 'finished', now_s)
  if ARGV[9] ~= '' then redis.call('HSET', key, 'error', ARGV[9]) end
  redis.call('HDEL', key, 'worker')
  redis.call('ZADD', P .. 'state:' .. state, now, id)
end
return 1
"""

# ARGV: prefix, now, older_than, batch → deleted ids
_DELETE_FINISHED = _PRELUDE + """
local deleted = {}
for _, state in ipairs(FINISHED) do
  local set = P .. 'state:' .. state
  local ids = redis.call('ZRANGEBYSCORE', set, '-inf', '(' .. (now - tonumber(ARGV[3])), 'LIMIT', 0, tonumber(ARGV[4]))
  for _, id in ipairs(ids) do
    local owner = redis.call('HGET', P .. 'job:' .. id, 'owner')
    if owner then redis.call('ZREM', P .. 'owner:' .. owner, id) end
    redis.call('DEL', P .. 'job:' .. id, P .. 'files:' .. id)
    redis.call('ZREM', set, id)
    redis.call('ZREM', P .. 'all', id)
    table.insert(deleted, id)
  end
end
return deleted
"""

# ARGV: prefix, now, id → 1 when the job existed and is now gone with its files, else 0
_DELETE = _PRELUDE + """
local id = ARGV[3]
local key = P .. 'job:' .. id
local state = redis.call('HGET', key, 'state')
if not state then return 0 end
local owner = redis.call('HGET', key, 'owner')
if owner then redis.call('ZREM', P .. 'owner:' .. owner, id) end
redis.call('ZREM', P .. 'state:' .. state, id)
redis.call('ZREM', P .. 'all', id)
redis.call('DEL', key, P .. 'files:' .. id)
return 1
"""

# ARGV: prefix, now, name, digest → 0 when the name is taken
_ADD_TOKEN = _PRELUDE + """
if redis.call('HEXISTS', P .. 'tokens', ARGV[3]) == 1 then return 0 end
redis.call('HSET', P .. 'tokens', ARGV[3], cjson.encode({digest = ARGV[4], created = now_s}))
redis.call('HSET', P .. 'token-hashes', ARGV[4], ARGV[3])
return 1
"""

# ARGV: prefix, now, name → 0 when there is no such token
_REVOKE_TOKEN = _PRELUDE + """
local entry = redis.call('HGET', P .. 'tokens', ARGV[3])
if not entry then return 0 end
redis.call('HDEL', P .. 'token-hashes', cjson.decode(entry).digest)
redis.call('HDEL', P .. 'tokens', ARGV[3])
return 1
"""

# ARGV: prefix, now, id, name, data → 0 when the job no longer exists (deleted by retention)
_PUT_FILE = _PRELUDE + """
if redis.call('EXISTS', P .. 'job:' .. ARGV[3]) == 0 then return 0 end
redis.call('HSET', P .. 'files:' .. ARGV[3], ARGV[4], ARGV[5])
return 1
"""


# ARGV: prefix, now, id: remember when a task message was sent for a job that is still queued.
_MARK_SENT = _PRELUDE + """
local key = P .. 'job:' .. ARGV[3]
if redis.call('HGET', key, 'state') ~= S.queued then return 0 end
redis.call('HSET', key, 'sent', now_s)
return 1
"""


class RedisJobStore(StoreCore):
    """Jobs and their files in one Redis database, under ``prefix``."""

    def __init__(self, url_or_client: Any, *, prefix: str = "impasto",
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
            ("create", _CREATE), ("claim", _CLAIM), ("owned", _OWNED_UPDATE), ("cancel", _CANCEL),
            ("settle_stale", _SETTLE_STALE), ("delete_finished", _DELETE_FINISHED), ("delete", _DELETE),
            ("put_file", _PUT_FILE), ("mark_sent", _MARK_SENT), ("add_token", _ADD_TOKEN),
            ("revoke_token", _REVOKE_TOKEN))}
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

    def _request_cancel(self, job_id: str) -> bool:
        return bool(self._run("cancel", job_id))

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
