"""What the two stores' versioned upgrades share (src/impasto/jobs/sqlite_schema.py for SQLite,
src/impasto/jobs/redis_layout.py for Redis): running the missing steps in order under the backend's
lock, refusing data written by a newer Impasto, and the rewrites of stored jobs that both need."""

from __future__ import annotations

from typing import Any, Callable, ContextManager, Sequence


def upgrade(*, known: int, steps: Sequence[Callable[[], None]], version: Callable[[], int],
            lock: Callable[[], ContextManager[Any]], set_version: Callable[[int], None],
            too_new: Callable[[int], Exception]) -> list[int]:
    """Bring stored data from ``version()`` to ``known`` by running ``steps`` (step N, at index N-1,
    goes from version N-1 to N) inside ``lock()``; return the steps run (often none)."""
    if version() == known:  # the common case, without the lock
        return []
    with lock():
        current = version()  # again, under the lock: another process may have just upgraded
        if current > known:
            raise too_new(current)
        run = list(range(current + 1, known + 1))
        for step in run:
            steps[step - 1]()
        set_version(known)
    return run


def add_style_names(meta: dict[str, Any]) -> bool:
    """Jobs from before blending kept one built-in name as meta.style_name: give the job the list
    meta.style_names, so that readers need no fallback. True when ``meta`` was changed."""
    if "style_names" in meta:
        return False
    meta["style_names"] = [meta.get("style_name")]
    return True
