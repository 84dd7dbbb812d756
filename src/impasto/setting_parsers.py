"""How each IMPASTO_* value is read and checked: the parsers (and their errors) that the settings
of src/impasto/config.py are declared with, each taking (variable name, raw text) and returning the
value or raising SettingsError with one line that names the variable, the range and the value."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from impasto.nst.errors import WeightsError
from impasto.nst.vgg import check_weights
from impasto.text import NO, parse_yes_no
from impasto.text import format_number as _fmt

REDIS_SCHEMES = ("redis://", "rediss://", "unix://", "redis+socket://")


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


def secret_key(name: str, raw: Any) -> str | None:
    if raw is not None and len(str(raw)) < MIN_SECRET_KEY_LENGTH:
        raise SettingsError(f"{name} must be at least {MIN_SECRET_KEY_LENGTH} characters (e.g. the "
                            f"output of: python -c 'import secrets; print(secrets.token_hex(32))'), "
                            f"got {len(str(raw))} characters")
    return raw


def metrics_token(name: str, raw: Any) -> str:
    """A scrape token long enough not to be guessed (the same length as a session key)."""
    text = str(raw).strip()
    if len(text) < MIN_SECRET_KEY_LENGTH:
        raise SettingsError(f"{name} must be at least {MIN_SECRET_KEY_LENGTH} characters (e.g. the output of: "
                            f"python -c 'import secrets; print(secrets.token_hex(32))'), got {len(text)} characters")
    return text


# Each setting is declared once, as a field of config.Settings: its type, its default (as the
# environment would hold it), its check with its bounds, and the line the docs' tables show.
Parser = Callable[[str, Any], Any]  # (variable name, raw text) -> the value, or SettingsError
GENERAL, SCALE_OUT, BOTH = "general", "scale-out", "both"  # which docs table shows a setting


@dataclass(frozen=True)
class Declared:
    default: str | None  # None: unset (the value is None, or what the help says happens then)
    parse: Parser
    help: str
    shown: str | None  # the docs' default column, where it is not ``default`` itself
    table: str


def setting(default: str | None, parse: Parser, help: str, *, shown: str | None = None, table: str = GENERAL,
            secret: bool = False) -> Any:
    """A field of Settings, read from IMPASTO_<FIELD NAME> by ``parse``; ``default`` when unset or empty."""
    return field(repr=not secret, metadata={"setting": Declared(default, parse, help, shown, table)})


def whole(minimum: int | None = None, maximum: int | None = None) -> Parser:
    return partial(whole_number, minimum=minimum, maximum=maximum)


def at_least(minimum: float) -> Parser:
    return partial(number, minimum=minimum)


def positive(name: str, raw: Any) -> float:
    return number(name, raw, above=0)


def off_at_zero(name: str, raw: Any) -> float | None:
    """A number of at least 0, where 0 turns the thing off (None)."""
    return number(name, raw, minimum=0) or None


def one_of(choices: tuple[str, ...]) -> Parser:
    return partial(choice, choices=choices)


def verbatim(name: str, raw: Any) -> Any:
    return raw


def stripped(name: str, raw: Any) -> str:
    return str(raw).strip()


def folder(name: str, raw: Any) -> Path:
    return Path(str(raw)).expanduser().resolve()
