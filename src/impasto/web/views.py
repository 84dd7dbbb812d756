"""Jobs as the API and the pages show them: JSON-ready dicts with URLs, and display helpers."""

from __future__ import annotations

import time
from typing import Any

from flask import current_app, g, url_for

from impasto.jobs.paintings import job_paintings
from impasto.jobs.store import CLIP_RESULTS, DONE, INIT_FILE, POSTER_FILE, QUEUED, Job, JobStore, is_clip, mask_files
from impasto.nst.options import Options
from impasto.text import clock, duration
from impasto.web import auth, services
from impasto.web.estimate import RECENT, Queue, Speed, eta_now, learn, queue_ahead
from impasto.web.option_fields import planned_iterations


def job_dict(job: Job, store: JobStore) -> dict[str, Any]:
    """The public view of a job (GET /api/jobs/<id>)."""
    now = time.time()
    elapsed = _round(job.elapsed(now))  # the clock from this very number: they never disagree
    progress = _progress(job, now)
    return {
        "id": job.id,
        "state": job.state,
        "created": job.created,
        "started": job.started,
        "finished": job.finished,
        "elapsed": elapsed,
        "clock": {"elapsed": clock(elapsed), "eta": clock(progress.get("eta"))},  # as pages show them
        "queue_position": store.queue_position(job.id) if job.state == QUEUED else None,
        **_queue_wait(job),
        "progress": progress,
        "cancel_requested": job.cancel_requested,
        "error": job.error,
        "options": job.options,
        "seed": job.seed,
        "style_name": job.meta.get("style_name"),
        "clip": job.meta.get("clip") if is_clip(job) else None,  # frames, fps, width, height, seconds, ...
        "styles": [{key: p[key] for key in ("name", "weight", "url", "mask")} for p in paintings(job)],
        "summary": job.summary,
        # a variant's group (src/impasto/web/variants.py): group, index, of, vary, value, caption
        "variant": job.meta.get("variant"),
        "owned": auth.owns(job),  # the caller may cancel and delete it
        "urls": job_urls(job),
    }


def group_dict(group: str, jobs: list[Job], store: JobStore) -> dict[str, Any]:
    """A variant group as the API shows it: its id, its jobs in variant order, and its URLs."""
    shown = [job_dict(job, store) for job in jobs]
    for job, data in zip(jobs, shown):  # "paint this one larger" (src/impasto/web/variants.py), once done
        if job.state == DONE:
            data["urls"]["larger"] = url_for("api.paint_larger", job_id=job.id)
    return {"group": group, "jobs": shown,
            "urls": {"group": url_for("api.get_group", group=group), "page": url_for("pages.group_page", group=group)}}


def queue_entry(job: Job, store: JobStore) -> dict[str, Any]:
    """A job of the caller's queue (GET /api/queue, the studio's queue): as GET /api/jobs/<id> shows
    it, with its paintings' title and, in ``said``, where it stands in words."""
    data = job_dict(job, store)
    return {**data, "title": painting_titles(job), "said": _where_it_stands(data)}


def _where_it_stands(data: dict[str, Any]) -> str:
    """"Waiting: 2 jobs ahead, starts in about 3 min", "Painting: 40 % (40 of 100 iterations)"."""
    if data["state"] == QUEUED:
        ahead = (data["queue_position"] or 1) - 1
        line = "next in line" if ahead == 0 else f"{ahead} job{'' if ahead == 1 else 's'} ahead"
        return f"Waiting: {line}, starts in {data['queue_wait_text'] or 'a moment'}"
    progress = data["progress"]
    if data["clip"]:
        return f"Painting frame {progress.get('frame') or 1} of {progress.get('frames')}"
    total, done = progress.get("total") or 0, progress.get("iteration") or 0
    share = round(100 * done / total) if total else 0
    return f"Painting: {share} % ({done} of {total} iterations)"


def _queue_wait(job: Job) -> dict[str, Any]:
    """About how long a queued job waits before it starts (seconds, and as the page says it)."""
    if job.state != QUEUED:
        return {"queue_wait": None, "queue_wait_text": None}
    wait = queue_for(server_speed(), job).wait_seconds
    return {"queue_wait": _round(wait), "queue_wait_text": duration(wait) if wait > 0 else "a moment"}


