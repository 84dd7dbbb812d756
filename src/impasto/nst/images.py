"""Reading, resizing and writing images (Pillow and NumPy only, no TensorFlow).

Everything the engine works on is an RGB uint8 array of shape (height, width, 3). A photo with
transparency may also travel as RGBA (height, width, 4) when read with ``keep_alpha=True``: the
engine paints its RGB composited on white and gives the alpha back to the result (``split_alpha``).
"""

from __future__ import annotations

import io
import os
import re
import struct
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from impasto.message import Field, Message
from impasto.nst.animated import Malformed, layout
from impasto.nst.errors import ImageError

ImageSource = Union[str, os.PathLike, bytes, BinaryIO]


@dataclass(frozen=True)
class KeyedImage:
    """Pixels with a stable identity, e.g. a built-in painting's name and file hash. The engine
    keys its style-target cache by ``key`` instead of hashing the pixels of every job."""

    pixels: np.ndarray
    key: str

ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "BMP", "TIFF"}
OPENED_FORMATS = sorted(ACCEPTED_FORMATS - {"MPO"})  # the only readers Pillow tries (its JPEG reader reads MPO)
OUTPUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
DEFAULT_MAX_PIXELS = 50_000_000  # 50 megapixels: a large camera photo, far from a decompression bomb


