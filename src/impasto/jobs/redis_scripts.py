"""The Redis store's Lua scripts: every step that reads and then writes is one script, so it is
atomic across all clients without locks (src/impasto/jobs/redis_store.py runs them)."""

from __future__ import annotations

from impasto.jobs.states import lua_table
from impasto.jobs.store import OUTPUT_FILES, PROGRESS_FIELDS

# Shared Lua preamble: the vocabulary (states, messages, field lists) as one generated table, then
# ARGV[1], the key prefix, and ARGV[2], the time ('' = the server's clock).
PRELUDE = lua_table([f"p:{key}" for key in PROGRESS_FIELDS], OUTPUT_FILES) + """
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
CREATE = PRELUDE + """
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
CLAIM = PRELUDE + """
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
OWNED_UPDATE = PRELUDE + """
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

# ARGV: prefix, now, id → 1 when this call cancelled a queued job, 2 for any other known job (a running
# one now has its flag), false for an unknown job (store_core's CANCELLED_QUEUED, KNOWN)
CANCEL = PRELUDE + """
local id = ARGV[3]
local key = P .. 'job:' .. id
local state = redis.call('HGET', key, 'state')
if not state then return false end
if state == S.queued then
  redis.call('HSET', key, 'state', S.cancelled, 'finished', now_s, 'cancel', 1)
  redis.call('ZREM', P .. 'state:' .. S.queued, id)
  redis.call('ZADD', P .. 'state:' .. S.cancelled, now, id)
  return 1
elseif state == S.running then
  redis.call('HSET', key, 'cancel', 1)
end
return 2
"""

# ARGV: prefix, now, id, worker, attempts, cancel flag, stale_after, state, error ('' = none) → 1 when
# the job was still that stale run and now has the state the core decided (stale_verdict), else 0.
SETTLE_STALE = PRELUDE + """
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
DELETE_FINISHED = PRELUDE + """
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
DELETE = PRELUDE + """
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
ADD_TOKEN = PRELUDE + """
if redis.call('HEXISTS', P .. 'tokens', ARGV[3]) == 1 then return 0 end
redis.call('HSET', P .. 'tokens', ARGV[3], cjson.encode({digest = ARGV[4], created = now_s}))
redis.call('HSET', P .. 'token-hashes', ARGV[4], ARGV[3])
return 1
"""

# ARGV: prefix, now, name → 0 when there is no such token
REVOKE_TOKEN = PRELUDE + """
local entry = redis.call('HGET', P .. 'tokens', ARGV[3])
if not entry then return 0 end
redis.call('HDEL', P .. 'token-hashes', cjson.decode(entry).digest)
redis.call('HDEL', P .. 'tokens', ARGV[3])
return 1
"""

# ARGV: prefix, now, id, name, data → 0 when the job no longer exists (deleted by retention)
PUT_FILE = PRELUDE + """
if redis.call('EXISTS', P .. 'job:' .. ARGV[3]) == 0 then return 0 end
redis.call('HSET', P .. 'files:' .. ARGV[3], ARGV[4], ARGV[5])
return 1
"""


# ARGV: prefix, now, id: remember when a task message was sent for a job that is still queued.
MARK_SENT = PRELUDE + """
local key = P .. 'job:' .. ARGV[3]
if redis.call('HGET', key, 'state') ~= S.queued then return 0 end
redis.call('HSET', key, 'sent', now_s)
return 1
"""
