"""The Redis job store's key layout, versioned by the key ``<prefix>:layout``.

``MIGRATIONS`` is the ordered list of steps; step N brings a namespace from layout N-1 to N.
``migrate(client, prefix)`` runs the steps a namespace lacks under a Redis lock (redis-py's
``Lock``), so web processes and workers starting at once never run a step twice; the others wait
for it. Layout 0 is an empty namespace; a namespace written before the layout had a version
(Impasto up to 2026-11-30) has jobs (a ``seq`` key) but no ``layout`` key: that is layout 1.

Adding keys or fields, or changing what a stored field means: append a step that rewrites the old
jobs (as src/impasto/jobs/sqlite_schema.py does for SQLite); never edit one that has shipped; the upgrade test
(tests/distributed/test_store_migrations.py) loads a namespace kept from the version before.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Callable

from impasto.jobs.migrations import add_style_names, upgrade


def _v1_before_versioning(client: Any, prefix: str) -> None:
    """The layout before versioning: nothing to do for an empty namespace."""


def _v2_owners_and_tokens(client: Any, prefix: str) -> None:
    """Jobs gain 'owner' and 'client' fields and each owner a sorted set ``owner:<owner>``;
    ``tokens`` (name → JSON) and ``token-hashes`` (hash → name) hold API tokens. All new keys:
    jobs from before have no owner (listed to nobody, still reachable by link)."""


def _v3_style_names(client: Any, prefix: str) -> None:
    """Every job lists its built-in style names (migrations.add_style_names)."""
    for job_id in client.zrange(f"{prefix}:all", 0, -1):
        key = f"{prefix}:job:{job_id.decode()}"
        meta = json.loads(client.hget(key, "meta") or b"{}")
        if add_style_names(meta):
            client.hset(key, "meta", json.dumps(meta))


def _v4_clip_progress(client: Any, prefix: str) -> None:
    """Clip jobs gain the progress fields p:frame, p:frames, p:preview_frame and the files
    content.clip, poster.jpg, frame_NNNN.png, result.mp4/webm/gif. All new fields, absent from every
    job from before (none is a clip, and an absent progress field reads as not reported)."""


def _v5_sessions(client: Any, prefix: str) -> None:
    """Browser sessions: ``session:<digest>`` and ``sessions-of:<principal>`` (src/impasto/jobs/redis_sessions.py).
    All new keys: nothing stored before changes."""


MIGRATIONS: list[tuple[str, Callable[[Any, str], None]]] = [
    ("the layout before versioning", _v1_before_versioning),
    ("job owners, per-client counts, API tokens", _v2_owners_and_tokens),
    ("every job lists its built-in style names", _v3_style_names),
    ("clip jobs' frame progress and files", _v4_clip_progress),
    ("browser sessions", _v5_sessions),
]
VERSION = len(MIGRATIONS)
LOCK_SECONDS = 300  # a migrating process that dies frees the lock after this long


class LayoutError(RuntimeError):
    """The namespace was written by a newer Impasto than this one."""


def version(client: Any, prefix: str) -> int:
    stored = client.get(f"{prefix}:layout")
    if stored is not None:
        return int(stored)
    return 1 if client.exists(f"{prefix}:seq") else 0


def migrate(client: Any, prefix: str, *, wait: float = 60.0) -> list[int]:
    """Bring the namespace ``prefix`` to ``VERSION``; return the steps run (often none)."""
    return upgrade(known=VERSION, steps=[functools.partial(step, client, prefix) for _, step in MIGRATIONS],
                   version=lambda: version(client, prefix),
                   lock=lambda: client.lock(f"{prefix}:layout-lock", timeout=LOCK_SECONDS, blocking_timeout=wait),
                   set_version=lambda known: client.set(f"{prefix}:layout", known),
                   too_new=lambda current: LayoutError(
                       f"the Redis job store (prefix {prefix!r}) has layout version {current}, but this "
                       f"Impasto knows versions up to {VERSION}; run the newer Impasto"))
