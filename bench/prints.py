"""Large prints in tiles: time, peak memory and seams of the real command line under a memory budget.

    python bench/prints.py                          # 2048 px, IMPASTO_MAX_MEMORY_GB=2, 30 iterations
    python bench/prints.py --sizes 2048 4096 --iterations 10 --budget 2
    python bench/prints.py --plan-only --sizes 2048 4096 8192   # the tile plans, no painting

Each size runs `impasto transfer` (Tübingen × The Starry Night) in its own process with
IMPASTO_MAX_MEMORY_GB set, and reports its wall and CPU seconds and its peak resident size (the
kernel's ru_maxrss of that process, as /usr/bin/time -v gives it). The seam measure is the test's
(tests/engine/test_tiles.py): at every tile border of the top scale, the mean absolute difference
of the neighbouring pixel columns (rows) over the median of the 16 around it; about 1 where nothing
shows, well above 1 at a seam. "elsewhere" is the same ratio's largest value at columns (rows)
that are no border, for comparison. Results: a markdown table on stdout and JSON in
bench/results/prints-<sizes>.json; the pictures in bench/results/prints-<size>.png.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # harness, when run from elsewhere or imported as bench.prints

import harness  # noqa: E402
from harness import DEFAULT_CONTENT as PHOTO  # noqa: E402
from harness import DEFAULT_STYLE as PAINTING  # noqa: E402
from harness import DEFAULT_WEIGHTS as WEIGHTS  # noqa: E402
from harness import RESULTS  # noqa: E402


def plan(size: int, budget_gb: float, scales: int = 0, iterations: int = 100) -> list[dict]:
    """Per scale: its size and how it is painted (whole, or tiles of a side) under the budget."""
    from PIL import Image

    from impasto.nst import tiles
    from impasto.nst.images import scaled_shape
    from impasto.nst.options import Options

    options = Options(size=size, scales=scales, iterations=iterations)
    with Image.open(PHOTO) as photo:
        width, height = photo.size
    rows = []
    for longest, iterations in zip(options.scale_sizes(), options.scale_iterations()):
        hw = scaled_shape(height, width, longest)
        try:
            grid = tiles.plan(hw, options.deepest_layer, budget_gb * 1e9)
        except Exception as exc:  # ResourceError: not even the smallest tiles fit
            rows.append({"size": longest, "hw": hw, "refused": str(exc)})
            continue
        rows.append({"size": longest, "hw": hw, "iterations": iterations,
                     "tiles": len(grid) if grid else 0, "side": grid.side if grid else None})
    return rows


def seam_ratios(picture: np.ndarray, borders: set[int], axis: int) -> tuple[float, float]:
    """(largest ratio at a tile border, largest ratio elsewhere) along one axis."""
    steps = np.abs(np.diff(picture.astype(float), axis=axis)).mean(axis=(1 - axis, 2))

    def ratio(b: int) -> float:
        return float(steps[b - 1] / np.median(steps[max(0, b - 9):b + 8]))

    at = [ratio(b) for b in borders if 0 < b < len(steps) + 1]
    near = {b + d for b in borders for d in range(-2, 3)}
    elsewhere = [ratio(b) for b in range(9, len(steps) - 8) if b not in near]
    return max(at, default=float("nan")), max(elsewhere, default=float("nan"))


def tile_borders(hw: tuple[int, int], side: int, axis: int) -> set[int]:
    """Every tile edge and every cross-fade's end of the top scale's grid, along one axis."""
    from impasto.nst import tiles

    grid = tiles.plan(hw, "block5_conv1", 1e12, side=side)
    edges = set()
    for tile in grid.tiles:
        start, stop = (tile.top, tile.bottom) if axis == 0 else (tile.left, tile.right)
        edges |= {start, start + min(grid.fades[axis], (stop - start) // 2), stop}
    return edges


def run(size: int, budget_gb: float, iterations: int, max_seconds: float | None = None, scales: int = 0) -> dict:
    """One CLI run in its own process: seconds, CPU seconds, peak RSS, the seam measure. Past
    ``max_seconds`` the run is stopped and reported as partial: how far it got (the progress bar's
    i/N), its peak RSS so far and the engine's own ETA."""
    from PIL import Image

    out = RESULTS / f"prints-{size}.png"
    log = RESULTS / f"prints-{size}.log"
    command = [str(Path(sys.executable).with_name("impasto")), "transfer", str(PHOTO), str(PAINTING),
               "--size", str(size), "--iterations", str(iterations), "--weights", str(WEIGHTS),
               "--scales", str(scales), "-o", str(out), "--json"]
    env = {**os.environ, "IMPASTO_MAX_MEMORY_GB": str(budget_gb), "TF_CPP_MIN_LOG_LEVEL": "2"}
    row = {"size": size, "budget_gb": budget_gb, "iterations": iterations, "scales": scales,
           "plan": plan(size, budget_gb, scales, iterations), "load_average_start": _load()}
    started = time.perf_counter()
    seen: dict[str, dict] = {}
    with open(log, "w") as stderr:
        child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
        while True:
            # wait4 reaps the child when it is done and gives its own resource use (ru_maxrss: its
            # peak resident size, in KiB); Popen.poll would reap it first and lose that.
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if max_seconds and time.perf_counter() - started >= max_seconds:
                row.update(per_scale=_per_scale(seen), load_average=_load())
                return {**row, **_stop(child, log, time.perf_counter() - started)}
            _sample(child.pid, log, time.perf_counter() - started, seen)
            time.sleep(5)
    row.update(per_scale=_per_scale(seen), load_average=_load())
    seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"{size} px failed:\n{log.read_text()[-2000:]}")
    summary = json.loads(child.stdout.read())
    picture = np.asarray(Image.open(out).convert("RGB"))
    row.update({"width": summary["width"], "height": summary["height"], "wall_s": round(seconds, 1),
                "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
                "peak_rss_gb": round(usage.ru_maxrss * 1024 / 1e9, 3), "evaluations": summary["evaluations"]})
    top = row["plan"][-1]
    if top.get("side"):
        for axis, name in ((1, "columns"), (0, "rows")):
            at, elsewhere = seam_ratios(picture, tile_borders(picture.shape[:2], top["side"], axis), axis)
            row[f"seam_{name}"] = round(at, 3)
            row[f"elsewhere_{name}"] = round(elsewhere, 3)
    return row


