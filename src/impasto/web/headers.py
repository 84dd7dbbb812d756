"""Security headers on every response: pages, API, static files and errors alike.

* Content-Security-Policy: scripts only from the studio's own static files (no inline script, no
  eval), no inline styles either (the pages have no style attribute: the progress bar is a
  <progress> element; scripts size things through the CSSOM, which CSP allows), no plugins, no
  framing by any site (clickjacking), forms post only here.
  Pictures and videos may be blob: URLs (the studio previews the photo or clip you picked before it
  is uploaded); videos otherwise come from here only (media-src: a clip's result plays on its page).
* X-Content-Type-Options: nosniff, so an upload is never read as a script or a page.
* Referrer-Policy: same-origin. A job's URL is its key (anyone with the link sees the pictures),
  so a Referer must never carry it to another site.
* X-Frame-Options: DENY, for browsers that predate frame-ancestors.
* Cache-Control: no-store on every response that sets no policy of its own: pages, JSON, redirects
  and errors. They are made for one caller (their own jobs, the owner's buttons) or show a job's live
  state, and are small: no shared cache and no browser's disk may keep them. What sets its own
  policy keeps it: a job's files are "private, no-cache" (src/impasto/web/api.py), the built-in
  paintings' thumbnails "public, max-age=86400", the static files Flask's "no-cache" with an ETag.

A small after_request is shorter than flask-talisman here: Talisman would need most of its defaults
turned off (forced https redirects, HSTS, an always-Secure session cookie that breaks
http://localhost), and the https-only cookie flag lives in src/impasto/web/hosts.py.
"""

from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob:",
    "media-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

DEFAULT_CACHE = "no-store"

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def register(app: Flask) -> None:
    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Cache-Control", DEFAULT_CACHE)
        return response
