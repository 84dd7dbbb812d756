"""The gallery's rows (docs/gallery.md) for masks and prints: a masked picture, a large print's crop at 100 %, a
transparent PNG on a checkerboard. Real runs of `impasto transfer`, as scripts/gallery.py makes
the others (it is reused here).

    python scripts/gallery_prints.py                       # all three (the large print: ~30-60 min on 2 cores)
    python scripts/gallery_prints.py --only masks transparent
    python scripts/gallery_prints.py --large-from bench/results/prints-2048.png   # crop a picture bench/prints.py made

The large print is painted at 2048 px under IMPASTO_MAX_MEMORY_GB=2, so its top scales go in
tiles; the crop (512×384 px, no resizing) is taken across a corner where four tiles overlap, where
a seam would show. Photo: Tübingen, Neckarfront, by Andreas Praefcke (Wikimedia Commons, CC licence).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts import gallery  # noqa: E402  (the path above first)

# The Starry Night in the sky only: the town stays the photo (black in the mask).
gallery.PICTURES.setdefault("mask-sky-only", ([gallery.STARRY], ["--mask", str(gallery.INPUTS / "mask-sky.png"),
                                                                 "--size", "384"]))
NAMES = ["masks", "mask-sky-only", "transparent", "large-print"]
LARGE_SIZE, LARGE_BUDGET_GB, LARGE_ITERATIONS = 2048, 2, 30
CROP = (512, 384)  # width, height of the 100 % crop


def large_print(weights: str, source: Path | None) -> dict:
    """The 2048 px picture (painted now, or ``source``), a 100 % crop across a tile corner and a
    small view of the whole."""
    import numpy as np
    from PIL import Image

    from impasto.nst import tiles
    from impasto.nst.options import Options

    out = gallery.OUT / "large-print.png"
    command = ["impasto", "transfer", str(gallery.PHOTO), str(gallery.STARRY), "--size", str(LARGE_SIZE),
               "--iterations", str(LARGE_ITERATIONS), "--weights", weights, "-o", str(source or out), "--json"]
    summary = None
    if source is None:
        env = {**os.environ, "IMPASTO_MAX_MEMORY_GB": str(LARGE_BUDGET_GB)}
        done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
        summary = json.loads(done.stdout)
        summary["output"] = "large-print.png"  # not kept: the index is committed, no machine paths in it
        source = out
    picture = np.asarray(Image.open(source).convert("RGB"))
    grid = tiles.plan(picture.shape[:2], Options(size=LARGE_SIZE).deepest_layer, LARGE_BUDGET_GB * 1e9)
    corner = grid.tiles[len({t.left for t in grid.tiles}) + 1]  # the second tile of the second row
    top = max(0, min(corner.top - CROP[1] // 2, picture.shape[0] - CROP[1]))
    left = max(0, min(corner.left - CROP[0] // 2, picture.shape[1] - CROP[0]))
    Image.fromarray(picture[top:top + CROP[1], left:left + CROP[0]]).save(gallery.OUT / "large-print-crop.jpg",
                                                                           quality=88)
    whole = Image.fromarray(picture)
    whole.thumbnail((512, 512))
    whole.save(gallery.OUT / "large-print.jpg", quality=88)
    if out.exists():
        out.unlink()  # 8 MB: not for the repository
    shown = f"IMPASTO_MAX_MEMORY_GB={LARGE_BUDGET_GB} " + " ".join(
        gallery._short(p) for p in command if p != "--json").replace(str(source), "large-print.png")
    return {"name": "large-print", "command": shown, "summary": summary,
            "crop": {"left": left, "top": top, "width": CROP[0], "height": CROP[1]},
            "tiles": {"side": grid.side, "count": len(grid)}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=NAMES)
    parser.add_argument("--large-from", type=Path, help="crop this 2048 px picture instead of painting one")
    parser.add_argument("--weights", default=os.environ.get(
        "IMPASTO_VGG_WEIGHTS", str(gallery.ROOT.parent / "shared" / "weights" / "vgg16_hed_notop.weights.h5")))
    args = parser.parse_args()
    gallery.OUT.mkdir(parents=True, exist_ok=True)
    gallery.make_inputs()
    index_path = gallery.OUT / "index.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {}
    for name in args.only or NAMES:
        if name == "large-print":
            entry = large_print(args.weights, args.large_from)
        else:
            entry = gallery.make(name, args.weights)
        index[name] = entry
        index_path.write_text(json.dumps(index, indent=2) + "\n")
        print(f"{name}: done", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