def _progress(job: Job, now: float) -> dict[str, Any]:
    progress = dict(job.progress)
    progress.setdefault("iteration", 0)
    if "total" not in progress:  # only before the engine's first report: _planned_total parses options
        progress["total"] = _planned_total(job)
    eta = eta_now(progress, now)  # counted down since the engine said it
    progress.pop("eta_at", None)
    if eta is not None:
        progress["eta"] = _round(eta)
    if is_clip(job):  # frame: the one being painted (0 before the first), of frames; eta: the whole clip's
        progress.setdefault("frame", 0)
        progress.setdefault("frames", (job.meta.get("clip") or {}).get("frames"))
    return progress


def _planned_total(job: Job) -> int:
    """Iterations the engine will report as its total, known before it starts (every scale gets
    at least one; with round_evals each counts that many)."""
    return planned_iterations(Options.from_mapping(job.options))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def job_urls(job: Job) -> dict[str, str]:
    """The job's links; ``result`` (and ``result_jpeg``; for a clip ``result_mp4``, ``result_webm``,
    ``result_gif``) only once it is done, ``preview``, ``init``, ``poster`` and ``thumb`` when it
    holds them; ``cancel`` and ``delete`` (the API's POST and DELETE) for its owner only."""
    has = set(job.files)
    urls = {
        "self": url_for("api.get_job", job_id=job.id),
        "page": url_for("pages.job_page", job_id=job.id),
        "content": url_for("api.job_file", job_id=job.id, kind="content"),
        "style": url_for("api.job_file", job_id=job.id, kind="style"),
        "again": url_for("pages.studio", again=job.id),
    }
    if auth.owns(job):
        urls["cancel"] = url_for("api.cancel_job", job_id=job.id)
        urls["delete"] = url_for("api.delete_job", job_id=job.id)
    if INIT_FILE in has:
        urls["init"] = url_for("api.job_file", job_id=job.id, kind="init")
    if "preview.jpg" in has:
        urls["preview"] = url_for("api.job_file", job_id=job.id, kind="preview")
    if job.state == DONE and "result.png" in has:
        urls["result"] = url_for("api.job_result", job_id=job.id)
        urls["result_jpeg"] = url_for("api.job_result", job_id=job.id, format="jpeg")
    if POSTER_FILE in has:
        urls["poster"] = url_for("api.job_file", job_id=job.id, kind="poster")
    if job.state == DONE and CLIP_RESULTS["mp4"] in has:  # a clip: result is the MP4, with the other formats
        urls["result"] = url_for("api.job_result", job_id=job.id)
        urls.update({f"result_{fmt}": url_for("api.job_result", job_id=job.id, format=fmt)
                     for fmt, name in CLIP_RESULTS.items() if name in has})
    if "thumb.jpg" in has:
        urls["thumb"] = url_for("api.job_file", job_id=job.id, kind="thumb")
    return urls


def paintings(job: Job) -> list[dict[str, Any]]:
    """The job's paintings in blend order: built-in name (None for an upload), credit, URL,
    weight (its share of the blend, 0-1) and its mask's URL (None: no masks)."""
    items = job_paintings(job)
    masks: list[str | None] = [*mask_files(job.files)]
    masks += [None] * (len(items) - len(masks))
    blend = job.options.get("style_blend") or []
    weights = blend if len(blend) == len(items) and sum(blend) > 0 else [1.0] * len(items)
    result = []
    for painting, weight, mask in zip(items, weights, masks):
        style = painting.builtin
        result.append({"name": painting.name, "credit": style.credit if style else None,
                       "weight": weight / sum(weights),
                       "url": url_for("api.job_file", job_id=job.id, kind=painting.file.split(".")[0]),
                       "mask": mask and url_for("api.job_file", job_id=job.id, kind=mask.split(".")[0])})
    return result


def painting_titles(job: Job) -> str:
    """The job's paintings as a person names them: "The Starry Night + your painting"."""
    titles = [p.builtin.title if p.builtin else "your painting" for p in job_paintings(job)]
    text = " + ".join(titles)
    return text[:1].upper() + text[1:]


def recent_jobs() -> list[Job]:
    """The store's recent jobs, read once per request (a job list asks for every queued job's wait)."""
    if "impasto_recent" not in g:
        g.impasto_recent = services().store.recent(RECENT)
    return g.impasto_recent


def server_speed() -> Speed:
    """This server's speed, learned from its recent finished jobs (see src/impasto/web/estimate.py)."""
    return learn(recent_jobs())


def queue_for(speed: Speed, job: Job | None = None) -> Queue:
    """The jobs ahead of a new job (or of ``job``, a queued one) and about how long they take."""
    runners = current_app.config["IMPASTO_RUNNERS"]
    return queue_ahead(recent_jobs(), speed, runners, before=job)
