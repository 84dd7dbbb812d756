"""Settings from environment variables (IMPASTO_*), each with a documented default.

This is the only module that reads IMPASTO_* variables. ``Settings.from_env()`` reads and checks
every one of them once per process (create_app, `impasto transfer`, `impasto worker`); the rest of
the code gets the values passed down (the engine as plain arguments: weights, precision, memory).
A bad value raises ``SettingsError`` with one line naming the variable, what it must be, and what
it got (create_app, and so gunicorn, stops on it; the CLI prints it and exits 2).
README.md's configuration tables are generated from DOCUMENTED and SCALE_OUT_DOCUMENTED.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from impasto.nst.errors import WeightsError
from impasto.nst.options import PRECISION_CHOICES
from impasto.nst.vgg import check_weights
from impasto.text import NO, parse_yes_no
from impasto.text import format_number as _fmt

REDIS_SCHEMES = ("redis://", "rediss://", "unix://", "redis+socket://")
DEFAULT_RATE_LIMIT = "10/minute"
DEFAULT_PROBE_RATE_LIMIT = "60/minute"  # the studio probes each chosen file once


class SettingsError(ValueError):
    """An IMPASTO_* variable has a value the studio cannot use; the message names it."""


def _range_text(noun: str, minimum: float | None, maximum: float | None, above: float | None) -> str:
    if above is not None:
        return f"{noun} above {_fmt(above)}"
    if minimum is not None and maximum is not None:
        return f"{noun} from {_fmt(minimum)} to {_fmt(maximum)}"
    if minimum is not None:
        return f"{noun} of at least {_fmt(minimum)}"
    return noun


def whole_number(name: str, raw: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    """``raw`` (text from the environment, or a number from app.config) as an int in range, else
    SettingsError("IMPASTO_X must be a whole number from 1 to 9, got 'abc'")."""
    what = _range_text("a whole number", minimum, maximum, None)
    try:
        number = float(str(raw).strip())
        if not number.is_integer():
            raise ValueError
        value = int(number)
    except (ValueError, OverflowError):
        raise SettingsError(f"{name} must be {what}, got {str(raw)!r}") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise SettingsError(f"{name} must be {what}, got {str(raw)!r}")
    return value


def number(name: str, raw: Any, minimum: float | None = None, *, above: float | None = None) -> float:
    """``raw`` as a finite float, at least ``minimum`` or strictly above ``above``, else SettingsError."""
    what = _range_text("a number", minimum, None, above)
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise SettingsError(f"{name} must be {what}, got {str(raw)!r}") from None
    if (not math.isfinite(value) or (minimum is not None and value < minimum)
            or (above is not None and value <= above)):
        raise SettingsError(f"{name} must be {what}, got {str(raw)!r}")
    return value


def choice(name: str, raw: Any, choices: tuple[str, ...]) -> str:
    value = str(raw).strip().lower()
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {str(raw)!r}")
    return value


def switch(name: str, raw: Any) -> bool:
    try:
        return parse_yes_no(raw)
    except ValueError:
        raise SettingsError(f"{name} must be 1 or 0 (true/false, yes/no, on/off), got {str(raw)!r}") from None


def weights_source(name: str, raw: str | None) -> str | None:
    """None (the ImageNet download), 'imagenet', or a weights file that
    exists and holds VGG16's convolutions (checked now, not at the first job)."""
    if raw is None:
        return None
    try:
        return check_weights(raw)
    except WeightsError as exc:
        raise SettingsError(f"{name}: {exc}") from None


# A host name (or a ".suffix" that stands for every name under it), an IPv4 address or an [IPv6]
# address, without a port: what IMPASTO_TRUSTED_HOSTS lists (src/impasto/web/hosts.py matches them).
_HOST_ENTRY = re.compile(r"\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\]")


def host_list(name: str, raw: Any) -> tuple[str, ...]:
    """A comma list of host names or addresses (lower case; "*" alone means any), else SettingsError."""
    entries = tuple(entry.strip().lower() for entry in str(raw).split(",") if entry.strip())
    if entries == ("*",):
        return entries
    for entry in entries:
        if not _HOST_ENTRY.fullmatch(entry):
            raise SettingsError(f"{name} must be a comma list of host names or addresses without ports "
                                f"(e.g. studio.example.com,.example.org,192.168.1.5,[fd00::1]) or *, "
                                f"got {entry!r} in {str(raw)!r}")
    return entries


def rate(name: str, raw: Any) -> str | None:
    """A rate such as "10/minute" or "100 per hour" (Flask-Limiter's notation); "off" gives None."""
    from limits import parse

    text = str(raw).strip().lower()
    if text in NO:  # off, 0, no, false
        return None
    try:
        parse(text)
    except ValueError:
        raise SettingsError(f"{name} must be a rate such as 10/minute, 30/hour or 5 per 10 seconds "
                            f"(or off), got {str(raw)!r}") from None
    return text


