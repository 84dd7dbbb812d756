"""A job's pictures as the engine works on them: the photo, the paintings, the start and the masks
read and checked, and where each scale starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from impasto.nst import losses, recolour
from impasto.nst import masks as mask_ops
from impasto.nst.colors import match_palette
from impasto.nst.errors import OptionError
from impasto.nst.images import KeyedImage, load_image, resize_to, split_alpha
from impasto.nst.options import Options, blend_weights
from impasto.nst.vgg import BGR_MEAN, caffe_to_rgb


@dataclass
class Images:
    """The job's pictures as RGB arrays, with the paintings' blend weights."""

    content: np.ndarray  # RGB; a transparent photo composited on white (the network sees no alpha)
    styles: list[np.ndarray]
    keys: list  # per painting: a built-in's name and hash (KeyedImage), else None
    blend: np.ndarray
    start: np.ndarray | None  # the init image (init='image'), else None
    alpha: np.ndarray | None = None  # the photo's alpha channel, given back to the result
    masks: list[np.ndarray] = field(default_factory=list)  # one per painting, 0..1, the photo's shape

    @classmethod
    def read(cls, content, style, init_image, options: Options) -> Images:
        content_rgb, alpha = split_alpha(as_array(content, "content", keep_alpha=True))
        sources = as_list(style)
        styles = paintings(sources, content_rgb, options)
        # A recoloured painting is no longer the built-in its key names: it gets no shared cache entry.
        keys = [s.key if isinstance(s, KeyedImage) and not options.match_palette else None for s in sources]
        blend = np.asarray(blend_weights(options, len(styles)))
        if options.init == "image" and init_image is None:
            raise OptionError("init", "init is 'image' but no init image was given")
        start = as_array(init_image, "init image") if options.init == "image" else None
        return cls(content_rgb, styles, keys, blend, start, alpha)


def read_masks(masks, images: Images, options: Options) -> list[np.ndarray]:
    """The masks read, checked against the photo and the paintings, resized to the photo."""
    if not masks:
        return []
    read = [mask_ops.load_mask(m, "mask" if len(masks) == 1 else f"mask {i + 1}") for i, m in enumerate(masks)]
    mask_ops.check_masks(read, images.content.shape[:2], len(images.styles), options.normalization)
    return [mask_ops.fit_mask(m, images.content.shape[:2], feather=0.0) for m in read]


def keep_photo(result_rgb: np.ndarray, images: Images) -> np.ndarray:
    """The photo where no mask covers, feathered masks at the result's size."""
    hw = result_rgb.shape[:2]
    content = resize_to(images.content, (hw[1], hw[0]))
    return mask_ops.keep_photo(result_rgb, content, [mask_ops.fit_mask(m, hw) for m in images.masks])



def fit_temporal(temporal: losses.TemporalTarget | None, hw: tuple[int, int]) -> losses.TemporalTarget | None:
    """The temporal target at one scale's size (a coarse scale gets it downsampled)."""
    if temporal is None or temporal.mask.shape[:2] == hw:
        return temporal
    height, width = hw
    return losses.TemporalTarget(resize_to(temporal.warped_rgb, (width, height)),
                                 mask_ops.fit_mask(temporal.mask, hw, feather=0.0))


def scale_start(options: Options, scale_content: np.ndarray, previous: np.ndarray | None, images: Images,
                masks: Sequence[np.ndarray] = ()) -> np.ndarray:
    """Where a scale starts: the first from the photo (in the paintings' colours by start_palette),
    noise or the init image; each later one from the picture of the scale before, resized to this
    scale's shape. ``masks`` are fitted to ``scale_content``."""
    if previous is None:
        return initial_image(options, scale_content, images, masks)
    height, width = scale_content.shape[:2]
    return resize_to(previous, (width, height))


def as_list(style) -> list:
    if isinstance(style, (np.ndarray, KeyedImage)) or isinstance(style, (str, bytes)) or hasattr(style, "read"):
        return [style]
    if hasattr(style, "__fspath__"):
        return [style]
    styles = list(style)
    if not styles:
        raise OptionError("style", "at least one style image is needed")
    return styles


def paintings(style, content_rgb: np.ndarray, options: Options) -> list[np.ndarray]:
    """The paintings as RGB arrays; recoloured to the photo's palette where match_palette is set."""
    styles = [as_array(s, f"style {i + 1}") for i, s in enumerate(as_list(style))]
    return [match_palette(s, content_rgb) for s in styles] if options.match_palette else styles


def as_array(source, name: str, keep_alpha: bool = False) -> np.ndarray:
    """An RGB uint8 array (RGBA for a transparent photo where ``keep_alpha``)."""
    if isinstance(source, KeyedImage):
        source = source.pixels
    if isinstance(source, np.ndarray):
        channels = (3, 4) if keep_alpha else (3,)
        if source.ndim != 3 or source.shape[2] not in channels:
            shape = "(height, width, 3) or (height, width, 4)" if keep_alpha else "(height, width, 3)"
            raise OptionError(name, f"{name} array must be {shape}, got {source.shape}")
        return np.clip(source, 0, 255).astype(np.uint8)
    return load_image(source, name=name, keep_alpha=keep_alpha)


def initial_image(options: Options, content_rgb: np.ndarray, images: Images,
                  masks: Sequence[np.ndarray] = ()) -> np.ndarray:
    height, width = content_rgb.shape[:2]
    if options.init == "content":
        return recolour.painted_start(content_rgb, images.styles, images.blend, masks, options.start_palette)
    if options.init == "image":
        return resize_to(images.start, (width, height))
    # The article's start: uniform(0, 255) - 128 in caffe space, converted to RGB for our pipeline.
    rng = np.random.default_rng(options.seed)
    noise = rng.uniform(0, 255, (1, height, width, 3)) - 128.0
    if options.pixel_bounds:
        return caffe_to_rgb(noise)
    return _unclipped_rgb(noise)


def _unclipped_rgb(caffe: np.ndarray) -> np.ndarray:
    """Keep out-of-range noise exactly (as a float array) for the unbounded article preset."""
    bgr = caffe.reshape(caffe.shape[-3:]).astype(np.float32) + BGR_MEAN
    return bgr[:, :, ::-1]
