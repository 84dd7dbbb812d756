"""The JobStore contract, run against both backends: SqliteJobStore (embedded) and RedisJobStore
(scale-out). Same calls, same answers: the web layer and run_job cannot tell them apart."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

import pytest

from impasto.jobs.sqlite_store import SqliteJobStore
from impasto.jobs.states import gave_up
from impasto.jobs.store import ClientLimit, JobStore, QueueFull
from tests.helpers import Clock


@pytest.fixture
def store(make_store: Callable[[], JobStore]) -> JobStore:
    return make_store()


def add(store: JobStore, **kwargs: Any) -> str:
    return store.create({"size": 48}, {"content.png": b"c", "style.png": b"s"}, **kwargs).id


def test_create_stores_files_and_queues(store: JobStore, clock: Clock) -> None:
    data = bytes(range(256)) * 10  # binary-safe
    job = store.create({"size": 48, "seed": 7}, {"content.png": data, "style.png": b"s"}, meta={"style_name": "x"})
    assert job.state == "queued" and job.seed == 7 and job.meta == {"style_name": "x"}
    assert job.options == {"size": 48, "seed": 7} and job.created == clock.now and job.attempts == 0
    assert store.get_file(job.id, "content.png") == data
    assert set(job.files) == {"content.png", "style.png"}
    assert store.get_file(job.id, "result.png") is None
    assert len(job.id) >= 20 and store.get("nope") is None
    assert store.counts() == {"queued": 1}


def test_queue_limit_stores_nothing(store: JobStore) -> None:
    add(store, queue_limit=1)
    with pytest.raises(QueueFull):
        add(store, queue_limit=1)
    assert store.counts() == {"queued": 1} and len(store.recent()) == 1


def test_claims_are_fifo_and_respect_the_global_limit(store: JobStore, clock: Clock) -> None:
    first, second, third = add(store), add(store), add(store)
    assert [store.queue_position(i) for i in (first, second, third)] == [1, 2, 3]
    clock.now += 5
    job = store.claim("w1", max_running=1)
    assert job.id == first and job.state == "running" and job.attempts == 1
    assert job.worker == "w1" and job.started == job.heartbeat == clock.now
    assert store.claim("w2", max_running=1) is None  # one job uses every core
    assert store.queue_position(second) == 1 and store.queue_position(first) is None
    assert store.claim("w2", max_running=2).id == second
    assert store.claim("w3", max_running=5, job_id=third).id == third
    assert store.claim("w4", max_running=5, job_id=third) is None  # not queued any more
    assert store.claim("w4", max_running=5) is None  # nothing left
    assert store.counts() == {"running": 3}


def test_only_the_owner_writes(store: JobStore, clock: Clock) -> None:
    job_id = add(store)
    store.claim("owner", 1)
    clock.now += 3
    assert store.update_progress(job_id, "owner", {"iteration": 2, "total": 5, "loss": 1.5, "eta": 9.5})
    assert store.get(job_id).heartbeat == clock.now  # progress counts as a heartbeat
    assert not store.update_progress(job_id, "intruder", {"iteration": 4})
    assert not store.heartbeat(job_id, "intruder") and store.heartbeat(job_id, "owner")
    assert not store.finish(job_id, "intruder", "done")
    assert store.get(job_id).progress == {"iteration": 2, "total": 5, "loss": 1.5, "eta": 9.5}
    store.put_file(job_id, "preview.jpg", b"p")
    clock.now += 1
    assert store.finish(job_id, "owner", "done", summary={"seconds": 1.0}, seed=5)
    done = store.get(job_id)
    assert done.state == "done" and done.summary == {"seconds": 1.0} and done.seed == 5
    assert done.finished == clock.now and done.error is None and "eta" not in done.progress
    assert done.worker == "owner" and "preview.jpg" in done.files
    assert not store.update_progress(job_id, "owner", {"iteration": 5})  # finished: nobody writes
    with pytest.raises(ValueError):
        store.finish(job_id, "owner", "running")


def test_failure_keeps_its_reason(store: JobStore) -> None:
    job_id = add(store)
    store.claim("w", 1)
    assert store.finish(job_id, "w", "failed", error="style image too small")
    assert store.get(job_id).error == "style image too small" and store.counts() == {"failed": 1}


def test_cancel_queued_at_once_running_by_flag(store: JobStore) -> None:
    running, queued = add(store), add(store)
    store.claim("w", 1)
    assert store.request_cancel(queued).state == "cancelled"
    assert store.get(queued).finished is not None and store.queue_position(queued) is None
    assert store.claim("w2", 5, job_id=queued) is None
    assert not store.cancel_requested(running)
    assert store.request_cancel(running).state == "running"
    assert store.cancel_requested(running) and store.get(running).cancel_requested
    assert store.finish(running, "w", "cancelled")
    assert store.request_cancel("unknown") is None
    assert store.counts() == {"cancelled": 2}


def test_stale_running_jobs_are_requeued_then_failed(store: JobStore, clock: Clock) -> None:
    first, job_id = add(store), add(store)
    store.request_cancel(first)
    for attempt in (1, 2):
        assert store.claim("dead", 1).id == job_id
        store.update_progress(job_id, "dead", {"iteration": 3, "total": 5})
        clock.now += 100
        assert store.recover_stale(stale_after=30, max_attempts=2) == [job_id]
        job = store.get(job_id)
        if attempt == 1:
            assert job.state == "queued" and job.worker is None and "iteration" not in job.progress
            assert store.queue_position(job_id) == 1
            assert not store.update_progress(job_id, "dead", {"iteration": 4})  # the old runner lost it
    job = store.get(job_id)
    assert job.state == "failed" and job.error == gave_up(2) and job.attempts == 2
    assert "(2 attempts); giving up" in job.error  # both stores: one message, from src/impasto/jobs/states.py


def test_one_attempt_gives_up_in_the_singular(store: JobStore, clock: Clock) -> None:
    job_id = add(store)
    store.claim("dead", 1)
    clock.now += 100
    store.recover_stale(stale_after=30, max_attempts=1)
    assert store.get(job_id).error == gave_up(1) and "(1 attempt);" in gave_up(1)


def test_a_requeued_job_starts_afresh(store: JobStore, clock: Clock) -> None:
    """Everything the dead run wrote goes: every progress field, the preview, result and thumbnail."""
    job_id = add(store)
    store.claim("dead", 1)
    store.update_progress(job_id, "dead", {"iteration": 5, "total": 5, "evaluations": 9, "loss": 1.5,
                                           "content_loss": 0.5, "style_loss": 0.7, "tv_loss": 0.3, "eta": 0.0,
                                           "scale": 2, "scales": 2, "preview_iteration": 5})
    for name in ("preview.jpg", "result.png", "thumb.jpg"):
        store.put_file(job_id, name, b"from the dead run")
    clock.now += 100
    assert store.recover_stale(stale_after=30, max_attempts=3) == [job_id]
    job = store.get(job_id)
    assert job.state == "queued" and job.progress == {} and job.started is None and job.heartbeat is None
    assert set(job.files) == {"content.png", "style.png"}
    assert all(store.get_file(job_id, name) is None for name in ("preview.jpg", "result.png", "thumb.jpg"))
    assert store.get_file(job_id, "content.png") == b"c"  # the inputs stay


def test_a_stale_job_being_cancelled_ends_cancelled(store: JobStore, clock: Clock) -> None:
    job_id = add(store)
    store.claim("dead", 1)
    store.request_cancel(job_id)
    clock.now += 100
    assert store.recover_stale(stale_after=30, max_attempts=3) == [job_id]
    assert store.get(job_id).state == "cancelled"


def test_a_fresh_heartbeat_is_not_stale(store: JobStore, clock: Clock) -> None:
    job_id = add(store)
    store.claim("alive", 1)
    clock.now += 20
    store.heartbeat(job_id, "alive")
    clock.now += 20
    assert store.recover_stale(stale_after=30, max_attempts=3) == []
    assert store.get(job_id).state == "running"


@pytest.mark.parametrize("meanwhile", ["heartbeat", "cancel"])
def test_a_stale_job_that_changes_while_the_reaper_decides_is_left_alone(
        store: JobStore, clock: Clock, monkeypatch: pytest.MonkeyPatch, meanwhile: str) -> None:
    """The reaper reads the stale jobs, decides, then writes only if each is still that stale run:
    a runner that beats again (or a cancel) between the read and the write wins."""
    job_id = add(store)
    store.claim("slow", 1)
    clock.now += 100
    read_stale = store._stale_jobs

    def change_after_reading(stale_after: float) -> Any:
        found = read_stale(stale_after)
        if meanwhile == "heartbeat":
            store.heartbeat(job_id, "slow")
        else:
            store.request_cancel(job_id)
        return found

    monkeypatch.setattr(store, "_stale_jobs", change_after_reading)
    assert store.recover_stale(stale_after=30, max_attempts=3) == []
    job = store.get(job_id)
    assert job.state == "running" and job.worker == "slow" and job.cancel_requested == (meanwhile == "cancel")


def test_retention_deletes_old_finished_jobs_only(store: JobStore, clock: Clock) -> None:
    old_done, running, queued = add(store), add(store), add(store)
    store.claim("w", 1)
    store.finish(old_done, "w", "done")
    store.claim("w", 1)
    clock.now += 10_000
    store.heartbeat(running, "w")
    assert store.delete_finished(older_than=3600) == [old_done]
    assert store.get(old_done) is None and store.get_file(old_done, "content.png") is None
    assert store.get(running).state == "running" and store.get(queued).state == "queued"
    assert [job.id for job in store.recent()] == [queued, running]
    assert not store.put_file(old_done, "preview.jpg", b"late")  # a runner must not resurrect a deleted job
    assert store.get(old_done) is None and store.get_file(old_done, "preview.jpg") is None


def test_recent_is_newest_first_and_limited(store: JobStore) -> None:
    ids = [add(store) for _ in range(5)]
    assert [job.id for job in store.recent(3)] == ids[::-1][:3]


def test_unknown_file_names_are_refused(store: JobStore) -> None:
    job_id = add(store)
    with pytest.raises(ValueError):
        store.put_file(job_id, "../../etc/passwd", b"x")
    with pytest.raises(ValueError):
        store.get_file(job_id, "jobs.sqlite3")
    with pytest.raises(ValueError):
        store.create({}, {"../x": b"x"})


def test_concurrent_claims_have_exactly_one_winner(make_store: Callable[[], JobStore]) -> None:
    """Eight clients race for 40 jobs with a global limit of 3: each job claimed once, never
    more than 3 running."""
    setup = make_store()
    ids = [add(setup) for _ in range(40)]
    claimed: list[str] = []
    most_running = [0]
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def race(name: str) -> None:
        store = make_store()
        barrier.wait(10)
        for _ in range(2000):
            job = store.claim(name, max_running=3)
            if job is None:
                if store.counts().get("queued", 0) == 0:
                    return
                continue
            running = store.counts().get("running", 0)
            with lock:
                claimed.append(job.id)
                most_running[0] = max(most_running[0], running)
            assert store.finish(job.id, name, "done")

    threads = [threading.Thread(target=race, args=(f"w{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(claimed) == sorted(ids)
    assert most_running[0] <= 3
    assert setup.counts() == {"done": 40}


# -- ownership, delete, per-client limits, tokens ----------------------------------------------

def test_jobs_of_lists_one_owners_jobs_newest_first(store: JobStore) -> None:
    a1, b1, a2 = add(store, owner="browser:a"), add(store, owner="token:b"), add(store, owner="browser:a")
    nobody = add(store)
    assert [job.id for job in store.jobs_of("browser:a")] == [a2, a1]
    assert [job.id for job in store.jobs_of("token:b")] == [b1]
    assert store.jobs_of("browser:c") == [] and [job.id for job in store.jobs_of("browser:a", 1)] == [a2]
    assert store.get(a1).owner == "browser:a" and store.get(nobody).owner is None
    assert len(store.recent()) == 4


def test_the_client_limit_counts_queued_and_running_jobs_of_that_client(store: JobStore) -> None:
    first = add(store, owner="browser:a", client="browser:a", client_limit=2)
    add(store, owner="browser:a", client="browser:a", client_limit=2)
    store.claim("w", 1)  # running still counts
    with pytest.raises(ClientLimit) as caught:
        add(store, owner="browser:a", client="browser:a", client_limit=2)
    assert caught.value.limit == 2 and "2 jobs queued or running" in str(caught.value)
    assert len(store.jobs_of("browser:a")) == 2  # nothing stored
    add(store, owner="browser:b", client="addr:10.0.0.2", client_limit=2)  # another client is not held up
    store.finish(first, "w", "done")
    assert add(store, owner="browser:a", client="browser:a", client_limit=2)  # a finished one frees a place
    assert store.get(first).client == "browser:a"


def test_the_queue_limit_comes_before_the_client_limit(store: JobStore) -> None:
    add(store, client="c", queue_limit=1, client_limit=1)
    with pytest.raises(QueueFull):
        add(store, client="other", queue_limit=1, client_limit=1)


@pytest.mark.parametrize("state", ["queued", "running", "done", "cancelled"])
def test_delete_removes_the_job_and_every_file(store: JobStore, state: str) -> None:
    job_id, other = add(store, owner="browser:a"), add(store, owner="browser:a")
    if state != "queued":
        store.claim("w", 1, job_id=job_id)
        store.put_file(job_id, "preview.jpg", b"p")
    if state in ("done", "cancelled"):
        store.put_file(job_id, "result.png", b"r")
        store.finish(job_id, "w", state)
    assert store.delete(job_id)
    assert store.get(job_id) is None and store.jobs_of("browser:a") == [store.get(other)]
    names = ("content.png", "style.png", "preview.jpg", "result.png")
    assert all(store.get_file(job_id, name) is None for name in names)
    assert [job.id for job in store.recent()] == [other] and store.counts() == {"queued": 1}
    assert not store.delete(job_id) and not store.delete("unknown")
    assert store.queue_position(other) == 1


def test_a_runner_writing_after_delete_changes_nothing(store: JobStore) -> None:
    job_id = add(store)
    store.claim("w", 1)
    assert store.delete(job_id)
    assert not store.update_progress(job_id, "w", {"iteration": 1})
    assert not store.heartbeat(job_id, "w")
    assert not store.put_file(job_id, "result.png", b"late")
    assert not store.finish(job_id, "w", "done")
    assert store.request_cancel(job_id) is None and not store.cancel_requested(job_id)
    assert store.get(job_id) is None and store.get_file(job_id, "result.png") is None
    assert store.counts() == {} and store.recent() == []
    assert store.claim("w2", 1) is None  # the running slot is free again


def test_tokens_are_kept_by_digest_and_revoked_by_name(store: JobStore, clock: Clock) -> None:
    assert store.add_token("ci", "d1")
    clock.now += 1
    assert store.add_token("laptop", "d2")
    assert not store.add_token("ci", "d3")  # names are unique
    assert store.token_name("d1") == "ci" and store.token_name("d2") == "laptop" and store.token_name("d3") is None
    assert [(t.name, t.created) for t in store.tokens()] == [("ci", clock.now - 1), ("laptop", clock.now)]
    assert store.revoke_token("ci") and not store.revoke_token("ci")
    assert store.token_name("d1") is None and [t.name for t in store.tokens()] == ["laptop"]
    assert store.add_token("ci", "d4") and store.token_name("d4") == "ci"  # a name can be used again


# -- clip jobs: the clip, its finished frames and its results ------------------------------------

def add_clip(store: JobStore) -> str:
    return store.create({"size": 48}, {"content.clip": b"\x00\x00\x00\x18ftypmp42", "poster.jpg": b"p",
                                       "style.png": b"s"}).id


def test_frame_file_names_are_numbered_and_never_paths(store: JobStore) -> None:
    from impasto.jobs.store import frame_file, frame_files

    assert frame_file(0) == "frame_0001.png" and frame_file(9998) == "frame_9999.png"
    with pytest.raises(ValueError):
        frame_file(9999)
    job_id = add_clip(store)
    for name in ("frame_0000.png", "frame_1.png", "frame_00001.png", "frame_0001.png/../x", "../frame_0001.png",
                 "frame_000a.png", "frame_0001.jpg", "frame_0001.png\n"):
        with pytest.raises(ValueError):
            store.put_file(job_id, name, b"x")
    assert store.put_file(job_id, "frame_0002.png", b"2") and store.put_file(job_id, "frame_0001.png", b"1")
    job = store.get(job_id)
    assert frame_files(job.files) == {0: "frame_0001.png", 1: "frame_0002.png"}
    assert store.get_file(job_id, "frame_0002.png") == b"2"


def test_a_requeued_clip_job_keeps_its_finished_frames_not_its_results(store: JobStore, clock: Clock) -> None:
    job_id = add_clip(store)
    store.claim("w1", 1)
    store.update_progress(job_id, "w1", {"frame": 2, "frames": 3, "preview_frame": 1, "iteration": 4, "total": 9})
    assert store.get(job_id).progress == {"frame": 2, "frames": 3, "preview_frame": 1, "iteration": 4, "total": 9}
    for name in ("frame_0001.png", "preview.jpg", "result.mp4", "result.webm", "result.gif", "thumb.jpg"):
        store.put_file(job_id, name, b"x")
    clock.now += 100
    assert store.recover_stale(30, 3) == [job_id]
    job = store.get(job_id)
    assert job.state == "queued" and job.progress == {}
    assert set(job.files) == {"content.clip", "poster.jpg", "style.png", "frame_0001.png"}


def test_deleting_a_clip_job_removes_every_file(store: JobStore, tmp_path: Path) -> None:
    job_id = add_clip(store)
    names = ["frame_0001.png", "frame_0002.png", "preview.jpg", "result.mp4", "result.webm", "result.gif", "thumb.jpg"]
    for name in names:
        assert store.put_file(job_id, name, b"x")
    assert store.delete(job_id)
    assert all(store.get_file(job_id, name) is None for name in ["content.clip", "poster.jpg", *names])
    assert not store.put_file(job_id, "frame_0003.png", b"x")  # a runner still painting writes nothing
    assert not (tmp_path / "jobs" / job_id).exists()


def test_delete_files_removes_only_the_named_files_of_that_job(store: JobStore, tmp_path: Path) -> None:
    job_id, other = add_clip(store), add_clip(store)
    for name in ("frame_0001.png", "frame_0002.png", "frame_0003.png", "result.mp4"):
        assert store.put_file(job_id, name, b"x") and store.put_file(other, name, b"y")
    assert store.delete_files(job_id, ["frame_0001.png", "frame_0002.png", "frame_0009.png"]) == 2  # 9: never stored
    assert set(store.get(job_id).files) == {"content.clip", "poster.jpg", "style.png", "frame_0003.png", "result.mp4"}
    assert store.get_file(job_id, "frame_0001.png") is None and store.get_file(job_id, "frame_0003.png") == b"x"
    assert store.get_file(other, "frame_0001.png") == b"y" and len(store.get(other).files) == 7
    assert store.delete_files(job_id, ["frame_0001.png"]) == 0 and store.delete_files(job_id, []) == 0
    if isinstance(store, SqliteJobStore):  # the bytes are gone from the disk too, not only from the listing
        assert sorted(p.name for p in (tmp_path / "jobs" / job_id).iterdir()) == [
            "content.clip", "frame_0003.png", "poster.jpg", "result.mp4", "style.png"]
    assert store.delete_files("no-such-job", ["frame_0001.png"]) == 0
    with pytest.raises(ValueError):
        store.delete_files(job_id, ["../jobs.db"])
