"""How Impasto reads and writes values for people: yes/no words, numbers and durations.

One place, so that the settings, the options, the CLI and the pages read and write them alike.
Standard library only (the engine, the web and the CLI all import it).
"""

from __future__ import annotations

from typing import Any

YES = ("1", "true", "yes", "on")
NO = ("0", "false", "no", "off")


def parse_yes_no(raw: Any) -> bool:
    """True for 1/true/yes/on, False for 0/false/no/off or empty (an unticked box), any case;
    a bool as it is. Anything else raises ValueError (the caller names the field)."""
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in YES:
        return True
    if text in NO or text == "":
        return False
    raise ValueError(f"not a yes/no value: {raw!r}")


def format_number(x: float) -> str:
    """Whole numbers as written (2147483647, 40000000 given as an int), large or fractional floats
    compactly (1e+06, 0.01), small whole floats without '.0' (512)."""
    if isinstance(x, int) or (float(x).is_integer() and abs(x) < 1e6):
        return str(int(x))
    return f"{x:g}"


def clock(seconds: float | None) -> str:
    """'1:05' for 65 s, '1:01:05' past an hour, '–' when unknown."""
    if seconds is None:
        return "–"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def duration(seconds: float) -> str:
    """A rough time as people say it, for estimates: 'about 40 s', 'about 3 min', 'about 1 h 20 min'."""
    if seconds < 60:
        return f"about {max(5, round(seconds / 5) * 5)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min"
    return f"about {minutes // 60} h {minutes % 60:02d} min"
