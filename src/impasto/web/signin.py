"""/login, /logout and /logout/everywhere, with wrong passwords slowed down.

Signing in starts a session recorded on the server; signing out ends it there, so a copy of the
cookie stops working too; signing out everywhere ends every session of the password, on every
browser (src/impasto/web/sessions.py). Without a password, /logout ends the browser's anonymous
session (its history starts afresh, and a copy of the cookie no longer owns its jobs), and
/logout/everywhere is refused: with no password, no two browsers are one person's.

Wrong passwords are counted per client address (an IPv6 one by its /64) in this process
(``Failures``): after ``MAX_FAILURES`` within ``WINDOW_SECONDS`` (tries still being checked
included) that address gets 429 with Retry-After until the oldest failure leaves the window. Each
gunicorn process counts for itself, so with N processes an address gets at most N × MAX_FAILURES
tries per window; each try also costs a scrypt check (Werkzeug's default, about 0.1-0.4 s of CPU).
A wrong password is answered "wrong password", nothing more.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Callable

from flask import Blueprint, Flask, Response, abort, current_app, redirect, render_template, request, url_for

from impasto.web import auth, sessions
from impasto.web.render import Page

bp = Blueprint("signin", __name__)

MAX_FAILURES = 5
WINDOW_SECONDS = 300.0
MAX_TRACKED = 10_000  # addresses remembered at most; beyond it the quiet ones are forgotten



class Failures:
    """Recent password tries per client address, in this process (thread-safe).

    A try is counted when it starts, before the (slow) password check, and forgotten when it turns
    out right: counting only after a wrong answer would let 30 tries sent at once all pass the
    "fewer than 5 so far" test before the first of them is counted (gunicorn runs 32 threads).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock  # tests move time by hand
        self.lock = threading.Lock()
        self.times: dict[str, deque[float]] = {}

    def start_try(self, address: str) -> int:
        """0 when ``address`` may try now (the try is counted), else the seconds until it may."""
        with self.lock:
            recent = self._recent(address)
            if len(recent) >= MAX_FAILURES:
                return max(1, math.ceil(recent[0] + WINDOW_SECONDS - self.clock()))
            if len(self.times) >= MAX_TRACKED:
                self._forget_quiet()
            recent.append(self.clock())
            return 0

    def succeeded(self, address: str) -> None:
        """The right password: this address's earlier wrong ones are forgiven."""
        with self.lock:
            self.times.pop(address, None)

    def _recent(self, address: str) -> deque[float]:
        recent = self.times.setdefault(address, deque())
        while recent and recent[0] <= self.clock() - WINDOW_SECONDS:
            recent.popleft()
        return recent

    def _forget_quiet(self) -> None:
        for other in [a for a in self.times if not self._recent(a)]:
            del self.times[other]


def register(app: Flask) -> None:
    app.extensions["impasto_signin_failures"] = Failures()
    app.register_blueprint(bp)


def failures() -> Failures:
    return current_app.extensions["impasto_signin_failures"]


@bp.get("/login")
def login() -> Response | Page:
    if auth.password() is None or auth.signed_in():
        return redirect(_next_page(), code=303)
    return _form()


@bp.post("/login")
def login_submit() -> Response | Page:
    if auth.password() is None:
        return redirect(url_for("pages.studio"), code=303)
    address = auth.client_address()
    wait = failures().start_try(address)
    if wait:
        return _form(f"too many wrong passwords; try again in {wait} s", 429, {"Retry-After": str(wait)})
    if not auth.password().check(request.form.get("password", "")):  # type: ignore[union-attr]
        return _form("wrong password", 401)  # the try stays counted
    failures().succeeded(address)
    sessions.start()
    return redirect(_next_page(), code=303)


@bp.post("/logout")
def logout() -> Response:
    sessions.end()
    target = "signin.login" if auth.password() is not None else "pages.studio"
    return redirect(url_for(target), code=303)


@bp.post("/logout/everywhere")
def logout_everywhere() -> Response:
    if auth.password() is None:
        abort(400, description="this studio has no password, so there are no sign-ins to end everywhere; "
                               "Sign out (POST /logout) ends this browser's session")
    sessions.end_all()
    return redirect(url_for("signin.login", signed_out="everywhere"), code=303)


def _form(error: str | None = None, status: int = 200, headers: dict[str, str] | None = None) -> Page:
    everywhere = request.args.get("signed_out") == "everywhere"
    html = render_template("login.html", error=error, next=request.values.get("next", ""), everywhere=everywhere)
    return html, status, headers or {}


def _next_page() -> str:
    """Where to go after signing in: a path on this site only (never //other.site or a URL).

    No whitespace or control character either: browsers drop tabs and newlines from a URL, so
    "/<TAB>/other.site" would land on //other.site, and a newline cannot go in a header at all."""
    target = request.values.get("next", "")
    on_this_site = target.startswith("/") and not target.startswith("//") and "\\" not in target
    if on_this_site and target.isprintable() and not any(char.isspace() for char in target):
        return target
    return url_for("pages.studio")
