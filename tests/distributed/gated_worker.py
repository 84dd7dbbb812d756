"""`impasto worker` for the scale-out tests: the same worker, painting with the real engine behind a
gate: after every progress report the job waits until the test lets it on, so that a tiny job can
be held mid-run while the test cancels it, kills its worker or restarts the web around it. The gate
lives in the broker's Redis, one per worker process (procs.GateKeys; the test's side is
procs.WorkerGates); its keys' prefix comes in GATE_VARIABLE, read here only, never through an
impasto setting. Run as ``python -m tests.distributed.gated_worker [--loglevel=L]``."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from impasto.config import Settings, SettingsError
from impasto.jobs.celery_app import run_worker
from tests.dispatch import facts, reached, watching
from tests.distributed.procs import GATE_VARIABLE, GateKeys

HOLD_SECONDS = 120.0  # a job held longer fails (TimeoutError): the test that held it is broken


class WorkerGate:
    """The painter's hook: after each report, wait at this worker's gate unless it is open, or the
    test's ``until`` is not reached yet. While waiting, the report's facts are in ``held``."""

    def __init__(self, redis_url: str, keys: GateKeys) -> None:
        self.redis_url, self.keys = redis_url, keys
        self.clients: dict[int, Any] = {}

    def client(self) -> Any:
        """A Redis client of this process's own: the pool child forks after the gate is made."""
        import redis

        pid = os.getpid()
        if pid not in self.clients:
            # A socket timeout beyond the longest hold: redis-py's default (5 s) would end a longer BLPOP.
            self.clients[pid] = redis.Redis.from_url(self.redis_url, socket_timeout=HOLD_SECONDS + 10)
        return self.clients[pid]

    def __call__(self, progress: Any) -> None:
        client, keys = self.client(), self.keys
        found = {"report": client.incr(keys.reports), **facts(progress)}
        if self.passes(client, found):
            return
        client.delete(keys.wake)  # old wake-ups; the test pushes one after every change from now on
        client.set(keys.held, json.dumps(found))
        try:
            self.wait(client)
        finally:
            client.delete(keys.held)

    def passes(self, client: Any, found: dict[str, int]) -> bool:
        if client.exists(self.keys.open, self.keys.all_open):
            return True
        until = client.get(self.keys.until)
        if until is None:
            return False
        if reached(found, json.loads(until)):
            client.delete(self.keys.until)
            return False
        return True

    def wait(self, client: Any) -> None:
        """Until the gate opens or the test sets a new ``until``: woken by BLPOP on ``wake``."""
        deadline = time.monotonic() + HOLD_SECONDS
        while not client.exists(self.keys.open, self.keys.all_open, self.keys.until):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"held at the gate for {HOLD_SECONDS:g} s: the test never let the job on")
            client.blpop([self.keys.wake], timeout=left)


def main(argv: list[str]) -> int:
    loglevel = next((arg.split("=", 1)[1] for arg in argv if arg.startswith("--loglevel=")), "info")
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"gated worker: {exc}", file=sys.stderr)
        return 2
    # This process's pid is the one in its jobs' worker names (the pool child that paints forks from it).
    gate = WorkerGate(settings.broker_url, GateKeys(os.environ[GATE_VARIABLE], os.getpid()))
    return run_worker(settings, loglevel=loglevel, painter=watching(gate))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
