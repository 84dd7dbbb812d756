"""Running a clip job (the content is a video): ``impasto.nst.video.stylize_clip`` with the store's side.

Each frame is stored as soon as it is painted (frame_0001.png …) and becomes the job's preview; the
progress says frame i of N, the frame's iteration and the whole clip's time left. A job re-queued
after its runner died keeps its finished frames (the store drops only OUTPUT_FILES), so the next
run passes them to the engine as ``finished`` and paints only the rest. At the end the results are
written: result.mp4 (H.264, with the clip's sound), result.webm (VP9), result.gif, and thumb.jpg;
once the job is recorded done, its frames are deleted (``drop_frames``): nothing resumes a finished
job, the pages show the videos, the poster and the preview, and a long clip's frames are tens of MB.
A clip is one job on one runner: each frame starts from the one before, so frames cannot be shared out.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Sequence

import numpy as np

from impasto.jobs.store import CLIP_FILE, CLIP_RESULTS, Job, JobStore, frame_file, frame_files
from impasto.nst.errors import ImpastoError
from impasto.nst.images import encode_image, load_image, thumbnail

log = logging.getLogger(__name__)

THUMB_SIZE = 320
# VP9 beside the MP4, for browsers without H.264. Measured on the 2-core machine (a textured
# 512×288 pan, 24 frames, wall time on a busy machine): MP4 16 ms, WebM 99 ms, GIF 477 ms a frame,
# against several seconds to paint each following frame at 512 px: WebM costs ~1-2 % more, so always.
WEBM = True


def read_job_clip(store: JobStore, job: Job, limits: Any) -> Any:
    """The job's clip, decoded (impasto.nst.clips.Clip), checked against this runner's limits."""
    from impasto.nst.clips import read_clip

    data = store.get_file(job.id, CLIP_FILE)
    if data is None:
        raise ImpastoError("the job's clip is missing from the store")
    return read_clip(data, limits)


def finished_frames(store: JobStore, job: Job, frames: int) -> dict[int, np.ndarray]:
    """Frames an earlier run of this job painted (0-based index → RGB), in order from the first and
    without a gap: the engine continues after the last of them."""
    done: dict[int, np.ndarray] = {}
    for index, name in frame_files(job.files).items():
        if index != len(done) or index >= frames:
            break
        data = store.get_file(job.id, name)
        if data is None:
            break
        done[index] = load_image(data, name=name)
    if done:
        log.info("job %s: resuming after %d finished frame(s) of %d", job.id, len(done), frames)
    return done


class FrameKeeper:
    """on_frame: stores each finished frame and shows it as the preview. Best-effort for the preview
    and progress (a failure is logged by ``complain``); a frame that cannot be stored costs only the
    chance to resume from it."""

    def __init__(self, store: JobStore, job_id: str, worker: str, complain: Callable[[], None]) -> None:
        self.store, self.job_id, self.worker, self.complain = store, job_id, worker, complain
        self.latest: int | None = None

    def __call__(self, index: int, rgb: np.ndarray) -> None:
        try:
            self.store.put_file(self.job_id, frame_file(index), encode_image(rgb, "PNG"))
            self.store.put_file(self.job_id, "preview.jpg", encode_image(rgb, "JPEG", quality=85))
            self.latest = index + 1
            self.store.update_progress(self.job_id, self.worker, {"preview_frame": self.latest})
        except Exception:  # noqa: BLE001 - the job goes on; a resume would paint this frame again
            self.complain()


def progress_values(progress: Any, eta: float | None) -> dict[str, Any]:
    """The store's progress fields from the engine's Progress (a picture's, or a clip frame's), with
    the time left (``eta``, stamped with the time it was said, so that pages count it down)."""
    return {"iteration": progress.iteration, "total": progress.total, "evaluations": progress.evaluations,
            "loss": _finite(progress.loss), "content_loss": _finite(progress.content_loss),
            "style_loss": _finite(progress.style_loss), "tv_loss": _finite(progress.tv_loss),
            "eta": eta, "eta_at": time.time(), "scale": progress.scale, "scales": progress.scales}


def clip_progress_values(progress: Any) -> dict[str, Any]:
    """The store's progress fields from an impasto.nst.video.ClipProgress: the frame being painted of
    all, the frame's own iteration/total and losses, and the time left for the whole clip."""
    return {"frame": progress.frame, "frames": progress.frames, **progress_values(progress.progress, progress.eta)}


def _finite(value: float) -> float | None:
    return value if value == value and abs(value) != float("inf") else None


def store_clip_result(store: JobStore, job_id: str, frames: Sequence[np.ndarray], fps: float,
                      audio_from: bytes | None) -> None:
    """result.mp4 (with the clip's sound), result.webm, result.gif and thumb.jpg."""
    from impasto.nst.clips import write_clip

    for fmt, name in CLIP_RESULTS.items():
        if fmt == "webm" and not WEBM:
            continue
        store.put_file(job_id, name, write_clip(frames, fps, fmt, audio_from=None if fmt == "gif" else audio_from))
    store.put_file(job_id, "thumb.jpg", thumbnail(frames[0], THUMB_SIZE))


def drop_frames(store: JobStore, job_id: str) -> int:
    """Delete a finished clip's frames (frame_0001.png …); the count deleted. Best-effort: a store
    away for a moment leaves them to retention, which deletes the whole job later."""
    try:
        job = store.get(job_id)
        names = list(frame_files(job.files).values()) if job is not None else []
        return store.delete_files(job_id, names) if names else 0
    except Exception:  # noqa: BLE001 - the job is done; the frames only cost space until retention
        log.warning("job %s: its finished frames could not be deleted; retention will", job_id, exc_info=True)
        return 0
