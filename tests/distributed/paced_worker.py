"""`impasto worker` for the scale-out tests: the same worker, painting with the real engine paced
(PACE seconds of sleep after every progress report, tests.dispatch.paced) so that a tiny job lasts
long enough to cancel, kill and restart around it from another process. The pacing is injected
here, at the worker's painter, not through any setting. Run as
``python -m tests.distributed.paced_worker [--concurrency N] [--loglevel L]``."""

from __future__ import annotations

import sys

from impasto.config import Settings, SettingsError
from impasto.jobs.celery_app import run_worker
from tests.dispatch import paced
from tests.distributed.procs import PACE


def main(argv: list[str]) -> int:
    loglevel = next((arg.split("=", 1)[1] for arg in argv if arg.startswith("--loglevel=")), "info")
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"paced worker: {exc}", file=sys.stderr)
        return 2
    return run_worker(settings, loglevel=loglevel, painter=paced(PACE))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
