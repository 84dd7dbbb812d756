"""A real `impasto serve` (gunicorn -w 2) for the tests that need the whole server: its own data
folder, untrained weights, a free port, its output in a log file next to the data."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.conftest import ROOT
from tests.helpers import free_port, stop_process
from tests.web.conftest import png_bytes, style_bytes
from tests.web.netclient import wait_until_up
from tests.weights import UNTRAINED_WEIGHTS

PICTURES = {"content": ("photo.png", png_bytes()), "style": ("art.jpg", style_bytes())}  # a job's uploads


@contextmanager
def impasto_serve(data: Path, log: Path, *, port: int | None = None, **settings: str) -> Iterator[str]:
    """`impasto serve` on ``data`` with these IMPASTO_* ``settings``; yields its base URL once it
    answers /healthz, stops it after (its output stays in ``log``)."""
    port = port or free_port()
    env = {**os.environ, "IMPASTO_DATA_DIR": str(data), "IMPASTO_VGG_WEIGHTS": UNTRAINED_WEIGHTS,
           "TF_CPP_MIN_LOG_LEVEL": "2", **settings}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # serve sets its own, under the data folder
    with log.open("a") as out:
        server = subprocess.Popen([sys.executable, "-m", "impasto.cli", "serve", "--port", str(port)], cwd=ROOT,
                                  env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(base + "/healthz")
            yield base
        finally:
            stop_process(server, 30)
