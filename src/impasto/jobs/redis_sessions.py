"""Browser sessions and the readiness ping of ``RedisJobStore``, kept apart from its job storage.

Keys, under the store's prefix: ``session:<digest>`` a hash {principal, created} per session (the
SHA-256 digest of the cookie's session id; the id itself is never kept), and
``sessions-of:<principal>`` a sorted set of that principal's session digests by start time, for
"sign out everywhere". Every web container reads the same Redis, so a session ended by one is
ended for all. Both kinds of key expire on their own (Redis TTL) once no session in them can
still be alive; the lifetime itself is checked against ``created`` at every read.
"""

from __future__ import annotations

import math
from typing import Any, Callable

TTL_SLACK_SECONDS = 60  # keys outlive their sessions a little: the check on ``created`` decides


class RedisSessions:
    """Mixed into RedisJobStore, whose client, key names and clock it uses."""

    redis: Any
    clock: Callable[[], float] | None
    _key: Callable[..., str]
    _now: Callable[[], float]

    def add_session(self, digest: str, principal: str, max_age: float) -> None:
        now, ttl = self._now(), math.ceil(max_age) + TTL_SLACK_SECONDS
        session, members = self._key("session", digest), self._key("sessions-of", principal)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(session, mapping={"principal": principal, "created": repr(now)})
        pipe.expire(session, ttl)
        pipe.zremrangebyscore(members, "-inf", now - max_age)  # the expired ones leave the set
        pipe.zadd(members, {digest: now})
        pipe.expire(members, ttl)
        pipe.execute()

    def session_principal(self, digest: str, max_age: float) -> str | None:
        pipe = self.redis.pipeline(transaction=False)  # the session and the server's time: one round trip
        pipe.hmget(self._key("session", digest), "principal", "created")
        if self.clock is None:
            pipe.time()
        replies = pipe.execute()
        principal, created = replies[0]
        now = self.clock() if self.clock is not None else replies[1][0] + replies[1][1] / 1e6
        if principal is None or created is None or float(created) <= now - max_age:
            return None
        return principal.decode()

    def end_session(self, digest: str) -> bool:
        session = self._key("session", digest)
        principal = self.redis.hget(session, "principal")
        if principal is None:
            return False
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(session)
        pipe.zrem(self._key("sessions-of", principal.decode()), digest)
        return bool(pipe.execute()[0])

    def end_sessions(self, principal: str) -> int:
        members = self._key("sessions-of", principal)

        def end_all(pipe: Any) -> None:
            digests = pipe.zrange(members, 0, -1)
            pipe.multi()
            for digest in digests:
                pipe.delete(self._key("session", digest.decode()))
            pipe.delete(members)

        # WATCH: a sign-in in between makes Redis run it again, so no session slips past it.
        replies = self.redis.transaction(end_all, members)
        return sum(int(n) for n in replies[:-1])

    def ping(self) -> None:
        """Raises redis.RedisError when Redis does not answer."""
        self.redis.ping()
