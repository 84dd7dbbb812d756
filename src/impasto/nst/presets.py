"""The named presets: partial overrides of the options' defaults, with a sentence each for the
page and the CLI. ``article`` is the design article's method exactly."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from impasto.nst.errors import OptionError

Settings = TypeVar("Settings")  # an Options (this module sits below options.py, which applies presets)

# Named presets: partial overrides of the defaults. "article" is the design article exactly.
PRESETS: dict[str, dict[str, Any]] = {
    "balanced": {},
    "strong-style": {"style_weight": 1000.0, "content_weight": 2.5, "style_scale": 2.0},
    "keep-detail": {"content_weight": 20.0, "tv_weight": 0.01, "style_scale": 0.75,
                    "content_layers": ("block3_conv2",)},
    "article": {
        "content_weight": 0.05, "style_weight": 4.0, "tv_weight": 1.0,
        "content_layers": ("block2_conv2",),
        "style_layers": ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"),
        "normalization": "blog", "tv_exponent": 1.25, "init": "noise",
        "style_loss": "gram", "style_layer_weights": (),
        "iterations": 10, "round_evals": 20, "scales": 1, "pixel_bounds": False, "precision": "float32",
        "style_fit": "content", "style_scale": 1.0, "flat_smoothing": 0.0, "stroke_flow": 0.0, "shadow_content": 0.0,
        "start_palette": 0.0,
        "final_fine_texture": 1.0,
    },
}

PRESET_DESCRIPTIONS: dict[str, str] = {
    "balanced": "The default: the painting's broad strokes and palette, the photo's shapes (kept in the "
                "shadows too), skies and still water painted in long strokes that follow the photo's lines.",
    "strong-style": "Ten times the style weight, half the content weight, the painting at twice the "
                    "result's size: the painting's big strokes take over, the photo's outlines remain.",
    "keep-detail": "Content from a shallower layer at four times the weight, the painting smaller (finer "
                   "strokes) and less smoothing: the photo's fine detail stays under the painting's texture.",
    "article": "The design article's method exactly (blog normalisation, noise start, 10×20 L-BFGS), "
            "for comparison.",
}


# Older names still accepted everywhere (CLI, API, form): "seed" read like the random seed.
PRESET_ALIASES: dict[str, str] = {"seed": "article"}


def preset_name(name: str) -> str:
    """A preset's own name ('seed' -> 'article'); OptionError naming the choices for an unknown one."""
    canonical = PRESET_ALIASES.get(name, name)
    if canonical not in PRESETS:
        raise OptionError("preset", f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return canonical


def apply_preset(options: Settings, name: str) -> Settings:
    return dataclasses.replace(options, **PRESETS[preset_name(name)])
