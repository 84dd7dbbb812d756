"""The JSON API: submit, poll, cancel, delete, download. Errors are always JSON {"error": ...}.

A job's own GETs answer whoever holds its (unguessable) id; the list, cancel and delete answer its
owner only (src/impasto/web/auth.py); others get 404 and nothing changes."""

from __future__ import annotations

import io
import os
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, Response, abort, current_app, g, jsonify, request, url_for
from PIL import Image
from werkzeug.exceptions import MethodNotAllowed

from impasto.jobs.paintings import job_paintings, painting_bytes
from impasto.jobs.store import (
    CLIP_FILE,
    CLIP_RESULTS,
    DONE,
    INIT_FILE,
    MASK_FILES,
    POSTER_FILE,
    QUEUED,
    RUNNING,
    STYLE_FILES,
    ClientLimit,
    Job,
    QueueFull,
    frame_file,
    is_clip,
)
from impasto.nst.clips import probe_clip
from impasto.nst.errors import ImageError, OptionError
from impasto.nst.images import encode_image, to_rgb_array
from impasto.nst.options import Options
from impasto.text import duration
from impasto.web import auth, services
from impasto.web.clip_input import clip_limits, clip_setting, wants_clip
from impasto.web.errors import error_response
from impasto.web.estimate import DEFAULT_ASPECT
from impasto.web.labels import plain_errors
from impasto.web.submission import RETRY_AFTER_SECONDS, Limits, SubmissionError, option_values, submit
from impasto.web.views import estimate_line, job_dict, queue_for, server_speed, too_much_work

bp = Blueprint("api", __name__, url_prefix="/api")
health_bp = Blueprint("health", __name__)

# /api/jobs/<id>/<kind>: content, style, style_2 … style_4, init, mask, mask_2 … mask_4, preview, thumb,
# and for a clip job poster (its first frame); its content is the clip as sent.
FILE_KINDS = {name.split(".")[0]: name
              for name in ("content.png", *STYLE_FILES, INIT_FILE, *MASK_FILES, "preview.jpg", "thumb.jpg",
                           POSTER_FILE)}
# A clip's type by its container (ClipInfo.container), for the clip as sent.
CLIP_TYPES = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm", "mkv": "video/x-matroska",
              "gif": "image/gif", "webp": "image/webp"}
RESULT_TYPES = {"mp4": "video/mp4", "webm": "video/webm", "gif": "image/gif"}
RECENT_LIMIT = 50


