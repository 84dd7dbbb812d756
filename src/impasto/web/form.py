"""What the studio form shows: one control per option, built from the engine's option specs.

Defaults, labels, help texts and ranges come from impasto.nst.options; the web's upper limits (size,
iterations) from the settings. To add a control, add the option's name to FORM_FIELDS (and, for a
new kind of control, a branch in ``_control``); the template renders whatever is listed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from impasto.nst.options import Options, option_specs
from impasto.nst.presets import PRESET_ALIASES, PRESET_DESCRIPTIONS, PRESETS, apply_preset
from impasto.web.labels import field_label
from impasto.web.submission import Limits

# Controls in page order, grouped into the form's sections.
FORM_FIELDS: dict[str, tuple[str, ...]] = {
    "Balance": ("content_weight", "style_weight", "tv_weight"),
    "Picture": ("size", "iterations", "style_scale", "stroke_flow"),
    "More": ("preserve_colors", "match_palette", "init", "start_palette", "seed"),
    "For a clip": ("frame_iterations", "temporal_weight"),  # used only when the content is a clip
}
CLIP_SECTION = "For a clip"  # the page shows it only while the content is a clip

# How far a logarithmic slider reaches either side of the option's default, in decades.
LOG_DECADES = 4
SIZE_STEP = 32
INIT_LABELS = {"content": "the photo", "noise": "random noise", "image": "an image of my own"}
PRESET_LABELS = {"article": "original article"}
# Help texts that say more plainly on the page what the option's own help says for the CLI and API.
PAGE_HELP = {
    "iterations": "How long it paints: more iterations give a more finished picture and take longer. "
                  "They are shared by the rough first passes and the full-size one.",
    "tv_weight": "Higher gives smoother pictures with less fine noise.",
    "frame_iterations": "Iterations for each frame of a clip after the first, which starts from the frame "
                        "before: fewer than the first frame's are enough.",
    "temporal_weight": "How closely each frame of a clip follows the one before, where the motion is clear: "
                       "higher flickers less; 0 paints every frame on its own.",
    "stroke_flow": "How much the brush strokes in skies and still water follow the photo's lines (the horizon, "
                   "roofs, river banks): higher gives long sweeping strokes, 0 round dabs.",
    "start_palette": "How far the photo is put into the painting's colours before painting begins: 1 starts "
                     "in the painting's palette, so the strokes come sooner; 0 starts from the photo as it is.",
    "seed": "Only matters when starting from random noise. Empty picks one; the finished page shows it, "
            "so you can paint the same picture again.",
}


@dataclass(frozen=True)
class Control:
    name: str
    kind: str  # log, range, checkbox, choice, number
    label: str
    help: str
    value: Any
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    slider_min: float | None = None  # log sliders move the exponent within these
    slider_max: float | None = None
    choices: tuple[tuple[str, str], ...] = ()
    whole: bool = False  # whole numbers only (the browser's check says so, as the server does)
    plain_label: str = ""  # how messages name it (src/impasto/web/labels.py), in the browser as on the server


def form_sections(values: Mapping[str, Any], limits: Limits) -> list[tuple[str, list[Control]]]:
    """The form's sections with each control's current value (defaults, a job's, or what was typed)."""
    specs = option_specs()
    return [(title, [_control(name, specs[name], values.get(name, specs[name][0]), limits) for name in names])
            for title, names in FORM_FIELDS.items()]


def _control(name: str, default_spec: tuple[Any, Any], value: Any, limits: Limits) -> Control:
    default, spec = default_spec
    common = {"name": name, "label": spec.label, "help": PAGE_HELP.get(name, spec.help), "value": value,
              "whole": isinstance(default, int) or name == "seed", "plain_label": field_label(name)}
    if spec.log_scale:
        centre = math.floor(math.log10(default)) if default else 0
        top = min(centre + LOG_DECADES, math.log10(spec.maximum)) if spec.maximum else centre + LOG_DECADES
        return Control(kind="log", minimum=spec.minimum, maximum=spec.maximum, step=None,
                       slider_min=centre - LOG_DECADES, slider_max=top, **common)
    if isinstance(default, bool):
        return Control(kind="checkbox", **common)
    if spec.choices:
        choices = tuple((c, INIT_LABELS.get(c, c)) for c in spec.choices)
        return Control(kind="choice", choices=choices, **common)
    if name == "seed":
        return Control(kind="number", minimum=spec.minimum, maximum=spec.maximum, step=1, **common)
    # A clip's later frames are held to the same per-frame limit as the iterations (checked for clips).
    maximum = {**limits.maxima, "frame_iterations": limits.max_iterations}.get(name, spec.maximum)
    step = {"size": SIZE_STEP, "iterations": 1, "frame_iterations": 1}.get(name, 0.1)
    minimum = spec.minimum
    maximum = min(maximum, spec.maximum)
    if isinstance(value, (int, float)):
        common["value"] = min(max(value, minimum), maximum)  # a default above a lowered limit
    return Control(kind="range", minimum=minimum, maximum=maximum, step=step, **common)


def preset_table() -> list[dict[str, Any]]:
    """Each preset with its description and the values it gives every form control (for the buttons)."""
    names = [name for fields in FORM_FIELDS.values() for name in fields]
    table = []
    for preset in PRESETS:
        options = apply_preset(Options(), preset).to_dict()
        table.append({"name": preset, "label": PRESET_LABELS.get(preset, preset.replace("-", " ")),
                      "description": PRESET_DESCRIPTIONS.get(preset, ""),
                      "values": {name: options[name] for name in names}})
    return table


def hidden_extras(options: Mapping[str, Any], preset: str | None) -> dict[str, str]:
    """Options of a job that no control shows and that differ from its preset: hidden fields, so
    that "again with the same settings" reproduces the job exactly (API jobs may set any option)."""
    shown = {name for fields in FORM_FIELDS.values() for name in fields} | {"style_blend"}  # the blend slider's
    preset = PRESET_ALIASES.get(preset or "", preset)  # a job from before the rename says 'seed'
    base = apply_preset(Options(), preset).to_dict() if preset in PRESETS else Options().to_dict()
    extras = {}
    for name, value in options.items():
        if name in shown or name not in base or base[name] == value:
            continue
        extras[name] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return extras
