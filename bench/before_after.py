"""The default before and after a change, on every benchmark pair, timed in one run.

    git archive COMMIT src | tar -x -C /tmp/before          # the old engine, outside this checkout
    python bench/before_after.py --before /tmp/before/src --label COMMIT
    python bench/before_after.py --before /tmp/before/src --pairs starry_night --size 256   # a quick look

``--before`` is the folder that holds the old package: ``src`` for a commit since the package moved
to src/impasto/; for an older one (``git archive 80aaa5c app``), the folder that holds ``app/``.

Each picture is painted in a fresh process (as a CLI job is), the old engine's and this checkout's
one after the other for each pair, so that both meet the same load; the parent reads each child's
CPU seconds from the OS (they do not grow with other work on a shared machine, wall seconds do).
Both run their own default options at ``--size`` with seed 0. Every picture is scored with
bench/measures.py; one sheet per pair (photo, painting, before, after, and jcjohnson/neural-style's
output where there is one) and ``before_after.json`` go to ``--out-dir``, and a markdown table is
printed, the held-out pairs (bench/pairs/) apart from the tuned ones.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # harness and its neighbours, when run from elsewhere

import harness  # noqa: E402
from harness import RESULTS, ROOT, SRC, log  # noqa: E402
from quality import held_out_pairs, load_rgb, score_with_sheet, tuned_pairs  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = harness.argument_parser(__doc__)
    every = sorted({**tuned_pairs(), **held_out_pairs()})
    parser.add_argument("--before", required=True,
                        help="folder holding the old engine's package (impasto/, or app/ for older commits)")
    parser.add_argument("--label", default="before", help="what to call the old engine (e.g. its commit)")
    parser.add_argument("--pairs", nargs="*", default=every, choices=every, help="pairs (default: all seven)")
    parser.add_argument("--size", type=int, default=512)
    harness.add_weights(parser)
    parser.add_argument("--references", default=str(ROOT.parent / "shared" / "references"))
    parser.add_argument("--out-dir", default=str(RESULTS / "before-after"))
    return parser.parse_args(argv)


# The child: paint one picture with the engine found first on sys.path, print its facts as JSON.
CHILD = """
import json, sys, numpy as np
sys.path.insert(0, sys.argv[1])
from PIL import Image
try:
    from impasto.nst import Options
    from impasto.nst.engine import stylize
    from impasto.nst.images import load_image
except ImportError:  # an engine from before the package moved to src/impasto/ (80aaa5c and older)
    from app.nst import Options, stylize
    from app.nst.images import load_image
photo, painting, out, size, weights = sys.argv[2:7]
result = stylize(load_image(photo), load_image(painting), options=Options.from_mapping({"size": size, "seed": 0}),
                 weights=weights)
Image.fromarray(np.asarray(result.image)[:, :, :3]).save(out)
print(json.dumps({"seconds": round(result.seconds, 2), "evaluations": result.evaluations,
                  "iterations": result.iterations}))
"""


def paint(tree: Path, photo: Path, painting: Path, out: Path, args: argparse.Namespace) -> dict:
    """One default picture by the engine in ``tree``, in its own process; its facts and CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, str(tree), str(photo), str(painting), str(out),
                           str(args.size), args.weights], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"the {tree} engine failed on {photo.name} × {painting.name}:\n{done.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    return {**facts, "process_seconds": round(time.perf_counter() - started, 2), "cpu_seconds": round(cpu, 2)}


def run_pair(pair, args: argparse.Namespace, out_dir: Path) -> dict[str, dict]:
    """Before and after for one pair: scores, facts and a sheet."""

    def painted():  # (label, picture, facts) of the old engine, then of this one
        for label, tree in ((f"before ({args.label})", Path(args.before)), ("after", SRC)):
            png = out_dir / f"{pair.name}_{'before' if tree != SRC else 'after'}.png"
            log(f"{pair.name}: {label}")
            facts = paint(tree, pair.photo, pair.painting, png, args)
            image = load_rgb(png)
            png.unlink()  # the sheet keeps the picture
            yield label, image, facts

    return score_with_sheet(pair, load_rgb(pair.photo), load_rgb(pair.painting), painted(), args,
                            out_dir / f"before_after_{pair.name}.jpg")


def table(results: dict[str, dict[str, dict]], names: list[str]) -> str:
    """Markdown: per pair the before, after and reference rows."""
    lines = ["| pair | picture | palette distance ↓ | HF vs painting | HF in flat areas | SSIM with photo "
             "| strokes in flat areas | SSIM in the shadows | evaluations | CPU seconds |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for pair in names:
        for picture, row in results[pair].items():
            lines.append(f"| {pair} | {picture} | {row['palette_distance']:.2f} | {row['hf_vs_painting']:.2f} | "
                         f"{row['flat_hf_vs_painting']:.2f} | {row['ssim_photo']:.3f} "
                         f"| {row['strokes_vs_painting']:.2f} | {row['dark_ssim']:.3f} | {row.get('evaluations', '')} "
                         f"| {row.get('cpu_seconds', '')} |")
    return "\n".join(lines)


def cpu_ratio(results: dict[str, dict[str, dict]]) -> float:
    """After's CPU seconds over before's, summed over the pairs."""
    before = sum(row["cpu_seconds"] for rows in results.values() for label, row in rows.items()
                 if label.startswith("before"))
    after = sum(rows["after"]["cpu_seconds"] for rows in results.values())
    return after / before


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    every = {**tuned_pairs(), **held_out_pairs()}
    started = harness.utc_now()
    load = os.getloadavg()[0]
    results: dict[str, dict[str, dict]] = {}
    for name in args.pairs:  # the report is rewritten after every pair: a long run stopped early keeps its pairs
        results[name] = run_pair(every[name], args, out_dir)
        report = {"started": started, "machine": harness.machine_facts(), "load_average_at_start": round(load, 2),
                  "size": args.size, "before": args.label,
                  "cpu_ratio_after_over_before": round(cpu_ratio(results), 3),
                  "held_out": sorted(set(results) & set(held_out_pairs())), "results": results}
        harness.write_report(out_dir / "before_after.json", report)
    tuned = [n for n in args.pairs if n in tuned_pairs()]
    held = [n for n in args.pairs if n in held_out_pairs()]
    for title, names in (("tuned pairs", tuned), ("held-out pairs (bench/pairs/)", held)):
        if names:
            print(f"\n{title}\n\n{table(results, names)}")
    print(f"\nCPU seconds, after / before, all pairs: {report['cpu_ratio_after_over_before']:.3f}")
    log(f"wrote {out_dir / 'before_after.json'} and the sheets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
