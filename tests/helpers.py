"""Small helpers shared by the tests and the scripts (scripts/loadtest.py, scripts/screenshots.py).

Nothing here imports the app, so a script can use it before (or without) importing Impasto.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

# Debian's Chromium with the launch flags that work on a machine with no outside network (without
# the background-networking flags it keeps dialling out and is refused); never `playwright install`.
# Used by the browser tests (tests/web/conftest.py) and the screenshots.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def venv_tool(name: str) -> str | None:
    """A console script installed beside this Python (the README's .venv/bin), never one that merely
    happens to be on PATH: the tests must pass with nothing installed outside the README's commands."""
    script = Path(sys.executable).with_name(name)
    return str(script) if script.is_file() else None


def free_port() -> int:
    """A TCP port free on the loopback interface right now (another process may still take it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], Any], timeout: float = 60.0, what: str = "the condition",
             interval: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something truthy, and return that; fail after ``timeout``
    seconds. For what a test cannot be told about (another process, a served page); within one
    process, prefer an event set by an injected painter."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class Clock:
    """A clock the test moves by hand (``clock.now += 100``), for stores that take ``clock=``."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def stop_process(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL: no process outlives its test."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
