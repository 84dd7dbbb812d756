"""Who may see and change what (issue 11): ownership, share-by-link, delete, sign-in, API tokens, the
per-client cap. The Flask test client here; tests/web/test_access_served.py runs the same flows
against a real `impasto serve`."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path
from typing import Any, Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from impasto.cli import main as cli
from impasto.config import Settings, SettingsError
from impasto.jobs.execute import EngineSettings, run_job
from impasto.jobs.tokens import new_token
from impasto.web.signin import MAX_FAILURES, WINDOW_SECONDS
from tests.helpers import Clock
from tests.web.conftest import form, png_bytes, style_bytes
from tests.weights import UNTRAINED_WEIGHTS

PASSWORD = "correct horse battery staple"


def submit(client: FlaskClient, headers: dict[str, str] | None = None, address: str = "127.0.0.1", **fields: Any):
    return client.post("/api/jobs", data=form(content=png_bytes(), style=style_bytes(), **fields),
                       content_type="multipart/form-data", headers=headers or {},
                       environ_base={"REMOTE_ADDR": address})


def job_folder(app: Flask, job_id: str) -> Path:
    return Path(app.config["IMPASTO_DATA_DIR"]) / "jobs" / job_id


def listed(client: FlaskClient, headers: dict[str, str] | None = None) -> list[str]:
    response = client.get("/api/jobs", headers=headers or {})
    assert response.status_code == 200, response.json
    return [job["id"] for job in response.json["jobs"]]


@pytest.fixture
def bob(app: Flask) -> FlaskClient:
    """A second browser (its own cookie jar) on the same server as ``client``."""
    return app.test_client()


# -- ownership and share-by-link ----------------------------------------------------------------

def test_each_browser_lists_only_its_own_jobs(app: Flask, client: FlaskClient, bob: FlaskClient) -> None:
    mine = submit(client).json["id"]
    client.get("/")
    bob.get("/")  # bob's first visit gives him his cookie
    theirs = submit(bob).json["id"]
    assert listed(client) == [mine] and listed(bob) == [theirs]
    assert mine in client.get("/history").text and theirs not in client.get("/history").text
    assert theirs in bob.get("/history").text and mine not in bob.get("/history").text
    stranger = app.test_client(use_cookies=False)  # no cookie, no token: nothing
    assert listed(stranger) == [] and mine not in stranger.get("/history").text


def test_the_first_submission_sets_a_private_session_cookie(app: Flask, client: FlaskClient) -> None:
    assert "Set-Cookie" not in client.get("/").headers  # a page view (a bot's too) starts no session
    cookie = submit(client).headers["Set-Cookie"]
    assert cookie.startswith("impasto_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Expires=" in cookie  # kept across browser restarts, so the history stays
    assert app.extensions["impasto"].store.end_sessions("anonymous") == 1  # one session, on the server


def test_a_job_is_shared_by_its_link_but_only_its_owner_changes_it(app: Flask, client: FlaskClient,
                                                                    bob: FlaskClient) -> None:
    job_id = submit(client).json["id"]
    app.extensions["impasto"].dispatcher.run_next()
    bob.get("/")
    status = bob.get(f"/api/jobs/{job_id}").json
    assert status["state"] == "done" and not status["owned"]
    assert "cancel" not in status["urls"] and "delete" not in status["urls"]
    assert bob.get(status["urls"]["result"]).data.startswith(b"\x89PNG")
    assert bob.get(status["urls"]["content"]).status_code == 200
    page = bob.get(f"/jobs/{job_id}").text
    assert "Download PNG" in page and 'id="delete"' not in page
    # Bob cannot cancel or delete it: 404, nothing changed.
    for response in (bob.post(f"/api/jobs/{job_id}/cancel"), bob.delete(f"/api/jobs/{job_id}")):
        assert response.status_code == 404 and "not yours" in response.json["error"]
    assert bob.post(f"/jobs/{job_id}/delete").status_code == 404
    assert bob.post(f"/jobs/{job_id}/cancel").status_code == 404
    assert client.get(f"/api/jobs/{job_id}").json["state"] == "done" and job_folder(app, job_id).is_dir()
    owner_view = client.get(f"/api/jobs/{job_id}").json
    assert owner_view["owned"] and owner_view["urls"]["delete"] == f"/api/jobs/{job_id}"
    assert 'id="delete"' in client.get(f"/jobs/{job_id}").text


def test_a_first_submission_without_a_cookie_is_its_senders_at_once(client: FlaskClient) -> None:
    """The 202 to a client's very first request says the job is its own, with the cookie that proves it."""
    answer = submit(client)
    assert "impasto_session=" in answer.headers["Set-Cookie"]
    assert answer.json["owned"] and answer.json["urls"]["cancel"] == f"/api/jobs/{answer.json['id']}/cancel"
    assert client.post(answer.json["urls"]["cancel"]).json["state"] == "cancelled"


