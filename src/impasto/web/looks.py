"""Looks to share: a studio's settings as a small JSON file, checked like any submission's options.

A look is ``{"impasto_look": 1, "preset": "strong-style" or null, "options": {"style_weight": 1000,
...}}``: the preset and the options set on top of it, never pictures, paintings or their blend (a
look goes with any photo and painting). ``check_look`` reads one (from ``POST /api/looks/validate``,
or the ``look`` field of a submission) with the same checks and the same messages as a submission's
option fields: the engine's ranges, then this server's limits; every bad field named (400).
``with_look`` lays a submission's own fields over its look's.
"""

from __future__ import annotations

import json
from typing import Any

from werkzeug.datastructures import MultiDict

from impasto.message import Field, Message
from impasto.web.option_fields import parse_options
from impasto.web.service_errors import InvalidSubmission
from impasto.web.submission import Limits

VERSION = 1
KEYS = ("impasto_look", "preset", "options")
NOT_A_LOOK_OPTION = ("style_blend",)  # belongs to the paintings, which a look leaves out
MAX_LOOK_BYTES = 64 * 1024  # a look is a few hundred bytes; the form's text fields allow 500 kB
EXAMPLE = '{"impasto_look": 1, "preset": "strong-style", "options": {"size": 512}}'


def read_look(text: str, field: str = "look") -> Any:
    """A look's JSON text as data; InvalidSubmission naming ``field`` when it is not JSON."""
    if len(text.encode("utf-8", "replace")) > MAX_LOOK_BYTES:
        raise InvalidSubmission({field: Message(Field(field), f": a look is at most {MAX_LOOK_BYTES // 1024} kB "
                                                "of JSON")}, status=413)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidSubmission({field: Message(Field(field), f": not JSON ({exc.msg} at character {exc.pos}); a "
                                                f"look reads like {EXAMPLE}")}) from None


def check_look(look: Any, limits: Limits) -> dict[str, Any]:
    """``look`` checked as a submission's options would be; the look as the studio writes it (each
    option as the engine reads it). InvalidSubmission names every bad field."""
    if not isinstance(look, dict):
        raise InvalidSubmission({"look": Message(Field("look"), f": a look is a JSON object, like {EXAMPLE}")})
    errors: dict[str, str | Message] = {}
    for key in look:
        if key not in KEYS:
            errors[str(key)[:40]] = Message(Field(str(key)[:40]), ": not part of a look (it holds impasto_look, "
                                            "preset and options)")
    if look.get("impasto_look") != VERSION:
        errors["impasto_look"] = Message(Field("impasto_look"), f" must be {VERSION} (this studio's looks), got "
                                         f"{json.dumps(look.get('impasto_look'))[:40]}")
    preset, options = look.get("preset") or "", look.get("options") or {}
    if not isinstance(preset, str):
        errors["preset"] = Message(Field("preset"), ": a preset's name (text) or null")
    if not isinstance(options, dict):
        errors["options"] = Message(Field("options"), ": an object of option names and values")
    if errors:
        raise InvalidSubmission(errors)
    values = {str(name): _as_text(value) for name, value in options.items() if value is not None}
    for name in NOT_A_LOOK_OPTION:
        if name in values:
            errors[name] = Message(Field(name), ": a look holds no paintings, so no blend; set it with the paintings")
    parsed = None if errors else parse_options(values, preset, limits.maxima, limits.max_iterations, errors)
    if parsed is None:
        raise InvalidSubmission(errors)
    read = parsed.to_dict()
    return {"impasto_look": VERSION, "preset": preset or None, "options": {name: read[name] for name in values}}


def with_look(form: MultiDict, limits: Limits) -> MultiDict:
    """A submission's fields with its ``look`` (JSON text) under them: the look's preset and options,
    then every field the submission sets itself, which win. Without a look, the form as it is."""
    if "look" not in form:
        return form
    look = check_look(read_look(form.get("look") or ""), limits)
    merged = MultiDict([(name, _as_text(value)) for name, value in look["options"].items()])
    if look["preset"]:
        merged["preset"] = look["preset"]
    for name in form:
        if name != "look":
            merged.setlist(name, form.getlist(name))
    return merged


def _as_text(value: Any) -> str:
    """An option's JSON value as a form would send it: true/false as 1/0, a list as a comma list."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return ",".join(_as_text(item) for item in value)
    return str(value)
