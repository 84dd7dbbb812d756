"""Errors outside a view's own handling: JSON for the API, a page for people, never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

log = logging.getLogger(__name__)


def error_response(status: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> Response:
    """The API's error answer: JSON {"error": message, ...extra} with this status and headers."""
    response = jsonify({"error": message, **extra})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def register(app: Flask) -> None:
    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> Any:
        limit = app.config["IMPASTO_MAX_UPLOAD_MB"]
        message = f"the upload is larger than the limit of {limit:g} MB"
        if _wants_json():
            return error_response(413, message)
        if request.path == "/" and request.method == "POST":
            from app.web.pages import render_studio  # the form again, with the message on top

            return render_studio({}, errors={"form": message}, status=413)
        return _page(413, "Too large", message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if _wants_json():
            return error_response(exc.code or 500, exc.description or exc.name)
        return _page(exc.code or 500, exc.name, exc.description or "")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        message = "internal error; the server log has the details"
        return error_response(500, message) if _wants_json() else _page(500, "Something broke", message)


def _page(status: int, title: str, message: str) -> Any:
    return render_template("error.html", status=status, title=title, message=message), status
