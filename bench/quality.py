"""How the pictures look, in numbers: each preset on the sample pairs, beside jcjohnson/neural-style.

    python bench/quality.py                    # default + strong-style + keep-detail, 3 pairs, 512 px
    python bench/quality.py --presets balanced --size 256    # a quicker look
    python bench/quality.py --pairs starry_night --iterations 200
    python bench/quality.py --presets balanced --size 256 --set tv_weight=0.1 --out-dir /tmp/tv  # try a knob
    python bench/quality.py --held-out --presets balanced   # the 4 pairs the defaults were not tuned on

For every (photo, painting) pair and preset it runs a transfer with a fixed seed and scores the
picture with model-free measures (bench/measures.py: none uses the VGG16 the optimiser sees):
palette distance to the painting (sliced Wasserstein in Lab), high-frequency energy relative to the
painting's and the photo's, SSIM of the luminance with the photo, plus the run's loss terms and
seconds. Where a reference output of jcjohnson/neural-style exists (``--references``, default
``../shared/references``) it is scored the same way. One contact sheet per pair (photo, painting,
each preset, the reference) goes to the output folder with ``quality.json``.
``--held-out`` runs the pairs of bench/pairs/ instead (two photos × two paintings the defaults were not
tuned on; bench/pairs/CREDITS.md), reported apart from the tuned ones.
The numbers keep us honest; looking at the sheets decides.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # harness and its neighbours, when run from elsewhere

import harness  # noqa: E402
from benchmark import side_by_side  # noqa: E402
from harness import RESULTS, ROOT, SHARED, log  # noqa: E402
from measures import picture_scores  # noqa: E402

STYLES = ROOT / "src" / "impasto" / "styles"
PHOTO = ROOT / "docs" / "gallery" / "photo.jpg"
SAMPLE_PHOTO = SHARED / "samples" / "tubingen.jpg"
# Reference file of jcjohnson/neural-style per built-in painting (../shared/references/README.md).
REFERENCE_FILES = {"starry_night": "jcjohnson_tubingen_starry.png", "the_scream": "jcjohnson_tubingen_scream.png",
                   "shipwreck": "jcjohnson_tubingen_shipwreck.png"}
PRESETS = ("balanced", "strong-style", "keep-detail")
HELD_OUT = ROOT / "bench" / "pairs"
HELD_OUT_PHOTOS = ("rocket", "coffee")
HELD_OUT_PAINTINGS = ("woman_with_a_hat", "great_wave")


@dataclass(frozen=True)
class Pair:
    """One (photo, painting) pair of the benchmark, with jcjohnson/neural-style's output where one exists."""

    name: str
    photo: Path
    painting: Path
    reference: str | None = None  # file name in --references


def tuned_pairs() -> dict[str, Pair]:
    """The Tübingen photo with each built-in painting: the pairs the defaults were tuned on."""
    photo = SAMPLE_PHOTO if SAMPLE_PHOTO.is_file() else PHOTO
    return {name: Pair(name, photo, STYLES / f"{name}.jpg", ref) for name, ref in REFERENCE_FILES.items()}


def held_out_pairs() -> dict[str, Pair]:
    """Each held-out photo with each held-out painting (bench/pairs/)."""
    return {f"{photo}-{painting}": Pair(f"{photo}-{painting}", HELD_OUT / f"{photo}.jpg", HELD_OUT / f"{painting}.jpg")
            for photo in HELD_OUT_PHOTOS for painting in HELD_OUT_PAINTINGS}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--pairs", nargs="*", default=None, choices=sorted({**tuned_pairs(), **held_out_pairs()}),
                        help="pairs to run (default: the three tuned pairs, or the four held-out ones)")
    parser.add_argument("--held-out", action="store_true",
                        help="run the held-out pairs of bench/pairs/ (not tuned on) instead of the tuned ones")
    parser.add_argument("--presets", nargs="*", default=list(PRESETS), help="presets to run (default: %(default)s)")
    parser.add_argument("--size", type=int, default=512, help="result size, longest side in px (default: 512)")
    parser.add_argument("--iterations", type=int, default=None, help="override the presets' iterations")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="override one option for every preset (repeatable), e.g. --set tv_weight=0.1")
    harness.add_weights(parser)
    parser.add_argument("--references", default=str(SHARED / "references"),
                        help="folder of jcjohnson/neural-style outputs (skipped where absent)")
    parser.add_argument("--out-dir", default=str(RESULTS / "quality"))
    return parser.parse_args(argv)


def load_rgb(path: Path) -> np.ndarray:
    from impasto.nst.images import load_image

    return load_image(str(path))


def run_preset(photo: np.ndarray, painting: np.ndarray, preset: str, args: argparse.Namespace) -> tuple[np.ndarray,
                                                                                                         dict]:
    """One transfer with a fixed seed; the picture and the run's facts."""
    from impasto.nst import Options
    from impasto.nst.engine import stylize

    values: dict[str, Any] = {"preset": preset, "size": args.size, "seed": 0}
    if args.iterations:
        values["iterations"] = args.iterations
    values.update(overrides(args.overrides))
    cpu_started = time.process_time()
    result = stylize(photo, painting, options=Options.from_mapping(values), weights=args.weights)
    # CPU seconds, not wall seconds, compare runs on a shared machine: they don't grow with others' load.
    facts = {"seconds": round(result.seconds, 2), "cpu_seconds": round(time.process_time() - cpu_started, 2),
             "iterations": result.iterations,
             "evaluations": result.evaluations, "precision": result.precision,
             "losses": {k: round(float(v), 4) for k, v in result.losses.items()}}
    return result.image, facts


