"""HTML pages: the studio form, a job's page, the history. They work without JavaScript; the
scripts in static/ add drag-and-drop, live sliders, in-page errors and live progress."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, url_for

from impasto.jobs import states
from impasto.jobs.store import FINISHED_STATES
from impasto.styles import catalog, thumbnail
from impasto.text import clock, duration
from impasto.web import auth, service, services, variants
from impasto.web.labels import field_label
from impasto.web.render import Page, render_studio, studio_form
from impasto.web.service_errors import NoSuchGroup
from impasto.web.submission import Limits
from impasto.web.variant_plan import read_plan
from impasto.web.views import group_dict, job_dict, painting_titles, paintings

bp = Blueprint("pages", __name__)


@bp.get("/")
def studio() -> Page:
    again = request.args.get("again")
    job = services().store.get(again) if again else None
    if again and job is None:
        return render_studio({}, errors={"source_job": "that job is gone; start afresh"}, status=404)
    if job is None:
        return render_studio({})
    values: dict[str, Any] = {**job.options, "seed": job.seed}
    return render_studio(values, source=job)


@bp.post("/")
def studio_submit() -> Response:
    """The form posted without JavaScript (the page's script posts to the API instead). A refusal
    is answered by src/impasto/web/errors.py: this form again, with the messages."""
    plan, form = read_plan(studio_form(request.form, request.files))
    limits = Limits.from_config(current_app.config)
    if plan is not None:  # variants: the group's contact sheet
        group, _ = variants.submit_group(services(), form, request.files, plan, owner=auth.job_owner(),
                                         client=auth.client_key(), limits=limits)
        return redirect(url_for("pages.group_page", group=group), code=303)
    job = service.submit(services(), form, request.files, owner=auth.job_owner(), client=auth.client_key(),
                         limits=limits)
    return redirect(url_for("pages.job_page", job_id=job.id), code=303)


@bp.get("/groups/<group>")
def group_page(group: str) -> Page:
    """A variant group's contact sheet: each variant's preview or result with its caption, updated
    by static/group.js as they finish; its owner only (404, as for the job list)."""
    store = services().store
    try:
        jobs = variants.group_jobs(store, group, g.owner)
    except NoSuchGroup:
        abort(404, description="There is no such variant group of yours: the link is wrong, its jobs were "
                               "deleted, or another browser made it.")
    data = group_dict(group, jobs, store)
    most = current_app.config["IMPASTO_MAX_SIZE"]
    return render_template("group.html", group=data, finished=FINISHED_STATES,
                           larger=lambda size: variants.larger_default(int(size), most))


@bp.post("/jobs/<job_id>/larger")
def larger_page(job_id: str) -> Response:
    """"Paint this one larger" without JavaScript: the new job's page (a refusal: the error page)."""
    job = variants.paint_larger(services(), job_id, request.form.get("size"), owner=auth.job_owner(),
                                client=auth.client_key(), limits=Limits.from_config(current_app.config))
    return redirect(url_for("pages.job_page", job_id=job.id), code=303)


@bp.get("/jobs/<job_id>")
def job_page(job_id: str) -> str:
    store = services().store
    job = store.get(job_id)
    if job is None:
        abort(404, description="There is no such job: the link is wrong, or the job was deleted "
                               "after the retention time.")
    return render_template("job.html", job=job, data=job_dict(job, store), finished=job.state in FINISHED_STATES,
                           paintings=paintings(job), clock=clock, owned=auth.owns(job), duration=duration,
                           label=field_label)


@bp.post("/jobs/<job_id>/cancel")
def cancel_page(job_id: str) -> Response:
    """The job page's cancel button, without JavaScript (a refusal: 404, src/impasto/web/errors.py)."""
    service.cancel(services().store, job_id, g.owner)
    return redirect(url_for("pages.job_page", job_id=job_id), code=303)


@bp.post("/jobs/<job_id>/delete")
def delete_page(job_id: str) -> Response:
    """The job page's delete button, without JavaScript."""
    service.delete(services().store, job_id, g.owner)
    target = "pages.history" if current_app.config["IMPASTO_HISTORY"] else "pages.studio"
    return redirect(url_for(target), code=303)


@bp.get("/history")
def history() -> str:
    if not current_app.config["IMPASTO_HISTORY"]:
        abort(404)
    store = services().store
    jobs = store.jobs_of(g.owner, 60) if g.owner else []  # only the caller's own jobs
    return render_template("history.html", jobs=[(job, job_dict(job, store), painting_titles(job)) for job in jobs],
                           clock=clock, retention_days=current_app.config["IMPASTO_RETENTION_DAYS"])


@bp.get("/styles/<name>.jpg")
def style_thumbnail(name: str) -> Response:
    if name not in catalog():
        abort(404)
    response = Response(thumbnail(name), mimetype="image/jpeg")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    # states: the job states' names and titles (src/impasto/jobs/states.py), so that no template spells one.
    return {"history_enabled": current_app.config["IMPASTO_HISTORY"], "states": states,
            "weights_missing": services().weights() is not None}  # the banner of every page


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
