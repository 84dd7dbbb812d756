"""Style-transfer options: the one place that defines every knob, its default and its limits.

The CLI, the web form and the JSON API all read these definitions, so a default or a range is
changed here and nowhere else. This module imports no TensorFlow (the web layer uses it).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from impasto.message import Field, Message, Number, Sent
from impasto.nst.errors import OptionError
from impasto.nst.presets import apply_preset
from impasto.nst.values import sent_text, to_float, to_int, to_tuple
from impasto.text import format_number, parse_yes_no

# VGG16 convolution layers in network order; the engine truncates the net at the deepest one used.
VGG_LAYERS: tuple[str, ...] = (
    "block1_conv1", "block1_conv2",
    "block2_conv1", "block2_conv2",
    "block3_conv1", "block3_conv2", "block3_conv3",
    "block4_conv1", "block4_conv2", "block4_conv3",
    "block5_conv1", "block5_conv2", "block5_conv3",
)

INIT_CHOICES = ("content", "noise", "image")
NORMALIZATION_CHOICES = ("gatys", "blog")
STYLE_LOSS_CHOICES = ("gram", "wasserstein")
PRECISION_CHOICES = ("auto", "float32", "bfloat16", "float16")
NEW_GROUND_CHOICES = ("paint", "photo")
MAX_STYLES = 4
DEFAULT_STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1")
# The default layers' own weights: the deeper ones count more, for broader strokes and a truer palette
# (measured at 512 px: docs/benchmark.md, "Broad strokes"). Other layer choices weigh 1 each.
DEPTH_WEIGHTS = (1.0, 1.0, 2.0, 3.0)


@dataclass(frozen=True)
class Spec:
    """What the UI and validators need to know about one option."""

    label: str
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    log_scale: bool = False  # the page shows a logarithmic slider for these


def _opt(default: Any, spec: Spec) -> Any:
    return field(default=default, metadata={"spec": spec})


@dataclass(frozen=True)
class Options:
    """Every knob of one style transfer. Build with ``Options.from_mapping`` to validate input."""

    content_weight: float = _opt(5.0, Spec(
        "Content weight α", "How strongly the result keeps the photo's shapes.", 0.0, 1e6, log_scale=True))
    style_weight: float = _opt(100.0, Spec(
        "Style weight β", "How strongly the result takes the painting's texture.", 0.0, 1e6, log_scale=True))
    tv_weight: float = _opt(0.15, Spec(
        "Smoothness (TV weight)", "Total-variation weight: higher gives smoother, less noisy results.",
        0.0, 1e6, log_scale=True))
    flat_smoothing: float = _opt(60.0, Spec(
        "Calm flat areas", "Extra smoothing where the photo is flat (sky, still water): the TV weight there is "
        "multiplied by 1 + this, at edges it stays as set. Higher: long calm strokes instead of ripples in "
        "skies; 0: the same smoothing everywhere.", 0.0, 1e3))
    stroke_flow: float = _opt(0.72, Spec(
        "Strokes follow the photo", "Share of the flat areas' extra smoothing that acts only along the photo's "
        "large-scale structure (the horizon, roof lines, river banks) instead of in every direction: the "
        "painting's texture is drawn out into long strokes that follow the photo. 0: round dabs; 1: the "
        "longest strokes and the busiest skies.", 0.0, 1.0))
    shadow_content: float = _opt(3.0, Spec(
        "Keep the shadows", "How much more the photo's dark areas count in the content term than its bright "
        "ones: up to 1 + this at black, scaled so the term as a whole weighs the same. Higher keeps shapes "
        "in the shadows (trees, reflections) from sinking into the painting's dark colours; 0: every area alike.",
        0.0, 20.0))
    iterations: int = _opt(50, Spec(
        "Iterations", "L-BFGS iterations in all (shared by the coarse-to-fine scales). "
        "With round_evals > 0, the number of L-BFGS rounds instead.", 1, 5000))
    size: int = _opt(512, Spec(
        "Size (px)", "Longest side of the result in pixels; the photo's aspect ratio is kept. Beyond what the "
        "memory holds at once, the picture is painted in tiles.", 32, 8192))
    init: str = _opt("content", Spec(
        "Start from", "Start from the photo, from random noise, or from a given image.",
        choices=INIT_CHOICES))
    start_palette: float = _opt(1.0, Spec(
        "Start in the painting's colours", "How far the photo is moved into the painting's colours before the "
        "run starts (when it starts from the photo, init 'content'): 1 starts from the photo wholly in the "
        "painting's palette, which L-BFGS then only has to paint strokes on; 0 starts from the photo as it is.",
        0.0, 1.0))
    seed: int | None = _opt(None, Spec(
        "Seed", "Random seed (noise start); empty picks one and reports it.", 0, 2**31 - 1))
    content_layers: tuple[str, ...] = _opt(("block4_conv2",), Spec(
        "Content layers", "VGG16 layers whose features the result must keep.", choices=VGG_LAYERS))
    style_layers: tuple[str, ...] = _opt(
        DEFAULT_STYLE_LAYERS,
        Spec("Style layers", "VGG16 layers whose Gram matrices the result must match.", choices=VGG_LAYERS))
    style_layer_weights: tuple[float, ...] = _opt((), Spec(
        "Style layer weights", "One factor per style layer on its share of the style term; empty means "
        "1, 1, 2, 3 for the default four layers and 1 each for any other choice. (The first layers' "
        "terms are naturally 100-1000× the deepest ones'.) More weight on the deeper layers gives larger "
        "strokes and calmer skies, on the first ones finer texture and the painting's exact colours.", 0.0, 1e3))
    style_loss: str = _opt("wasserstein", Spec(
        "Style loss", "'gram': match each layer's Gram matrix (Gatys et al.); 'wasserstein': match the "
        "mean and covariance of each layer's features (2-Wasserstein distance), which carries the "
        "painting's palette more faithfully.", choices=STYLE_LOSS_CHOICES))
    style_blend: tuple[float, ...] = _opt((), Spec(
        "Style blend", "Weights of several style images (normalised to sum 1); empty means equal.", 0.0, 1e3))
    style_scale: float = _opt(1.0, Spec(
        "Style scale", "Size of the painting relative to the result: above 1 gives bigger strokes, below 1 "
        "finer texture.", 0.1, 4.0))
    style_fit: str = _opt("longest", Spec(
        "Style fit", "'longest': the painting keeps its shape, its longer side = size × style scale; "
        "'content': it is stretched to the photo's exact shape, as the design article does.",
        choices=("longest", "content")))
    preserve_colors: bool = _opt(False, Spec(
        "Keep photo colours", "Keep the photo's colours; take only the painting's light and texture."))
    match_palette: bool = _opt(False, Spec(
        "Match the painting's colours to the photo", "Recolour the painting with the photo's palette (its "
        "colour mean and covariance) before painting: the painting's brushwork in the photo's colours."))
    normalization: str = _opt("gatys", Spec(
        "Loss normalisation", "'gatys': each layer's Gram and loss normalised by its size; "
        "'blog': the design article's sums, one constant for all layers.", choices=NORMALIZATION_CHOICES))
    tv_exponent: float = _opt(1.0, Spec(
        "TV exponent", "Power applied to (dx² + dy²) in the total-variation term (the article uses 1.25).",
        1.0, 3.0))
    scales: int = _opt(0, Spec(
        "Scales", "Coarse-to-fine scales, each twice the size of the one before; 0 picks by size "
        "(1 below 384 px, else down to about 256 px: 2 for 512 px, 3 for 1024 px).", 0, 4))
    final_share: float = _opt(0.15, Spec(
        "Final scale's share", "Share of the iterations spent at the final (full) size when there are "
        "several scales; the rest go to the coarser ones, which cost a quarter as much each and set the "
        "composition and the large strokes. Lower: calmer, broader strokes and a faster job; higher: more "
        "fine texture.", 0.05, 0.95))
    final_fine_texture: float = _opt(1.0, Spec(
        "Fine texture at the final scale", "Factor on the first style layer (the finest texture) at the final "
        "scale of a coarse-to-fine job; the coarse scales keep it as set. Below 1: the coarse scales' broad "
        "strokes stay and fewer small ripples are added; above 1: more fine texture.", 0.0, 10.0))
    round_evals: int = _opt(0, Spec(
        "Evaluations per round", "0: one continuous L-BFGS run. N: restart L-BFGS every N loss "
        "evaluations, as the design article does (its 10 rounds of maxfun=20).", 0, 1000))
    pixel_bounds: bool = _opt(False, Spec(
        "Bound pixels", "Bound every pixel to 0..255 during the whole optimisation (L-BFGS-B bounds); off: "
        "free for the first 80 % of each scale, then clipped and bounded (measured at 512 px: 22 % fewer "
        "evaluations, loss 8 % higher)."))
    temporal_weight: float = _opt(1.0, Spec(
        "Temporal weight (video)", "How strongly each video frame keeps the previous painted frame, carried along "
        "the optical flow, where the flow is reliable (Ruder et al. 2016). 0 paints every frame on its own "
        "(it flickers).", 0.0, 1e6, log_scale=True))
    frame_iterations: int = _opt(30, Spec(
        "Iterations per later frame (video)", "L-BFGS iterations for each video frame after the first, which "
        "starts from the previous painted frame carried along the optical flow (the first frame gets "
        "'iterations').", 1, 5000))
    new_ground: str = _opt("paint", Spec(
        "New ground (video)", "What the previous frame cannot give a video frame (a pan's new edge, what a moving "
        "object uncovers): 'paint' paints it first on a crop around it, with 'iterations' and held to its painted "
        "neighbours (the cost grows with its area), and holds the frame to that there; 'photo' starts it from the "
        "photo, unheld (Ruder et al.; it stays less painted than a picture).", choices=NEW_GROUND_CHOICES))
    precision: str = _opt("auto", Spec(
        "Precision", "Compute precision of the network: auto uses bfloat16/float16 where the "
        "hardware is fast at it, else float32.", choices=PRECISION_CHOICES))

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], *, base: Options | None = None) -> Options:
        """Validate and convert user input (strings from a form or CLI, or JSON values).

        Unknown keys, wrong types and values out of range raise ``OptionError`` naming the field.
        ``preset`` in ``values`` applies that preset first; explicit values then override it.
        """
        start = base or cls()
        values = dict(values)
        preset_name = values.pop("preset", None)
        if preset_name not in (None, ""):
            start = apply_preset(start, str(preset_name))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise OptionError(unknown[0][:100], f"unknown option {unknown[0][:100]!r}")
        changes = {name: _convert(name, raw) for name, raw in values.items()}
        for name, value in changes.items():
            _check(name, value, sent=values[name])  # a range error quotes what was sent, not its value
        return start.replace(**changes)

    def replace(self, **changes: Any) -> Options:
        """Return a copy with ``changes`` applied and the whole result validated."""
        result = dataclasses.replace(self, **changes)
        result.validate()
        return result

    def validate(self) -> None:
        """Check every field against its Spec; raise OptionError for the first bad one."""
        for f in dataclasses.fields(self):
            _check(f.name, getattr(self, f.name))
        if not self.style_layers:
            raise OptionError("style_layers", "at least one style layer is needed")
        if not self.content_layers:
            raise OptionError("content_layers", "at least one content layer is needed")
        if self.style_layer_weights and len(self.style_layer_weights) != len(self.style_layers):
            raise OptionError("style_layer_weights", Message(Field("style_layer_weights"), f" has "
                              f"{len(self.style_layer_weights)} weights for {len(self.style_layers)} style "
                              "layers; give one per layer"))
        if self.style_layer_weights and sum(self.style_layer_weights) <= 0:
            raise OptionError("style_layer_weights", Message(Field("style_layer_weights"), " must not all be 0"))
        if self.style_loss == "wasserstein" and self.normalization != "gatys":
            raise OptionError("style_loss", Message(Field("style_loss"), " 'wasserstein' needs ",
                                                    Field("normalization"), " 'gatys'"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @property
    def deepest_layer(self) -> str:
        used = set(self.content_layers) | set(self.style_layers)
        return max(used, key=VGG_LAYERS.index)

    def scale_sizes(self) -> list[int]:
        """Longest side of each coarse-to-fine scale, smallest first, ending at ``size``.

        Auto (scales=0): one scale below 384 px, else halving down to about 256 px (at most 4):
        512 -> [256, 512], 1024 -> [256, 512, 1024]. A coarser start (128 px) is cheaper but the
        painting's strokes, matched at 128 px, come out as blobs the photo can't hold.
        """
        count = self.scales or (1 if self.size < 384 else min(4, 1 + int(math.log2(self.size / 256))))
        return [max(32, round(self.size / 2**k)) for k in range(count - 1, -1, -1)]

    def at_scale(self, index: int) -> Options:
        """The options one scale paints with: the final scale of several weighs its first style layer
        by ``final_fine_texture``; every other scale paints with these options as they are."""
        count = len(self.scale_sizes())
        if count == 1 or index != count - 1 or self.final_fine_texture == 1.0:
            return self
        weights = list(self.layer_weights())
        weights[0] *= self.final_fine_texture
        return self.replace(style_layer_weights=tuple(weights))

    def layer_weights(self) -> tuple[float, ...]:
        """Each style layer's factor: style_layer_weights when given, else DEPTH_WEIGHTS for the default
        layers and 1 each for any other choice (so choosing other layers never needs new weights)."""
        if self.style_layer_weights:
            return self.style_layer_weights
        if self.style_layers == DEFAULT_STYLE_LAYERS:
            return DEPTH_WEIGHTS
        return (1.0,) * len(self.style_layers)

    def scale_iterations(self) -> list[int]:
        """How the iteration budget is shared between scales.

        A coarse scale costs a quarter of the next one and fixes the composition and the big
        strokes, so most iterations go there; the final scale gets ``final_share`` of them to
        sharpen the detail.
        """
        count = len(self.scale_sizes())
        if count == 1:
            return [self.iterations]
        final = max(1, round(self.iterations * self.final_share))
        coarse = max(count - 1, self.iterations - final)
        share = [coarse // (count - 1)] * (count - 1)
        share[-1] += coarse - sum(share)
        return share + [final]


def option_specs() -> dict[str, tuple[Any, Spec]]:
    """Each option's (default, Spec), in declaration order: what the CLI and the page render."""
    return {f.name: (f.default, f.metadata["spec"]) for f in dataclasses.fields(Options)}


