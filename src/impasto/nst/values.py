"""Option values as people type them into a form, a flag or JSON: numbers, lists, and a value
quoted back in a message as it was sent."""

from __future__ import annotations

import math
import re
from typing import Any, Callable

from impasto.text import format_number

SHOWN_LENGTH = 40  # longest value text quoted back in a message

# Numbers as people type them, in ASCII digits only: Python's float() and int() would also take
# "3_2" and other scripts' digits ("٣٢") as 32, which nobody means in a form field.
FLOAT_TEXT = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*", re.ASCII)
INT_TEXT = re.compile(r"\s*[+-]?\d+\s*", re.ASCII)


def to_float(raw: Any) -> float:
    if isinstance(raw, bool):
        raise TypeError
    if isinstance(raw, str) and not FLOAT_TEXT.fullmatch(raw):
        raise ValueError
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError
    return value


def to_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise TypeError
    if isinstance(raw, float):
        if not raw.is_integer():
            raise ValueError
        return int(raw)
    if not INT_TEXT.fullmatch(str(raw)):
        raise ValueError
    return int(str(raw).strip())


def to_tuple(raw: Any, item: Callable[[Any], Any]) -> tuple:
    parts = raw.split(",") if isinstance(raw, str) else list(raw)
    return tuple(item(p.strip() if isinstance(p, str) else p) for p in parts if str(p).strip() != "")


def sent_text(raw: Any) -> str:
    """A value as it was sent: text as typed ('1e7', not 1e+07), quoted unless a plain number."""
    if not isinstance(raw, str):
        return format_number(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else repr(raw)
    text = raw.strip()
    if len(text) > SHOWN_LENGTH:  # a 5,000-digit "number" is named, not echoed
        return repr(text[:SHOWN_LENGTH]) + f"… ({len(text):,} characters)"
    return text if INT_TEXT.fullmatch(text) or re.fullmatch(r"\d*\.\d+", text, re.ASCII) else repr(raw)
