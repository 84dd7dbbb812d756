"""Per-client rate limits, with Flask-Limiter: job submissions (IMPASTO_RATE_LIMIT, e.g. 10/minute)
and clip checks (IMPASTO_PROBE_RATE_LIMIT, POST /api/probe), each with its own counter.

Submissions count once whether sent by the API (POST /api/jobs) or the page's form (one shared
counter), once per job asked for (a group of variants counts each, "paint this one larger" one),
every attempt, accepted or not: a refused upload costs the server as much to read. A
probe reads a whole upload and opens it as a video, so it is counted too, apart from submissions
(the studio probes each chosen file once, before sending it). A client is its API token, else its
address (the real one behind proxies, via ProxyFix), never a browser session (signing in again or
a new cookie gives no new allowance): ``auth.client_key``, the same key as the cap on jobs queued
per client. Over a limit: 429 with a
message that states the limit and a Retry-After header, as JSON on the API and on the page above
the form.

Counters live where every server process sees them: in Redis in the scale-out mode (the job store's
Redis), else in a SQLite file in the data dir (src/impasto/web/limit_store.py), shared by the gunicorn
processes of one machine.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from flask import Flask, current_app, request
from flask_limiter import Limiter, RateLimitExceeded

from impasto.web.auth import client_key
from impasto.web.limit_store import storage_uri
from impasto.web.render import render_studio
from impasto.web.replies import error_response
from impasto.web.service_errors import ServiceError
from impasto.web.variant_plan import read_plan

# "Paint this one larger" stores a job too: it counts as a submission.
LIMITED_VIEWS = ("api.create_job", "pages.studio_submit", "api.paint_larger", "pages.larger_page")
PROBE_VIEWS = ("api.probe",)


@dataclass(frozen=True)
class _Kind:
    """One counter: its setting, its Flask-Limiter scope, the views it counts and what they are called."""

    setting: str
    scope: str
    views: tuple[str, ...]
    what: str
    cost: Callable[[], int] | int = 1


def _jobs_asked() -> int:
    """What a submission costs: one per job it asks for (a group of variants, src/impasto/web/variant_plan.py),
    so that a group of 4 is refused whole where only 3 more fit; 1 for anything it cannot read."""
    try:
        plan, _ = read_plan(request.form)
    except ServiceError:
        return 1  # refused as it is read again by the view, at the cost of one submission
    return plan.count if plan is not None else 1


KINDS = (_Kind("IMPASTO_RATE_LIMIT", "submissions", LIMITED_VIEWS, "job submissions", _jobs_asked),
         _Kind("IMPASTO_PROBE_RATE_LIMIT", "probes", PROBE_VIEWS, "clip checks (POST /api/probe)"))


def _storage(config: Any) -> tuple[str, str]:
    """The counters' storage URI and key prefix."""
    if config.get("IMPASTO_BROKER_URL"):  # scale-out: the job store's Redis, seen by every web container
        return config["IMPASTO_STORE_URL"], f"{config['IMPASTO_REDIS_PREFIX']}:rate"
    return storage_uri(Path(config["IMPASTO_DATA_DIR"])), "rate"


def register(app: Flask) -> None:
    """Call after the views are registered. A limit is checked as the view is called, so after
    every before_request hook (Host, origin, sign-in: the key needs ``g.owner``)."""
    kinds = [(kind, app.config.get(kind.setting)) for kind in KINDS]
    if not any(rate for _, rate in kinds):
        return
    uri, prefix = _storage(app.config)
    limiter = Limiter(client_key, app=app, storage_uri=uri, headers_enabled=False, key_prefix=prefix)
    for kind, rate in kinds:
        if not rate:
            continue
        limit = limiter.shared_limit(rate, scope=kind.scope, methods=["POST"], cost=kind.cost)
        for endpoint in kind.views:
            # The wrapped view checks the limit when it is called: after every before_request hook.
            app.view_functions[endpoint] = limit(app.view_functions[endpoint])
    app.extensions["impasto-limiter"] = limiter
    app.register_error_handler(RateLimitExceeded, _too_many)


def _too_many(exc: RateLimitExceeded) -> Any:
    limiter: Limiter = current_app.extensions["impasto-limiter"]
    current = limiter.current_limit
    wait = max(1, math.ceil(current.window.reset_time - time.time())) if current else 60
    kind = next((k for k in KINDS if k.scope == exc.limit.scope), KINDS[0])
    message = (f"too many {kind.what}: this server takes at most {exc.limit.limit} from one client "
               f"({kind.setting}); try again in {wait} s")
    headers = {"Retry-After": str(wait)}
    if request.path.startswith("/api/"):
        return error_response(429, message, headers, limit=str(exc.limit.limit), retry_after=wait)
    return render_studio({}, errors={"form": message}, status=429, headers=headers)
