"""Settings from environment variables (IMPASTO_*), each with a documented default.

README.md's configuration table lists the same names and defaults; keep them in step.
Every variable is checked when read: a bad value raises ``SettingsError`` with one line naming the
variable, what it must be, and what it got (create_app, and so gunicorn, stops on it).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from app.nst.options import PRECISION_CHOICES

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class SettingsError(ValueError):
    """An IMPASTO_* variable has a value the studio cannot use; the message names it."""


def _raw(name: str, default: Any) -> Any:
    """The variable's text, or ``default`` when it is unset or empty."""
    value = os.environ.get(name)
    return default if value is None or value.strip() == "" else value


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


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
    value = str(raw).strip().lower()
    if value not in _TRUE + _FALSE:
        raise SettingsError(f"{name} must be 1 or 0 (true/false, yes/no, on/off), got {str(raw)!r}")
    return value in _TRUE


# A host name (or a ".suffix" that stands for every name under it), an IPv4 address or an [IPv6]
# address, without a port: what IMPASTO_TRUSTED_HOSTS lists (app/web/hosts.py matches them).
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
    if text in _FALSE:  # off, 0, no, false
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
    stale_after: float
    max_attempts: int
    trusted_hosts: tuple[str, ...]
    proxy_count: int
    rate_limit: str | None
    upload_timeout: float

    @classmethod
    def from_env(cls) -> Settings:
        """The settings from the environment; SettingsError names the first bad variable."""
        return cls(
            data_dir=Path(_raw("IMPASTO_DATA_DIR", "instance")).expanduser().resolve(),
            vgg_weights=os.environ.get("IMPASTO_VGG_WEIGHTS") or None,
            max_upload_mb=number("IMPASTO_MAX_UPLOAD_MB", _raw("IMPASTO_MAX_UPLOAD_MB", "20"), above=0),
            max_pixels=whole_number("IMPASTO_MAX_PIXELS", _raw("IMPASTO_MAX_PIXELS", "40000000"), 1),
            max_size=whole_number("IMPASTO_MAX_SIZE", _raw("IMPASTO_MAX_SIZE", "1024"), 32, 4096),
            max_iterations=whole_number("IMPASTO_MAX_ITERATIONS", _raw("IMPASTO_MAX_ITERATIONS", "1000"), 1),
            queue_limit=whole_number("IMPASTO_QUEUE_LIMIT", _raw("IMPASTO_QUEUE_LIMIT", "20"), 1),
            runners=whole_number("IMPASTO_RUNNERS", _raw("IMPASTO_RUNNERS", "1"), 1),
            retention_hours=number("IMPASTO_RETENTION_HOURS", _raw("IMPASTO_RETENTION_HOURS", "168"), 0),
            history=switch("IMPASTO_HISTORY", _raw("IMPASTO_HISTORY", "1")),
            broker_url=os.environ.get("IMPASTO_BROKER_URL") or None,
            precision=choice("IMPASTO_PRECISION", _raw("IMPASTO_PRECISION", "auto"), PRECISION_CHOICES),
            stale_after=number("IMPASTO_STALE_AFTER", _raw("IMPASTO_STALE_AFTER", "30"), above=0),
            max_attempts=whole_number("IMPASTO_MAX_ATTEMPTS", _raw("IMPASTO_MAX_ATTEMPTS", "3"), 1),
            trusted_hosts=host_list("IMPASTO_TRUSTED_HOSTS", _raw("IMPASTO_TRUSTED_HOSTS", "")),
            proxy_count=whole_number("IMPASTO_PROXY_COUNT", _raw("IMPASTO_PROXY_COUNT", "0"), 0, 5),
            rate_limit=rate("IMPASTO_RATE_LIMIT", _raw("IMPASTO_RATE_LIMIT", DEFAULT_RATE_LIMIT)),
            upload_timeout=number("IMPASTO_UPLOAD_TIMEOUT", _raw("IMPASTO_UPLOAD_TIMEOUT", "60"), above=0),
        )

    def as_flask_config(self) -> dict[str, Any]:
        return {f"IMPASTO_{f.name.upper()}": getattr(self, f.name) for f in fields(self)}


DEFAULT_RATE_LIMIT = "10/minute"

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
    ("IMPASTO_TRUSTED_HOSTS", "(unset: localhost and IP addresses)", "Comma list of the host names the studio "
     "answers to (`.example.org` for every name under it, `*` for any); other `Host` headers get 400. "
     "localhost, 127.0.0.1 and [::1] are always trusted (see *Trusted hosts and proxies*)."),
    ("IMPASTO_PROXY_COUNT", "0", "Reverse proxies in front that set X-Forwarded-For/-Proto/-Host (0 to 5): "
     "the studio then sees the client's address, the https scheme and the public host name."),
    ("IMPASTO_RATE_LIMIT", DEFAULT_RATE_LIMIT, "Job submissions per client (signed-in owner or token, else "
     "address), e.g. 30/hour; `off` turns it off; beyond it 429 with Retry-After (see *Rate limits*)."),
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
