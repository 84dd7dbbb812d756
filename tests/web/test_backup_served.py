"""Backups, restore and the storage cap against the real `impasto serve` (gunicorn): `impasto backup`
reads the data folder while the studio runs, a new studio started on the restored folder serves the
same picture, and a studio over its storage cap answers 507 over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.conftest import ROOT
from tests.helpers import wait_for
from tests.web.netclient import get_json, post_multipart, request
from tests.web.served import PICTURES, impasto_serve
from tests.weights import UNTRAINED_WEIGHTS


def finished(base: str, job: dict) -> dict:
    """The job's JSON once it is done (its result's URL is there from then on)."""
    wait_for(lambda: get_json(base + job["urls"]["self"])[1]["state"] == "done", 120, "the job to finish")
    return get_json(base + job["urls"]["self"])[1]


def impasto(data: Path, *args: str) -> subprocess.CompletedProcess:
    """An `impasto` command with ``data`` as its data folder (the server's settings otherwise)."""
    env = {**os.environ, "IMPASTO_DATA_DIR": str(data), "IMPASTO_VGG_WEIGHTS": UNTRAINED_WEIGHTS}
    return subprocess.run([sys.executable, "-m", "impasto.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@contextmanager
def serving(data: Path, **settings: str) -> Iterator[str]:
    with impasto_serve(data, data.parent / "server.log", **settings) as base:
        yield base


def test_a_backup_of_a_running_studio_restores_into_a_studio_that_serves_the_same_picture(tmp_path: Path) -> None:
    data, restored, archive = tmp_path / "data", tmp_path / "restored", tmp_path / "studio.tar.gz"
    with serving(data) as base:
        status, job = post_multipart(base + "/api/jobs", {"size": "48", "iterations": "3"}, PICTURES)
        assert status == 202, job
        job = finished(base, job)
        status, _, picture = request(base + job["urls"]["result"])
        assert status == 200 and picture.startswith(b"\x89PNG")
        backup = impasto(data, "backup", str(archive))  # while the studio runs
        assert backup.returncode == 0 and backup.stderr.startswith("backed up 1 job, "), backup.stderr
    restore = impasto(restored, "restore", str(archive))
    assert restore.returncode == 0 and "restored 1 job" in restore.stderr, restore.stderr
    with serving(restored) as base:
        assert get_json(base + job["urls"]["self"])[1]["state"] == "done"
        status, _, again = request(base + job["urls"]["result"])
        assert status == 200 and again == picture
    refused = impasto(restored, "restore", str(archive))  # never over data
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1


def test_a_studio_over_its_storage_cap_answers_507_and_keeps_what_it_has(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serving(data) as base:
        status, job = post_multipart(base + "/api/jobs", {"size": "48", "iterations": "2"}, PICTURES)
        assert status == 202, job
        job = finished(base, job)
        picture = request(base + job["urls"]["result"])[2]
    with serving(data, IMPASTO_STORAGE_LIMIT_MB="0.01") as base:  # 10 KB: the first job's files are more
        status, refusal = post_multipart(base + "/api/jobs", {"size": "48", "iterations": "2"}, PICTURES)
        assert status == 507, refusal
        assert abs(refusal["limit_mb"] - 0.01) < 0.002 and refusal["used_mb"] > 0.01
        assert "IMPASTO_STORAGE_LIMIT_MB" in refusal["error"] and str(data) not in str(refusal)
        assert request(base + job["urls"]["result"])[2] == picture  # nothing stored is lost
