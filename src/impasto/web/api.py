"""The JSON API: submit, poll, cancel, delete, download. Errors are always JSON {"error": ...}.

A thin layer over the job service (src/impasto/web/service.py): its typed errors, and the
ServiceErrors raised here, are answered as JSON by src/impasto/web/errors.py.
A job's own GETs answer whoever holds its (unguessable) id; the list, cancel and delete answer its
owner only (src/impasto/web/auth.py); others get 404 and nothing changes."""

from __future__ import annotations

import io
from datetime import datetime, timezone

from flask import Blueprint, Response, abort, current_app, g, jsonify, request, url_for
from PIL import Image
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import MethodNotAllowed

from impasto.jobs.paintings import job_paintings, painting_bytes
from impasto.jobs.store import (
    CLIP_FILE,
    CLIP_RESULTS,
    CLIP_STRIPPED,
    DONE,
    INIT_FILE,
    MASK_FILES,
    POSTER_FILE,
    STYLE_FILES,
    Job,
    frame_file,
    is_clip,
)
from impasto.nst.clip_metadata import without_metadata
from impasto.nst.errors import ImageError
from impasto.nst.images import encode_image, to_rgb_array
from impasto.web import auth, looks, service, services, variants
from impasto.web.service_errors import ServiceError, short_id
from impasto.web.submission import Limits
from impasto.web.variant_plan import Plan, read_plan
from impasto.web.views import group_dict, job_dict, queue_entry, recent_jobs

bp = Blueprint("api", __name__, url_prefix="/api")

# /api/jobs/<id>/<kind>: content, style, style_2 … style_4, init, mask, mask_2 … mask_4, preview, thumb,
# and for a clip job poster (its first frame); its content is the clip as sent, without its metadata.
FILE_KINDS = {name.split(".")[0]: name
              for name in ("content.png", *STYLE_FILES, INIT_FILE, *MASK_FILES, "preview.jpg", "thumb.jpg",
                           POSTER_FILE)}
# A clip's type by its container (ClipInfo.container), for the clip as sent.
CLIP_TYPES = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm", "mkv": "video/x-matroska",
              "gif": "image/gif", "webp": "image/webp"}
RESULT_TYPES = {"mp4": "video/mp4", "webm": "video/webm", "gif": "image/gif"}
# A job's files (its inputs, previews, frames and results) are someone's pictures, shared by link:
# never kept by a shared cache (private), and kept by the browser only to be asked again each time
# (no-cache: a 304 by ETag while unchanged), so that once the job is deleted, or the browser signed
# out of a studio with a password, no picture of it is shown from the browser's cache.
JOB_FILE_CACHE = "private, no-cache"
RECENT_LIMIT = 50


class ApiError(ServiceError):
    """A refusal of the API's own (a body it cannot read, a format, a file a job lacks)."""

    def __init__(self, status: int, message: str, *, field: str | None = None) -> None:
        super().__init__(message, status=status, field=field)


@bp.post("/jobs")
def create_job() -> Response:
    _refuse_unreadable_body()
    form = looks.with_look(request.form, _limits())  # a shared look's settings, under the fields sent
    plan, form = read_plan(form)
    if plan is not None:
        return _create_group(form, plan)
    job = service.submit(services(), form, request.files, owner=auth.job_owner(),
                         client=auth.client_key(), limits=_limits())
    response = jsonify(job_dict(job, services().store))
    response.status_code = 202
    response.headers["Location"] = response.json["urls"]["self"]
    return response


def _create_group(form: MultiDict, plan: Plan) -> Response:
    """variants=N: N jobs, answered 202 with the group (GET /api/groups/<id>) and its jobs."""
    group, jobs = variants.submit_group(services(), form, request.files, plan, owner=auth.job_owner(),
                                        client=auth.client_key(), limits=_limits())
    response = jsonify(group_dict(group, jobs, services().store))
    response.status_code = 202
    response.headers["Location"] = response.json["urls"]["group"]
    return response


@bp.get("/groups/<group>")
def get_group(group: str) -> Response:
    """A variant group's jobs, each as GET /api/jobs/<id> shows it; its owner only (404 for others)."""
    store = services().store
    return jsonify(group_dict(group, variants.group_jobs(store, group, g.owner), store))


