"""Issue 11's access flows against the real thing: `impasto serve` (gunicorn, two processes) with a
password, a per-client cap of 1 and an API token made by `impasto token create`, as docs/security.md says."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from impasto.web.signin import MAX_FAILURES
from tests.helpers import free_port, stop_process, venv_tool, wait_for
from tests.web.conftest import png_bytes, style_bytes
from tests.web.netclient import Browser, wait_until_up
from tests.weights import UNTRAINED_WEIGHTS

PASSWORD = "served studio password"
JOB = {"size": "48", "iterations": "500"}  # long enough to stay queued or running while the test looks
FILES = {"content": ("photo.png", png_bytes()), "style": ("art.jpg", style_bytes())}


class Served:
    def __init__(self, base: str, data: Path, env: dict[str, str], log: Path) -> None:
        self.base, self.data, self.env, self.log = base, data, env, log

    def impasto(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([venv_tool("impasto") or "impasto", *args], env=self.env, capture_output=True,
                              text=True, timeout=60)

    def signed_in(self) -> Browser:
        browser = Browser(self.base)
        status, _, _ = browser.post_form("/login", {"password": PASSWORD})
        assert status == 200 and browser.last_url == self.base + "/", browser.last_url
        return browser

    def idle(self, timeout: float = 60) -> None:
        """Wait until no job runs (a deleted job's runner has stopped)."""
        def quiet() -> bool:
            health = Browser(self.base).json("GET", "/healthz")[1]
            return health["running"] == 0 and health["queued"] == 0

        wait_for(quiet, timeout, "no job running or queued", interval=0.2)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("served")
    data = root / "data"
    port = free_port()
    env = {**os.environ, "IMPASTO_DATA_DIR": str(data), "IMPASTO_VGG_WEIGHTS": UNTRAINED_WEIGHTS,
           "IMPASTO_PASSWORD": PASSWORD, "IMPASTO_MAX_QUEUED_PER_CLIENT": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    log_path = root / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen([venv_tool("impasto") or "impasto", "serve", "--port", str(port), "--workers", "2"],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base + "/healthz")
            yield Served(base, data, env, log_path)
        finally:
            stop_process(server, 30)
    text = log_path.read_text()
    assert "Traceback" not in text, text[-3000:]


def test_without_signing_in_pages_go_to_login_and_the_api_says_401(served: Served) -> None:
    anonymous = Browser(served.base)
    status, _, page = anonymous.call("GET", "/history")
    assert status == 200 and anonymous.last_url == served.base + "/login?next=%2Fhistory" and b"Sign in" in page
    status, body = anonymous.json("GET", "/api/jobs")
    assert status == 401 and "sign in" in body["error"]
    status, _, body = anonymous.submit(JOB, FILES)
    assert status == 401
    assert anonymous.call("GET", "/healthz")[0] == 200 and anonymous.call("GET", "/static/style.css")[0] == 200


def test_two_browsers_see_only_their_own_jobs_and_share_by_link(served: Served) -> None:
    alice, bob = served.signed_in(), served.signed_in()
    cookie = next(iter(alice.cookies))
    assert cookie.name == "impasto_session" and cookie.has_nonstandard_attr("HttpOnly")
    assert cookie.get_nonstandard_attr("SameSite") == "Lax"
    status, _, job = alice.submit(JOB, FILES)
    assert status == 202, job
    job_id = job["id"]
    # Whichever server process answers knows alice's session: one key, made once into the data dir.
    # (Which process takes a connection is the kernel's choice; tests/web/test_gunicorn.py shows both do.)
    for _ in range(20):
        status, body = alice.json("GET", "/api/jobs")
        assert status == 200 and [j["id"] for j in body["jobs"]] == [job_id]
    assert oct((served.data / "secret_key").stat().st_mode & 0o777) == "0o600"
    assert bob.json("GET", "/api/jobs") == (200, {"jobs": []})
    assert job_id.encode() not in bob.call("GET", "/history")[2]
    # Share by link: bob sees the job and its pictures, but cannot cancel or delete it.
    status, seen = bob.json("GET", f"/api/jobs/{job_id}")
    assert status == 200 and not seen["owned"] and "delete" not in seen["urls"]
    assert bob.call("GET", seen["urls"]["content"])[2].startswith(b"\x89PNG")
    for method, path in (("POST", f"/api/jobs/{job_id}/cancel"), ("DELETE", f"/api/jobs/{job_id}")):
        status, _, body = bob.call(method, path, b"" if method == "POST" else None)
        assert status == 404 and "not yours" in json.loads(body)["error"], (method, body)
    assert alice.json("GET", f"/api/jobs/{job_id}")[1]["state"] in ("queued", "running")
    assert not alice.json("GET", f"/api/jobs/{job_id}")[1]["cancel_requested"]
    # The per-client cap: alice has one job queued or running.
    status, headers, body = alice.submit(JOB, FILES)
    assert status == 429 and headers["Retry-After"] == "60" and body["limit"] == 1
    assert "1 job queued or running" in body["error"]
    # Delete: the job and every file of it go, even while it runs.
    assert (served.data / "jobs" / job_id / "content.png").is_file()
    assert alice.json("DELETE", f"/api/jobs/{job_id}") == (200, {"id": job_id, "deleted": True})
    assert not (served.data / "jobs" / job_id).exists()
    assert alice.json("GET", f"/api/jobs/{job_id}")[0] == 404 and alice.json("GET", "/api/jobs")[1] == {"jobs": []}
    served.idle()
    assert not (served.data / "jobs" / job_id).exists()  # the stopped runner wrote nothing back
    status, _, again = alice.submit(JOB, FILES)  # the cap has room again
    assert status == 202
    assert alice.json("DELETE", f"/api/jobs/{again['id']}")[0] == 200
    served.idle()


def test_api_tokens_right_wrong_revoked_and_missing(served: Served) -> None:
    made = served.impasto("token", "create", "ci")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    script = Browser(served.base, {"Authorization": f"Bearer {token}"})
    status, _, job = script.submit(JOB, FILES)
    assert status == 202 and job["owned"], job
    assert [j["id"] for j in script.json("GET", "/api/jobs")[1]["jobs"]] == [job["id"]]
    assert served.signed_in().json("GET", "/api/jobs")[1] == {"jobs": []}  # a browser sees none of them
    wrong = Browser(served.base, {"Authorization": "Bearer impasto_wrong"})
    assert wrong.json("GET", "/api/jobs")[0] == 401 and wrong.submit(JOB, FILES)[0] == 401
    assert Browser(served.base).json("GET", "/api/jobs")[0] == 401  # missing
    assert script.json("DELETE", f"/api/jobs/{job['id']}")[0] == 200
    listed = served.impasto("token", "list")
    assert listed.stdout.startswith("ci\t") and token not in listed.stdout
    assert served.impasto("token", "revoke", "ci").returncode == 0
    status, body = script.json("GET", "/api/jobs")
    assert status == 401 and "not valid" in body["error"]
    served.idle()


def test_wrong_passwords_are_slowed_down(served: Served) -> None:
    """Last in this module: it leaves 127.0.0.1 locked out for a while."""
    mallory = Browser(served.base)
    answers = []
    for _ in range(2 * MAX_FAILURES + 1):  # each of the two processes counts for itself
        status, headers, page = mallory.post_form("/login", {"password": "guess"})
        answers.append(status)
        assert PASSWORD.encode() not in page
        if status == 429:
            assert int(headers["Retry-After"]) > 0 and b"too many wrong passwords" in page
            break
        assert status == 401 and b"wrong password" in page
    assert answers[-1] == 429 and MAX_FAILURES < len(answers) <= 2 * MAX_FAILURES + 1, answers
