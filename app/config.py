"""Settings from environment variables (IMPASTO_*), each with a documented default.

README.md's configuration table lists the same names and defaults; keep them in step.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    vgg_weights: str | None
    max_upload_mb: float
    max_pixels: int
    max_size: int
    max_iterations: int
    queue_limit: int
    runners: int
    retention_hours: float
    history: bool
    broker_url: str | None
    precision: str

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            data_dir=Path(_env("IMPASTO_DATA_DIR", "instance")).expanduser().resolve(),
            vgg_weights=os.environ.get("IMPASTO_VGG_WEIGHTS") or None,
            max_upload_mb=float(_env("IMPASTO_MAX_UPLOAD_MB", "20")),
            max_pixels=int(_env("IMPASTO_MAX_PIXELS", "40000000")),
            max_size=int(_env("IMPASTO_MAX_SIZE", "1024")),
            max_iterations=int(_env("IMPASTO_MAX_ITERATIONS", "1000")),
            queue_limit=int(_env("IMPASTO_QUEUE_LIMIT", "20")),
            runners=int(_env("IMPASTO_RUNNERS", "1")),
            retention_hours=float(_env("IMPASTO_RETENTION_HOURS", "168")),
            history=_env("IMPASTO_HISTORY", "1").lower() not in ("0", "false", "no", "off"),
            broker_url=os.environ.get("IMPASTO_BROKER_URL") or None,
            precision=_env("IMPASTO_PRECISION", "auto"),
        )

    def as_flask_config(self) -> dict:
        return {f"IMPASTO_{f.name.upper()}": getattr(self, f.name) for f in fields(self)}


# name, default, meaning: rendered into README.md's table and `impasto serve --help`.
DOCUMENTED = [
    ("IMPASTO_DATA_DIR", "instance", "Folder for the job database, uploads, previews and results."),
    ("IMPASTO_VGG_WEIGHTS", "(unset: ImageNet download)", "Path of a local VGG16 notop weights file."),
    ("IMPASTO_MAX_UPLOAD_MB", "20", "Largest upload (all files of one request together), in MB."),
    ("IMPASTO_MAX_PIXELS", "40000000", "Largest input image in pixels (width × height)."),
    ("IMPASTO_MAX_SIZE", "1024", "Largest result size (longest side, px) the web and API accept."),
    ("IMPASTO_MAX_ITERATIONS", "1000", "Most iterations a web or API job may ask for."),
    ("IMPASTO_QUEUE_LIMIT", "20", "Most jobs waiting; beyond it submissions get 503 with Retry-After."),
    ("IMPASTO_RUNNERS", "1", "Jobs running at once across all server processes (one job uses every core: "
     "keep 1 on a CPU)."),
    ("IMPASTO_RETENTION_HOURS", "168", "Finished jobs older than this are deleted (never a running one)."),
    ("IMPASTO_HISTORY", "1", "Show the history page of recent jobs; 0 turns it off for public sites."),
    ("IMPASTO_STALE_AFTER", "30", "Seconds without a heartbeat before a running job counts as dead and is re-queued."),
    ("IMPASTO_MAX_ATTEMPTS", "3", "Runs of one job (crashes included) before it is marked failed."),
    ("IMPASTO_PRECISION", "auto", "auto, float32, bfloat16 or float16 for the network's convolutions."),
    ("IMPASTO_MAX_MEMORY_GB", "(what the OS reports available)", "Memory one job may use; larger sizes are refused."),
    ("IMPASTO_BROKER_URL", "(unset)", "Redis URL: run jobs on Celery workers instead of in the server "
     "(see *When one machine is not enough*)."),
]

# Read only in scale-out mode (IMPASTO_BROKER_URL set), by the web and by `impasto worker`.
SCALE_OUT_DOCUMENTED = [
    ("IMPASTO_BROKER_URL", "(unset)", "Redis URL of the Celery broker; setting it switches to scale-out mode."),
    ("IMPASTO_STORE_URL", "(the broker URL)", "Redis URL of the job store (jobs, uploads, previews, results)."),
    ("IMPASTO_REDIS_PREFIX", "impasto", "Prefix of the store's Redis keys, also the Celery queue name."),
    ("IMPASTO_VISIBILITY_TIMEOUT", "21600", "Seconds before Redis hands an unacknowledged task to another "
     "worker; keep it above the longest job."),
    ("IMPASTO_STALE_AFTER", "30", "Seconds without a heartbeat before a running job counts as dead and is re-queued."),
    ("IMPASTO_MAX_ATTEMPTS", "3", "Runs of one job (worker deaths included) before it is marked failed."),
    ("IMPASTO_REAP_SECONDS", "5", "How often web and workers look for jobs whose worker died."),
]
