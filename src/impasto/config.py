"""Settings from environment variables (IMPASTO_*), each declared once with its default and help.

This is the only module that reads IMPASTO_* variables. ``Settings.from_env()`` reads and checks
every one of them once per process (create_app, `impasto transfer`, `impasto worker`); the rest of
the code gets the values passed down (the engine as plain arguments: weights, precision, memory).
A bad value raises ``SettingsError`` with one line naming the variable, what it must be, and what
it got (create_app, and so gunicorn, stops on it; the CLI prints it and exits 2).
Each setting is one field of ``Settings`` (type, default, check with its bounds, help); reading the
environment, ``default(name)`` for code handed no Settings, and the docs' configuration tables
(DOCUMENTED and SCALE_OUT_DOCUMENTED, rendered by scripts/doc_tables.py) all come from those fields.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from impasto.data_dir import default_data_dir
from impasto.nst.options import PRECISION_CHOICES
from impasto.setting_parsers import (
    BOTH,
    GENERAL,
    MAX_CLIP_FRAMES,
    MIN_SECRET_KEY_LENGTH,
    REDIS_SCHEMES,
    SCALE_OUT,
    Declared,
    SettingsError,
    at_least,
    folder,
    host_list,
    masked_url,
    metrics_token,
    number,
    off_at_zero,
    one_of,
    password,
    positive,
    rate,
    secret_key,
    setting,
    stripped,
    switch,
    verbatim,
    weights_source,
    whole,
)
from impasto.text import format_number as _fmt

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Settings:
    data_dir: Path = setting(None, folder, "Folder for the job database, uploads, previews and results; "
                             "unset: your user data folder, or an `./instance` folder that an earlier version "
                             "left with jobs in it (see *Data folder*).",
                             shown="(unset: ~/.local/share/impasto on Linux)")
    vgg_weights: str | None = setting(None, weights_source, "Path of a local VGG16 notop weights file.",
                                      shown="(unset: ImageNet download)")
    max_upload_mb: float = setting("20", positive, "Largest upload (all files of one request together), in MB.")
    upload_timeout: float = setting("60", positive, "Seconds a request's whole body may take to arrive; a slower "
                                    "or stalled upload gets 408 and its connection is dropped (20 MB in 60 s "
                                    "needs about 350 kB/s).")
    max_pixels: int = setting("40000000", whole(1), "Largest input image in pixels (width × height).")
    max_size: int = setting("1024", whole(32, 8192), "Largest result size (longest side, px) the web and API accept.")
    max_iterations: int = setting("1000", whole(1), "Most iterations a web or API job may plan in all (at least "
                                  "one per scale; with round_evals, iterations × round_evals).")
    queue_limit: int = setting("20", whole(1), "Most jobs waiting; beyond it submissions get 503 with Retry-After.")
    max_queued_per_client: int = setting("3", whole(0), "Most jobs one client (API token, else address: "
                                         "never a browser session) may have queued or running; beyond it "
                                         "submissions get 429 with Retry-After. 0 turns the limit off.")
    max_clip_frames: int = setting("240", whole(1, MAX_CLIP_FRAMES), "Most frames of a clip (the content of a "
                                   f"video job) the web and API accept, at most {MAX_CLIP_FRAMES}; each frame is "
                                   "painted in turn (see *Video*).")
    max_clip_seconds: float = setting("10", positive, "Longest clip the web and API accept, in seconds.")
    max_clip_side: int = setting("1920", whole(32, 8192), "Largest clip the web and API accept (longest side of "
                                 "its frames, px); a runner holds every frame of a clip in memory (240 frames at "
                                 "1920×1080 ≈ 1.5 GB).")
    warm_up: bool = setting("on", switch, "Each server process loads the engine and times a few evaluations when "
                            "it starts, before any job: the first job starts sooner, and its estimate goes by this "
                            "machine's measured speed. `off` leaves both to the first job.")
    runners: int = setting("1", whole(1), "Jobs running at once across all server processes (one job uses every "
                           "core: keep 1 on a CPU).")
    retention_days: float | None = setting(None, off_at_zero, "Days a finished job is kept after it ended; then "
                                           "it and its files are deleted (never a queued or running one). Unset "
                                           "or 0: kept until its owner deletes it.", shown="(unset: kept)")
    storage_limit_mb: float | None = setting(None, off_at_zero, "Most MB the stored jobs may take (the data dir; "
                                             "in scale-out mode the memory Redis uses); once reached, new jobs "
                                             "get 507 and nothing stored is lost (see *Storage*). Unset or 0: "
                                             "no limit.", shown="(unset: no limit)")
    history: bool = setting("1", switch, "Show the history page of recent jobs; 0 turns it off for public sites.")
    precision: str = setting("auto", one_of(PRECISION_CHOICES), "auto, float32, bfloat16 or float16 for the "
                             "network's convolutions.")
    max_memory_gb: float | None = setting(None, positive, "Memory one job may use: larger pictures are painted in "
                                          "tiles that fit it (see *Large prints*).",
                                          shown="(what the OS reports available)")
    password: str | None = setting(None, verbatim, "Password that every page and API call needs (see *Security "
                                   "and sharing*).", shown="(unset: no sign-in)", secret=True)
    password_file: str | None = setting(None, verbatim, "File whose first line is the password (a Docker "
                                        "secret); instead of IMPASTO_PASSWORD.", shown="(unset)", secret=True)
    secret_key: str | None = setting(None, secret_key, "Key that signs session cookies, at least "
                                     f"{MIN_SECRET_KEY_LENGTH} characters; set the same one on every web container "
                                     "that shares a store.", shown="(generated into the data dir)", secret=True)
    session_days: float = setting("30", positive, "Days a browser's session lives from its sign-in (or, without a "
                                  "password, from its first job), checked by the server; then it signs in again "
                                  "(see *Sessions*).")
    trusted_hosts: tuple[str, ...] = setting(
        "", host_list, "Comma list of the host names the studio answers to (`.example.org` for every name under "
        "it, `*` for any); other `Host` headers get 400. localhost, 127.0.0.1 and [::1] are always trusted (see "
        "*Trusted hosts and proxies*).", shown="(unset: localhost and IP addresses)")
    proxy_count: int = setting("0", whole(0, 5), "Reverse proxies in front that set X-Forwarded-For/-Proto/-Host "
                               "(0 to 5): the studio then sees the client's address, the https scheme and the "
                               "public host name.")
    rate_limit: str | None = setting("10/minute", rate, "Job submissions per client (API token, else "
                                     "address: never a browser session), e.g. 30/hour; `off` turns it off; "
                                     "beyond it 429 with Retry-After (see *Rate limits*).")
    # the studio probes each chosen file once
    probe_rate_limit: str | None = setting("60/minute", rate, "Clip checks (`POST /api/probe`, which reads and "
                                           "opens an upload) per client, counted apart from submissions; `off` "
                                           "turns it off; beyond it 429 with Retry-After.")
    min_free_disk_mb: float = setting("500", at_least(0), "Free space the data dir's disk needs for `/readyz` to "
                                      "answer 200 (uploads, results and the job database live there); 0 turns the "
                                      "check off.")
    log_format: str = setting("text", one_of(("text", "json")), "`text`, or `json` for one JSON object per line "
                              "(time, level, logger, message, job id and state where there are some) from `impasto "
                              "serve`, gunicorn and `impasto worker` (see *Logs*).", table=BOTH)
    metrics: bool = setting("off", switch, "`on` serves Prometheus metrics at `/metrics` (jobs by final state, "
                            "durations, queue wait and length, evaluations, failures by reason, storage, workers "
                            "alive) to loopback clients and to IMPASTO_METRICS_TOKEN; workers need it on too, to "
                            "count their jobs (see *Metrics*).", table=BOTH)
    metrics_token: str | None = setting(None, metrics_token, "Bearer token that lets a scraper on another machine "
                                        f"read `/metrics` (at least {MIN_SECRET_KEY_LENGTH} characters); without "
                                        "it only loopback clients may.", shown="(unset: loopback only)", secret=True)
    stale_after: float = setting("30", positive, "Seconds without a heartbeat before a running job counts as dead "
                                 "and is re-queued.", table=BOTH)
    max_attempts: int = setting("3", whole(1), "Runs of one job (crashes included) before it is marked failed.",
                                table=BOTH)
    # Scale-out mode (IMPASTO_BROKER_URL set), read by the web and by `impasto worker`; checked whether or not it is.
    broker_url: str | None = setting(None, verbatim, "Redis URL: run jobs on Celery workers instead of in the "
                                     "server (see *When one machine is not enough*).", shown="(unset)", table=BOTH)
    store_url: str | None = setting(None, verbatim, "Redis URL of the job store (jobs, uploads, previews, "
                                    "results).", shown="(the broker URL)", table=SCALE_OUT)
    redis_prefix: str = setting("impasto", stripped, "Prefix of the store's Redis keys, also the Celery queue "
                                "name.", table=SCALE_OUT)
    visibility_timeout: float = setting("21600", positive, "Seconds before Redis hands an unacknowledged task to "
                                        "another worker; keep it above the longest job.", table=SCALE_OUT)
    reap_seconds: float = setting("5", positive, "How often web and workers look for jobs whose worker died.",
                                  table=SCALE_OUT)

    @classmethod
    def from_env(cls, environ: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None
                 ) -> Settings:
        """The settings from ``environ`` (default: the process environment) with ``overrides`` (a
        create_app test_config's IMPASTO_* keys) on top, read as text and checked alike.
        SettingsError names the first bad variable; an unset or empty one takes its default."""
        env = {**(os.environ if environ is None else environ),
               **{name: _as_text(value) for name, value in (overrides or {}).items() if name.startswith("IMPASTO_")}}
        values = {name: _read(name, declared, env.get(variable(name))) for name, declared in DECLARED.items()}
        values["data_dir"] = values["data_dir"] or default_data_dir()  # never the working directory itself
        values["store_url"] = _store_url(values["store_url"] or values["broker_url"], values["broker_url"])
        values["password"] = password(values["password"], values["password_file"])
        values["retention_days"] = _retention_days(values["retention_days"], env)
        return cls(**values)

    def as_flask_config(self) -> dict[str, Any]:
        return {variable(f.name): getattr(self, f.name) for f in fields(self)}


DECLARED: dict[str, Declared] = {f.name: f.metadata["setting"] for f in fields(Settings)}


def variable(name: str) -> str:
    """The environment variable of a Settings field: max_size -> IMPASTO_MAX_SIZE."""
    return f"IMPASTO_{name.upper()}"


def _read(name: str, declared: Declared, raw: Any) -> Any:
    if raw is None or str(raw).strip() == "":
        raw = declared.default
    return None if raw is None else declared.parse(variable(name), raw)


def default(name: str) -> Any:
    """A setting's declared default as its field holds it (default("max_attempts") == 3): for code
    that is handed no Settings (a test's RunnerConfig(), a store opened by hand)."""
    return _read(name, DECLARED[name], None)


def from_environment(name: str, environ: Mapping[str, Any] | None = None) -> Any:
    """One setting, read and checked from ``environ`` (default: the process environment): for code
    that runs before the rest are read (gunicorn's logger, in its master process)."""
    env = os.environ if environ is None else environ
    return _read(name, DECLARED[name], env.get(variable(name)))


def _as_text(value: Any) -> str:
    """A test_config value as the environment would hold it (a list as a comma list)."""
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _retention_days(days: float | None, env: Mapping[str, Any]) -> float | None:
    """IMPASTO_RETENTION_HOURS, the older setting, read as days when IMPASTO_RETENTION_DAYS is unset (with a
    warning). Its 0 deleted finished jobs at once; 0 days keeps them, so an old 0 now keeps them too."""
    hours = env.get("IMPASTO_RETENTION_HOURS")
    if hours is None or not str(hours).strip():
        return days
    if str(env.get(variable("retention_days")) or "").strip():
        log.warning("IMPASTO_RETENTION_HOURS is ignored: IMPASTO_RETENTION_DAYS is set (unset the older one)")
        return days
    days = (number("IMPASTO_RETENTION_HOURS", hours, minimum=0) / 24) or None
    log.warning("IMPASTO_RETENTION_HOURS is deprecated: set IMPASTO_RETENTION_DAYS=%s instead (read as that now%s)",
                _fmt(days or 0), "; 0 now keeps finished jobs" if days is None else "")
    return days


def _store_url(store: str | None, broker: str | None) -> str | None:
    """The job store's URL in scale-out mode: Redis only (the broker may be another kind)."""
    if broker is not None and not str(store).startswith(REDIS_SCHEMES):
        raise SettingsError("the job store needs Redis: set IMPASTO_STORE_URL to a redis:// URL "
                            f"(got {masked_url(str(store))!r})")
    return store


# The docs' two tables (scripts/doc_tables.py renders them): variable, default, meaning.
def _rows(*tables: str) -> list[tuple[str, str, str]]:
    return [(variable(name), d.shown or d.default or "", d.help) for name, d in DECLARED.items() if d.table in tables]


DOCUMENTED = _rows(GENERAL, BOTH)
SCALE_OUT_DOCUMENTED = _rows(SCALE_OUT, BOTH)