def test_only_the_owner_cancels(client: FlaskClient, bob: FlaskClient) -> None:
    job_id = submit(client).json["id"]
    bob.get("/")
    assert bob.post(f"/api/jobs/{job_id}/cancel").status_code == 404
    assert client.get(f"/api/jobs/{job_id}").json["state"] == "queued"
    assert 'id="cancel"' not in bob.get(f"/jobs/{job_id}").text and 'id="cancel"' in client.get(f"/jobs/{job_id}").text
    assert client.post(f"/api/jobs/{job_id}/cancel").json["state"] == "cancelled"


# -- delete -------------------------------------------------------------------------------------

def test_delete_removes_the_job_and_every_file(app: Flask, client: FlaskClient) -> None:
    done = submit(client).json["id"]
    app.extensions["impasto"].dispatcher.run_next()
    written = {path.name for path in job_folder(app, done).iterdir()}
    assert {"result.png", "preview.jpg", "thumb.jpg", "content.png"} <= written
    queued = submit(client).json["id"]
    response = client.delete(f"/api/jobs/{done}")
    assert response.status_code == 200 and response.json == {"id": done, "deleted": True}
    assert not job_folder(app, done).exists()
    assert client.get(f"/api/jobs/{done}").status_code == 404
    assert client.get(f"/api/jobs/{done}/result").status_code == 404
    assert client.get(f"/jobs/{done}").status_code == 404
    assert listed(client) == [queued]
    assert client.delete(f"/api/jobs/{done}").status_code == 404  # once only
    # The page's button, without JavaScript: a form POST, then the history.
    response = client.post(f"/jobs/{queued}/delete")
    assert response.status_code == 303 and response.headers["Location"] == "/history"
    assert listed(client) == [] and app.extensions["impasto"].store.counts() == {}
    assert not job_folder(app, queued).exists()


def test_deleting_a_running_job_stops_it_and_its_runner_writes_nothing(app: Flask, client: FlaskClient) -> None:
    """The owner deletes the job while the engine runs: the runner's next writes are refused, the
    engine stops at its next check, and no folder comes back."""
    job_id = submit(client, iterations="50").json["id"]
    store = app.extensions["impasto"].store
    assert store.claim("runner", 1).id == job_id
    deleted: list[int] = []
    original = store.update_progress

    def delete_midway(job: str, worker: str, progress: dict) -> bool:
        if progress["iteration"] == 2 and not deleted:
            with app.test_request_context():
                deleted.append(client.delete(f"/api/jobs/{job_id}").status_code)
        return original(job, worker, progress)

    store.update_progress = delete_midway  # type: ignore[method-assign]
    assert run_job(store, job_id, worker="runner", engine=EngineSettings(weights=UNTRAINED_WEIGHTS)) == "deleted"
    assert deleted == [200]
    assert store.get(job_id) is None and not job_folder(app, job_id).exists()
    assert store.counts() == {}


def test_delete_and_cancel_refuse_cross_site_posts(client: FlaskClient) -> None:
    job_id = submit(client).json["id"]
    evil = {"Origin": "https://evil.example"}
    assert client.delete(f"/api/jobs/{job_id}", headers=evil).status_code == 403
    assert client.post(f"/jobs/{job_id}/delete", headers=evil).status_code == 403
    assert listed(client) == [job_id]


