"""Cross-site request protection: a POST that a browser sent from another site is refused (403).

Every POST changes something (a new job, a cancel), and a page on any other site could make a
visitor's browser send one (an auto-submitting form needs no script and no CORS). Browsers say
where a request comes from in ``Origin`` (and ``Referer``); the request is refused unless that is
this site. A client that sends neither (curl, scripts, the CLI) is not a browser that another
site can steer, so it is let through: the API keeps working from the command line.

"This site" is the ``Host`` of the request, which src/impasto/web/hosts.py has already checked (a
rebinding page's own name is refused there); behind reverse proxies (IMPASTO_PROXY_COUNT) ProxyFix
has put the public host from X-Forwarded-Host in its place. An Origin or Referer that is not a URL
at all gets 400.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Request, abort, request

CHECKED_METHODS = ("POST", "PUT", "PATCH", "DELETE")
DEFAULT_PORTS = (":80", ":443")


def _host(netloc: str) -> str:
    netloc = netloc.strip().lower()
    for port in DEFAULT_PORTS:
        if netloc.endswith(port):
            return netloc[: -len(port)]
    return netloc


def cross_site(req: Request) -> bool:
    """True when a browser says this request comes from a page of another site.

    Raises BadRequest (400) when the Origin or Referer it sent is not a URL (``http://[``)."""
    header = "Origin" if req.headers.get("Origin") else "Referer"
    source = (req.headers.get(header) or "").strip()
    if not source:
        return False  # not sent by a browser page: nothing to forge
    if source == "null":
        return True  # an opaque origin (sandboxed frame, data: URL): never this site
    try:
        claimed = urlsplit(source).netloc
    except ValueError:  # e.g. "Invalid IPv6 URL"
        abort(400, description=f"the {header} header is not a URL: {source[:100]!r}")
    return _host(claimed) != _host(req.host)


def register(app: Flask) -> None:
    """Refuse cross-site POSTs (and other writes) everywhere: pages and API alike."""

    @app.before_request
    def _same_origin_only() -> None:
        if request.method in CHECKED_METHODS and cross_site(request):
            abort(403, description="This request came from another site; send it from the studio's own "
                                   "pages (or without a browser, e.g. with curl).")
