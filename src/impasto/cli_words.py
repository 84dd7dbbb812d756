"""The command line's words for a message's facts: options by their flags (--content-weight),
option values as they are typed (--init image). The sentence itself is the engine's
(src/impasto/message.py); only how its facts are named changes."""

from __future__ import annotations

from impasto.message import Choice, Field, Message, Words, render

POSITIONAL = ("content", "style")  # named without dashes: they are arguments, not flags


def flag(name: str) -> str:
    """'--content-weight' for content_weight; positional arguments as they are."""
    return name if name in POSITIONAL else "--" + name.replace("_", "-")


class CliWords(Words):
    def field(self, fact: Field) -> str:
        named = flag(fact.name)
        return named if fact.ordinal is None else f"{named} {fact.ordinal}"

    def choice(self, fact: Choice) -> str:
        return f"{flag(fact.field)} {fact.value}"


CLI = CliWords()


def cli_message(message: str | Message) -> str:
    """``message`` as the command line says it."""
    return render(message, CLI)