@bp.post("/jobs/<job_id>/larger")
def paint_larger(job_id: str) -> Response:
    """A finished job painted again larger (``size``, else twice its size, at most IMPASTO_MAX_SIZE)
    with its uploads, settings and seed: 202 with the new job."""
    job = variants.paint_larger(services(), job_id, request.values.get("size"), owner=auth.job_owner(),
                                client=auth.client_key(), limits=_limits())
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
    return jsonify(service.probe(request.files.get("content"), _limits()))


@bp.get("/jobs")
def list_jobs() -> Response:
    if not current_app.config["IMPASTO_HISTORY"]:
        raise ApiError(404, "the job list is turned off on this server (IMPASTO_HISTORY=0)")
    store = services().store
    return jsonify({"jobs": [job_dict(job, store) for job in service.list_owned(store, g.owner, RECENT_LIMIT)]})


@bp.post("/looks/validate")
def validate_look() -> Response:
    """A look (the JSON body: src/impasto/web/looks.py) checked as a submission's options are:
    {"look": ...} as the studio writes it, or 400 naming every bad field. Nothing is stored."""
    if request.mimetype != "application/json":
        raise ApiError(415, f"send the look as JSON (Content-Type: application/json), got "
                            f"{request.mimetype or 'no Content-Type'}", field="look")
    look = looks.read_look(request.get_data(as_text=True))
    return jsonify({"look": looks.check_look(look, _limits())})


@bp.get("/queue")
def queue() -> Response:
    """The caller's (this browser's, or this token's) jobs waiting and running, running first, each as
    GET /api/jobs/<id> shows it (queue_position, progress, urls.cancel) with ``title`` and ``said``
    (where it stands, in words). Answered whatever
    IMPASTO_HISTORY says: it lists only work still under way, and only the caller's."""
    store = services().store
    return jsonify({"jobs": [queue_entry(job, store) for job in service.queue_of(store, g.owner)]})


@bp.get("/estimate")
def estimate() -> Response:
    """How long a job with these options (query parameters, as for POST /api/jobs, plus ``aspect``:
    the photo's shorter side over its longer side, and ``frames`` for a clip) would take here, and
    the wait before it starts."""
    runners = current_app.config["IMPASTO_RUNNERS"]
    return jsonify(service.estimate(request.args, _limits(), recent_jobs(), runners))


@bp.get("/jobs/<job_id>")
def get_job(job_id: str) -> Response:
    return jsonify(job_dict(service.get(services().store, job_id), services().store))


@bp.post("/jobs/<job_id>/cancel")
def cancel_job(job_id: str) -> Response:
    job = service.cancel(services().store, job_id, g.owner)
    return jsonify(job_dict(job, services().store))


@bp.delete("/jobs/<job_id>")
def delete_job(job_id: str) -> Response:
    service.delete(services().store, job_id, g.owner)
    return jsonify({"id": job_id, "deleted": True})


@bp.get("/jobs/<job_id>/result")
def job_result(job_id: str) -> Response:
    job = _job_or_404(job_id)
    if is_clip(job):
        return _clip_result(job)
    fmt = (request.args.get("format") or "png").lower()
    if fmt in RESULT_TYPES:
        raise ApiError(400, f"job {short_id(job_id)} painted a picture: format must be png or jpeg, got {fmt!r}",
                       field="format")
    if fmt not in ("png", "jpeg", "jpg"):
        raise ApiError(400, f"format must be png or jpeg, got {fmt[:40]!r}", field="format")
    download = _flag("download")
    store = services().store
    data = store.get_file(job_id, "result.png") if job.state == DONE else None
    if data is None:
        raise ApiError(404, f"job {short_id(job_id)} has no result (it is {job.state})")
    flattened = fmt != "png" and bool((job.summary or {}).get("transparent"))
    if fmt != "png":
        data, fmt = _jpeg_rendition(job_id, data), "jpeg"
    response = _image_response(data, f"image/{fmt}", job.finished)
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
        raise ApiError(404, f"job {short_id(job_id)} has no {kind} image yet")
    mimetype = "image/jpeg" if FILE_KINDS[kind].endswith(".jpg") else "image/png"
    # The preview changes while a job runs: no date, its ETag alone tells a 304 from a new picture.
    modified = None if kind == "preview" else job.finished if kind == "thumb" else job.created
    return _image_response(data, mimetype, modified)