BAR = re.compile(r"(\d+)/(\d+) \[[^\]]*ETA ([\d:?]+), scale (\d+)/(\d+), (\d+) evaluations")


def _load() -> list[float]:
    """The machine's load average over 1, 5 and 15 minutes (other jobs share its 2 cores)."""
    return [round(x, 2) for x in os.getloadavg()]


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        ticks = handle.read().rsplit(")", 1)[1].split()
    return (int(ticks[11]) + int(ticks[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _sample(pid: int, log: Path, wall: float, scales: dict[str, dict]) -> None:
    """Every few seconds: the scale the progress bar shows, its evaluations so far, the child's CPU
    and wall seconds, kept as each scale's first sighting and the last one where it evaluated."""
    try:
        cpu = _cpu_seconds(pid)
    except (FileNotFoundError, ProcessLookupError):
        return
    bars = BAR.findall(log.read_text(errors="replace"))
    if not bars:
        return
    scale, evaluations = bars[-1][3], int(bars[-1][5])
    seen = {"wall_s": wall, "cpu_s": cpu, "evaluations": evaluations}
    known = scales.setdefault(scale, {"first": seen, "last": seen})
    if evaluations > known["last"]["evaluations"]:  # not the next scale's targets and set-up, still under this bar
        known["last"] = seen


def _per_scale(scales: dict[str, dict]) -> dict[str, dict]:
    """Per scale, from the samples: CPU and wall seconds per evaluation between its first and last
    sighting (5 s sampling: the scale's start and end are missed by up to 5 s each)."""
    found = {}
    for scale, seen in scales.items():
        first, last = seen["first"], seen["last"]
        done = last["evaluations"] - first["evaluations"]
        found[scale] = {"evaluations_timed": done,
                        "cpu_s_per_evaluation": round((last["cpu_s"] - first["cpu_s"]) / done, 3) if done else None,
                        "wall_s_per_evaluation": round((last["wall_s"] - first["wall_s"]) / done, 3) if done else None}
    return found


def _stop(child: subprocess.Popen, log: Path, seconds: float) -> dict:
    """A run stopped at its time limit: its progress, peak RSS and CPU seconds so far, the ETA."""
    with open(f"/proc/{child.pid}/status") as handle:
        peak_kib = next(int(line.split()[1]) for line in handle if line.startswith("VmHWM:"))
    cpu = _cpu_seconds(child.pid)
    child.kill()
    child.wait()
    bars = BAR.findall(log.read_text(errors="replace"))
    done, total, eta, scale, scales = bars[-1][:5] if bars else ("0", "?", "?", "?", "?")
    return {"partial": True, "wall_s": round(seconds, 1), "cpu_s": round(cpu, 1),
            "peak_rss_gb": round(peak_kib * 1024 / 1e9, 3), "progress": f"{done}/{total}",
            "scale": f"{scale}/{scales}", "eta": eta}


def describe(rows: list[dict]) -> str:
    return "; ".join(f"{r['size']}: refused" if "refused" in r else
                     f"{r['size']}: {r['tiles']} tiles of {r['side']} px" if r["tiles"] else f"{r['size']}: whole"
                     for r in rows)


def main() -> int:
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048])
    parser.add_argument("--budget", type=float, default=2.0, help="IMPASTO_MAX_MEMORY_GB (default 2)")
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--plan-only", action="store_true")
    parser.add_argument("--scales", type=int, default=0, help="as the CLI's --scales (0: by size)")
    parser.add_argument("--max-seconds", type=float, help="stop a run after this long and report how far it got")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.plan_only:
        for size in args.sizes:
            print(f"{size} px under {args.budget} GB: {describe(plan(size, args.budget, args.scales))}")
        return 0
    rows = []
    print("| size | budget | iterations | scales | wall s | CPU s | peak RSS "
          "| seam cols / elsewhere | seam rows / elsewhere |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        row = run(size, args.budget, args.iterations, args.max_seconds, args.scales)
        rows.append(row)
        if row.get("partial"):
            print(f"| {size} px (stopped at {row['wall_s']} s) | {args.budget} GB | {row['iterations']} "
                  f"| {describe(row['plan'])} | at {row['progress']} (scale {row['scale']}), ETA {row['eta']} "
                  f"| {row['cpu_s']} | {row['peak_rss_gb']} GB so far | - | - |", flush=True)
        else:
            print(f"| {row['width']}×{row['height']} | {args.budget} GB | {row['iterations']} "
                  f"| {describe(row['plan'])} | {row['wall_s']} | {row['cpu_s']} | {row['peak_rss_gb']} GB "
                  f"| {row.get('seam_columns', '-')} / {row.get('elsewhere_columns', '-')} "
                  f"| {row.get('seam_rows', '-')} / {row.get('elsewhere_rows', '-')} |", flush=True)
        name = "-".join(str(s) for s in args.sizes) + (f"-scales{args.scales}" if args.scales else "")
        harness.write_report(RESULTS / f"prints-{name}.json", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
