"""``GET /metrics``: Prometheus's text format, with IMPASTO_METRICS=on (otherwise there is no such page: 404).

Who may read it: a client on this machine (a loopback address, asking by a trusted host name, so
that a DNS-rebinding page in a local browser cannot), or one that sends ``Authorization: Bearer``
with IMPASTO_METRICS_TOKEN (compared in constant time). Anybody else gets the same 404 as a
server with metrics off. A request that came through a reverse proxy the studio was not told
about (an X-Forwarded-For or Forwarded header while IMPASTO_PROXY_COUNT is 0) never counts as
loopback, whatever address the proxy connected from.

The answer runs in a hook before every other one (Host check, sign-in, origin, rate limit): a
scraper has no session, and with its token it may use a host name the studio does not list
(Prometheus asks for ``web:8000`` inside Docker Compose). Each scrape builds a fresh registry: the
job metrics' collectors (every process's files, or the Redis totals; src/impasto/jobs/metrics.py)
and the store's gauges read now (src/impasto/web/metric_gauges.py).
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from flask import Flask, Response, abort, current_app, request

from impasto.web import services
from impasto.web.hosts import is_trusted
from impasto.web.metric_gauges import StoreGauges, storage_gauges

PATH = "/metrics"
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def register(app: Flask) -> None:
    """With IMPASTO_METRICS on, a first before_request hook that answers /metrics itself."""
    if not app.config["IMPASTO_METRICS"]:
        return

    @app.before_request
    def _metrics() -> Any:
        if request.path != PATH or request.method not in ("GET", "HEAD"):
            return None
        if not may_read(current_app.config):
            abort(404)
        return scrape()


def may_read(config: Any) -> bool:
    """The token, or a loopback client by a trusted host name (see the module's notes)."""
    token = config.get("IMPASTO_METRICS_TOKEN")
    sent = request.headers.get("Authorization", "")
    if token and sent[:7].lower() == "bearer " and hmac.compare_digest(sent[7:].strip().encode(), token.encode()):
        return True
    return is_loopback(config) and is_trusted(request.host, config["IMPASTO_TRUSTED_HOSTS"])


def is_loopback(config: Any) -> bool:
    """The client (as ProxyFix reports it behind declared proxies) is this machine."""
    if not config["IMPASTO_PROXY_COUNT"] and any(name in request.headers for name in FORWARDING_HEADERS):
        return False
    try:
        address = ipaddress.ip_address((request.remote_addr or "").split("%")[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 from a dual-stack socket
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def scrape() -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    store = services().store
    for collector in store.metrics.collectors():
        registry.register(collector)
    registry.register(StoreGauges(store, current_app.config, extra=storage_gauges(services().storage)))
    return Response(generate_latest(registry), mimetype=None, content_type=CONTENT_TYPE_LATEST)
