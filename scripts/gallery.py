"""Make README's gallery: real results of the CLI with the shared weights file.

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
}


def save_photo() -> None:
    """The photo itself, small, for the README's first table."""
    from PIL import Image

    with Image.open(PHOTO) as photo:
        photo.thumbnail((512, 512))
        photo.convert("RGB").save(OUT / "photo.jpg", quality=90)


def make(name: str, weights: str) -> dict:
    styles, extra = PICTURES[name]
    out = OUT / f"{name}.jpg"
    command = ["impasto", "transfer", str(PHOTO), str(styles[0])]
    for style in styles[1:]:
        command += ["--style", str(style)]
    command += [*extra, "--weights", weights, "-o", str(out), "--json"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    summary = json.loads(done.stdout)
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
