"""Built-in styles: public-domain paintings shipped with Impasto, listed in credits.json."""

from __future__ import annotations

import functools
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from impasto.nst import images

FOLDER = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Style:
    name: str
    file: str
    title: str
    artist: str
    year: int
    licence: str

    @property
    def credit(self) -> str:
        return f"{self.title}, {self.artist} ({self.year}), {self.licence}"

    def read(self) -> bytes:
        return (FOLDER / self.file).read_bytes()

    @property
    def sha256(self) -> str:
        """The file's content hash: a job references the painting by name and this."""
        return _facts(self.file)[0]

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) in pixels, as the engine gets it (EXIF orientation applied)."""
        return _facts(self.file)[1]

    @property
    def mimetype(self) -> str:
        return "image/png" if self.file.endswith(".png") else "image/jpeg"


@functools.cache
def _facts(file: str) -> tuple[str, tuple[int, int]]:
    """Hash and shape of a built-in file, read once per process (the files never change while it runs)."""
    data = (FOLDER / file).read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        width, height = ImageOps.exif_transpose(image).size
    return hashlib.sha256(data).hexdigest(), (height, width)


@functools.lru_cache(maxsize=1)
def catalog() -> dict[str, Style]:
    """Name → Style, in the order of credits.json."""
    entries = json.loads((FOLDER / "credits.json").read_text(encoding="utf-8"))
    return {entry["name"]: Style(**entry) for entry in entries}


@functools.lru_cache(maxsize=16)
def thumbnail(name: str, size: int = 240) -> bytes:
    """A small JPEG of a built-in style for the picker (computed once per process)."""
    return images.thumbnail(images.load_image(FOLDER / catalog()[name].file, name=name), size)
