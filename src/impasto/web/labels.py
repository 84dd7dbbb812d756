"""What the page calls things: one mapping from field names to the words a person reads.

The server's messages name fields as the API does ("content_weight must be a number from 0 to
1e+06, got 'abc'"), which suits API clients. The page shows the same messages with the field
names, option values and limits said in plain words ("Content weight must be a number from 0 to
1,000,000; you entered 'abc'"). Only the wording changes here: what is checked, and the message
itself, stay in src/impasto/web/submission.py and src/impasto/nst/options.py.
"""

from __future__ import annotations

import re
from typing import Mapping

from impasto.nst.options import option_specs

# Fields that are not engine options, and options whose page label differs from their Spec label.
PAGE_LABELS: dict[str, str] = {
    "content": "Photo",
    "style": "Painting",
    "style_name": "Painting",
    "init_image": "Start image",
    "source_job": "Earlier job",
    "preset": "Preset",
    "size": "Size",
    "tv_weight": "Smoothness",
    "content_weight": "Content weight",
    "style_weight": "Style weight",
    "style_blend": "Blend",
    "round_evals": "Evaluations per round",
    "form": "",
}

# Option values and settings that mean nothing to a person reading the page.
PLAIN_PHRASES: dict[str, str] = {
    "init=image": "start from: an image of my own",
    "init=content": "start from: the photo",
    "init=noise": "start from: random noise",
    "init is 'image'": "start from: an image of my own",
    " (IMPASTO_MAX_ITERATIONS)": "",
    " (IMPASTO_MAX_SIZE)": "",
    " (IMPASTO_MAX_CLIP_FRAMES)": "",
    " (IMPASTO_MAX_CLIP_SECONDS)": "",
    " (IMPASTO_MAX_CLIP_SIDE)": "",
}


def field_label(name: str) -> str:
    """The page's name for a form field or option ("Content weight"), or the name itself."""
    if name in PAGE_LABELS:
        return PAGE_LABELS[name]
    specs = option_specs()
    return specs[name][1].label if name in specs else name.replace("_", " ").capitalize()


def _labels_longest_first() -> list[tuple[str, str]]:
    names = set(option_specs()) | set(PAGE_LABELS)
    return sorted(((n, field_label(n)) for n in names if field_label(n)), key=lambda p: -len(p[0]))


def _big_number(match: re.Match[str]) -> str:
    value = float(match.group(0))
    return f"{value:,.0f}" if value.is_integer() else match.group(0)


def plain_message(message: str) -> str:
    """``message`` with field names, option values and e-notation said as the page says them."""
    text = message
    for phrase, plain in PLAIN_PHRASES.items():
        text = text.replace(phrase, plain)
    for name, label in _labels_longest_first():
        if "_" in name or text.startswith(name):  # plain words ("size") only where they name the field
            text = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", label, text)
    text = re.sub(r"\d+(?:\.\d+)?e\+\d+", _big_number, text)
    text = re.sub(r", got ", "; you entered ", text)
    return text[:1].upper() + text[1:]


def plain_errors(errors: Mapping[str, str]) -> dict[str, str]:
    """Each field's message in the page's words (the keys stay field names: they place the message)."""
    return {name: plain_message(message) for name, message in errors.items()}