class ApiError(Exception):
    """An error answered as JSON with this status (and extra fields / headers)."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.headers, self.extra = status, message, headers or {}, extra


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.message, exc.headers, **exc.extra)


@bp.post("/jobs")
def create_job() -> Response:
    _refuse_unreadable_body()
    try:
        job = submit(request.form, request.files)
    except SubmissionError as exc:
        raise ApiError(exc.status, str(exc), field=exc.field, errors=exc.errors,
                       messages=plain_errors(exc.errors)) from None
    except QueueFull as exc:
        raise ApiError(503, str(exc), headers={"Retry-After": str(RETRY_AFTER_SECONDS)}) from None
    except ClientLimit as exc:
        raise ApiError(429, str(exc), headers={"Retry-After": str(RETRY_AFTER_SECONDS)}, limit=exc.limit) from None
    response = jsonify(job_dict(job, services().store))
    response.status_code = 202
    response.headers["Location"] = response.json["urls"]["self"]
    return response


def _refuse_unreadable_body() -> None:
    """A body that is not a form (JSON, text), or a form with no parts: say what the API takes,
    instead of "choose a photo". A urlencoded form is fine: "again" (source_job) sends no file."""
    if request.mimetype not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        sent = request.mimetype or "no Content-Type"
        raise ApiError(415, f"the API takes multipart/form-data (fields and files, as curl -F sends), got {sent}",
                       field="content")
    if request.mimetype == "multipart/form-data" and request.content_length and not (request.form or request.files):
        raise ApiError(400, "the multipart/form-data body has no readable parts (is the boundary in the "
                            "Content-Type the one the body uses?)", field="content")


@bp.post("/probe")
def probe() -> Response:
    """What a ``content`` upload is before it is sent as a job: {"clip": false} for a picture, or
    {"clip": true, frames, fps, seconds, width, height, ...}; 400 naming the limit for a clip the
    server would refuse. Nothing is stored (the studio shows a chosen clip's frames and seconds)."""
    _refuse_unreadable_body()
    upload = request.files.get("content")
    if upload is None or not upload.filename:
        raise ApiError(400, "content: send the file to look at as the content field", field="content")
    data = upload.read()
    if not wants_clip(data, upload.filename, upload.mimetype):
        return jsonify({"clip": False})
    try:
        info = probe_clip(data, clip_limits(current_app.config))
    except ImageError as exc:
        raise ApiError(400, f"content: {exc}{clip_setting(str(exc))}", field="content") from None
    return jsonify({"clip": True, **info.to_dict()})


@bp.get("/jobs")
def list_jobs() -> Response:
    if not current_app.config["IMPASTO_HISTORY"]:
        raise ApiError(404, "the job list is turned off on this server (IMPASTO_HISTORY=0)")
    store = services().store
    jobs = store.jobs_of(g.owner, RECENT_LIMIT) if g.owner else []  # no cookie and no token: nothing
    return jsonify({"jobs": [job_dict(job, store) for job in jobs]})


@bp.get("/estimate")
def estimate() -> Response:
    """How long a job with these options (query parameters, as for POST /api/jobs, plus ``aspect``:
    the photo's shorter side over its longer side, and ``frames`` for a clip) would take here, and
    the wait before it starts."""
    values = option_values(request.args)
    values.pop("aspect", None)
    frames = _frames_asked(values.pop("frames", None))
    try:
        aspect = min(1.0, max(0.05, float(request.args.get("aspect") or DEFAULT_ASPECT)))
        options = Options.from_mapping({**values, "preset": request.args.get("preset") or None})
    except OptionError as exc:
        raise ApiError(400, str(exc), field=exc.field) from None
    except ValueError:
        raise ApiError(400, f"aspect must be a number, got {request.args['aspect']!r}", field="aspect") from None
    speed = server_speed()
    seconds = speed.seconds(options, aspect, frames)
    queue = queue_for(speed)
    line = (too_much_work(options, Limits.from_config(current_app.config))
            or estimate_line(duration(seconds), speed.jobs, queue.jobs_ahead, duration(queue.wait_seconds)))
    return jsonify({"seconds": round(seconds, 1), "measured_jobs": speed.jobs, "jobs_ahead": queue.jobs_ahead,
                    "wait_seconds": round(queue.wait_seconds, 1), "line": line})


def _frames_asked(raw: str | None) -> int:
    """The estimate's ``frames`` (a clip's frame count, 1 to IMPASTO_MAX_CLIP_FRAMES; 1: a picture)."""
    most = current_app.config["IMPASTO_MAX_CLIP_FRAMES"]
    if raw is None or raw == "":
        return 1
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise ApiError(400, f"frames must be a whole number from 1 to {most}, got {raw[:40]!r}", field="frames")
    return int(raw)


@bp.get("/jobs/<job_id>")
def get_job(job_id: str) -> Response:
    return jsonify(job_dict(_job_or_404(job_id), services().store))


@bp.post("/jobs/<job_id>/cancel")
def cancel_job(job_id: str) -> Response:
    _owned_or_404(job_id)
    job = services().store.request_cancel(job_id)
    if job is None:  # deleted meanwhile
        raise ApiError(404, _unknown(job_id))
    return jsonify(job_dict(job, services().store))


@bp.delete("/jobs/<job_id>")
def delete_job(job_id: str) -> Response:
    delete_owned(job_id)
    return jsonify({"id": job_id, "deleted": True})


def delete_owned(job_id: str) -> None:
    """Delete the caller's job and all its files (a running one is cancelled first); ApiError 404
    for a job that is not the caller's. Shared by the API and the job page's button."""
    job = _owned_or_404(job_id)
    store = services().store
    if job.state == RUNNING:
        store.request_cancel(job_id)  # its runner stops at the next check (the job is gone by then anyway)
    if not store.delete(job_id):
        raise ApiError(404, _unknown(job_id))


@bp.get("/jobs/<job_id>/result")
def job_result(job_id: str) -> Response:
    job = _job_or_404(job_id)
    if is_clip(job):
        return _clip_result(job)
    fmt = (request.args.get("format") or "png").lower()
    if fmt in RESULT_TYPES:
        raise ApiError(400, f"job {_short(job_id)} painted a picture: format must be png or jpeg, got {fmt!r}",
                       field="format")
    if fmt not in ("png", "jpeg", "jpg"):
        raise ApiError(400, f"format must be png or jpeg, got {fmt[:40]!r}", field="format")
    download = _flag("download")
    store = services().store
    data = store.get_file(job_id, "result.png") if job.state == DONE else None
    if data is None:
        raise ApiError(404, f"job {_short(job_id)} has no result (it is {job.state})")
    flattened = fmt != "png" and bool((job.summary or {}).get("transparent"))
    if fmt != "png":
        data, fmt = _jpeg_rendition(job_id, data), "jpeg"
    response = _image_response(data, f"image/{fmt}", job.finished, "private, max-age=86400")
    if flattened:  # says so: the transparent parts of the photo are white in this file
        response.headers["X-Impasto-Note"] = "JPEG has no transparency: transparent parts are on white"
    if download:
        extension = "png" if fmt == "png" else "jpg"
        response.headers["Content-Disposition"] = f'attachment; filename="impasto-{job_id[:8]}.{extension}"'
    return response


@bp.get("/jobs/<job_id>/<kind>")
def job_file(job_id: str, kind: str) -> Response:
    if kind == "cancel":
        raise MethodNotAllowed(valid_methods=["POST"])
    if kind not in FILE_KINDS:
        abort(404)
    job = _job_or_404(job_id)
    if kind.startswith("style"):
        return _painting(job, kind)
    if kind == "content" and is_clip(job):
        return _clip_content(job)
    data = services().store.get_file(job_id, FILE_KINDS[kind])
    if data is None:
        raise ApiError(404, f"job {_short(job_id)} has no {kind} image yet")
    mimetype = "image/jpeg" if FILE_KINDS[kind].endswith(".jpg") else "image/png"
    # The preview changes while a job runs: kept, but asked again each time (a 304 while unchanged).
    if kind == "preview":
        return _image_response(data, mimetype, None, "no-cache")
    modified = job.finished if kind == "thumb" else job.created
    return _image_response(data, mimetype, modified, "private, max-age=86400")


def _clip_result(job: Job) -> Response:
    """A clip job's result: MP4 (default), WebM or GIF, with byte ranges (a <video> seeks with them)."""
    fmt = (request.args.get("format") or "mp4").lower()
    if fmt not in RESULT_TYPES:
        raise ApiError(400, f"job {_short(job.id)} painted a clip: format must be mp4, webm or gif, got {fmt[:40]!r}",
                       field="format")
    download = _flag("download")
    data = services().store.get_file(job.id, CLIP_RESULTS[fmt]) if job.state == DONE else None
    if data is None:
        state = f"it is {job.state}" if job.state != DONE else f"this server wrote no {fmt.upper()} of it"
        raise ApiError(404, f"job {_short(job.id)} has no {fmt} result ({state})")
    response = _media_response(data, RESULT_TYPES[fmt], job.finished)
    if download:
        response.headers["Content-Disposition"] = f'attachment; filename="impasto-{job.id[:8]}.{fmt}"'
    return response


def _clip_content(job: Job) -> Response:
    """A clip job's content: the clip as it was sent."""
    data = services().store.get_file(job.id, CLIP_FILE)
    if data is None:
        raise ApiError(404, f"job {_short(job.id)} has no content clip")
    container = (job.meta.get("clip") or {}).get("container", "mp4")
    return _media_response(data, CLIP_TYPES.get(container, "application/octet-stream"), job.created)


@bp.get("/jobs/<job_id>/frames/<int:number>")
def job_frame(job_id: str, number: int) -> Response:
    """A clip job's finished frame ``number`` (1-based), as soon as it is painted."""
    job = _job_or_404(job_id)
    frames = (job.meta.get("clip") or {}).get("frames", 0)
    if not is_clip(job) or not 1 <= number <= frames:
        raise ApiError(404, f"job {_short(job_id)} has no frame {number}" + (f" (it has {frames})" if frames else ""))
    data = services().store.get_file(job_id, frame_file(number - 1))
    if data is None and job.state == DONE:  # its frames are deleted once the videos are stored
        raise ApiError(404, f"job {_short(job_id)} is done and keeps no frames; its result is the video "
                       f"({url_for('api.job_result', job_id=job.id, format='mp4')})")
    if data is None:
        raise ApiError(404, f"frame {number} of job {_short(job_id)} is not painted yet")
    return _image_response(data, "image/png", None, "private, max-age=86400")


def _media_response(data: bytes, mimetype: str, modified: float | None) -> Response:
    """Audio/video bytes with an ETag and byte ranges (206 for a Range request)."""
    response = Response(data, mimetype=mimetype)
    response.headers["Cache-Control"] = "private, max-age=86400"
    response.add_etag()
    if modified is not None:
        response.last_modified = datetime.fromtimestamp(modified, timezone.utc)
    return response.make_conditional(request, accept_ranges=True, complete_length=len(data))


def _painting(job: Job, kind: str) -> Response:
    """A painting of the job: its stored upload, or the built-in it references."""
    paintings = {p.file: p for p in job_paintings(job)}
    painting = paintings.get(FILE_KINDS[kind])
    data = painting_bytes(services().store, job, painting) if painting else None
    if data is None or painting is None:
        raise ApiError(404, f"job {_short(job.id)} has no {kind} image")
    style = None if painting.stored else painting.builtin
    return _image_response(data, style.mimetype if style else "image/png", job.created, "private, max-age=86400")


def _image_response(data: bytes, mimetype: str, modified: float | None, cache: str) -> Response:
    """An image with an ETag (and Last-Modified when known); 304 when the client has it already."""
    response = Response(data, mimetype=mimetype)
    response.headers["Cache-Control"] = cache
    response.add_etag()
    if modified is not None:
        response.last_modified = datetime.fromtimestamp(modified, timezone.utc)
    return response.make_conditional(request)


def _jpeg_rendition(job_id: str, png: bytes) -> bytes:
    """The result as JPEG: made at the first request, then kept with the job's files."""
    store = services().store
    data = store.get_file(job_id, "result.jpg")
    if data is None:
        data = _to_jpeg(png)
        store.put_file(job_id, "result.jpg", data)  # False for a job deleted meanwhile: answered all the same
    return data


def _flag(name: str) -> bool:
    """A query switch: absent, '', 0, false, no or off mean no; 1, true, yes, on mean yes."""
    value = (request.args.get(name) or "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ApiError(400, f"{name} must be 1 or 0 (true/false), got {value[:40]!r}", field=name)


def _short(job_id: str) -> str:
    """A job id as echoed in messages: never a whole 9,000-character one."""
    return job_id if len(job_id) <= 48 else job_id[:45] + "..."


@health_bp.get("/healthz")
def healthz() -> Response:
    counts = services().store.counts()  # also proves the store answers
    # The process id tells which server process answered (several run under gunicorn -w N).
    return jsonify({"status": "ok", "queued": counts.get(QUEUED, 0), "running": counts.get(RUNNING, 0),
                    "process": os.getpid()})


def _job_or_404(job_id: str) -> Job:
    job = services().store.get(job_id)
    if job is None:
        raise ApiError(404, _unknown(job_id))
    return job


def _owned_or_404(job_id: str) -> Job:
    """The job if the caller owns it; else 404, as for an unknown job."""
    job = services().store.get(job_id)
    if job is None or not auth.owns(job):
        raise ApiError(404, _unknown(job_id) if job is None else f"job {_short(job_id)!r} is not yours: only "
                                                                 "the browser or API token that made it may change it")
    return job


def _unknown(job_id: str) -> str:
    return f"no job {_short(job_id)!r} (unknown, or deleted)"


def _to_jpeg(png: bytes) -> bytes:
    """The result as JPEG; a transparent one composited on white (JPEG has no alpha channel)."""
    with Image.open(io.BytesIO(png)) as image:
        return encode_image(to_rgb_array(image), "JPEG", quality=92)
