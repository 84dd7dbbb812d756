"""Browser sessions in the job store, against both backends (SQLite, Redis): every process that opens
the same store agrees which sessions live, a session's lifetime is judged on the store's clock, and
ending one (or all of a principal's) holds for every process at once."""

from __future__ import annotations

from typing import Callable

from impasto.jobs.store import JobStore
from tests.helpers import Clock

DAY = 86_400.0


def test_a_session_lives_for_its_lifetime_in_every_process(make_store: Callable[[], JobStore], clock: Clock) -> None:
    one, two = make_store(), make_store()
    one.add_session("digest-1", "password:abc", 30 * DAY)
    assert two.session_principal("digest-1", 30 * DAY) == "password:abc"
    clock.now += 30 * DAY - 1
    assert two.session_principal("digest-1", 30 * DAY) == "password:abc"
    assert two.session_principal("digest-1", 7 * DAY) is None  # a shorter lifetime, set since, holds at once
    clock.now += 1
    assert two.session_principal("digest-1", 30 * DAY) is None  # 30 days old: over
    assert two.session_principal("never-made", 30 * DAY) is None


def test_ending_a_session_holds_in_every_process(make_store: Callable[[], JobStore]) -> None:
    one, two = make_store(), make_store()
    one.add_session("mine", "anonymous", DAY)
    one.add_session("theirs", "anonymous", DAY)
    assert two.end_session("mine") and not two.end_session("mine")  # once only
    assert one.session_principal("mine", DAY) is None and one.session_principal("theirs", DAY) == "anonymous"
    assert not one.end_session("never-made")


def test_ending_every_session_of_a_principal(make_store: Callable[[], JobStore]) -> None:
    one, two = make_store(), make_store()
    for digest in ("a", "b", "c"):
        one.add_session(digest, "password:new", DAY)
    one.add_session("old", "password:old", DAY)
    one.add_session("anon", "anonymous", DAY)
    assert one.end_session("c")
    assert two.end_sessions("password:new") == 2  # a and b; c had ended already
    assert [one.session_principal(d, DAY) for d in ("a", "b", "c")] == [None, None, None]
    assert one.session_principal("old", DAY) == "password:old" and one.session_principal("anon", DAY) == "anonymous"
    assert two.end_sessions("password:new") == 0
    one.add_session("after", "password:new", DAY)  # a sign-in after it lives
    assert two.session_principal("after", DAY) == "password:new"


def test_expired_sessions_are_forgotten_when_new_ones_start(make_store: Callable[[], JobStore], clock: Clock) -> None:
    store = make_store()
    store.add_session("old", "password:x", DAY)
    clock.now += DAY
    store.add_session("new", "password:x", DAY)
    assert store.end_sessions("password:x") == 1  # only the live one was left to end


def test_the_store_answers_a_ping(make_store: Callable[[], JobStore]) -> None:
    make_store().ping()  # raises when it does not
