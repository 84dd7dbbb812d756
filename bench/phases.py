"""Where a default picture's seconds go, phase by phase, against the design article's run, in one run.

    python bench/phases.py                  # 512 px: a fresh CLI process, a warm studio's second job, the article
    python bench/phases.py --size 96        # a small picture (the article's evaluation is timed at --size too)
    python bench/phases.py --skip-article   # without the article's evaluations (a minute at 512 px)

Three measurements, one after the other on the same machine:

- **CLI**: ``impasto transfer --json`` in a fresh process (Tübingen × The Starry Night, seed 0); the
  wall seconds from outside, the engine's phases from its JSON (weights; per scale: set-up with the
  style targets, the first call's tracing, evaluations, scipy's own work), start-up and saving as
  what is left.
- **Warm studio**: a studio (the embedded runner, its SQLite store in a temporary folder) paints a
  first job, then a second with another photo and another painting; the second's phases and its
  seconds from submission to done are what a person waiting on a warm server sees.
- **Article**: the design article's loss and gradient (bench/blog_reference.py) at the same size,
  timed over a few evaluations after a warm-up; its full run is 10 rounds of 21 evaluations.

The ratio quoted is the article's full run over our seconds, both from this run. JSON goes to
bench/results/phases-<size>.json and a markdown table to stdout.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # harness, when run from elsewhere

import harness  # noqa: E402
from harness import DEFAULT_CONTENT, DEFAULT_STYLE, RESULTS, ROOT, log  # noqa: E402

ARTICLE_EVALUATIONS = 210  # 10 rounds of fmin_l_bfgs_b(maxfun=20), 21 evaluations each
SECOND_PHOTO = ROOT / "bench" / "pairs" / "rocket.jpg"
SECOND_PAINTING = "the_scream"


def main() -> None:
    parser = harness.argument_parser(__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--skip-article", action="store_true")
    parser.add_argument("--article-evaluations", type=int, default=3, help="evaluations timed after one warm-up")
    harness.add_weights(parser)
    args = parser.parse_args()
    report: dict[str, Any] = {"machine": harness.machine_facts(), "commit": harness.git_commit(),
                              "date": harness.utc_now(), "size": args.size}
    report["cli"] = cli_job(args)
    report["studio"] = studio_second_job(args)
    if not args.skip_article:
        report["article"] = article(args)
    harness.write_report(RESULTS / f"phases-{args.size}.json", report)
    print(markdown(report))


def cli_job(args) -> dict[str, Any]:
    """One default picture from a fresh `impasto transfer` process."""
    log(f"CLI: a fresh process at {args.size} px")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "cli.png"
        command = [sys.executable, "-m", "impasto.cli", "transfer", str(DEFAULT_CONTENT), str(DEFAULT_STYLE),
                   "-o", str(out), "--size", str(args.size), "--seed", "0", "--json", "--quiet",
                   "--weights", args.weights]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=folder)
        wall = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"impasto transfer failed:\n{done.stderr[-2000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    phases = {name: value["seconds"] for name, value in summary["timings"].items()}
    phases["start-up and saving"] = round(wall - summary["seconds"], 3)
    return {"seconds": round(wall, 2), "engine_seconds": summary["seconds"], "evaluations": summary["evaluations"],
            "phases": phases, "counts": {name: value["count"] for name, value in summary["timings"].items()}}


def studio_second_job(args) -> dict[str, Any]:
    """A warm studio's second job: another photo and another painting than its first."""
    from impasto import create_app

    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"IMPASTO_DATA_DIR": folder, "IMPASTO_VGG_WEIGHTS": args.weights})
        client = app.test_client()
        log(f"studio: first job at {args.size} px (warms the runner)")
        submit_and_wait(client, DEFAULT_CONTENT, "starry_night", args.size)
        log(f"studio: second job at {args.size} px, {SECOND_PHOTO.name} × {SECOND_PAINTING}")
        job, seconds, first_preview = submit_and_wait(client, SECOND_PHOTO, SECOND_PAINTING, args.size)
    timings = job["summary"]["timings"]
    phases = {name: value["seconds"] for name, value in timings.items()}
    phases["queue, decoding, saving"] = round(seconds - job["summary"]["seconds"], 3)
    return {"seconds": round(seconds, 2), "engine_seconds": job["summary"]["seconds"],
            "first_preview_seconds": first_preview, "evaluations": job["summary"]["evaluations"],
            "phases": phases, "counts": {name: value["count"] for name, value in timings.items()}}