def load_image(source: ImageSource, *, max_pixels: int = DEFAULT_MAX_PIXELS, name: str | Field = "image",
               keep_alpha: bool = False) -> np.ndarray:
    """Decode ``source`` into an RGB uint8 array, applying EXIF orientation.

    With ``keep_alpha``, an image with transparency (RGBA, LA, palette with a transparent colour)
    comes back as RGBA (height, width, 4) instead of composited on white.

    Raises ImageError with a message naming ``name`` for anything that is not a whole, supported,
    not-too-large image. The pixel limit is checked from the header, before decoding.
    """
    with _open(source, name, max_pixels) as image:  # opened by the accepted formats' readers only
        try:
            image.load()  # the first frame only: a TIFF's or an APNG's other pages are never decoded
            image = ImageOps.exif_transpose(image)
            return to_rgba_array(image) if keep_alpha and has_alpha(image) else to_rgb_array(image)
        except (OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:
            raise ImageError(Message(name, f": image data is truncated or corrupt ({_reason(exc)})")) from None


def check_pixels(source: ImageSource, *, max_pixels: int, name: str | Field = "image") -> tuple[int, int]:
    """(width, height) of an image from its header, nothing decoded; ImageError as ``load_image``
    raises it for an image over ``max_pixels`` or one that cannot be opened."""
    with _open(source, name, max_pixels) as image:
        return image.size


def _check_size(width: int, height: int, name: str | Field, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageError(Message(name, f": {width}×{height} = {width * height:,} pixels is over the limit of "
                         f"{max_pixels:,} pixels"), too_large=True)
    if width < 1 or height < 1:
        raise ImageError(Message(name, ": image has no pixels"))


def _open(source: ImageSource, name: str | Field, max_pixels: int) -> Image.Image:
    """Pillow's lazy open (the header only) with the size checked, every failure as an ImageError
    naming ``name``."""
    _check_webp_canvas(source, name, max_pixels)
    try:
        with warnings.catch_warnings():
            # Pillow warns from its own limit up, then refuses from twice it; below that the size
            # is checked here, against this caller's limit, with the picture's sides in the message.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            # Only the accepted formats' readers: some others allocate while they open a file (a
            # GIF's disposal buffer, as large as its first frame says), before its size can be checked.
            image = Image.open(_as_file(source, name), formats=OPENED_FORMATS)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(Message(name, f": file not found: {source}")) from None
    except IsADirectoryError:
        raise ImageError(Message(name, f": is a directory, not an image: {source}")) from None
    except Image.DecompressionBombError as exc:
        raise ImageError(Message(name, f": {_declared(exc)}, over the limit of "
                         f"{min(max_pixels, 2 * (Image.MAX_IMAGE_PIXELS or 0)):,} pixels"), too_large=True) from None
    except UnidentifiedImageError:
        kind = "GIF images are not supported" if _is_gif(source) else "not a readable image"
        raise ImageError(Message(name, f": {kind} (accepted: JPEG, PNG, WebP, BMP, TIFF)")) from None
    except (OSError, EOFError, SyntaxError):
        raise ImageError(Message(name, ": not a readable image (accepted: JPEG, PNG, WebP, BMP, TIFF)")) from None
    except (ValueError, struct.error) as exc:
        # Pillow refuses some headers with ValueError: a truncated PNG IHDR, or a zTXt/iCCP text
        # chunk that would inflate past its safety limit ("Decompressed data too large").
        raise ImageError(Message(name, f": not a readable image: {_reason(exc)} "
                         "(accepted: JPEG, PNG, WebP, BMP, TIFF)")) from None
    try:
        _check_size(*image.size, name, max_pixels)
    except ImageError:
        image.close()
        raise
    return image


def _check_webp_canvas(source: ImageSource, name: str | Field, max_pixels: int) -> None:
    """A WebP's canvas from its first chunk: Pillow's WebP reader allocates the canvas as it opens
    the file, so a WebP over the limit is refused before Pillow sees it."""
    if isinstance(source, (bytes, bytearray)) and source[:4] == b"RIFF" and source[8:12] == b"WEBP":
        try:
            canvas = layout(bytes(source), "webp")
        except Malformed:
            return  # Pillow's open says what is wrong with it
        _check_size(canvas.width, canvas.height, name, max_pixels)


def _is_gif(source: ImageSource) -> bool:
    """Whether ``source`` starts as a GIF does (a picture here never is one; a clip may be)."""
    if isinstance(source, (bytes, bytearray)):
        head = bytes(source[:6])
    elif isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            head = handle.read(6)
    else:
        return False
    return head in (b"GIF87a", b"GIF89a")


def _declared(exc: BaseException) -> str:
    """'the header declares 10,000,000,000 pixels' from Pillow's refusal (its own words if they change)."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    return f"the header declares {int(found.group(1)):,} pixels" if found else f"the image ({_reason(exc)})"


def _reason(exc: BaseException) -> str:
    """Pillow's own words, short: they say which chunk or header is wrong (and carry no path)."""
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def image_shape(data: bytes) -> tuple[int, int]:
    """(height, width) of an image the studio stored itself (trusted bytes), from its header."""
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    return height, width


def _as_file(source: ImageSource, name: str | Field) -> BinaryIO | str | os.PathLike:
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise ImageError(Message(name, ": the file is empty (0 bytes)"))
        return io.BytesIO(source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_file() and path.stat().st_size == 0:
            raise ImageError(Message(name, f": the file is empty (0 bytes): {source}"))
    return source


def to_rgb_array(image: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to RGB: grey, palette, CMYK, 16-bit; alpha is composited on white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        data = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or data.max() > 255 else 255.0
        grey = np.clip(data / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def has_alpha(image: Image.Image) -> bool:
    """Whether a Pillow image carries transparency (an alpha band or a transparent palette colour)."""
    return image.mode in ALPHA_MODES or (image.mode in ("P", "L", "RGB") and "transparency" in image.info)


ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def to_rgba_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGBA"), dtype=np.uint8).copy()


def split_alpha(array: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(RGB composited on white, alpha (height, width) uint8) of an RGBA array; (array, None) for RGB."""
    if array.ndim != 3 or array.shape[2] != 4:
        return array, None
    return flatten_on_white(array), array[:, :, 3].copy()


def flatten_on_white(array: np.ndarray) -> np.ndarray:
    """An RGBA array composited on white as RGB (an RGB array is returned as it is)."""
    if array.shape[2] != 4:
        return array
    return to_rgb_array(Image.fromarray(np.asarray(array, np.uint8), "RGBA"))


def attach_alpha(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """RGB plus ``alpha`` resized to the picture (RGBA); ``rgb`` itself where there is no alpha."""
    if alpha is None:
        return rgb
    height, width = rgb.shape[:2]
    if alpha.shape != (height, width):
        alpha = np.asarray(Image.fromarray(alpha, "L").resize((width, height), Image.Resampling.LANCZOS))
    return np.dstack([np.clip(rgb, 0, 255).astype(np.uint8), alpha])


def scaled_shape(height: int, width: int, longest: int) -> tuple[int, int]:
    """(height, width) with the longer side ``longest`` and the aspect ratio kept."""
    scale = longest / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_longest(array: np.ndarray, longest: int) -> np.ndarray:
    """Resize so that the longer side is ``longest`` pixels, keeping the aspect ratio."""
    height, width = scaled_shape(*array.shape[:2], longest)
    return resize_to(array, (width, height))


def resize_to(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an RGB or RGBA uint8 (or float) array to (width, height) with a high-quality filter
    (Pillow resizes RGBA with premultiplied alpha: no dark fringes at transparent edges)."""
    if array.dtype != np.uint8:
        array = np.clip(array, 0, 255).round().astype(np.uint8)
    if (array.shape[1], array.shape[0]) == size:
        return array.copy()
    return np.asarray(Image.fromarray(array).resize(size, Image.Resampling.LANCZOS))


def output_format(path: str | os.PathLike) -> str:
    """'PNG' or 'JPEG' from the file extension; ImageError for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise ImageError(f"output {path}: unsupported extension {suffix or '(none)'!r}; use .png, .jpg or .jpeg")
    return OUTPUT_FORMATS[suffix]


def encode_image(array: np.ndarray, fmt: str = "PNG", *, quality: int = 95) -> bytes:
    """Encode an RGB (or RGBA) uint8 array as PNG or JPEG bytes; JPEG has no alpha: RGBA is
    composited on white first."""
    buffer = io.BytesIO()
    if fmt.upper() == "JPEG":
        array = flatten_on_white(np.asarray(array, dtype=np.uint8))
    image = Image.fromarray(np.asarray(array, dtype=np.uint8))
    if fmt.upper() == "JPEG":
        image.save(buffer, "JPEG", quality=quality, subsampling=0)
    else:
        image.save(buffer, "PNG", optimize=False)
    return buffer.getvalue()


def thumbnail(array: np.ndarray, size: int) -> bytes:
    """A JPEG of an RGB (RGBA: on white) uint8 array shrunk to fit ``size`` × ``size`` (shape kept)."""
    picture = Image.fromarray(flatten_on_white(np.asarray(array, dtype=np.uint8)))
    picture.thumbnail((size, size), Image.Resampling.LANCZOS)
    return encode_image(np.asarray(picture), "JPEG", quality=85)


def save_image(array: np.ndarray, path: str | os.PathLike) -> Path:
    """Write atomically (temporary file, then rename) so no reader ever sees half a picture."""
    path = Path(path)
    data = encode_image(array, output_format(path))
    write_atomic(path, data)
    return path


def write_atomic(path: str | os.PathLike, data: bytes, mode: int = 0o644) -> None:
    """``data`` into ``path`` with ``mode``: 0644 for a picture the CLI writes (for reading by others
    too), 0600 for what a server keeps in its data dir."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        os.fchmod(fd, mode)  # mkstemp makes 0600, whatever the umask
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_writable(path: str | os.PathLike, picture: bool = True) -> None:
    """Fail early (before minutes of work) if the output cannot be written (``picture``: and is
    not a .png/.jpg; a clip's extension is checked by its caller)."""
    path = Path(path)
    if picture:
        output_format(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ImageError(f"output {path}: folder {parent} does not exist")
    if path.is_dir():
        raise ImageError(f"output {path}: is a directory")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ImageError(f"output {path}: not writable")
