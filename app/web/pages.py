"""HTML pages: the studio form, a job's page, the history. They work without JavaScript; the
scripts in static/ add drag-and-drop, live sliders, in-page errors and live progress."""

from __future__ import annotations

import time
from typing import Any, Mapping

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for

from app.jobs.store import FINISHED_STATES, Job
from app.styles import catalog, thumbnail
from app.web import services
from app.web.api import ApiError, submit
from app.web.form import form_sections, hidden_extras, preset_table
from app.web.submission import Limits, SubmissionError, option_values
from app.web.views import clock, job_dict, style_credit

bp = Blueprint("pages", __name__)

@bp.get("/")
def studio() -> str:
    again = request.args.get("again")
    job = services().store.get(again) if again else None
    if again and job is None:
        return render_studio({}, errors={"source_job": "that job is gone; start afresh"}, status=404)
    if job is None:
        return render_studio({})
    values: dict[str, Any] = {**job.options, "seed": job.seed}
    return render_studio(values, source=job)


@bp.post("/")
def studio_submit() -> Any:
    try:
        job = submit(request.form, request.files)
    except SubmissionError as exc:
        return render_studio(_typed(request.form), errors=exc.errors, status=exc.status, form=request.form)
    except ApiError as exc:  # the queue is full
        return render_studio(_typed(request.form), errors={"form": exc.message}, status=exc.status,
                             form=request.form, headers=exc.headers)
    return redirect(url_for("pages.job_page", job_id=job.id), code=303)


def _typed(form: Mapping[str, Any]) -> dict[str, Any]:
    """What the person typed, to show again after an error (as text; the template prints it)."""
    values = option_values(form)  # type: ignore[arg-type]
    if "preserve_colors" in values:
        values["preserve_colors"] = values["preserve_colors"] in ("1", "on", "true")
    return values


def render_studio(values: dict[str, Any], *, errors: dict[str, str] | None = None, status: int = 200,
                  source: Job | None = None, form: Mapping[str, Any] | None = None,
                  headers: Mapping[str, str] | None = None) -> Any:
    config = current_app.config
    limits = Limits.from_config(config)
    form = form or {}
    source_id = (source.id if source else None) or form.get("source_job") or None
    preset = (source.meta.get("preset") if source else None) or form.get("preset") or ""
    style_name = (source.meta.get("style_name") if source else None) or form.get("style_name") or ""
    if source is None and not form:
        style_name = next(iter(catalog()))  # a painting ready to go: the photo is the only must
    html = render_template(
        "studio.html",
        sections=form_sections(values, limits), presets=preset_table(), preset=preset,
        extras=hidden_extras(source.options, preset) if source else {},
        styles=list(catalog().values()), style_name=style_name, source_id=source_id,
        errors=errors or {}, max_upload_bytes=int(config["IMPASTO_MAX_UPLOAD_MB"] * 1024 * 1024),
        max_upload_mb=config["IMPASTO_MAX_UPLOAD_MB"], max_pixels=config["IMPASTO_MAX_PIXELS"],
    )
    return html, status, dict(headers or {})


@bp.get("/jobs/<job_id>")
def job_page(job_id: str) -> str:
    store = services().store
    job = store.get(job_id)
    if job is None:
        abort(404, description="There is no such job: the link is wrong, or the job was deleted "
                               "after the retention time.")
    return render_template("job.html", job=job, data=job_dict(job, store), finished=job.state in FINISHED_STATES,
                           style_credit=style_credit(job), clock=clock)


@bp.post("/jobs/<job_id>/cancel")
def cancel_page(job_id: str) -> Response:
    if services().store.request_cancel(job_id) is None:
        abort(404)
    return redirect(url_for("pages.job_page", job_id=job_id), code=303)


@bp.get("/history")
def history() -> str:
    if not current_app.config["IMPASTO_HISTORY"]:
        abort(404)
    store = services().store
    jobs = store.recent(60)
    return render_template("history.html", jobs=[(job, job_dict(job, store)) for job in jobs], clock=clock)


@bp.get("/styles/<name>.jpg")
def style_thumbnail(name: str) -> Response:
    if name not in catalog():
        abort(404)
    response = Response(thumbnail(name), mimetype="image/jpeg")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    return {"history_enabled": current_app.config["IMPASTO_HISTORY"]}


@bp.app_template_filter("num")
def _num(value: Any) -> str:
    """Numbers as people write them: 100 not 100.0, 0.01 not 1e-02; text passes through."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


@bp.app_template_filter("when")
def _when(epoch: float) -> str:
    return time.strftime("%d %b %Y, %H:%M", time.localtime(epoch))
