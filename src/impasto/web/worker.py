"""The gunicorn worker that `impasto serve` runs: gunicorn's gthread worker, with a JSON 414.

gunicorn reads the request line before the app sees anything, and refuses one longer than
``--limit-request-line``, at most 8,190 bytes. The only way past that is 0, "no limit", and then
its parser copies the whole line again for every piece that arrives: one client sending a 20 MB
line kept a process busy for 26 s of CPU while its memory grew. So the limit stays at 8,190, and
this worker answers a longer line as the app answers everything else: JSON {"error": ...} with
the security headers, instead of gunicorn's HTML page.
"""

from __future__ import annotations

import json
from typing import Any

from gunicorn import util
from gunicorn.http.errors import LimitRequestLine
from gunicorn.workers.gthread import ThreadWorker

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
    """gthread, with the 414 for an over-long request line in JSON (``too_long_answer``)."""

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        if not isinstance(exc, LimitRequestLine):
            return super().handle_error(req, client, addr, exc)
        self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        try:
            util.write_nonblock(client, too_long_answer(exc))
        except OSError:
            self.log.debug("Failed to send the 414 answer.")
        return None
