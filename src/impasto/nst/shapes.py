"""What image shapes the network can take: the one check shared by the engine, the CLI and the web.

Every picture the network sees (the photo at each coarse-to-fine scale, each painting at the size
the style scale and style fit give it) must keep at least ``min_side`` pixels on each side, or the
poolings before the deepest layer used leave nothing. ``check_shapes`` works on shapes alone (pure
Python, no TensorFlow), so the web refuses an impossible job before storing anything, with the same
words the engine would use, and says what would work instead.
"""

from __future__ import annotations

import math
from typing import Sequence

from impasto.message import Field, Message, Number
from impasto.nst.errors import OptionError
from impasto.nst.images import scaled_shape
from impasto.nst.options import Options, option_specs
from impasto.nst.vgg import min_side
from impasto.text import format_number as _fmt

Shape = tuple[int, int]  # (height, width)

_SIZE_SPEC = option_specs()["size"][1]
_SCALE_SPEC = option_specs()["style_scale"][1]
SCALE_STEP = 0.1  # suggested style scales are multiples of this


def style_size(options: Options, longest: int) -> int:
    """Longest side of the style image at a scale whose result has longest side ``longest``."""
    return max(16, round(longest * options.style_scale))


def style_shape(style_hw: Shape, options: Options, longest: int, content_hw: Shape | None = None) -> Shape:
    """(height, width) of a style image for a scale of longest side ``longest``.

    style_fit 'content' stretches it to the photo's shape (times the style scale), as the article.
    """
    if options.style_fit == "content" and content_hw is not None:
        return (max(1, round(content_hw[0] * options.style_scale)), max(1, round(content_hw[1] * options.style_scale)))
    return scaled_shape(*style_hw, style_size(options, longest))


def check_shapes(options: Options, content_hw: Shape, style_hws: Sequence[Shape], *,
                 max_size: int | None = None) -> None:
    """Raise OptionError if the network cannot take the photo or a painting at some scale.

    ``content_hw`` and ``style_hws`` are the (height, width) of the images as the engine gets them.
    ``max_size`` is the largest size the caller allows (the web's limit; default the option's).
    The error names the field to change (size, style_scale) with a value that would work, or the
    image itself (content, style) when no allowed size or style scale can help.
    """
    need = min_side(options.deepest_layer)
    top = int(max_size or _SIZE_SPEC.maximum or options.size)
    content = _content_problem(options, content_hw, need)
    if content is not None:
        raise _content_error(options, content_hw, content, need, top)
    for index, style_hw in enumerate(style_hws):
        style = _style_problem(options, content_hw, style_hw, need)
        if style is not None:
            label = "the painting" if len(style_hws) == 1 else f"painting {index + 1}"
            raise _style_error(options, content_hw, style_hw, style, need, top, label)


def _content_problem(options: Options, content_hw: Shape, need: int) -> tuple[int, Shape] | None:
    """The first scale (its longest side, the photo's shape there) that is too small, or None."""
    for longest in options.scale_sizes():
        hw = scaled_shape(*content_hw, longest)
        if min(hw) < need:
            return longest, hw
    return None


def _style_problem(options: Options, content_hw: Shape, style_hw: Shape, need: int) -> tuple[int, Shape] | None:
    for longest in options.scale_sizes():
        hw = style_shape(style_hw, options, longest, scaled_shape(*content_hw, longest))
        if min(hw) < need:
            return longest, hw
    return None


def _content_error(options: Options, content_hw: Shape, problem: tuple[int, Shape], need: int,
                   top: int) -> OptionError:
    longest, (height, width) = problem
    at = (f"at {longest} px" if longest == options.size else f"at the {longest} px scale of size {options.size}")
    shown = f"the photo ({content_hw[1]}×{content_hw[0]} px) becomes {width}×{height} px"
    rule = f"the network needs at least {need} px on each side"
    for size in range(options.size + 1, top + 1):
        if _content_problem(options.replace(size=size), content_hw, need) is None:
            return OptionError("size", Message(Field("size"), f" {options.size}: {at} {shown}; {rule}: choose a "
                                                              "size of at least ", Number(size)))
    return OptionError("content", Message(Field("content"), f": the photo is {content_hw[1]}×{content_hw[0]} px, "
                                          f"too long and narrow: {at} it becomes {width}×{height} px and even at "
                                          "the largest size allowed here (", Number(top), f" px) one side stays "
                                          f"under {need} px ({rule}); crop it to a less extreme shape"))


def _style_error(options: Options, content_hw: Shape, style_hw: Shape, problem: tuple[int, Shape], need: int,
                 top: int, label: str) -> OptionError:
    longest, (height, width) = problem
    shown = (f"at {longest} px and style scale {_fmt(options.style_scale)}, {label} "
             f"({style_hw[1]}×{style_hw[0]} px) becomes {width}×{height} px")
    rule = f"the network needs at least {need} px on each side"
    for scale in _scales_above(options.style_scale):
        if _style_problem(options.replace(style_scale=scale), content_hw, style_hw, need) is None:
            return OptionError("style_scale", Message(Field("style_scale"), f" {_fmt(options.style_scale)}: {shown}; "
                                                      f"{rule}: choose a style scale of at least {_fmt(scale)} "
                                                      "(or a larger size)"))
    largest = options.replace(size=top, style_scale=_SCALE_SPEC.maximum or options.style_scale)
    if _style_problem(largest, content_hw, style_hw, need) is None:
        return OptionError("size", Message(Field("size"), f" {options.size}: {shown}; {rule}: choose a larger "
                                                          "size and style scale"))
    return OptionError("style", Message(Field("style"), f": {label} is {style_hw[1]}×{style_hw[0]} px, too long "
                                        f"and narrow: {shown}, and no size up to ", Number(top), " px with any style "
                                        f"scale helps ({rule}); crop it to a less extreme shape"))


def _scales_above(current: float) -> list[float]:
    """Style scales on the SCALE_STEP grid above ``current``, up to the option's maximum."""
    top = _SCALE_SPEC.maximum or current
    first = math.floor(current / SCALE_STEP + 1e-9) + 1
    return [round(n * SCALE_STEP, 1) for n in range(first, math.floor(top / SCALE_STEP + 1e-9) + 1)]
