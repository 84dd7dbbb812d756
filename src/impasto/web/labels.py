"""What the page calls things: the page's words for the facts of a message.

The API names fields as the API does ("content_weight must be a number from 0 to 1e+06, got 'abc'"),
which suits API clients. The page says the same message's facts in plain words ("Content weight must
be a number from 0 to 1,000,000; you entered 'abc'"): labels for fields, option values as the form
says them, big limits with thousands separators, no server setting names. Only the words change here;
what is checked, and the sentence, stay where the message is made (src/impasto/message.py).
"""

from __future__ import annotations

from typing import Mapping

from impasto.message import Choice, Field, Message, Number, Sent, Setting, Words, render
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
    "variants": "Variants",
    "vary": "Vary",
    "variant_values": "Variant values",
    "form": "",
}

# Option values as the page's controls name them.
PLAIN_CHOICES: dict[tuple[str, str], str] = {
    ("init", "image"): "start from: an image of my own",
    ("init", "content"): "start from: the photo",
    ("init", "noise"): "start from: random noise",
}


def field_label(name: str) -> str:
    """The page's name for a form field or option ("Content weight"), or the name itself."""
    if name in PAGE_LABELS:
        return PAGE_LABELS[name]
    specs = option_specs()
    return specs[name][1].label if name in specs else name.replace("_", " ").capitalize()


class PageWords(Words):
    """The page's words for a message's facts."""

    def field(self, fact: Field) -> str:
        label = field_label(fact.name)
        return label if fact.ordinal is None else f"{label} {fact.ordinal}"

    def number(self, fact: Number) -> str:
        big = float(fact.value).is_integer() and abs(fact.value) >= 1e6  # the API's 1e+06
        return f"{fact.value:,.0f}" if big else super().number(fact)

    def sent(self, fact: Sent) -> str:
        return f"; you entered {fact.shown}"

    def setting(self, fact: Setting) -> str:
        return ""  # the person at the page cannot change the server's settings

    def choice(self, fact: Choice) -> str:
        return PLAIN_CHOICES.get((fact.field, fact.value), f"{field_label(fact.field).lower()}: {fact.value}")

    def finish(self, text: str) -> str:
        return text[:1].upper() + text[1:]


PAGE = PageWords()


def plain_message(message: str | Message) -> str:
    """``message`` in the page's words."""
    return render(message, PAGE)


def plain_errors(errors: Mapping[str, str | Message]) -> dict[str, str]:
    """Each field's message in the page's words (the keys stay field names: they place the message)."""
    return {name: plain_message(message) for name, message in errors.items()}
