"""What a submission's ``variants``, ``vary`` and ``variant_values`` fields ask for, read and checked.

One submission may ask for 2 to 6 variants of one picture, each a job of its own: by seed (seed,
seed+1, … from the seed sent, or from a random one), by preset, or by style weight (one value per
variant in ``variant_values``, or by default a ladder around the weight sent). A preset or
style-weight group shares one seed, so that only the varied setting tells its pictures apart.
The seed only draws a noise start: from the photo (the default start) every seed paints the same
picture, so there a group varies the style weight unless told otherwise, and refuses to vary the
seed. ``variants=1`` (or no such field) is one job, as before.
Standard library and the engine's option ranges only: src/impasto/web/variants.py stores the group.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, NoReturn

from werkzeug.datastructures import MultiDict

from impasto.message import Choice, Field, Message, Number, Sent
from impasto.nst.errors import OptionError
from impasto.nst.options import Options, option_specs
from impasto.nst.presets import PRESETS, preset_name
from impasto.nst.values import sent_text
from impasto.web.service_errors import InvalidSubmission

MAX_VARIANTS = 6  # each variant is a whole job: six already fill a small studio's queue
VARY_CHOICES = ("seed", "preset", "style_weight")
# The fields of a variant request; none of them is an engine option (option_fields.RESERVED_FIELDS).
VARIANT_FIELDS = ("variants", "vary", "variant_values")
SEED_MAX = option_specs()["seed"][1].maximum or 2**31 - 1
# A style-weight group's weights without variant_values: the weight sent (or its preset's) times these.
STYLE_WEIGHT_LADDER = (1.0, 2.0, 0.5, 4.0, 0.25, 8.0)


@dataclass(frozen=True)
class Plan:
    """A group of variants: what varies, and its value for each variant in order."""

    vary: str
    values: tuple[Any, ...]

    @property
    def count(self) -> int:
        return len(self.values)

    def form(self, form: MultiDict, index: int) -> MultiDict:
        """The submission of variant ``index``: the form sent, with the varied field set (for a
        preset or a style weight, the shared seed too: see ``read_plan``)."""
        variant = MultiDict([(key, value) for key, value in form.items(multi=True) if key not in VARIANT_FIELDS])
        variant.setlist(self.vary, [str(self.values[index])])
        return variant

    def caption(self, index: int) -> str:
        """What tells variant ``index`` apart, as the contact sheet writes it: "seed 42"."""
        return f"{self.vary.replace('_', ' ')} {self.values[index]}"


def read_plan(form: MultiDict) -> tuple[Plan | None, MultiDict]:
    """The variants asked for (None: one job) and the form with the shared seed set for a preset or
    style-weight group; InvalidSubmission naming the field, the limit and the value sent."""
    count = _count(form.get("variants"))
    noise = _starts_from_noise(form)
    vary = (form.get("vary") or ("seed" if noise else "style_weight")).strip()
    if vary not in VARY_CHOICES:
        _refuse("vary", Message(Field("vary"), f" must be one of {', '.join(VARY_CHOICES)}", Sent(repr(vary[:40]))))
    raw_values = [value.strip() for value in (form.get("variant_values") or "").split(",") if value.strip()]
    if not raw_values and count is None:
        return None, form
    if raw_values:
        count = _count_of_values(raw_values, count)
    elif vary == "preset":
        _refuse("variant_values", Message(Field("variant_values"), ": list one preset per variant, separated by "
                                          "commas, to vary the ", Field(vary)))
    if count is None or count == 1:
        return None, form
    if vary == "seed" and not noise:
        _refuse("vary", Message(Field("vary"), ": the seed only draws a noise start, so from the photo every seed "
                                "paints the same picture; vary the style weight or the preset, or start from ",
                                Choice("init", "noise")))
    if vary != "seed":
        form = form.copy()
        form.setlist("seed", [form.get("seed") or str(secrets.randbelow(SEED_MAX + 1))])
    if raw_values:
        values = [_value(vary, raw, n) for n, raw in enumerate(raw_values, 1)]
    else:
        values = _seeds(form, count) if vary == "seed" else _style_weights(form, count)
    return Plan(vary, tuple(values)), form


def _starts_from_noise(form: MultiDict) -> bool:
    """Whether the submission starts from noise: its ``init``, else its preset's (a bad value is the
    submission's own check's to name: here it counts as no noise)."""
    try:
        return Options.from_mapping({key: form.get(key) for key in ("preset", "init") if form.get(key)}).init == "noise"
    except OptionError:
        return False


def _style_weights(form: MultiDict, count: int) -> list[float]:
    """STYLE_WEIGHT_LADDER times the style weight sent (or its preset's), kept in the option's range."""
    try:
        base = Options.from_mapping({key: form.get(key) for key in ("preset", "style_weight") if form.get(key)})
    except OptionError as exc:
        _refuse("style_weight", exc.message)
    low, high = option_specs()["style_weight"][1].minimum or 0.0, option_specs()["style_weight"][1].maximum
    weights = [min(max(base.style_weight * factor, low), high or float("inf")) for factor in STYLE_WEIGHT_LADDER]
    return [float(f"{weight:.4g}") for weight in weights[:count]]


def _count(raw: str | None) -> int | None:
    """``variants``: 1 (off) to MAX_VARIANTS; None when not sent."""
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_VARIANTS:
        _refuse("variants", Message(Field("variants"), " must be a whole number from ", Number(1), " to ",
                                    Number(MAX_VARIANTS), " (1: one picture)", Sent(sent_text(text))))
    return int(text)


def _count_of_values(values: list[str], count: int | None) -> int:
    """How many variants a ``variant_values`` list makes: 2 to MAX_VARIANTS, as many as ``variants`` says."""
    if not 2 <= len(values) <= MAX_VARIANTS:
        _refuse("variant_values", Message(Field("variant_values"), " must list from ", Number(2), " to ",
                                          Number(MAX_VARIANTS), " values", Sent(f"{len(values)} values")))
    if count is not None and count != len(values):
        _refuse("variant_values", Message(Field("variant_values"), f" lists {len(values)} values for ",
                                          Field("variants"), " ", Number(count), "; give one value per variant"))
    return len(values)


def _seeds(form: MultiDict, count: int) -> list[int]:
    """seed, seed+1, …: from the seed sent (checked as the option is), else from a random one."""
    raw = (form.get("seed") or "").strip()
    base = _value("seed", raw, None) if raw else secrets.randbelow(SEED_MAX + 1)
    return [(base + n) % (SEED_MAX + 1) for n in range(count)]


def _value(vary: str, raw: str, ordinal: int | None) -> Any:
    """One varied value, checked as the option itself is; a refusal names ``variant_values`` (or
    ``seed`` for the base seed) and the value."""
    field = "variant_values" if ordinal else vary
    if vary == "preset":
        try:
            return preset_name(raw)
        except OptionError:
            _refuse(field, Message(Field(field), f" {ordinal}: unknown preset", Sent(repr(raw[:40])),
                                   f"; choose from {', '.join(PRESETS)}"))
    try:
        return getattr(Options.from_mapping({vary: raw}), vary)
    except OptionError as exc:
        label = Message(Field(field), f" {ordinal}: ") if ordinal else Message()
        _refuse(field, label + exc.message)


def _refuse(field: str, message: Message) -> NoReturn:
    raise InvalidSubmission({field: message})
