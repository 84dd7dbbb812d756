"""/metrics under the real `impasto serve` (gunicorn -w 2): whichever process answers a scrape, it
adds up both processes' files: the job counted once (by the process that ran it), two workers alive."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import free_port, wait_for
from tests.web.netclient import get_json, post_multipart
from tests.web.served import PICTURES, impasto_serve


def scrape(port: int) -> tuple[int, dict[tuple[str, tuple], float]]:
    """(the process that answered, the scrape): /healthz then /metrics on one kept-alive connection,
    which gunicorn serves from one process."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/healthz")
        process = json.loads(connection.getresponse().read())["process"]
        connection.request("GET", "/metrics")
        answer = connection.getresponse()
        body = answer.read().decode()
        assert answer.status == 200, body[:300]
    finally:
        connection.close()
    return process, {(s.name, tuple(sorted(s.labels.items()))): s.value
                     for family in text_string_to_metric_families(body) for s in family.samples}


def test_every_process_scrapes_the_sum_of_both(tmp_path: Path) -> None:
    port = free_port()
    stale = tmp_path / "metrics" / "counter_999999.db"  # a previous run's file: serve starts from zero
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"\0" * 8)
    with impasto_serve(tmp_path, tmp_path / "server.log", port=port, IMPASTO_METRICS="on") as base:
        assert not stale.exists()
        status, job = post_multipart(base + "/api/jobs", {"size": "48", "iterations": "3"}, PICTURES)
        assert status == 202, job
        wait_for(lambda: get_json(base + job["urls"]["self"])[1]["state"] == "done", 120, "the job to finish")
        processes: set[int] = set()

        def both_scraped() -> bool:
            process, found = scrape(port)
            assert found[("impasto_jobs_total", (("state", "done"),))] == 1
            assert found[("impasto_job_duration_seconds_count", (("state", "done"),))] == 1
            assert found[("impasto_workers_alive", ())] == 2
            processes.add(process)
            return len(processes) == 2

        wait_for(both_scraped, 60, "scrapes while both processes answer", interval=0.05)
