"""A real Prometheus (Debian's) scrapes `impasto serve` with docs/deploy/prometheus.yml (its credentials
file included: Prometheus sends the token) and its query API then tells the job the studio ran. It
scrapes from this machine, which may read /metrics anyway: the token's own check is in
tests/web/test_metrics.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, require
from tests.helpers import free_port, stop_process, wait_for
from tests.web.netclient import get_json, post_multipart, request, wait_until_up
from tests.web.served import PICTURES, impasto_serve

TOKEN = "p" * 48


@pytest.fixture(scope="module")
def prometheus() -> str:
    binary = shutil.which("prometheus") or ("/usr/bin/prometheus" if os.path.exists("/usr/bin/prometheus") else None)
    require(binary is not None, "prometheus is not installed (apt-get install prometheus)")
    return binary


def _config(folder: Path, studio_port: int) -> Path:
    """The shipped scrape config, pointed at the test's studio, scraping every second."""
    config = yaml.safe_load((ROOT / "docs" / "deploy" / "prometheus.yml").read_text(encoding="utf-8"))
    config["global"]["scrape_interval"] = "1s"
    (job,) = config["scrape_configs"]
    token_file = folder / "metrics_token"
    token_file.write_text(TOKEN)
    job["authorization"]["credentials_file"] = str(token_file)
    job["static_configs"][0]["targets"] = [f"127.0.0.1:{studio_port}"]
    path = folder / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _query(port: int, expression: str) -> list[dict]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    status, _, body = request(url)
    assert status == 200, body[:300]
    return json.loads(body)["data"]["result"]


def test_prometheus_scrapes_the_studio(prometheus: str, tmp_path: Path) -> None:
    studio_port, prometheus_port = free_port(), free_port()
    config = _config(tmp_path, studio_port)
    log = tmp_path / "processes.log"
    with impasto_serve(tmp_path / "data", log, port=studio_port, IMPASTO_METRICS="on",
                       IMPASTO_METRICS_TOKEN=TOKEN) as base, log.open("a") as out:
        scraper = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                    f"--web.listen-address=127.0.0.1:{prometheus_port}"],
                                   stdout=out, stderr=subprocess.STDOUT)
        try:
            status, job = post_multipart(base + "/api/jobs", {"size": "48", "iterations": "3"}, PICTURES)
            assert status == 202, job
            wait_for(lambda: get_json(base + job["urls"]["self"])[1]["state"] == "done", 120, "the job to finish")
            wait_until_up(f"http://127.0.0.1:{prometheus_port}/-/ready")

            def scraped_done() -> list[dict]:
                found = _query(prometheus_port, 'impasto_jobs_total{state="done"}')
                return found if found and found[0]["value"][1] == "1" else []

            wait_for(scraped_done, 60, "Prometheus to scrape the finished job", interval=0.5)
            (up,) = _query(prometheus_port, 'up{job="impasto"}')
            assert up["value"][1] == "1"
            (count,) = _query(prometheus_port, 'impasto_job_duration_seconds_count{state="done"}')
            assert count["value"][1] == "1"
            assert _query(prometheus_port, "impasto_workers_alive")[0]["value"][1] == "2"  # gunicorn's two processes
        finally:
            stop_process(scraper, 10)
