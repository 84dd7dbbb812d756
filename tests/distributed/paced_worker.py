"""`impasto worker` for the scale-out tests: the same worker, with every job paced by a progress hook
(PACE seconds of sleep per iteration) so that a tiny job lasts long enough to cancel, kill and
restart around it. Run as ``python -m tests.distributed.paced_worker [--concurrency N] [--loglevel L]``."""

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
    return run_worker(settings, loglevel=loglevel, progress_hook=paced(PACE))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
