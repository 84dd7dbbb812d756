"""Who is asking: a browser (a live session, src/impasto/web/sessions.py) or an API token; and the optional password.

``register(app)`` adds a before_request hook, the first of the app's own hooks (create_app calls it
before any other), that sets ``flask.g.owner``:

- ``"token:<name>"`` for a request with ``Authorization: Bearer <token>`` of a token in the store
  (an unknown or revoked token gets 401, whatever else the request carries);
- ``"browser:<id>"`` for a browser whose session cookie names a session that lives on the server
  (an ended or expired session's cookie is cleared with the answer);
- None for a client that brought neither. Without a password, a session is started for it when it
  submits its first job (``job_owner()``), so that job is already its own.

Per-client limits (rate, jobs queued) count per API token, else per client address
(``client_key()``): never per browser session, which anybody can get afresh by signing in again
or dropping a cookie.

With a password (IMPASTO_PASSWORD), a browser must sign in first (src/impasto/web/signin.py): other pages
redirect to /login, and API calls without a valid token or signed-in cookie get 401 JSON.

The cookie is HttpOnly and SameSite=Lax; its signing key is IMPASTO_SECRET_KEY, else one generated
once into the data dir (``secret_key``), so every gunicorn process and restart agrees on it.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, g, redirect, request, url_for

from impasto.data_dir import SECRET_FILE, secure_data_dir
from impasto.jobs.store import Job
from impasto.jobs.tokens import digest
from impasto.web import services, sessions
from impasto.web.replies import error_response
from impasto.web.sessions import password, signed_in

log = logging.getLogger(__name__)

OPEN_ENDPOINTS = ("signin.login", "signin.login_submit", "static", "health.healthz", "health.readyz")
UNTRACKED_ENDPOINTS = ("static", "health.healthz", "health.readyz")  # no session for assets and probes


def register(app: Flask) -> None:
    app.secret_key = app.config.get("IMPASTO_SECRET_KEY") or secret_key(Path(app.config["IMPASTO_DATA_DIR"]))
    # The cookie is not renewed at each visit: the browser forgets it when the server does (the
    # session's lifetime counts from its start).
    app.config.update(SESSION_COOKIE_NAME="impasto_session", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", SESSION_REFRESH_EACH_REQUEST=False,
                      PERMANENT_SESSION_LIFETIME=timedelta(days=app.config["IMPASTO_SESSION_DAYS"]))
    configured = app.config.get("IMPASTO_PASSWORD")
    app.extensions["impasto_password"] = sessions.Password(configured, app.secret_key) if configured else None
    app.before_request(_identify)

    @app.context_processor
    def _auth_globals() -> dict[str, Any]:
        return {"password_required": password() is not None, "signed_in": signed_in()}


def secret_key(data_dir: Path) -> str:
    """The session-signing key kept in ``data_dir/secret_key`` (0600), made on first use.

    Several processes may start at once: each writes a candidate to its own temporary file and
    hard-links it into place, which succeeds for exactly one; the others read the winner's key.
    """
    path = secure_data_dir(data_dir) / SECRET_FILE  # owner-only, also in scale-out mode (no job store here)
    if not path.exists():
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


def job_owner() -> str:
    """Who a job submitted now belongs to: the caller, or a session started for it now (a browser's
    first job, without a password: the cookie comes with the answer)."""
    if g.get("owner") is None:
        g.owner = f"browser:{sessions.start()}"
    return g.owner


def client_key() -> str:
    """Whose share of the per-client limits (rate, jobs queued) a request counts against.

    An API token is an identity the operator handed out: it counts for itself. Anything else counts
    by its address (the client's own behind trusted proxies, see ``client_address``): a browser
    session costs nothing to replace (sign in again, drop the cookie), so counting sessions would
    give a fresh quota for the asking. A household behind one address shares one quota; give its
    scripts tokens, or raise the limits.
    """
    owner = g.get("owner")
    if owner and owner.startswith("token:"):
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
    if request.endpoint in UNTRACKED_ENDPOINTS:
        return None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":  # other schemes (a proxy's Basic auth) are not ours
        name = services().store.token_name(digest(token))
        if name is None:
            return error_response(401, "the API token is not valid (unknown or revoked)",
                                  {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        g.owner = f"token:{name}"
        return None
    session_id = sessions.live_id()
    if session_id is not None:
        g.owner = f"browser:{session_id}"
    elif password() is not None and request.endpoint not in OPEN_ENDPOINTS:
        return _sign_in_first()
    return None


def _sign_in_first() -> Response:
    if request.path.startswith("/api/"):
        return error_response(401, "sign in first, or send an API token (Authorization: Bearer TOKEN)",
                              {"WWW-Authenticate": "Bearer"})
    query = urlencode({"next": request.full_path.rstrip("?")}) if request.method == "GET" else ""
    return redirect(url_for("signin.login") + (f"?{query}" if query else ""), code=303)
