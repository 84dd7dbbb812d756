"""Two real processes claiming from one SQLite file: every job claimed exactly once, never more
running at once than the global limit. Nothing here depends on how the machine schedules the two
processes: where both must hold a job, a barrier makes them (not luck)."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from impasto.jobs.sqlite_store import SqliteJobStore

JOBS = 40


def _claim_all(data_dir: str, name: str, max_running: int, results, barrier) -> None:
    store = SqliteJobStore(data_dir)
    barrier.wait(30)  # start together, so that the claims really race
    claimed, most_running = [], 0
    # Under a limit of two or more, each process takes its first job and then waits until the other
    # holds one too: both claim, side by side, however the machine schedules them.
    rendezvous = max_running >= 2
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = store.claim(name, max_running)
        if job is None:
            if store.counts().get("queued", 0) == 0:
                break
            time.sleep(0.001)  # the limit is full: claim again at once (the race is the point)
            continue
        most_running = max(most_running, store.counts().get("running", 0))
        if rendezvous:
            barrier.wait(60)
            rendezvous = False
        time.sleep(0.005)  # "work", while the other process tries to claim
        store.update_progress(job.id, name, {"iteration": 1, "total": 1})
        assert store.finish(job.id, name, "done")
        claimed.append(job.id)
    results.put((name, claimed, most_running))


def _run(tmp_path: Path, max_running: int) -> tuple[list[str], dict[str, list[str]], int]:
    store = SqliteJobStore(tmp_path)
    ids = [store.create({"n": i}, {"content.png": b"c"}).id for i in range(JOBS)]
    context = multiprocessing.get_context("spawn")
    results, barrier = context.Queue(), context.Barrier(2)
    workers = [context.Process(target=_claim_all, args=(str(tmp_path), f"p{i}", max_running, results, barrier))
               for i in range(2)]
    for worker in workers:
        worker.start()
    outcome = [results.get(timeout=90) for _ in workers]
    for worker in workers:
        worker.join(10)
        assert worker.exitcode == 0
    by_process = {name: claimed for name, claimed, _ in outcome}
    return ids, by_process, max(most for _, _, most in outcome)


def test_each_job_is_claimed_exactly_once_by_two_processes(tmp_path: Path) -> None:
    ids, by_process, _ = _run(tmp_path, max_running=10)
    everything = [job_id for claimed in by_process.values() for job_id in claimed]
    assert sorted(everything) == sorted(ids)  # all claimed, none twice
    assert all(by_process.values())  # the rendezvous after each first claim makes both take part
    store = SqliteJobStore(tmp_path)
    assert store.counts() == {"done": JOBS}
    assert all(store.get(job_id).attempts == 1 for job_id in ids)


def test_the_running_limit_holds_across_processes(tmp_path: Path) -> None:
    ids, by_process, most_running = _run(tmp_path, max_running=1)
    assert sorted(j for claimed in by_process.values() for j in claimed) == sorted(ids)
    assert most_running == 1
