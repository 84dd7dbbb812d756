"""Errors, answered: JSON for the API, a page (or the studio form again) for people, never a traceback.

The job service's typed errors (src/impasto/web/service_errors.py, and the store's QueueFull and
ClientLimit) are answered here in each audience's form, as are HTTP errors and anything unexpected."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, abort, render_template, request
from flask.globals import request_ctx
from markupsafe import escape
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from impasto.jobs.store import ClientLimit, QueueFull
from impasto.web.body import too_large_message
from impasto.web.labels import plain_errors, plain_message
from impasto.web.render import render_refused, render_studio
from impasto.web.replies import error_response
from impasto.web.service_errors import (
    RETRY_AFTER_SECONDS,
    GroupTooBig,
    InvalidSubmission,
    NoSuchJob,
    NotYours,
    NoWeights,
    ServiceError,
    StorageFull,
)

log = logging.getLogger(__name__)

# Longest request target (path and query) answered normally. Under `impasto serve` gunicorn refuses
# a longer request line first (src/impasto/web/worker.py, the same JSON); this check is for other servers.
MAX_URL_LENGTH = 8190
# What an HTTP error may pass on from Werkzeug's own answer (Allow on a 405, Retry-After ...).
PASSED_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")
# The job page's buttons (cancel, delete) for a job that is unknown or another's.
NOT_YOURS_PAGE = ("There is no such job, or it is not yours: only the browser or API token that made a job "
                  "may cancel or delete it.")


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path in ("/healthz", "/readyz")


def register(app: Flask) -> None:
    @app.before_request
    def url_length() -> None:
        target = request.environ.get("RAW_URI") or request.full_path
        if len(target) > MAX_URL_LENGTH:
            abort(414, description=f"the URL is {len(target):,} characters long; at most {MAX_URL_LENGTH:,} "
                                   "are accepted")

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> Any:
        message = too_large_message(exc, app.config)
        if _wants_json():
            return error_response(413, message)
        if request.path == "/" and request.method == "POST":
            return render_studio({}, errors={"form": message}, status=413)
        return _page(413, "Too large", message)

    app.register_error_handler(ServiceError, _refused)
    app.register_error_handler(QueueFull, _busy)
    app.register_error_handler(ClientLimit, _busy)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        headers = {name: value for name, value in exc.get_headers() if name in PASSED_HEADERS}
        description = exc.description or exc.name
        if exc.code == 405 and "Allow" in headers:
            description = f"{request.method} is not allowed on {request.path[:200]}; allowed: {headers['Allow']}"
        if _wants_json():
            return error_response(exc.code or 500, description, headers)
        html, status = _page(exc.code or 500, exc.name, description)
        return html, status, headers

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        message = "internal error; the server log has the details"
        return error_response(500, message) if _wants_json() else _page(500, "Something broke", message)


def _refused(exc: ServiceError) -> Any:
    """A refusal of the job service: JSON for the API; for the pages, the studio form again (a
    submission) or the error page (the job page's buttons)."""
    if request.blueprint != "pages":
        body = exc.to_dict()
        if isinstance(exc, InvalidSubmission):  # every field's message, also in the page's words
            body.update(errors={name: str(message) for name, message in exc.errors.items()},
                        messages=plain_errors(exc.errors))
        if isinstance(exc, (StorageFull, NoWeights, GroupTooBig)):  # the studio shows it on the form, in its words
            body.update(messages={"form": plain_message(exc.message)})
        return error_response(exc.status, body.pop("error"), exc.headers, **body)
    if isinstance(exc, InvalidSubmission):
        return render_refused(exc.errors, exc.status)
    if isinstance(exc, (StorageFull, NoWeights, GroupTooBig)):  # the studio form again, with what was typed
        return render_refused({"form": exc.message}, exc.status, exc.headers)
    if isinstance(exc, (NoSuchJob, NotYours)):
        return _page(404, "Not Found", NOT_YOURS_PAGE)
    return _page(exc.status, "Refused", plain_message(exc.message))


def _busy(exc: QueueFull | ClientLimit) -> Any:
    """The queue is full (503) or the client has its most jobs waiting (429): try again later."""
    status = 503 if isinstance(exc, QueueFull) else 429
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if request.blueprint == "pages":
        return render_refused({"form": str(exc)}, status, headers)
    facts = {"limit": exc.limit} if isinstance(exc, ClientLimit) else {}
    return error_response(status, str(exc), headers, **facts)


def _page(status: int, title: str, message: str) -> Any:
    if request_ctx.url_adapter is None:
        # Werkzeug could not read the Host header as a host name at all (a label over 63
        # characters, say), so no link of the page can be built: the message alone, never a 500.
        return f"<!doctype html><title>{escape(title)}</title><p>{escape(message)}</p>\n", status
    return render_template("error.html", status=status, title=title, message=message), status