# -- the per-client cap -------------------------------------------------------------------------

def test_a_client_over_its_cap_gets_429_with_retry_after(make_app: Callable[..., Flask]) -> None:
    app = make_app(IMPASTO_MAX_QUEUED_PER_CLIENT=2)
    client, other = app.test_client(), app.test_client()
    client.get("/")
    first, _ = submit(client).json["id"], submit(client)
    response = submit(client)
    assert response.status_code == 429 and response.headers["Retry-After"] == "60"
    assert response.json["limit"] == 2 and "2 jobs queued or running" in response.json["error"]
    assert len(listed(client)) == 2  # nothing stored
    other.get("/")
    assert submit(other, address="10.0.0.2").status_code == 202  # another browser is not held up
    assert submit(other).status_code == 429  # ... but a fresh cookie on the same address is no new client
    page = client.post("/", data=form(content=png_bytes(), style=style_bytes()), content_type="multipart/form-data")
    assert page.status_code == 429 and "2 jobs queued or running" in page.text and page.headers["Retry-After"]
    client.post(f"/api/jobs/{first}/cancel")  # a finished job frees a place
    assert submit(client).status_code == 202


def test_clients_without_cookie_or_token_are_counted_by_address(make_app: Callable[..., Flask]) -> None:
    app = make_app(IMPASTO_MAX_QUEUED_PER_CLIENT=1)
    script = app.test_client(use_cookies=False)  # a script that drops cookies gets a new id each time
    assert submit(script).status_code == 202
    assert submit(script).status_code == 429
    assert submit(script, headers={"X-Forwarded-For": "10.1.1.1"}).status_code == 429  # not trusted
    assert submit(script, address="10.0.0.9").status_code == 202  # another address


