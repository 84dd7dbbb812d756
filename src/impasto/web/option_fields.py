"""A form's option fields read into Options: the engine's ranges, then the web's own upper limits
on the size and on the total work (iterations over all scales, times round_evals)."""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from impasto.message import Field, Message, Number, Sent, Setting
from impasto.nst.errors import OptionError
from impasto.nst.options import Options, option_specs
from impasto.nst.presets import apply_preset
from impasto.nst.values import sent_text

# Form fields that are not engine options. style_name_2 is the page's pick for its second
# painting; the page's script sends it as a style_name and never posts it.
# variants, vary and variant_values ask for a group of jobs (src/impasto/web/variant_plan.py).
RESERVED_FIELDS = ("style_name", "style_name_2", "source_job", "preset", "variants", "vary", "variant_values")
MAX_REPORTED_ERRORS = 20  # a form of 1000 unknown fields gets the first few named, not a 1000-line answer


def option_values(form: MultiDict) -> dict[str, str]:
    """The option fields of a form; the last value wins (a hidden '0' before a checkbox)."""
    return {key: form.getlist(key)[-1] for key in form if key not in RESERVED_FIELDS}


def parse_options(values: dict[str, str], preset: str, maxima: dict[str, int], max_iterations: int,
                  errors: dict[str, str | Message]) -> Options | None:
    """The options of a form, or None with a message per bad field in ``errors``."""
    base = Options()
    if preset:
        try:
            base = apply_preset(base, preset)
        except OptionError as exc:
            errors["preset"] = exc.message
            return None
    for name, raw in values.items():  # one at a time, so that the form can flag every bad field
        if len(errors) >= MAX_REPORTED_ERRORS:
            break
        try:
            Options.from_mapping({name: raw}, base=base)
        except OptionError as exc:
            errors[exc.field] = _web_range(exc.field, raw, maxima) or exc.message
    if errors:
        return None
    options = Options.from_mapping(values, base=base)
    _check_web_limits(options, maxima, max_iterations, errors)
    return None if errors else options


def _web_range(name: str, raw: Any, maxima: dict[str, int]) -> Message | None:
    """The message for size and iterations, whose allowed range here is the web's, not the engine's:
    "size must be a whole number from 32 to 1024, got 5000" (text that is no number: got 'abc')."""
    maximum = maxima.get(name)
    if maximum is None:
        return None
    minimum = option_specs()[name][1].minimum
    return Message(Field(name), " must be a whole number from ", Number(minimum), " to ", Number(maximum),
                   Sent(sent_text(raw)))


def planned_iterations(options: Options) -> int:
    """L-BFGS iterations the engine will run in all (what its progress counts to): every scale gets
    its share of ``iterations``, at least one each; with round_evals, each counts that many."""
    return sum(options.scale_iterations()) * max(1, options.round_evals)


def _check_web_limits(options: Options, maxima: dict[str, int], max_iterations: int,
                      errors: dict[str, str | Message]) -> None:
    for name, maximum in maxima.items():
        if getattr(options, name) > maximum:
            errors[name] = _web_range(name, getattr(options, name), maxima)  # type: ignore[assignment]
    if errors:  # the plan depends on the size and the iterations: judge it once both are right
        return
    planned = planned_iterations(options)
    if planned <= max_iterations:
        return
    limit = Message(f"plans {planned} iterations in all; this server allows at most ", Number(max_iterations),
                    Setting("IMPASTO_MAX_ITERATIONS"))
    if options.round_evals:
        errors["round_evals"] = Message(Field("round_evals"), f" {options.round_evals} with {options.iterations} "
                                        "iterations ", limit)
    else:
        scales = len(options.scale_sizes())
        errors["iterations"] = Message(Field("iterations"), f" {options.iterations} over {scales} scales (at least "
                                       "one each) ", limit)