def masked_url(url: str) -> str:
    """``url`` with any password replaced by ***: user:pass@ and ?password=… (for logs and messages)."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            user, _, host = netloc.rpartition("@")
            netloc = f"{user.partition(':')[0]}:***@{host}" if ":" in user else f"***@{host}"
        query = urlencode([(k, "***" if "pass" in k.lower() else v) for k, v in parse_qsl(parts.query, True)],
                          safe="*")
        return urlunsplit(parts._replace(netloc=netloc, query=query))
    except ValueError:  # not even a URL: nothing can be told apart, so nothing of it is shown
        return "(an unreadable URL)"


MIN_SECRET_KEY_LENGTH = 32
# Finished frames are stored as frame_0001.png … frame_9999.png (src/impasto/jobs/store.py): four digits.
MAX_CLIP_FRAMES = 9999


def password(raw: Any, file: Any) -> str | None:
    """The sign-in password: IMPASTO_PASSWORD, or the first line of IMPASTO_PASSWORD_FILE (a Docker
    secret); never both. None: no sign-in."""
    if raw is not None and file is not None:
        raise SettingsError("set IMPASTO_PASSWORD or IMPASTO_PASSWORD_FILE, not both")
    if file is None:
        return raw
    try:
        text = Path(str(file).strip()).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"IMPASTO_PASSWORD_FILE: cannot read {str(file)!r} ({type(exc).__name__})") from None
    lines = text.splitlines()
    if not lines or not lines[0]:
        raise SettingsError(f"IMPASTO_PASSWORD_FILE: {str(file)!r} holds no password on its first line")
    return lines[0]


def secret_key(raw: Any) -> str | None:
    if raw is not None and len(str(raw)) < MIN_SECRET_KEY_LENGTH:
        raise SettingsError(f"IMPASTO_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters (e.g. the "
                            f"output of: python -c 'import secrets; print(secrets.token_hex(32))'), "
                            f"got {len(str(raw))} characters")
    return raw


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
    max_memory_gb: float | None
    stale_after: float
    max_attempts: int
    trusted_hosts: tuple[str, ...]
    proxy_count: int
    rate_limit: str | None
    probe_rate_limit: str | None
    upload_timeout: float
    # Scale-out mode only (IMPASTO_BROKER_URL set); checked whether or not it is.
    store_url: str | None
    redis_prefix: str
    visibility_timeout: float
    reap_seconds: float
    max_queued_per_client: int
    max_clip_frames: int = 240
    max_clip_seconds: float = 10.0
    max_clip_side: int = 1920
    password: str | None = field(default=None, repr=False)  # never printed
    secret_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None
                 ) -> Settings:
        """The settings from ``environ`` (default: the process environment) with ``overrides`` (a
        create_app test_config's IMPASTO_* keys) on top, read as text and checked alike.
        SettingsError names the first bad variable; an unset or empty one takes its default."""
        env = {**(os.environ if environ is None else environ),
               **{name: _as_text(value) for name, value in (overrides or {}).items() if name.startswith("IMPASTO_")}}

        def raw(name: str, default: Any = None) -> Any:
            value = env.get(name)
            return default if value is None or str(value).strip() == "" else value

        memory = raw("IMPASTO_MAX_MEMORY_GB")
        broker = raw("IMPASTO_BROKER_URL")
        return cls(
            data_dir=Path(raw("IMPASTO_DATA_DIR", "instance")).expanduser().resolve(),
            vgg_weights=weights_source("IMPASTO_VGG_WEIGHTS", raw("IMPASTO_VGG_WEIGHTS")),
            max_upload_mb=number("IMPASTO_MAX_UPLOAD_MB", raw("IMPASTO_MAX_UPLOAD_MB", "20"), above=0),
            max_pixels=whole_number("IMPASTO_MAX_PIXELS", raw("IMPASTO_MAX_PIXELS", "40000000"), 1),
            max_size=whole_number("IMPASTO_MAX_SIZE", raw("IMPASTO_MAX_SIZE", "1024"), 32, 8192),
            max_iterations=whole_number("IMPASTO_MAX_ITERATIONS", raw("IMPASTO_MAX_ITERATIONS", "1000"), 1),
            queue_limit=whole_number("IMPASTO_QUEUE_LIMIT", raw("IMPASTO_QUEUE_LIMIT", "20"), 1),
            runners=whole_number("IMPASTO_RUNNERS", raw("IMPASTO_RUNNERS", "1"), 1),
            retention_hours=number("IMPASTO_RETENTION_HOURS", raw("IMPASTO_RETENTION_HOURS", "168"), 0),
            history=switch("IMPASTO_HISTORY", raw("IMPASTO_HISTORY", "1")),
            broker_url=broker,
            precision=choice("IMPASTO_PRECISION", raw("IMPASTO_PRECISION", "auto"), PRECISION_CHOICES),
            max_memory_gb=None if memory is None else number("IMPASTO_MAX_MEMORY_GB", memory, above=0),
            stale_after=number("IMPASTO_STALE_AFTER", raw("IMPASTO_STALE_AFTER", "30"), above=0),
            max_attempts=whole_number("IMPASTO_MAX_ATTEMPTS", raw("IMPASTO_MAX_ATTEMPTS", "3"), 1),
            store_url=_store_url(raw("IMPASTO_STORE_URL", broker), broker),
            redis_prefix=str(raw("IMPASTO_REDIS_PREFIX", "impasto")).strip(),
            visibility_timeout=number("IMPASTO_VISIBILITY_TIMEOUT", raw("IMPASTO_VISIBILITY_TIMEOUT", "21600"),
                                      above=0),
            reap_seconds=number("IMPASTO_REAP_SECONDS", raw("IMPASTO_REAP_SECONDS", "5"), above=0),
            trusted_hosts=host_list("IMPASTO_TRUSTED_HOSTS", raw("IMPASTO_TRUSTED_HOSTS", "")),
            proxy_count=whole_number("IMPASTO_PROXY_COUNT", raw("IMPASTO_PROXY_COUNT", "0"), 0, 5),
            rate_limit=rate("IMPASTO_RATE_LIMIT", raw("IMPASTO_RATE_LIMIT", DEFAULT_RATE_LIMIT)),
            probe_rate_limit=rate("IMPASTO_PROBE_RATE_LIMIT",
                                  raw("IMPASTO_PROBE_RATE_LIMIT", DEFAULT_PROBE_RATE_LIMIT)),
            upload_timeout=number("IMPASTO_UPLOAD_TIMEOUT", raw("IMPASTO_UPLOAD_TIMEOUT", "60"), above=0),
            max_queued_per_client=whole_number("IMPASTO_MAX_QUEUED_PER_CLIENT",
                                               raw("IMPASTO_MAX_QUEUED_PER_CLIENT", "3"), 0),
            max_clip_frames=whole_number("IMPASTO_MAX_CLIP_FRAMES", raw("IMPASTO_MAX_CLIP_FRAMES", "240"), 1,
                                         MAX_CLIP_FRAMES),
            max_clip_seconds=number("IMPASTO_MAX_CLIP_SECONDS", raw("IMPASTO_MAX_CLIP_SECONDS", "10"), above=0),
            max_clip_side=whole_number("IMPASTO_MAX_CLIP_SIDE", raw("IMPASTO_MAX_CLIP_SIDE", "1920"), 32, 8192),
            password=password(raw("IMPASTO_PASSWORD"), raw("IMPASTO_PASSWORD_FILE")),
            secret_key=secret_key(raw("IMPASTO_SECRET_KEY")),
        )

    def as_flask_config(self) -> dict[str, Any]:
        return {f"IMPASTO_{f.name.upper()}": getattr(self, f.name) for f in fields(self)}


def _as_text(value: Any) -> str:
    """A test_config value as the environment would hold it (a list as a comma list)."""
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _store_url(store: str | None, broker: str | None) -> str | None:
    """The job store's URL in scale-out mode: Redis only (the broker may be another kind)."""
    if broker is not None and not str(store).startswith(REDIS_SCHEMES):
        raise SettingsError("the job store needs Redis: set IMPASTO_STORE_URL to a redis:// URL "
                            f"(got {masked_url(str(store))!r})")
    return store


# name, default, meaning: rendered into README.md by scripts/doc_tables.py (a test keeps them in step).
DOCUMENTED = [
    ("IMPASTO_DATA_DIR", "instance", "Folder for the job database, uploads, previews and results."),
    ("IMPASTO_VGG_WEIGHTS", "(unset: ImageNet download)", "Path of a local VGG16 notop weights file."),
    ("IMPASTO_MAX_UPLOAD_MB", "20", "Largest upload (all files of one request together), in MB."),
    ("IMPASTO_UPLOAD_TIMEOUT", "60", "Seconds a request's whole body may take to arrive; a slower or stalled "
     "upload gets 408 and its connection is dropped (20 MB in 60 s needs about 350 kB/s)."),
    ("IMPASTO_MAX_PIXELS", "40000000", "Largest input image in pixels (width × height)."),
    ("IMPASTO_MAX_SIZE", "1024", "Largest result size (longest side, px) the web and API accept."),
    ("IMPASTO_MAX_ITERATIONS", "1000", "Most iterations a web or API job may plan in all (at least one per "
     "scale; with round_evals, iterations × round_evals)."),
    ("IMPASTO_QUEUE_LIMIT", "20", "Most jobs waiting; beyond it submissions get 503 with Retry-After."),
    ("IMPASTO_MAX_QUEUED_PER_CLIENT", "3", "Most jobs one client (API token or signed-in browser, else address) "
     "may have queued or running; beyond it submissions get 429 with Retry-After. 0 turns the limit off."),
    ("IMPASTO_MAX_CLIP_FRAMES", "240", "Most frames of a clip (the content of a video job) the web and API "
     f"accept, at most {MAX_CLIP_FRAMES}; each frame is painted in turn (see *Video*)."),
    ("IMPASTO_MAX_CLIP_SECONDS", "10", "Longest clip the web and API accept, in seconds."),
    ("IMPASTO_MAX_CLIP_SIDE", "1920", "Largest clip the web and API accept (longest side of its frames, px); "
     "a runner holds every frame of a clip in memory (240 frames at 1920×1080 ≈ 1.5 GB)."),
    ("IMPASTO_RUNNERS", "1", "Jobs running at once across all server processes (one job uses every core: "
     "keep 1 on a CPU)."),
    ("IMPASTO_RETENTION_HOURS", "168", "Finished jobs older than this are deleted (never a running one)."),
    ("IMPASTO_HISTORY", "1", "Show the history page of recent jobs; 0 turns it off for public sites."),
    ("IMPASTO_STALE_AFTER", "30", "Seconds without a heartbeat before a running job counts as dead and is re-queued."),
    ("IMPASTO_MAX_ATTEMPTS", "3", "Runs of one job (crashes included) before it is marked failed."),
    ("IMPASTO_PRECISION", "auto", "auto, float32, bfloat16 or float16 for the network's convolutions."),
    ("IMPASTO_MAX_MEMORY_GB", "(what the OS reports available)", "Memory one job may use: larger pictures are "
     "painted in tiles that fit it (see *Large prints*)."),
    ("IMPASTO_PASSWORD", "(unset: no sign-in)", "Password that every page and API call needs (see *Security "
     "and sharing*)."),
    ("IMPASTO_PASSWORD_FILE", "(unset)", "File whose first line is the password (a Docker secret); instead of "
     "IMPASTO_PASSWORD."),
    ("IMPASTO_SECRET_KEY", "(generated into the data dir)", "Key that signs session cookies, at least 32 "
     "characters; set the same one on every web container that shares a store."),
    ("IMPASTO_BROKER_URL", "(unset)", "Redis URL: run jobs on Celery workers instead of in the server "
     "(see *When one machine is not enough*)."),
    ("IMPASTO_TRUSTED_HOSTS", "(unset: localhost and IP addresses)", "Comma list of the host names the studio "
     "answers to (`.example.org` for every name under it, `*` for any); other `Host` headers get 400. "
     "localhost, 127.0.0.1 and [::1] are always trusted (see *Trusted hosts and proxies*)."),
    ("IMPASTO_PROXY_COUNT", "0", "Reverse proxies in front that set X-Forwarded-For/-Proto/-Host (0 to 5): "
     "the studio then sees the client's address, the https scheme and the public host name."),
    ("IMPASTO_RATE_LIMIT", DEFAULT_RATE_LIMIT, "Job submissions per client (API token or signed-in browser, else "
     "address), e.g. 30/hour; `off` turns it off; beyond it 429 with Retry-After (see *Rate limits*)."),
    ("IMPASTO_PROBE_RATE_LIMIT", DEFAULT_PROBE_RATE_LIMIT, "Clip checks (`POST /api/probe`, which reads and opens "
     "an upload) per client, counted apart from submissions; `off` turns it off; beyond it 429 with Retry-After."),
]

# Read only in scale-out mode (IMPASTO_BROKER_URL set), by the web and by `impasto worker`; the
# rows shared with DOCUMENTED (broker URL, stale-after, attempts) are taken from there, not repeated.
_SHARED = {row[0]: row for row in DOCUMENTED}
SCALE_OUT_DOCUMENTED = [
    _SHARED["IMPASTO_BROKER_URL"],
    ("IMPASTO_STORE_URL", "(the broker URL)", "Redis URL of the job store (jobs, uploads, previews, results)."),
    ("IMPASTO_REDIS_PREFIX", "impasto", "Prefix of the store's Redis keys, also the Celery queue name."),
    ("IMPASTO_VISIBILITY_TIMEOUT", "21600", "Seconds before Redis hands an unacknowledged task to another "
     "worker; keep it above the longest job."),
    _SHARED["IMPASTO_STALE_AFTER"],
    _SHARED["IMPASTO_MAX_ATTEMPTS"],
    ("IMPASTO_REAP_SECONDS", "5", "How often web and workers look for jobs whose worker died."),
]
