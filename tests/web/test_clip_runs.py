"""A clip job in the runner: progress as frame i of N, each frame stored as it finishes, cancel,
and a run that dies resuming from its finished frames (driven by a painter that watches the real
engine's progress, no sleeps)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import impasto.jobs.execute
from impasto.jobs.execute import EngineSettings, run_job
from impasto.jobs.sqlite_store import SqliteJobStore
from impasto.jobs.store import JobStore, frame_files
from impasto.nst.images import encode_image
from impasto.nst.options import Options
from tests.clips import video_bytes
from tests.conftest import stripes_image
from tests.dispatch import watching
from tests.helpers import Clock
from tests.weights import UNTRAINED_WEIGHTS

ENGINE = EngineSettings(weights=UNTRAINED_WEIGHTS)
FRAMES = 4


class Crash(BaseException):
    """The runner's process dying mid-clip: nothing in run_job catches it (as nothing catches a SIGKILL)."""


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> JobStore:
    return SqliteJobStore(tmp_path, clock=clock)


def add_clip_job(store: JobStore) -> str:
    options = Options(size=48, iterations=2, frame_iterations=2, seed=3).to_dict()
    files = {"content.clip": video_bytes("mp4", frames=FRAMES), "poster.jpg": b"p",
             "style.png": encode_image(stripes_image(), "PNG")}
    return store.create(options, files, meta={"style_names": [None], "clip": {"frames": FRAMES}}).id


def claim(store: JobStore, worker: str) -> str:
    job = store.claim(worker, 1)
    assert job is not None
    return job.id


def test_progress_says_frame_i_of_n_and_each_frame_is_stored_as_it_finishes(store: JobStore) -> None:
    job_id = add_clip_job(store)
    seen: list[dict[str, Any]] = []

    def hook(progress: Any) -> None:  # after each progress write: what the job page would read now
        job = store.get(job_id)
        seen.append({**job.progress, "stored": sorted(frame_files(job.files))})

    assert run_job(store, claim(store, "w"), worker="w", engine=ENGINE, painter=watching(hook)) == "done"
    assert {entry["frames"] for entry in seen} == {FRAMES}
    assert sorted({entry["frame"] for entry in seen}) == [1, 2, 3, 4]
    for entry in seen:  # while frame i is painted, frames 1 … i-1 are stored and the preview is the last of them
        assert entry["stored"] == list(range(entry["frame"] - 1))
        assert entry.get("preview_frame") == (entry["frame"] - 1 or None)
        assert entry["iteration"] <= entry["total"]
    etas = {frame: [e["eta"] for e in seen if e["frame"] == frame and e.get("eta") is not None] for frame in (2, 3, 4)}
    assert all(etas.values()), etas  # the whole clip's time left, once the frame's own pace is known
    assert max(etas[4]) < max(etas[2])
    job = store.get(job_id)
    assert job.state == "done" and job.summary["frames"] == FRAMES and job.summary["resumed_frames"] == 0
    assert {"result.mp4", "result.webm", "result.gif", "thumb.jpg", "preview.jpg"} <= set(job.files)


def test_a_run_that_dies_is_resumed_from_its_finished_frames(store: JobStore, clock: Clock) -> None:
    job_id = add_clip_job(store)

    def die_at_frame_3(progress: Any) -> None:
        if progress.frame == 3:
            raise Crash()

    with pytest.raises(Crash):
        run_job(store, claim(store, "w1"), worker="w1", engine=ENGINE, painter=watching(die_at_frame_3))
    assert set(frame_files(store.get(job_id).files)) == {0, 1}

    clock.now += 1000  # the dead runner's heartbeat goes stale; the reaper re-queues the job
    assert store.recover_stale(30, 3) == [job_id]
    assert store.get(job_id).state == "queued" and set(frame_files(store.get(job_id).files)) == {0, 1}

    painted: set[int] = set()
    assert run_job(store, claim(store, "w2"), worker="w2", engine=ENGINE,
                   painter=watching(lambda progress: painted.add(progress.frame))) == "done"
    job = store.get(job_id)
    assert painted == {3, 4}  # frames 1 and 2 were not painted again
    assert job.summary["resumed_frames"] == 2 and job.summary["frames"] == FRAMES and job.attempts == 2
    assert not frame_files(job.files)  # done: the frames went once the videos were stored
    assert {"result.mp4", "result.gif", "thumb.jpg", "preview.jpg", "poster.jpg"} <= set(job.files)


def test_a_clip_job_is_cancelled_between_frames(store: JobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(impasto.jobs.execute, "CANCEL_CHECK_SECONDS", 0.0)  # ask the store at every evaluation
    job_id = add_clip_job(store)

    def cancel_at_frame_2(progress: Any) -> None:
        if progress.frame == 2:
            store.request_cancel(job_id)

    state = run_job(store, claim(store, "w"), worker="w", engine=ENGINE, painter=watching(cancel_at_frame_2))
    assert state == "cancelled"
    job = store.get(job_id)
    assert job.state == "cancelled" and set(frame_files(job.files)) == {0}  # frame 1 kept (not done), frame 2 stopped
    assert "result.mp4" not in job.files and job.progress["preview_frame"] == 1


def test_a_runner_with_lower_limits_fails_the_clip_with_the_reason(store: JobStore) -> None:
    job_id = add_clip_job(store)
    engine = EngineSettings(weights=UNTRAINED_WEIGHTS, max_clip_frames=3)
    assert run_job(store, claim(store, "w"), worker="w", engine=engine) == "failed"
    assert store.get(job_id).error == "the clip has more than 3 frames; at most 3"


def test_the_frames_stay_when_done_cannot_be_recorded(store: JobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A runner that could not record 'done' leaves the job to the reaper, which re-queues it: the
    next run must find every frame, not paint the clip again."""
    job_id = add_clip_job(store)
    monkeypatch.setattr(impasto.jobs.execute, "FINISH_TRIES", 1)
    monkeypatch.setattr(store, "finish", lambda *args, **kwargs: (_ for _ in ()).throw(OSError("store away")))
    run_job(store, claim(store, "w"), worker="w", engine=ENGINE)
    assert set(frame_files(store.get(job_id).files)) == {0, 1, 2, 3}
