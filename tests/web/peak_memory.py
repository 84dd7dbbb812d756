"""Run as a script (``python -m tests.web.peak_memory DATA_DIR``) by tests/web/test_canvas_limits.py:
one app in a fresh process, warmed up with small good uploads on every route, then every hostile
upload of tests/hostile_files.py once. Prints one JSON line per request: the route, the
field, the status, and how far the process's peak resident memory (ru_maxrss) rose during it.

A process of its own, because the peak is a high-water mark: in the test process, earlier tests
would have raised it already and hidden what one request costs. Before each request the peak is
reset to the memory in use now (Linux's /proc/self/clear_refs), so that each request is measured
on its own, not only those that come after the highest one so far.
"""

from __future__ import annotations

import io
import json
import resource
import sys

from impasto import create_app
from tests.clips import video_bytes
from tests.dispatch import Manual
from tests.hostile_files import HOSTILE
from tests.web.conftest import png_bytes, style_bytes
from tests.weights import UNTRAINED_WEIGHTS

FIELDS = ("content", "style", "init_image", "mask")
ROUTES = ("/api/probe", "/api/jobs", "/")


def peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def reset_peak() -> bool:
    """The peak set back to the resident memory now (Linux 4.0 on); False where it cannot be."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def send(client, route: str, field: str, data: bytes):
    body = {"size": "48", "iterations": "2", "content": (io.BytesIO(png_bytes()), "photo.png"),
            "style": (io.BytesIO(style_bytes()), "painting.jpg"), field: (io.BytesIO(data), f"{field}.bin")}
    if route == "/api/probe":
        body = {"content": (io.BytesIO(data), "content.bin")}
    return client.post(route, data=body, content_type="multipart/form-data")


def main(data_dir: str) -> None:
    app = create_app({"TESTING": True, "IMPASTO_DATA_DIR": data_dir, "DISPATCHER": Manual,
                      "IMPASTO_VGG_WEIGHTS": UNTRAINED_WEIGHTS, "IMPASTO_RATE_LIMIT": "off",
                      "IMPASTO_PROBE_RATE_LIMIT": "off", "IMPASTO_MAX_QUEUED_PER_CLIENT": 0})
    client = app.test_client()
    # Every decoder a hostile file could reach, loaded and used once on a good file of its kind.
    for good in (png_bytes(), video_bytes("gif"), video_bytes("webp"), video_bytes("mp4")):
        for route in ROUTES:
            send(client, route, "content", good)
    for name, data in HOSTILE.items():
        for route in ROUTES:
            for field in FIELDS if route != "/api/probe" else ("content",):
                reset = reset_peak()
                before = peak_kib()
                status = send(client, route, field, data).status_code
                print(json.dumps({"file": name, "route": route, "field": field, "status": status,
                                  "rise_kib": peak_kib() - before, "reset": reset}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
