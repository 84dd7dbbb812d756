"""What a group of variants relies on in both stores (src/impasto/web/variants.py): a limit lowered by
the variants still to come, down to 0 or below, refuses the job, so that a group is stored only
while the queue and the client have room for all of it."""

from __future__ import annotations

from typing import Callable

import pytest

from impasto.jobs.store import ClientLimit, JobStore, QueueFull


def add(store: JobStore, **kwargs: object) -> str:
    return store.create({"size": 48}, {"content.png": b"c", "style.png": b"s"}, **kwargs).id  # type: ignore[arg-type]


@pytest.mark.parametrize("limit", [0, -1, -5])
def test_a_limit_of_zero_or_less_refuses_and_stores_nothing(make_store: Callable[[], JobStore], limit: int) -> None:
    store = make_store()
    with pytest.raises(QueueFull):
        add(store, queue_limit=limit)
    with pytest.raises(ClientLimit):
        add(store, client="addr:1", client_limit=limit)
    assert store.counts() == {}


def test_a_lowered_limit_leaves_room_for_the_rest_of_the_group(make_store: Callable[[], JobStore]) -> None:
    store = make_store()
    add(store, queue_limit=4)
    add(store, queue_limit=4 - 2)  # the first of three: two more must fit behind it
    with pytest.raises(QueueFull):
        add(store, queue_limit=4 - 2)  # a second group of three: no room for its last two
    assert store.counts() == {"queued": 2}