def _clip_result(job: Job) -> Response:
    """A clip job's result: MP4 (default), WebM or GIF, with byte ranges (a <video> seeks with them)."""
    fmt = (request.args.get("format") or "mp4").lower()
    if fmt not in RESULT_TYPES:
        raise ApiError(400, f"job {short_id(job.id)} painted a clip: format must be mp4, webm or gif, got {fmt[:40]!r}",
                       field="format")
    download = _flag("download")
    data = services().store.get_file(job.id, CLIP_RESULTS[fmt]) if job.state == DONE else None
    if data is None:
        state = f"it is {job.state}" if job.state != DONE else f"this server wrote no {fmt.upper()} of it"
        raise ApiError(404, f"job {short_id(job.id)} has no {fmt} result ({state})")
    response = _media_response(data, RESULT_TYPES[fmt], job.finished)
    if download:
        response.headers["Content-Disposition"] = f'attachment; filename="impasto-{job.id[:8]}.{fmt}"'
    return response


def _clip_content(job: Job) -> Response:
    """A clip job's content: the clip as it was sent, without its metadata. A job stored before
    clips lost their metadata at submission has it stripped here, as it is served (it is kept as
    stored: nothing already stored is rewritten)."""
    data = services().store.get_file(job.id, CLIP_FILE)
    if data is None:
        raise ApiError(404, f"job {short_id(job.id)} has no content clip")
    container = (job.meta.get("clip") or {}).get("container", "mp4")
    if not job.meta.get(CLIP_STRIPPED):
        try:
            data = without_metadata(data, container)
        except ImageError:
            raise ApiError(404, f"job {short_id(job.id)}'s clip cannot be served without its metadata") from None
    return _media_response(data, CLIP_TYPES.get(container, "application/octet-stream"), job.created)


@bp.get("/jobs/<job_id>/frames/<int:number>")
def job_frame(job_id: str, number: int) -> Response:
    """A clip job's finished frame ``number`` (1-based), as soon as it is painted."""
    job = _job_or_404(job_id)
    frames = (job.meta.get("clip") or {}).get("frames", 0)
    if not is_clip(job) or not 1 <= number <= frames:
        raise ApiError(404, f"job {short_id(job_id)} has no frame {number}" + (f" (it has {frames})" if frames else ""))
    data = services().store.get_file(job_id, frame_file(number - 1))
    if data is None and job.state == DONE:  # its frames are deleted once the videos are stored
        raise ApiError(404, f"job {short_id(job_id)} is done and keeps no frames; its result is the video "
                       f"({url_for('api.job_result', job_id=job.id, format='mp4')})")
    if data is None:
        raise ApiError(404, f"frame {number} of job {short_id(job_id)} is not painted yet")
    return _image_response(data, "image/png", None)


def _media_response(data: bytes, mimetype: str, modified: float | None) -> Response:
    """Audio/video bytes with an ETag and byte ranges (206 for a Range request)."""
    response = Response(data, mimetype=mimetype)
    response.headers["Cache-Control"] = JOB_FILE_CACHE
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
        raise ApiError(404, f"job {short_id(job.id)} has no {kind} image")
    style = None if painting.stored else painting.builtin
    return _image_response(data, style.mimetype if style else "image/png", job.created)


def _image_response(data: bytes, mimetype: str, modified: float | None) -> Response:
    """An image with an ETag (and Last-Modified when known); 304 when the client has it already."""
    response = Response(data, mimetype=mimetype)
    response.headers["Cache-Control"] = JOB_FILE_CACHE
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


def _job_or_404(job_id: str) -> Job:
    return service.get(services().store, job_id)


def _limits() -> Limits:
    return Limits.from_config(current_app.config)


def _to_jpeg(png: bytes) -> bytes:
    """The result as JPEG; a transparent one composited on white (JPEG has no alpha channel)."""
    with Image.open(io.BytesIO(png)) as image:
        return encode_image(to_rgb_array(image), "JPEG", quality=92)
