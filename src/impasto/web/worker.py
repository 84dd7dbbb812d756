"""The gunicorn worker that `impasto serve` runs: gunicorn's gthread worker, with a JSON 414.

gunicorn reads the request line before the app sees anything, and refuses one longer than
``--limit-request-line``, at most 8,190 bytes. The only way past that is 0, "no limit", and then
its parser copies the whole line again for every piece that arrives: one client sending a 20 MB
line kept a process busy for 26 s of CPU while its memory grew. So the limit stays at 8,190, and
this worker answers a longer line as the app answers everything else: JSON {"error": ...} with
the security headers, instead of gunicorn's HTML page.

``StudioLogger`` is gunicorn's logger with IMPASTO_LOG_FORMAT: with json, gunicorn's own lines
(start-up, workers, errors) are JSON objects like the app's, and each access line one with its
fields (remote, method, path, status, bytes, duration_ms, user_agent). `impasto serve` passes it;
a gunicorn started by hand takes ``--logger-class impasto.web.worker.StudioLogger``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

from gunicorn import glogging, util
from gunicorn.http.errors import LimitRequestLine
from gunicorn.workers.gthread import ThreadWorker

from impasto.config import SettingsError, from_environment
from impasto.jobs import warmup
from impasto.logs import reformat
from impasto.web.headers import SECURITY_HEADERS

MAX_REQUEST_LINE = 8190  # gunicorn's own ceiling for --limit-request-line


def too_long_answer(exc: LimitRequestLine) -> bytes:
    """The whole HTTP answer to a request line over the limit."""
    size = f"{exc.size:,} characters long" if isinstance(exc.size, int) else "too long"
    body = json.dumps({"error": f"the request line (method, URL and version) is {size}; at most "
                                f"{MAX_REQUEST_LINE:,} are accepted"}).encode()
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body)), "Connection": "close",
               **SECURITY_HEADERS}
    head = "HTTP/1.1 414 URI Too Long\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return (head + "\r\n").encode("latin-1") + body


class StudioWorker(ThreadWorker):
    """gthread, with the 414 for an over-long request line in JSON (``too_long_answer``), and a
    quick exit when it is stopped during the warm-up (``run``)."""

    def run(self) -> None:
        super().run()  # until gunicorn stops this process, its requests answered
        if warmup.in_progress():
            # TensorFlow half imported in the runner's thread: Python's own exit could wait on it
            # for ever (an orphaned worker held the warm-up's lock in CI). Nothing is left to save.
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        if not isinstance(exc, LimitRequestLine):
            return super().handle_error(req, client, addr, exc)
        self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        try:
            util.write_nonblock(client, too_long_answer(exc))
        except OSError:
            self.log.debug("Failed to send the 414 answer.")
        return None


def log_format() -> str:
    """IMPASTO_LOG_FORMAT as gunicorn's master process finds it; a bad value means text here
    (create_app, in each worker, then stops with the message that names the variable)."""
    try:
        return from_environment("log_format")
    except SettingsError:
        return "text"


class StudioLogger(glogging.Logger):
    """gunicorn's logger, its handlers formatted as IMPASTO_LOG_FORMAT says."""

    json = False

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self.json = log_format() == "json"
        if self.json:
            for log in (self.error_log, self.access_log):
                reformat(log, "json")

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.json:
            return super().access(resp, req, environ, request_time)
        if not self.access_log_enabled:
            return None
        status = str(resp.status).split(None, 1)[0]
        fields = {"remote": environ.get("REMOTE_ADDR"), "method": environ.get("REQUEST_METHOD"),
                  "path": environ.get("PATH_INFO"), "status": int(status) if status.isdigit() else status,
                  "bytes": getattr(resp, "sent", None), "user_agent": environ.get("HTTP_USER_AGENT"),
                  "duration_ms": round(request_time.total_seconds() * 1000, 1)}
        self.access_log.info("%s %s %s", fields["method"], fields["path"], status, extra=fields)
        return None
