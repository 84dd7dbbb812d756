"""Errors outside a view's own handling: JSON for the API, a page for people, never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, abort, jsonify, render_template, request
from flask.globals import request_ctx
from markupsafe import escape
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from impasto.web.body import too_large_message

log = logging.getLogger(__name__)

# Longest request target (path and query) answered normally. Under `impasto serve` gunicorn refuses
# a longer request line first (src/impasto/web/worker.py, the same JSON); this check is for other servers.
MAX_URL_LENGTH = 8190
# What an HTTP error may pass on from Werkzeug's own answer (Allow on a 405, Retry-After ...).
PASSED_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


def error_response(status: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> Response:
    """The API's error answer: JSON {"error": message, ...extra} with this status and headers."""
    response = jsonify({"error": message, **extra})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


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
            from impasto.web.pages import render_studio  # the form again, with the message on top

            return render_studio({}, errors={"form": message}, status=413)
        return _page(413, "Too large", message)

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


def _page(status: int, title: str, message: str) -> Any:
    if request_ctx.url_adapter is None:
        # Werkzeug could not read the Host header as a host name at all (a label over 63
        # characters, say), so no link of the page can be built: the message alone, never a 500.
        return f"<!doctype html><title>{escape(title)}</title><p>{escape(message)}</p>\n", status
    return render_template("error.html", status=status, title=title, message=message), status
