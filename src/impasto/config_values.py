"""The checks IMPASTO_* values are read with (src/impasto/config.py declares which setting uses which):
each turns the environment's text into a value in range, or raises ``SettingsError`` naming the
variable, what it must be and what it got."""

from __future__ import annotations

import math
import re
from typing import Any

from impasto.text import NO, parse_yes_no
from impasto.text import format_number as _fmt


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
