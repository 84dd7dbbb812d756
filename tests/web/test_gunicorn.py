"""The real thing: `impasto serve` (gunicorn -w 2). Polls reach both processes and always find
the job; the job runs once and finishes."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import wait_for
from tests.web.netclient import get_json, post_multipart, request
from tests.web.served import PICTURES, impasto_serve


def test_gunicorn_two_workers_share_the_jobs(tmp_path: Path) -> None:
    with impasto_serve(tmp_path, tmp_path / "server.log") as base:
        status, job = post_multipart(base + "/api/jobs", {"size": "48", "iterations": "4"}, PICTURES)
        assert status == 202, job
        processes: set[int] = set()

        def finished() -> dict | None:
            status, body = get_json(base + job["urls"]["self"])
            assert status == 200, body  # no process ever answers 404 for a job another one stored
            processes.add(get_json(base + "/healthz")[1]["process"])
            return body if body["state"] in ("done", "failed", "cancelled") and len(processes) >= 2 else None

        body = wait_for(finished, 120, "the job to end, polled through both processes", interval=0.1)
        assert body["state"] == "done", (body["state"], body.get("error"))
        assert len(processes) == 2, f"polls reached only {processes}"
        assert request(base + body["urls"]["result"])[2].startswith(b"\x89PNG")
        assert body["progress"]["iteration"] == 4
    text = (tmp_path / "server.log").read_text()
    assert text.count("claimed by") == 1, text[-3000:]
