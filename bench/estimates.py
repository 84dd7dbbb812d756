"""How close the studio's "takes about" is: its estimate before each job against the job's own time.

    python bench/estimates.py            # a fresh studio: pictures at 256, 96, 512 and 128 px, clips at 96 and 128 px

A studio (the embedded runner, its store in a temporary folder) warms up as a served one does
(src/impasto/jobs/warmup.py), then is asked ``GET /api/estimate`` for each job's settings (size, the
photo's aspect, a clip's frames) just before the job is submitted, with no job waiting; the job's
time is its own running time (``elapsed`` of the finished job). The first job is the fresh server's
first guess (the cost model at the warm-up's measured speed); each later estimate has learned from
the jobs before it. While each job runs, the ETA its page shows is read at every poll and set
against the time that was really left: the median error of the polls around a quarter, half and
three quarters of the job.
Writes bench/results/estimates.json and a markdown table to stdout.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # harness, when run from elsewhere

import harness  # noqa: E402
import video  # noqa: E402
from harness import DEFAULT_CONTENT, RESULTS, ROOT, log  # noqa: E402

from impasto.nst.clips import write_clip  # noqa: E402

CLIP_FRAMES = 8
ETA_SHARES = (0.25, 0.5, 0.75)  # where in a job its live ETA is checked
ETA_WINDOW = 0.05  # of the job's time, each side of those points
# (what, photo or "pan", painting, size): the order the studio sees them in
JOBS = [("picture", DEFAULT_CONTENT, "starry_night", 256), ("picture", DEFAULT_CONTENT, "the_scream", 96),
        ("picture", DEFAULT_CONTENT, "starry_night", 512), ("clip", "pan", "starry_night", 96),
        ("picture", ROOT / "bench" / "pairs" / "rocket.jpg", "the_scream", 128),
        ("clip", "pan", "the_scream", 128)]


def main() -> None:
    parser = harness.argument_parser(__doc__.splitlines()[0])
    harness.add_weights(parser)
    args = parser.parse_args()
    from impasto import create_app

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        client = create_app({"IMPASTO_DATA_DIR": folder, "IMPASTO_VGG_WEIGHTS": args.weights}).test_client()
        warmed = _warm_up_done()
        log(f"the runner warmed up: {warmed.seconds:.1f} s, {warmed.speed:.2f}× the cost model's time")
        for kind, photo, painting, size in JOBS:
            rows.append(one_job(client, kind, photo, painting, size))
    report = {"machine": harness.machine_facts(), "commit": harness.git_commit(), "date": harness.utc_now(),
              "jobs": rows}
    harness.write_report(RESULTS / "estimates.json", report)
    print(markdown(report))


def _warm_up_done(timeout: float = 120.0) -> Any:
    """The studio's warm-up (src/impasto/jobs/warmup.py), waited for: a person opens the page after the start."""
    from impasto.jobs import warmup

    deadline = time.monotonic() + timeout
    while (measured := warmup.measured()) is None:
        if time.monotonic() > deadline:
            raise SystemExit("the studio's runner did not warm up (IMPASTO_WARM_UP off, or no weights)")
        time.sleep(0.1)
    return measured


def _upload(kind: str, photo: Any, size: int) -> tuple[bytes, str, float, int]:
    """(bytes, file name, aspect, frames) of the job's content."""
    if kind == "clip":
        frames = video.pan_clip(size, CLIP_FRAMES)
        height, width = frames[0].shape[:2]
        return write_clip(frames, video.FPS, "mp4"), "pan.mp4", min(height, width) / max(height, width), len(frames)
    from PIL import Image

    with Image.open(photo) as image:
        width, height = image.size
    return Path(photo).read_bytes(), Path(photo).name, min(height, width) / max(height, width), 1


def one_job(client, kind: str, photo: Any, painting: str, size: int) -> dict[str, Any]:
    import io

    data, name, aspect, frames = _upload(kind, photo, size)
    query = {"size": size, "aspect": round(aspect, 3), "frames": frames}
    estimate = client.get("/api/estimate", query_string=query).get_json()
    log(f"{kind} at {size} px: estimated {estimate['seconds']} s ({estimate['measured_jobs']} jobs learned from)")
    answer = client.post("/api/jobs", data={"content": (io.BytesIO(data), name), "style_name": painting,
                                            "size": str(size), "seed": "0"})
    if answer.status_code != 202:
        raise SystemExit(f"the studio refused the job: {answer.status_code} {answer.get_data(as_text=True)}")
    url = answer.get_json()["urls"]["self"]
    shown = []  # (elapsed, ETA) as the job's page showed them while it ran
    while (job := client.get(url).get_json())["state"] in ("queued", "running"):
        if job["state"] == "running" and (job.get("progress") or {}).get("eta") is not None:
            shown.append((job["elapsed"], job["progress"]["eta"]))
        time.sleep(0.2)
    if job["state"] != "done":
        raise SystemExit(f"the studio's job ended {job['state']}: {job['error']}")
    took = job["elapsed"]
    return {"kind": kind, "photo": Path(str(photo)).name, "painting": painting, "size": size, "frames": frames,
            "estimate_seconds": estimate["seconds"], "learned_from": estimate["measured_jobs"],
            "seconds": took, "error_percent": round(100 * (estimate["seconds"] - took) / took, 1),
            "eta_error_percent": eta_errors(shown, took)}


def eta_errors(shown: list[tuple[float, float]], took: float) -> dict[str, float | None]:
    """The live ETA's error against the time that was really left, around a quarter, half and three
    quarters of the job: the median over the polls within ETA_WINDOW of the job's time each side of
    the point (one poll is one moment: a slow iteration moves it), else the nearest poll."""
    errors: dict[str, float | None] = {}
    for share in ETA_SHARES:
        point = share * took
        near = [(elapsed, eta) for elapsed, eta in shown if abs(elapsed - point) <= ETA_WINDOW * took]
        near = near or sorted(shown, key=lambda pair: abs(pair[0] - point))[:1]
        relative = [(eta - (took - elapsed)) / (took - elapsed) for elapsed, eta in near if took - elapsed > 0]
        errors[f"{round(share * 100)} %"] = round(100 * statistics.median(relative), 1) if relative else None
    return errors


def markdown(report: dict[str, Any]) -> str:
    lines = [f"Estimates against the jobs' own time, {report['date']}, commit {report['commit']}, "
             f"{report['machine']['cpu']}", "",
             "| job | learned from | estimate (s) | took (s) | error | live ETA's error at 25 / 50 / 75 % |",
             "|---|---|---|---|---|---|"]
    for row in report["jobs"]:
        what = f"{row['kind']} {row['size']} px" + (f", {row['frames']} frames" if row["frames"] > 1 else "")
        live = " / ".join("–" if e is None else f"{e:+.0f} %" for e in row["eta_error_percent"].values())
        lines.append(f"| {what}, {row['painting']} | {row['learned_from']} jobs | {row['estimate_seconds']} | "
                     f"{row['seconds']} | {row['error_percent']:+.0f} % | {live} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