DEFAULTS = Options()

def blend_weights(options: Options, count: int) -> list[float]:
    """Weights of ``count`` style images, summing to 1 (equal when style_blend is empty)."""
    if count < 1:
        raise OptionError("style", "at least one style image is needed")
    if count > MAX_STYLES:
        raise OptionError("style", f"{count} style images given; at most {MAX_STYLES}")
    if not options.style_blend:
        return [1.0 / count] * count
    if len(options.style_blend) != count:
        weights = _count(len(options.style_blend), 'weight')
        raise OptionError("style_blend", Message(Field("style_blend"), f" has {weights} for "
                                                 f"{_count(count, 'style image')}; give one weight per style"))
    total = sum(options.style_blend)
    if total <= 0:
        raise OptionError("style_blend", Message(Field("style_blend"), " weights must not all be 0"))
    return [w / total for w in options.style_blend]


def _count(n: int, noun: str) -> str:
    """'1 weight', '3 weights': singular and plural right in messages."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# -- conversion and checks ----------------------------------------------------------------------

@dataclass(frozen=True)
class _Kind:
    """How to read one field's values from text or JSON, and what to call them in a message."""

    convert: Callable[[Any], Any]
    noun: str | None  # None: a str field, described by its choices


def _kind(hint: Any) -> _Kind:
    """The _Kind of a field's real type (from typing.get_type_hints); TypeError for any other type,
    so that a new field of a new type fails at import, not by falling through to text."""
    if hint is float:
        return _Kind(to_float, "a number")
    if hint is bool:
        return _Kind(parse_yes_no, "true or false")
    if hint is int:
        return _Kind(to_int, "a whole number")
    if hint is str:
        return _Kind(lambda raw: str(raw).strip(), None)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        inner = _kind(next(arg for arg in args if arg is not type(None)))
        return _Kind(lambda raw: None if raw in (None, "") else inner.convert(raw), inner.noun)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = _kind(args[0])
        return _Kind(lambda raw: to_tuple(raw, item.convert), "a comma-separated list")
    raise TypeError(f"no option converter for the type {hint!r}; add one to src/impasto/nst/options.py")


