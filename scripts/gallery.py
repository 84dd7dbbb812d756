"""Make the gallery (docs/gallery.md): real results of the CLI with the shared weights file.

    python scripts/gallery.py [--only NAME ...]

Each picture is made by running `impasto transfer` (the real command line, as a user would) and is
written to docs/gallery/NAME.jpg, with the command and its JSON summary in docs/gallery/index.json.
Photo: Tübingen, Neckarfront, by Andreas Praefcke (Wikimedia Commons, CC licence).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "samples"
OUT = ROOT / "docs" / "gallery"
PHOTO = SAMPLES / "tubingen.jpg"
STARRY, SCREAM, SHIPWRECK = (SAMPLES / f"{n}.jpg" for n in ("starry_night", "the_scream", "shipwreck"))
INPUTS = OUT / "inputs"

# name -> (style images, extra CLI arguments)
PICTURES: dict[str, tuple[list[Path], list[str]]] = {
    "cli-example": ([STARRY], ["--size", "256"]),
    "balanced": ([STARRY], ["--preset", "balanced"]),
    "strong-style": ([STARRY], ["--preset", "strong-style", "--size", "384"]),
    "keep-detail": ([STARRY], ["--preset", "keep-detail", "--size", "384"]),
    "seed": ([STARRY], ["--preset", "seed", "--size", "256", "--seed", "1"]),
    "preserve-colors": ([STARRY], ["--preserve-colors", "--size", "384"]),
    "blend": ([STARRY, SCREAM], ["--style-blend", "0.5,0.5", "--size", "384"]),
    "style-scale-0.5": ([STARRY], ["--style-scale", "0.5", "--size", "384"]),
    "style-scale-2": ([STARRY], ["--style-scale", "2", "--size", "384"]),
    "the-scream": ([SCREAM], ["--size", "384"]),
    "shipwreck": ([SHIPWRECK], ["--size", "384"]),
    # Masks: The Starry Night in the sky, The Scream on the town (inputs made by make_inputs()).
    "masks": ([STARRY, SCREAM], ["--mask", str(INPUTS / "mask-sky.png"), "--mask", str(INPUTS / "mask-town.png"),
                                 "--size", "384"]),
    "transparent": ([STARRY], ["--size", "384"]),
    "palette": ([SCREAM], ["--match-palette", "--size", "384"]),
}
PHOTOS = {"transparent": INPUTS / "tubingen-oval.png"}  # pictures made from another photo
PNG_OUTPUTS = {"transparent"}  # kept as PNG (alpha), shown on a checkerboard as NAME-checker.jpg


def save_photo() -> None:
    """The photo itself, small, for the README's first table."""
    from PIL import Image

    with Image.open(PHOTO) as photo:
        photo.thumbnail((512, 512))
        photo.convert("RGB").save(OUT / "photo.jpg", quality=90)


def make_inputs() -> None:
    """The masks (sky: the top 38 % of the photo; town: the rest) and an oval-cut RGBA photo."""
    import numpy as np
    from PIL import Image, ImageDraw

    INPUTS.mkdir(exist_ok=True)
    with Image.open(PHOTO) as photo:
        photo = photo.convert("RGB")
        photo.thumbnail((512, 512))
    width, height = photo.size
    sky = np.zeros((height, width), np.uint8)
    sky[: round(height * 0.38)] = 255
    Image.fromarray(sky).save(INPUTS / "mask-sky.png")
    Image.fromarray(255 - sky).save(INPUTS / "mask-town.png")
    alpha = Image.new("L", photo.size, 0)
    ImageDraw.Draw(alpha).ellipse((width * 0.05, height * 0.05, width * 0.95, height * 0.95), fill=255)
    photo.putalpha(alpha)
    photo.save(INPUTS / "tubingen-oval.png")


def on_checkerboard(png: Path, out: Path, square: int = 12) -> None:
    """A transparent PNG over a grey checkerboard, as image editors show transparency."""
    import numpy as np
    from PIL import Image

    with Image.open(png) as picture:
        rgba = picture.convert("RGBA")
    y, x = np.mgrid[0:rgba.height, 0:rgba.width]
    board = np.where(((y // square + x // square) % 2)[..., None] == 0, 255, 204).astype(np.uint8)
    background = Image.fromarray(np.repeat(board, 3, axis=2)).convert("RGBA")
    Image.alpha_composite(background, rgba).convert("RGB").save(out, quality=90)


def make(name: str, weights: str) -> dict:
    styles, extra = PICTURES[name]
    out = OUT / f"{name}.{'png' if name in PNG_OUTPUTS else 'jpg'}"
    command = ["impasto", "transfer", str(PHOTOS.get(name, PHOTO)), str(styles[0])]
    for style in styles[1:]:
        command += ["--style", str(style)]
    command += [*extra, "--weights", weights, "-o", str(out), "--json"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    summary = json.loads(done.stdout)
    if name in PNG_OUTPUTS:
        on_checkerboard(out, OUT / f"{name}-checker.jpg")
    summary["output"] = _short(summary["output"])  # the index is committed: no machine paths in it
    shown = " ".join(_short(part) for part in command if part != "--json")
    return {"name": name, "command": shown, "summary": summary}


def _short(part: str) -> str:
    """Paths as a user in the project folder would type them."""
    return os.path.relpath(part, ROOT) if part.startswith("/") else part


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", choices=sorted(PICTURES))
    parser.add_argument("--weights", default=os.environ.get(
        "IMPASTO_VGG_WEIGHTS", str(ROOT.parent / "shared" / "weights" / "vgg16_hed_notop.weights.h5")))
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    save_photo()
    make_inputs()
    index_path = OUT / "index.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {}
    for name in args.only or PICTURES:
        entry = make(name, args.weights)
        index[name] = entry
        index_path.write_text(json.dumps(index, indent=2) + "\n")
        print(f"{name}: {entry['summary']['seconds']} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
