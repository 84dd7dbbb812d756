"""Browser sessions that end on the server: sign-out, sign-out everywhere, a lifetime, a new password.

The session cookie (Flask's, signed with the session key) carries a random session id, and with a
password the password's fingerprint. The cookie alone proves nothing any more: the job store keeps
a record of every live session (src/impasto/jobs/sqlite_sessions.py, redis_sessions.py: a digest
of the id, its principal, when it started), and a request counts as that browser only while the
record is there, is younger than IMPASTO_SESSION_DAYS, and belongs to the principal of now:

- ``password:<fingerprint>`` with a password: a changed password changes the principal, so every
  session of the old one ends (the cookie's own fingerprint says the same, without a store read);
- ``anonymous`` without one: the session is only the owner id of the browser's jobs.

So a copy of a cookie taken before sign-out stops working with it, in every web process (and every
web container of a scale-out site: the records live in the shared store). Sign-out ends this
session; sign-out everywhere ends every session of the password. Without a password a session is
started at a browser's first submission, not at its first visit: a bot's page views store nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import current_app, session
from werkzeug.security import check_password_hash, generate_password_hash

from impasto.jobs.tokens import digest
from impasto.web import services

SESSION_ID, SIGNED_IN = "id", "signed_in"  # keys in the session cookie
ANONYMOUS = "anonymous"
SECONDS_PER_DAY = 86_400


class Password:
    """The sign-in password, kept only as a Werkzeug hash, and a fingerprint of it that a signed-in
    session carries: a changed password signs every browser out."""

    def __init__(self, password: str, key: str) -> None:
        self.hash = generate_password_hash(password)
        self.fingerprint = hmac.new(key.encode(), b"impasto-password:" + password.encode(),
                                    hashlib.sha256).hexdigest()[:32]

    def check(self, candidate: str) -> bool:
        return check_password_hash(self.hash, candidate)


def password() -> Password | None:
    return current_app.extensions["impasto_password"]


def principal() -> str:
    """Whose sessions the browsers' are now: the password's (by its fingerprint), or nobody's."""
    pw = password()
    return ANONYMOUS if pw is None else f"password:{pw.fingerprint}"


def lifetime() -> float:
    """How long a session lives from its start, in seconds (IMPASTO_SESSION_DAYS)."""
    return float(current_app.config["IMPASTO_SESSION_DAYS"]) * SECONDS_PER_DAY


def signed_in() -> bool:
    """True without a password; with one, for a browser whose cookie carries its fingerprint (a
    session that ``live_id`` found ended has been cleared by then)."""
    pw = password()
    return pw is None or hmac.compare_digest(str(session.get(SIGNED_IN, "")), pw.fingerprint)


def start() -> str:
    """A fresh session, recorded on the server: a new random id (never one a page of another site
    could have planted), with the password's fingerprint when there is a password. Its id."""
    end()  # a session this browser had (signing in again) ends: its cookie's copies with it
    session_id = secrets.token_urlsafe(16)
    session[SESSION_ID] = session_id
    pw = password()
    if pw is not None:
        session[SIGNED_IN] = pw.fingerprint
    session.permanent = True  # the cookie expires when the server forgets the session (see auth.register)
    services().store.add_session(digest(session_id), principal(), lifetime())
    return session_id


def live_id() -> str | None:
    """This browser's session id while its session lives on the server; else None, and the cookie
    is cleared (it goes with this answer): an ended, expired or unknown session, or another password's."""
    session_id = session.get(SESSION_ID)
    if session_id is None:
        return None
    alive = (isinstance(session_id, str) and signed_in()
             and services().store.session_principal(digest(session_id), lifetime()) == principal())
    if not alive:
        session.clear()
        return None
    return session_id


def end() -> None:
    """Sign-out: this session ends on the server (a copy of the cookie stops working too)."""
    session_id = session.get(SESSION_ID)
    if isinstance(session_id, str):
        services().store.end_session(digest(session_id))
    session.clear()


def end_all() -> int:
    """Sign-out everywhere: every session of the password ends, this one included; how many."""
    ended = services().store.end_sessions(principal())
    session.clear()
    return ended