def overrides(pairs: list[str]) -> dict[str, str]:
    """``--set NAME=VALUE`` arguments as a mapping (Options.from_mapping converts and checks them)."""
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set takes NAME=VALUE, got {pair!r}")
        values[name.strip()] = value.strip()
    return values


def score_pair(pair: Pair, args: argparse.Namespace, out_dir: Path) -> dict[str, dict]:
    """Every preset (and the reference) for one pair: scores, facts and a contact sheet."""
    photo, painting = load_rgb(pair.photo), load_rgb(pair.painting)

    def painted() -> Iterator[tuple[str, np.ndarray, dict]]:
        for preset in args.presets:
            log(f"{pair.name}: {preset} at {args.size} px")
            yield preset, *run_preset(photo, painting, preset, args)

    return score_with_sheet(pair, photo, painting, painted(), args, out_dir / f"sheet_{pair.name}_{args.size}.jpg")


def score_with_sheet(pair: Pair, photo: np.ndarray, painting: np.ndarray,
                     pictures: Iterable[tuple[str, np.ndarray, dict]], args: argparse.Namespace,
                     sheet: Path) -> dict[str, dict]:
    """Each (label, picture, facts) as it comes, scored, then jcjohnson/neural-style's output where
    ``--references`` has one; a row each, and one contact sheet (photo, painting, every picture) as JPEG."""
    from impasto.nst.images import resize_longest

    rows: dict[str, dict] = {}
    shown = {"photo": resize_longest(photo, args.size), "painting": resize_longest(painting, args.size)}
    for label, image, facts in pictures:
        rows[label] = {**picture_scores(image, photo, painting), **facts}
        shown[label] = image
        log(f"  {rows[label]}")
    reference = Path(args.references) / (pair.reference or "")
    if pair.reference and reference.is_file():
        ref = load_rgb(reference)
        rows["jcjohnson/neural-style"] = picture_scores(ref, photo, painting)
        shown["jcjohnson/neural-style"] = resize_longest(ref, args.size)
    side_by_side(_same_height(shown), sheet.with_suffix(".png"))
    _png_to_jpeg(sheet.with_suffix(".png"), sheet)
    return rows


def _same_height(pictures: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every panel at the smallest height among them (the sheet's row is one height)."""
    from PIL import Image

    height = min(p.shape[0] for p in pictures.values())
    out = {}
    for name, rgb in pictures.items():
        width = round(rgb.shape[1] * height / rgb.shape[0])
        out[name] = np.asarray(Image.fromarray(rgb).resize((width, height), Image.LANCZOS))
    return out


def _png_to_jpeg(png: Path, jpeg: Path) -> None:
    from PIL import Image

    with Image.open(png) as image:
        image.convert("RGB").save(jpeg, quality=88)
    png.unlink()


def table(results: dict[str, dict[str, dict]]) -> str:
    """Markdown: one row per pair and picture."""
    lines = ["| pair | picture | palette distance ↓ | HF vs painting | HF in flat areas vs painting | HF vs photo "
             "| SSIM with photo | strokes in flat areas vs painting | SSIM in the shadows | evaluations | CPU seconds "
             "| seconds |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for pair, rows in results.items():
        for picture, row in rows.items():
            run = " | ".join(str(row.get(key, "")) for key in ("evaluations", "cpu_seconds", "seconds"))
            lines.append(f"| {pair} | {picture} | {row['palette_distance']:.2f} | {row['hf_vs_painting']:.2f} | "
                         f"{row['flat_hf_vs_painting']:.2f} | {row['hf_vs_photo']:.2f} | {row['ssim_photo']:.3f} "
                         f"| {row['strokes_vs_painting']:.2f} | {row['dark_ssim']:.3f} | {run} |")
    return "\n".join(lines)


def chosen_pairs(args: argparse.Namespace) -> list[Pair]:
    """The pairs named by --pairs, else the tuned or (--held-out) the held-out ones."""
    every = {**tuned_pairs(), **held_out_pairs()}
    if args.pairs:
        return [every[name] for name in args.pairs]
    return list((held_out_pairs() if args.held_out else tuned_pairs()).values())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pairs = chosen_pairs(args)
    started = harness.utc_now()
    results = {pair.name: score_pair(pair, args, out_dir) for pair in pairs}
    report = {"started": started, "machine": harness.machine_facts(), "size": args.size, "presets": args.presets,
              "iterations": args.iterations, "held_out": args.held_out,
              "overrides": overrides(args.overrides), "out_dir": harness.relative_to_repo(out_dir),
              "pairs": {p.name: {"photo": os.path.relpath(p.photo, ROOT), "painting": os.path.relpath(p.painting, ROOT)}
                        for p in pairs},
              "results": results}
    harness.write_report(out_dir / "quality.json", report)
    print(table(results))
    log(f"wrote {out_dir / 'quality.json'} and the contact sheets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
