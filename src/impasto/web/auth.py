"""Who is asking: a browser (Flask's signed session cookie) or an API token; and the optional password.

``register(app)`` adds a before_request hook, the first of the app's own hooks (create_app calls it
before any other), that sets ``flask.g.owner``:

- ``"token:<name>"`` for a request with ``Authorization: Bearer <token>`` of a token in the store
  (an unknown or revoked token gets 401, whatever else the request carries);
- ``"browser:<id>"`` for a browser that sent back its session cookie (the random id in it);
- None for a client that brought neither. Such a client gets a session id now (the cookie comes
  with the answer), so a job it submits belongs to that id (``job_owner()``).

Per-client limits count per token or signed-in browser, else per address (``client_key()``):
without a password anybody gets a new session id for the asking.

With a password (IMPASTO_PASSWORD), a browser must sign in first (src/impasto/web/signin.py): other pages
redirect to /login, and API calls without a valid token or signed-in cookie get 401 JSON.

The cookie is HttpOnly and SameSite=Lax; its signing key is IMPASTO_SECRET_KEY, else one generated
once into the data dir (``secret_key``), so every gunicorn process and restart agrees on it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, current_app, g, redirect, request, session, url_for
from werkzeug.security import check_password_hash, generate_password_hash

from impasto.jobs.store import Job
from impasto.jobs.tokens import digest
from impasto.web import services
from impasto.web.replies import error_response

log = logging.getLogger(__name__)

SECRET_FILE = "secret_key"
SESSION_ID, SIGNED_IN = "id", "signed_in"  # keys in the session cookie
OPEN_ENDPOINTS = ("signin.login", "signin.login_submit", "static", "health.healthz")  # reachable without signing in
SESSION_DAYS = 365  # the cookie is renewed at every visit; a year away forgets the browser


class Password:
    """The sign-in password, kept only as a Werkzeug hash, and a fingerprint of it that a signed-in
    session carries: a changed password signs every browser out."""

    def __init__(self, password: str, key: str) -> None:
        self.hash = generate_password_hash(password)
        self.fingerprint = hmac.new(key.encode(), b"impasto-password:" + password.encode(),
                                    hashlib.sha256).hexdigest()[:32]

    def check(self, candidate: str) -> bool:
        return check_password_hash(self.hash, candidate)


def register(app: Flask) -> None:
    app.secret_key = app.config.get("IMPASTO_SECRET_KEY") or secret_key(Path(app.config["IMPASTO_DATA_DIR"]))
    app.config.update(SESSION_COOKIE_NAME="impasto_session", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", PERMANENT_SESSION_LIFETIME=timedelta(days=SESSION_DAYS))
    configured = app.config.get("IMPASTO_PASSWORD")
    app.extensions["impasto_password"] = Password(configured, app.secret_key) if configured else None
    app.before_request(_identify)

    @app.context_processor
    def _auth_globals() -> dict[str, Any]:
        return {"password_required": password() is not None, "signed_in": signed_in()}


def secret_key(data_dir: Path) -> str:
    """The session-signing key kept in ``data_dir/secret_key`` (0600), made on first use.

    Several processes may start at once: each writes a candidate to its own temporary file and
    hard-links it into place, which succeeds for exactly one; the others read the winner's key.
    """
    path = data_dir / SECRET_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        candidate = data_dir / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_hex(32))
        try:
            os.link(candidate, path)
            log.info("generated the session key into the data dir")
        except FileExistsError:
            pass  # another process was first: use its key
        finally:
            candidate.unlink()
    return path.read_text().strip()


def password() -> Password | None:
    return current_app.extensions["impasto_password"]


def signed_in() -> bool:
    """True without a password; with one, for a browser whose session carries its fingerprint."""
    pw = password()
    return pw is None or hmac.compare_digest(str(session.get(SIGNED_IN, "")), pw.fingerprint)


def sign_in() -> None:
    """A correct password: a fresh session id (never one a page of another site could have planted)."""
    session.clear()
    session[SESSION_ID] = secrets.token_urlsafe(16)
    session[SIGNED_IN] = password().fingerprint  # type: ignore[union-attr]
    session.permanent = True


def sign_out() -> None:
    session.clear()


def job_owner() -> str:
    """Who a job submitted now belongs to: the caller, or the session id just given to it."""
    return g.owner or f"browser:{session[SESSION_ID]}"


def client_key() -> str:
    """Whose share of the per-client limits (rate, jobs queued) a request counts against.

    An API token, or a browser signed in with the password, is an identity the operator handed
    out: it counts for itself. Without a password a browser's session id costs nothing (every
    request without a cookie is given a new one), so a script could take a fresh quota with one
    GET before each submission: such browsers, and clients with nothing, count by their address.
    """
    owner = g.get("owner")
    if owner and (owner.startswith("token:") or password() is not None):
        return owner
    return f"addr:{client_address()}"


def client_address() -> str:
    """The client's address as the limits count it: an IPv6 address by its /64 network.

    One IPv6 client usually holds a whole /64 (its device picks new addresses in it at will), so
    counting single addresses would give it a fresh quota per address; a household behind one
    router shares its /64 the way an IPv4 household shares its one address."""
    address = request.remote_addr or "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return address


def owns(job: Job) -> bool:
    return job.owner is not None and job.owner == g.get("owner")


def _identify() -> Response | None:
    g.owner = None
    if request.endpoint in ("static", "health.healthz"):
        return None  # no session for assets and probes
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":  # other schemes (a proxy's Basic auth) are not ours
        name = services().store.token_name(digest(token))
        if name is None:
            return error_response(401, "the API token is not valid (unknown or revoked)",
                                  {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        g.owner = f"token:{name}"
        return None
    if not signed_in():
        return None if request.endpoint in OPEN_ENDPOINTS else _sign_in_first()
    if SESSION_ID not in session:
        session[SESSION_ID] = secrets.token_urlsafe(16)  # the cookie comes with this answer
        session.permanent = True
    g.owner = f"browser:{session[SESSION_ID]}"  # a first request's job is already its own
    return None


def _sign_in_first() -> Response:
    if request.path.startswith("/api/"):
        return error_response(401, "sign in first, or send an API token (Authorization: Bearer TOKEN)",
                              {"WWW-Authenticate": "Bearer"})
    query = urlencode({"next": request.full_path.rstrip("?")}) if request.method == "GET" else ""
    return redirect(url_for("signin.login") + (f"?{query}" if query else ""), code=303)
