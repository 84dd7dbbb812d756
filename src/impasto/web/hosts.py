"""Which Host the studio answers to, and what it believes about proxies in front of it.

DNS rebinding: a page on evil.example points its own name at 127.0.0.1 (or at a LAN address) and
then talks to the studio as if it were evil.example, same-origin, reading everything. The browser
still sends ``Host: evil.example``, so a request whose Host is not one of ours is refused with
400 before anything else runs. A rebinding always needs a *name*, so:

* localhost, 127.0.0.1 and [::1] (any port) are always trusted: the machine itself, and the
  Docker HEALTHCHECK;
* with IMPASTO_TRUSTED_HOSTS unset, any IP address is trusted too (what a LAN user types, or a
  server bound to 0.0.0.0 reached by its address), and every other name is refused: the operator
  names the public host names in IMPASTO_TRUSTED_HOSTS (``*`` turns the check off, for a proxy in
  front that checks it already);
* with IMPASTO_TRUSTED_HOSTS set, only the loopback names and the listed ones.

Behind reverse proxies (IMPASTO_PROXY_COUNT > 0) Werkzeug's ProxyFix takes the client's address,
the scheme and the public host from X-Forwarded-*, so the host checked here is the public one, and
the session cookie gets ``Secure`` whenever the scheme is https.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from flask import Flask, abort, current_app, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
# A Host header: a name or IPv4 address, or an [IPv6] address, then an optional port.
_HOST_HEADER = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::[0-9]{1,5})?")


def host_name(host: str) -> str | None:
    """The Host header without its port, in lower case ("[::1]" keeps its brackets); None if malformed."""
    match = _HOST_HEADER.fullmatch(host.strip().lower())
    return match.group(1).rstrip(".") if match else None


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def is_trusted(host: str, trusted: tuple[str, ...] | list[str]) -> bool:
    """Whether a request with this Host header may be served (see the module's notes)."""
    name = host_name(host)
    if name is None:
        return False
    if name in LOOPBACK_NAMES or tuple(trusted) == ("*",):
        return True
    if not trusted:
        return _is_address(name)
    # ".example.org" stands for example.org and every name under it (as in Werkzeug and Django).
    return any(name == entry.lstrip(".") or (entry.startswith(".") and name.endswith(entry)) for entry in trusted)


class _HttpsAwareSessions(SecureCookieSessionInterface):
    """The session cookie gets ``Secure`` on https requests (as ProxyFix reports them behind a proxy)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def register(app: Flask) -> None:
    """Register first: the Host check runs before every other hook (origin, sign-in, rate limit)."""
    proxies = app.config["IMPASTO_PROXY_COUNT"]
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies,  # type: ignore
                                x_port=proxies, x_prefix=proxies)
    app.session_interface = _HttpsAwareSessions()

    @app.before_request
    def _trusted_host_only() -> Any:
        if not is_trusted(request.host, current_app.config["IMPASTO_TRUSTED_HOSTS"]):
            abort(400, description=f"this server does not answer to the host name {request.host[:100]!r}; "
                                   "its operator can add the name to IMPASTO_TRUSTED_HOSTS")
        return None
