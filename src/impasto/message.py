"""Messages that keep their facts, so that each audience words them its own way.

A refusal is built from plain text and facts: the field at fault, a limit, the value as it was sent,
the server setting behind a limit, an option's value. The API says them as the API names them
("content_weight must be a number from 0 to 1e+06, got 'abc'"); the page (src/impasto/web/labels.py)
and the command line (src/impasto/cli_words.py) say the same facts in their own words ("Content
weight …; you entered 'abc'", "--content-weight …"). Nobody reads a sentence back to find them.
Standard library only: the engine, the web and the CLI all import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from impasto.text import format_number


@dataclass(frozen=True)
class Field:
    """An input by its API name; ``ordinal`` tells apart several of a kind ("style 2")."""

    name: str
    ordinal: int | None = None


@dataclass(frozen=True)
class Number:
    """A limit or a count the reader did not type."""

    value: float


@dataclass(frozen=True)
class Sent:
    """The value as the client sent it, already shown as text ('abc', 5000, '1e7')."""

    shown: str


@dataclass(frozen=True)
class Setting:
    """The server setting that sets the limit just named (IMPASTO_MAX_SIZE)."""

    env: str


@dataclass(frozen=True)
class Choice:
    """One value of a choice option (init=image)."""

    field: str
    value: str


Fact = Union[Field, Number, Sent, Setting, Choice]
Part = Union[str, Fact, "Message"]


class Words:
    """How one audience says each kind of fact. These are the API's words; subclasses change some."""

    def field(self, fact: Field) -> str:
        return fact.name if fact.ordinal is None else f"{fact.name} {fact.ordinal}"

    def number(self, fact: Number) -> str:
        return format_number(fact.value)

    def sent(self, fact: Sent) -> str:
        return f", got {fact.shown}"

    def setting(self, fact: Setting) -> str:
        return f" ({fact.env})"

    def choice(self, fact: Choice) -> str:
        return f"{fact.field}={fact.value}"

    def finish(self, text: str) -> str:
        """The whole sentence, once said (e.g. capitalised)."""
        return text

    def say(self, part: Part) -> str:
        if isinstance(part, str):
            return part
        if isinstance(part, Message):
            return part.words(self)
        speakers = {Field: self.field, Number: self.number, Sent: self.sent, Setting: self.setting,
                    Choice: self.choice}
        return speakers[type(part)](part)  # type: ignore[operator]


API = Words()


class Message:
    """A sentence of text and facts, said in the API's words by ``str()``."""

    def __init__(self, *parts: Part) -> None:
        self.parts = parts

    def words(self, words: Words) -> str:
        """The parts said in ``words``, without the audience's finish (for a message inside another)."""
        return "".join(words.say(part) for part in self.parts)

    def render(self, words: Words = API) -> str:
        return words.finish(self.words(words))

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"Message({str(self)!r})"

    def __add__(self, other: Part) -> Message:
        return Message(*self.parts, other)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and self.parts == other.parts

    def __hash__(self) -> int:
        return hash(self.parts)


def render(message: str | Message, words: Words = API) -> str:
    """A message (or plain text, which every audience says alike) in ``words``."""
    return message.render(words) if isinstance(message, Message) else words.finish(message)
