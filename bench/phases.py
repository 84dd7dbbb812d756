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

This machine's speed drifts by a fifth within minutes, and not alike for the article's float32
convolutions and our mixed work, so one CLI run against one article timing minutes away gave
37-47× on the same code. ``--rounds`` N (default 3) alternates them: CLI run, a few article
evaluations, CLI run, ...; the warm studio's job comes last, followed by its own article timing.
Each ratio pairs a run with the article's timing taken right after it; the median is quoted, and
the phase table is the median CLI run's. JSON goes to bench/results/phases-<size>.json and a
markdown table to stdout.
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
    parser.add_argument("--article-evaluations", type=int, default=3, help="evaluations timed after each run")
    parser.add_argument("--rounds", type=int, default=3, help="CLI runs, each followed by the article's timing")
    harness.add_weights(parser)
    args = parser.parse_args()
    report: dict[str, Any] = {"machine": harness.machine_facts(), "commit": harness.git_commit(),
                              "date": harness.utc_now(), "size": args.size}
    timer = None if args.skip_article else ArticleTimer(args)
    rounds = []
    for _ in range(max(1, args.rounds)):
        rounds.append({"cli": cli_job(args), "article": timer.time(args.article_evaluations) if timer else None})
    report["cli"] = median_run(rounds)
    report["studio"] = studio_second_job(args)
    if timer:
        report["article"] = {"set_up_seconds": timer.set_up, "seconds_per_evaluation": timer.per_evaluation(),
                             "full_run_seconds": round(ARTICLE_EVALUATIONS * timer.per_evaluation(), 1)}
        report["ratios"] = ratios(rounds, report["studio"], timer.time(args.article_evaluations))
    report["rounds"] = [{"cli_seconds": r["cli"]["seconds"], "article_seconds_per_evaluation": r["article"]}
                        for r in rounds]
    harness.write_report(RESULTS / f"phases-{args.size}.json", report)
    print(markdown(report))


def median_run(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The CLI run of median seconds (the lower middle of an even count), with every run's seconds."""
    runs = sorted((r["cli"] for r in rounds), key=lambda run: run["seconds"])
    return {**runs[(len(runs) - 1) // 2], "all_seconds": [r["cli"]["seconds"] for r in rounds]}


def ratios(rounds: list[dict[str, Any]], studio: dict[str, Any], studio_article: float) -> dict[str, Any]:
    """The article's full run over our seconds, each run paired with the article's timing after it."""
    cli = [ARTICLE_EVALUATIONS * r["article"] / r["cli"]["seconds"] for r in rounds]
    return {"cli": [round(x, 1) for x in cli], "cli_median": round(statistics.median(cli), 1),
            "studio": round(ARTICLE_EVALUATIONS * studio_article / studio["seconds"], 1),
            "studio_article_seconds_per_evaluation": studio_article}


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


class ArticleTimer:
    """The design article's loss and gradient at this size, set up (and traced) once, then timed
    a few evaluations at a time; its full run is extrapolated from the median evaluation."""

    def __init__(self, args) -> None:
        import numpy as np
        from blog_reference import BlogStyleTransfer, initial_image, load_rgb

        log(f"article: set up at {args.size} px")
        started = time.perf_counter()
        self.transfer = BlogStyleTransfer(load_rgb(DEFAULT_CONTENT), load_rgb(DEFAULT_STYLE), args.size, args.weights)
        self.x = initial_image(self.transfer.height, self.transfer.width, 0).astype(np.float64).ravel()
        self.transfer.evaluate(self.x)  # traces the graph
        self.set_up = round(time.perf_counter() - started, 2)
        self.seconds: list[float] = []

    def time(self, evaluations: int) -> float:
        """The median of ``evaluations`` evaluations timed now."""
        log(f"article: {evaluations} evaluations")
        now = []
        for _ in range(evaluations):
            tick = time.perf_counter()
            self.transfer.evaluate(self.x)
            now.append(time.perf_counter() - tick)
        self.seconds += now
        return round(statistics.median(now), 3)

    def per_evaluation(self) -> float:
        return round(statistics.median(self.seconds), 3)


def markdown(report: dict[str, Any]) -> str:
    """The phase table, and the ratios to the article's full run."""
    cli, studio = report["cli"], report["studio"]
    names = list(dict.fromkeys([*cli["phases"], *studio["phases"]]))
    lines = [f"| phase ({report['size']} px) | fresh CLI process (s) | warm studio, second job (s) |", "|---|---|---|"]
    for name in names:
        lines.append(f"| {name} | {_cell(cli, name)} | {_cell(studio, name)} |")
    lines.append(f"| **in all** | **{cli['seconds']}** | **{studio['seconds']}** |")
    lines.append(f"\nFirst preview on the warm studio: {studio['first_preview_seconds']} s after submission.")
    lines.append(f"CLI runs: {', '.join(f'{x} s' for x in cli['all_seconds'])} (the table: the median).")
    if "ratios" in report:
        ratio = report["ratios"]
        lines.append(f"The article's full run: {report['article']['full_run_seconds']} s ({ARTICLE_EVALUATIONS} × "
                     f"{report['article']['seconds_per_evaluation']} s, the median of all its timings); each run "
                     f"over the article timed right after it: CLI {', '.join(f'{x}×' for x in ratio['cli'])}, "
                     f"median **{ratio['cli_median']}×**; warm studio **{ratio['studio']}×**.")
    return "\n".join(lines)


def _cell(run: dict[str, Any], name: str) -> str:
    if name not in run["phases"]:
        return "–"
    count = run["counts"].get(name, 1)
    return f"{run['phases'][name]:.2f}" + (f" ({count}×)" if count > 1 else "")


if __name__ == "__main__":
    main()