def _convert(name: str, raw: Any) -> Any:
    try:
        return _KINDS[name].convert(raw)
    except (TypeError, ValueError):
        raise OptionError(name, Message(Field(name), " must be ", _describe(name), Sent(sent_text(raw)))) from None


_KINDS = {name: _kind(hint) for name, hint in typing.get_type_hints(Options).items()}


def _describe(name: str) -> Message:
    """What a field takes: "a number from 0 to 1e+06", "one of gram, wasserstein"."""
    spec: Spec = Options.__dataclass_fields__[name].metadata["spec"]
    noun = _KINDS[name].noun
    if noun is None:
        return Message("one of " + ", ".join(spec.choices or ()))
    if spec.minimum is not None and spec.maximum is not None:
        return Message(f"{noun} from ", Number(spec.minimum), " to ", Number(spec.maximum))
    return Message(noun)


def _check(name: str, value: Any, sent: Any = None) -> None:
    spec: Spec = Options.__dataclass_fields__[name].metadata["spec"]
    items = value if isinstance(value, tuple) else (value,)
    for item in items:
        if item is None:
            continue
        if spec.choices and isinstance(item, str) and item not in spec.choices:
            raise OptionError(name, Message(Field(name), " must be ", _describe(name), Sent(repr(item))))
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            low, high = spec.minimum, spec.maximum
            if (low is not None and item < low) or (high is not None and item > high):
                shown = sent_text(sent) if sent is not None and not isinstance(value, tuple) else format_number(item)
                raise OptionError(name, Message(Field(name), " must be ", _describe(name), Sent(shown)))
    if name == "style_blend" and len(value) > MAX_STYLES:
        raise OptionError(name, Message(Field(name), f" has {len(value)} weights; at most {MAX_STYLES} styles"))
