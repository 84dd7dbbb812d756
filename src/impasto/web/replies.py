"""The API's error answer, JSON {"error": message, ...}: one shape for every error the API gives."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify


def error_response(status: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> Response:
    """The API's error answer: JSON {"error": message, ...extra} with this status and headers."""
    response = jsonify({"error": message, **extra})
    response.status_code = status
    response.headers.update(headers or {})
    return response