def test_the_cap_is_3_by_default_and_0_turns_it_off(make_app: Callable[..., Flask],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IMPASTO_MAX_QUEUED_PER_CLIENT", raising=False)
    assert Settings.from_env().max_queued_per_client == 3
    app = make_app(IMPASTO_MAX_QUEUED_PER_CLIENT=0)
    client = app.test_client()
    assert all(submit(client).status_code == 202 for _ in range(4))


# -- API tokens ---------------------------------------------------------------------------------

def add_token(app: Flask, name: str) -> dict[str, str]:
    token, digest = new_token()
    assert app.extensions["impasto"].store.add_token(name, digest)
    return {"Authorization": f"Bearer {token}"}


def test_a_job_made_with_a_token_belongs_to_the_token(app: Flask, client: FlaskClient) -> None:
    script = app.test_client(use_cookies=False)
    ci = add_token(app, "ci")
    response = submit(script, headers=ci)
    assert response.status_code == 202 and response.json["owned"]
    job_id = response.json["id"]
    assert app.extensions["impasto"].store.get(job_id).owner == "token:ci"
    assert listed(script, ci) == [job_id] and listed(client) == []
    assert listed(script, add_token(app, "laptop")) == []  # another token: other jobs
    assert client.post(f"/api/jobs/{job_id}/cancel").status_code == 404
    assert script.post(f"/api/jobs/{job_id}/cancel", headers=ci).json["state"] == "cancelled"
    assert script.delete(f"/api/jobs/{job_id}", headers=ci).status_code == 200


def test_wrong_and_revoked_tokens_get_401(app: Flask) -> None:
    script = app.test_client(use_cookies=False)
    ci = add_token(app, "ci")
    wrong = {"Authorization": "Bearer impasto_not-a-token"}
    for headers in (wrong, {"Authorization": "Bearer "}):
        response = submit(script, headers=headers)
        assert response.status_code == 401 and "not valid" in response.json["error"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert app.extensions["impasto"].store.counts() == {}
    assert listed(script, ci) == []
    app.extensions["impasto"].store.revoke_token("ci")
    assert script.get("/api/jobs", headers=ci).status_code == 401
    # Another scheme (a reverse proxy's Basic auth passed through) is not ours to judge.
    assert script.get("/api/jobs", headers={"Authorization": "Basic dXNlcjpwYXNz"}).status_code == 200


def test_token_command_creates_lists_and_revokes(app: Flask, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("IMPASTO_DATA_DIR", str(app.config["IMPASTO_DATA_DIR"]))
    assert cli(["token", "create", "ci"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    script = app.test_client(use_cookies=False)
    assert submit(script, headers={"Authorization": f"Bearer {token}"}).status_code == 202
    assert cli(["token", "create", "ci"]) == 2 and "exists" in capsys.readouterr().err
    assert cli(["token", "list"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ci\tcreated ") and token not in out
    assert cli(["token", "revoke", "ci"]) == 0
    assert script.get("/api/jobs", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert cli(["token", "revoke", "ci"]) == 2 and "no token named 'ci'" in capsys.readouterr().err
    assert cli(["token", "create", "no spaces"]) == 2 and "token name" in capsys.readouterr().err
    digests = [row.name for row in app.extensions["impasto"].store.tokens()]
    assert digests == []


# -- sign-in ------------------------------------------------------------------------------------

@pytest.fixture
def private(make_app: Callable[..., Flask]) -> Flask:
    return make_app(IMPASTO_PASSWORD=PASSWORD)


def sign_in(client: FlaskClient, password: str = PASSWORD, address: str = "127.0.0.1", **extra: str):
    return client.post("/login", data={"password": password, **extra}, environ_base={"REMOTE_ADDR": address})


def test_with_a_password_pages_redirect_and_the_api_answers_401(private: Flask) -> None:
    client = private.test_client()
    for path in ("/", "/history", "/jobs/whatever", "/styles/starry_night.jpg"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["Location"].startswith("/login?next="), path
    response = client.get("/api/jobs")
    assert response.status_code == 401 and "sign in" in response.json["error"]
    assert submit(client).status_code == 401 and private.extensions["impasto"].store.counts() == {}
    assert client.get("/healthz").status_code == 200
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/login").status_code == 200


def test_the_right_password_signs_in_and_sign_out_ends_it(private: Flask) -> None:
    client = private.test_client()
    response = sign_in(client, next="/history")
    assert response.status_code == 303 and response.headers["Location"] == "/history"
    assert client.get("/").status_code == 200 and "Sign out" in client.get("/").text
    job_id = submit(client).json["id"]
    assert listed(client) == [job_id]
    assert client.post("/logout").status_code == 303
    assert client.get("/").status_code == 303 and client.get("/api/jobs").status_code == 401
    sign_in(client)
    assert listed(client) == []  # a new session: signing out forgot this browser's jobs list


def test_sign_in_only_redirects_within_the_site(private: Flask) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "/\t/evil.example",
                   "/\n/evil.example", "/x\r\nSet-Cookie: a=b", "/ /evil.example"):
        response = sign_in(private.test_client(), next=target)
        assert response.status_code == 303 and response.headers["Location"] == "/", target
    assert sign_in(private.test_client(), next="/history?x=1").headers["Location"] == "/history?x=1"


def test_without_a_password_the_login_page_redirects_only_within_the_site(client: FlaskClient) -> None:
    response = client.get("/login", query_string={"next": "/\t/evil.example"})
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_a_wrong_password_says_only_that(private: Flask) -> None:
    client = private.test_client()
    response = sign_in(client, "guess")
    assert response.status_code == 401 and '<p class="error-box" id="login-error" role="alert">wrong password</p>' \
        in response.text
    assert PASSWORD not in response.text and client.get("/").status_code == 303


def test_wrong_passwords_are_slowed_down_per_address(private: Flask) -> None:
    clock = Clock()
    private.extensions["impasto_signin_failures"].clock = clock
    client = private.test_client()
    for _ in range(MAX_FAILURES):
        assert sign_in(client, "guess").status_code == 401
    response = sign_in(client)  # even the right one waits
    assert response.status_code == 429 and response.headers["Retry-After"] == str(int(WINDOW_SECONDS))
    assert "too many wrong passwords" in response.text
    other = private.test_client()
    assert sign_in(other, address="10.0.0.2").status_code == 303  # another address
    clock.now += WINDOW_SECONDS - 100
    assert sign_in(client).headers["Retry-After"] == "100"
    clock.now += 100
    assert sign_in(client).status_code == 303


def test_tries_sent_at_once_are_counted_before_their_check(private: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    # 30 wrong passwords sent at once: only MAX_FAILURES get a password check, however slow it is.
    release, answered = threading.Event(), threading.Condition()
    codes: list[int] = []
    password = private.extensions["impasto_password"]
    monkeypatch.setattr(password, "check", lambda candidate: release.wait(30) and False)  # a check in flight

    def guess() -> None:
        code = sign_in(private.test_client(), "guess").status_code
        with answered:
            codes.append(code)
            answered.notify()

    threads = [threading.Thread(target=guess) for _ in range(30)]
    for thread in threads:
        thread.start()
    with answered:  # the refused ones answer while the first tries are still being checked
        answered.wait_for(lambda: len(codes) == 30 - MAX_FAILURES, timeout=30)
    release.set()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [401] * MAX_FAILURES + [429] * (30 - MAX_FAILURES)


def test_a_changed_password_signs_every_browser_out(make_app: Callable[..., Flask]) -> None:
    first = make_app(IMPASTO_PASSWORD=PASSWORD)
    client = first.test_client()
    sign_in(client)
    assert client.get("/").status_code == 200
    cookie = client.get_cookie("impasto_session").value
    second = make_app(IMPASTO_PASSWORD="another one")  # same data dir, so the same session key
    other = second.test_client()
    other.set_cookie("impasto_session", cookie)
    assert other.get("/").status_code == 303
    same = make_app(IMPASTO_PASSWORD=PASSWORD).test_client()
    same.set_cookie("impasto_session", cookie)
    assert same.get("/").status_code == 200  # a restart with the same password keeps sessions


def test_a_token_works_with_a_password_set(private: Flask) -> None:
    script = private.test_client(use_cookies=False)
    ci = add_token(private, "ci")
    assert submit(script, headers=ci).status_code == 202 and len(listed(script, ci)) == 1


# -- the session key and the settings -----------------------------------------------------------

def test_the_session_key_is_made_once_private_and_shared(make_app: Callable[..., Flask]) -> None:
    first, second = make_app(), make_app()
    key_file = Path(first.config["IMPASTO_DATA_DIR"]) / "secret_key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert first.secret_key == second.secret_key == key_file.read_text().strip() and len(first.secret_key) == 64
    client = first.test_client()
    job_id = submit(client).json["id"]
    other = second.test_client()
    other.set_cookie("impasto_session", client.get_cookie("impasto_session").value)
    assert listed(other) == [job_id]  # another process (or a restart) knows the browser
    assert make_app(IMPASTO_SECRET_KEY="k" * 32).secret_key == "k" * 32


@pytest.mark.parametrize(("env", "message"), [
    ({"IMPASTO_SECRET_KEY": "short"}, "IMPASTO_SECRET_KEY must be at least 32 characters"),
    ({"IMPASTO_PASSWORD": "a", "IMPASTO_PASSWORD_FILE": "/run/secrets/x"}, "not both"),
    ({"IMPASTO_PASSWORD_FILE": "/nonexistent/pw"}, "IMPASTO_PASSWORD_FILE: cannot read"),
    ({"IMPASTO_MAX_QUEUED_PER_CLIENT": "-1"}, "IMPASTO_MAX_QUEUED_PER_CLIENT must be a whole number of at least 0"),
])
def test_bad_access_settings_are_named(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        Settings.from_env()


def test_the_password_file_is_read_and_never_printed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("from a docker secret\n")
    monkeypatch.setenv("IMPASTO_PASSWORD_FILE", str(secret))
    settings = Settings.from_env()
    assert settings.password == "from a docker secret" and "docker secret" not in repr(settings)
