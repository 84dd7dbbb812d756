"""Masks: where each painting goes. Reading, checking, resizing and feathering (NumPy and Pillow
only: the web layer validates uploads with it), and the final "keep the photo" composite.

A mask is a grey image: white = paint here, black = keep the photo, grey = in between. There is
one per painting; each painting's style statistics are matched inside its own region
(src/impasto/nst/regions.py, Gatys et al. 2017), and where no mask covers, the photo is kept.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageFilter

from impasto.message import Field, Message
from impasto.nst.errors import OptionError
from impasto.nst.images import ImageSource, encode_image, load_image

# A mask's shape may differ from the photo's (it is resized to it), its aspect ratio only a little:
# a mask drawn for another picture would put the regions in the wrong places.
ASPECT_TOLERANCE = 0.05
# Edges softened by a Gaussian blur of this fraction of the photo's longest side: a hard brush edge
# would otherwise show as a seam between painted and kept parts.
FEATHER = 0.01


def load_mask(source: ImageSource | np.ndarray, name: str = "mask") -> np.ndarray:
    """A mask as float32 (height, width) in 0..1 (grey level; colour images by luminance). Arrays:
    uint8 grey or RGB (0..255), or float already in 0..1.

    ImageError for anything that is not an image (the message names ``name``)."""
    if isinstance(source, np.ndarray) and source.dtype != np.uint8:  # already a 0..1 mask
        return np.clip(np.asarray(source, np.float32), 0.0, 1.0)
    rgb = source if isinstance(source, np.ndarray) else load_image(source, name=name)
    if rgb.ndim == 2:
        return rgb.astype(np.float32) / 255.0
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb[..., :3])).convert("L"), np.float32) / 255.0


def check_masks(masks: Sequence[np.ndarray], content_hw: tuple[int, int], paintings: int,
                normalization: str = "gatys") -> None:
    """OptionError (field 'mask') unless there is one mask per painting, each shaped like the photo,
    and the loss normalisation has a per-region form."""
    if masks and normalization != "gatys":
        raise OptionError("mask", "masks need normalization 'gatys' (the article preset's 'blog' sums have no "
                          "per-region form); choose another preset")
    if masks and len(masks) != paintings:
        raise OptionError("mask", f"{len(masks)} mask(s) for {paintings} painting(s); give one mask per painting, "
                          "in the paintings' order")
    height, width = content_hw
    for number, mask in enumerate(masks, start=1):
        mask_h, mask_w = mask.shape[:2]
        if abs((mask_w / mask_h) / (width / height) - 1.0) > ASPECT_TOLERANCE:
            label = Field("mask", None if len(masks) == 1 else number)
            raise OptionError("mask", Message(label, f" is {mask_w}×{mask_h} px and the photo {width}×{height} px: "
                                              f"the shapes differ by more than {ASPECT_TOLERANCE:.0%}; draw the "
                                              "mask on this photo"))


def fit_mask(mask: np.ndarray, hw: tuple[int, int], feather: float = FEATHER) -> np.ndarray:
    """The mask resized to ``hw`` (height, width) and feathered, float32 in 0..1."""
    height, width = hw
    image = Image.fromarray(np.round(np.clip(mask, 0, 1) * 255).astype(np.uint8), "L")
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)  # Lanczos rings at a hard edge
    radius = feather * max(height, width)
    if radius >= 0.5:
        image = image.filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(image, np.float32) / 255.0


def downsample(mask: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """The mask at a feature map's resolution: each cell the mean of the pixels it covers."""
    height, width = hw
    image = Image.fromarray(np.asarray(mask, np.float32), "F")
    return np.asarray(image.resize((width, height), Image.Resampling.BOX), np.float32).clip(0.0, 1.0)


def mask_png(mask: np.ndarray, hw: tuple[int, int]) -> bytes:
    """A checked mask resized to the photo's ``hw``, as a grey PNG (how the job store keeps it)."""
    return encode_image(np.round(fit_mask(mask, hw, feather=0.0) * 255).astype(np.uint8), "PNG")


def keep_photo(result_rgb: np.ndarray, content_rgb: np.ndarray, masks: Sequence[np.ndarray]) -> np.ndarray:
    """The painted result where the masks cover, the photo where none does (grey: a mix)."""
    coverage = np.clip(np.sum(masks, axis=0), 0.0, 1.0)[..., None]
    mixed = coverage * result_rgb.astype(np.float32) + (1.0 - coverage) * content_rgb.astype(np.float32)
    return np.clip(mixed.round(), 0, 255).astype(np.uint8)