def submit_and_wait(client, photo: Path, painting: str, size: int) -> tuple[dict, float, float | None]:
    """Submit through the API, poll until done: (the job, seconds to done, seconds to its first preview)."""
    started = time.perf_counter()
    with photo.open("rb") as handle:
        answer = client.post("/api/jobs", data={"content": (handle, photo.name), "style_name": painting,
                                                "size": str(size), "seed": "0"})
    if answer.status_code != 202:
        raise SystemExit(f"the studio refused the job: {answer.status_code} {answer.get_data(as_text=True)}")
    url, first_preview = answer.get_json()["urls"]["self"], None
    while True:
        job = client.get(url).get_json()
        if first_preview is None and job["urls"].get("preview"):
            first_preview = round(time.perf_counter() - started, 2)
        if job["state"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    if job["state"] != "done":
        raise SystemExit(f"the studio's job ended {job['state']}: {job['error']}")
    return job, time.perf_counter() - started, first_preview


def article(args) -> dict[str, Any]:
    """The design article's evaluation at this size, and its full run extrapolated from it."""
    import numpy as np
    from blog_reference import BlogStyleTransfer, initial_image, load_rgb

    log(f"article: {args.article_evaluations} evaluations at {args.size} px after a warm-up")
    started = time.perf_counter()
    transfer = BlogStyleTransfer(load_rgb(DEFAULT_CONTENT), load_rgb(DEFAULT_STYLE), args.size, args.weights)
    x = initial_image(transfer.height, transfer.width, 0).astype(np.float64).ravel()
    transfer.evaluate(x)  # traces the graph
    set_up = time.perf_counter() - started
    seconds = []
    for _ in range(args.article_evaluations):
        tick = time.perf_counter()
        transfer.evaluate(x)
        seconds.append(time.perf_counter() - tick)
    per_evaluation = statistics.median(seconds)
    return {"set_up_seconds": round(set_up, 2), "seconds_per_evaluation": round(per_evaluation, 3),
            "full_run_seconds": round(ARTICLE_EVALUATIONS * per_evaluation, 1)}


def markdown(report: dict[str, Any]) -> str:
    """The phase table, and the ratios to the article's full run."""
    cli, studio = report["cli"], report["studio"]
    names = list(dict.fromkeys([*cli["phases"], *studio["phases"]]))
    lines = [f"| phase ({report['size']} px) | fresh CLI process (s) | warm studio, second job (s) |", "|---|---|---|"]
    for name in names:
        lines.append(f"| {name} | {_cell(cli, name)} | {_cell(studio, name)} |")
    lines.append(f"| **in all** | **{cli['seconds']}** | **{studio['seconds']}** |")
    lines.append(f"\nFirst preview on the warm studio: {studio['first_preview_seconds']} s after submission.")
    if "article" in report:
        full = report["article"]["full_run_seconds"]
        lines.append(f"The article's full run: {full} s ({ARTICLE_EVALUATIONS} × "
                     f"{report['article']['seconds_per_evaluation']} s); ratio {full / cli['seconds']:.1f}× "
                     f"(CLI), {full / studio['seconds']:.1f}× (warm studio).")
    return "\n".join(lines)


def _cell(run: dict[str, Any], name: str) -> str:
    if name not in run["phases"]:
        return "–"
    count = run["counts"].get(name, 1)
    return f"{run['phases'][name]:.2f}" + (f" ({count}×)" if count > 1 else "")


if __name__ == "__main__":
    main()
