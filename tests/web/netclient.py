"""A tiny HTTP client for tests against a real server (urllib only: no extra dependency)."""

from __future__ import annotations

import http.cookiejar
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from tests.helpers import wait_for


def request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None,
            timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def get_json(url: str) -> tuple[int, Any]:
    status, _, body = request(url)
    return status, json.loads(body)


def post_multipart(url: str, fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[int, Any]:
    body, content_type = multipart(fields, files)
    status, _, answer = request(url, body, {"Content-Type": content_type})
    return status, json.loads(answer)


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type."""
    boundary = secrets.token_hex(12)
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data) in files.items():
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n")
        parts.append(head.encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class Browser:
    """A client with its own cookie jar (one browser, in effect), and headers it always sends (an
    API token). Redirects are followed, as a browser does; ``last_url`` is where it ended."""

    def __init__(self, base: str, headers: dict[str, str] | None = None) -> None:
        self.base, self.headers = base, headers or {}
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self.last_url = ""

    def call(self, method: str, path: str, data: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        req = urllib.request.Request(self.base + path, data=data, headers={**self.headers, **(headers or {})},
                                     method=method)
        try:
            with self.opener.open(req, timeout=30) as response:
                self.last_url = response.url
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            self.last_url = exc.url
            return exc.code, dict(exc.headers), exc.read()

    def json(self, method: str, path: str) -> tuple[int, Any]:
        status, _, body = self.call(method, path)
        return status, json.loads(body)

    def post_form(self, path: str, fields: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        body = urllib.parse.urlencode(fields).encode()
        return self.call("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})

    def submit(self, fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[int, dict[str, str], Any]:
        body, content_type = multipart(fields, files)
        status, headers, answer = self.call("POST", "/api/jobs", body, {"Content-Type": content_type})
        return status, headers, json.loads(answer)


def wait_until_up(url: str, timeout: float = 60) -> None:
    wait_for(lambda: _answers(url), timeout, f"{url} to come up", interval=0.2)


def _answers(url: str) -> bool:
    try:
        return request(url, timeout=2)[0] == 200
    except OSError:  # not listening yet
        return False
