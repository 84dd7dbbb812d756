"""Sessions that end, and limits per person (issue "Safe to run for months"): sign-out ends the session
on the server, so a copy of the cookie stops working, in every server process; sign-out everywhere
ends every session of the password; a session lives IMPASTO_SESSION_DAYS from its start, judged by
the server; a new password ends every session. Signing in again, or a fresh cookie, gives no new
share of the per-client cap or rate limit: they count by address (or API token)."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from impasto.config import Settings, SettingsError
from tests.helpers import Clock
from tests.web.conftest import form, png_bytes, style_bytes

PASSWORD = "a password for sessions"
DAY = 86_400.0


def sign_in(client: FlaskClient, address: str = "127.0.0.1", password: str = PASSWORD) -> FlaskClient:
    response = client.post("/login", data={"password": password}, environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 303, response.text
    return client


def submit(client: FlaskClient, address: str = "127.0.0.1", **headers: str) -> Any:
    return client.post("/api/jobs", data=form(content=png_bytes(), style=style_bytes()),
                       content_type="multipart/form-data", environ_base={"REMOTE_ADDR": address}, headers=headers)


def copy_of(app: Flask, browser: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``browser``'s cookie (stolen, or restored from a backup)."""
    other = app.test_client()
    other.set_cookie("impasto_session", browser.get_cookie("impasto_session").value)
    return other


def signed_in(browser: FlaskClient) -> bool:
    return browser.get("/").status_code == 200 and browser.get("/api/jobs").status_code == 200


@pytest.fixture
def private(make_app: Callable[..., Flask]) -> Flask:
    return make_app(IMPASTO_PASSWORD=PASSWORD)


# -- sign-out ends the session on the server ------------------------------------------------------

def test_a_copy_of_the_cookie_stops_working_at_sign_out(private: Flask) -> None:
    alice = sign_in(private.test_client())
    copy = copy_of(private, alice)
    assert signed_in(copy)
    assert alice.post("/logout").status_code == 303
    assert not signed_in(alice) and not signed_in(copy)
    assert copy.get("/").headers["Location"].startswith("/login")
    assert copy.get_cookie("impasto_session") is None  # the ended session's cookie is cleared


def test_signing_in_again_ends_the_session_it_replaces(private: Flask) -> None:
    alice = sign_in(private.test_client())
    copy = copy_of(private, alice)
    sign_in(alice)
    assert signed_in(alice) and not signed_in(copy)


def test_sign_out_holds_in_every_server_process(make_app: Callable[..., Flask]) -> None:
    # Two apps on one data dir stand for two gunicorn processes.
    first, second = make_app(IMPASTO_PASSWORD=PASSWORD), make_app(IMPASTO_PASSWORD=PASSWORD)
    alice = sign_in(first.test_client())
    copy = copy_of(second, alice)
    assert signed_in(copy)
    alice.post("/logout")
    assert not signed_in(copy)


def test_sign_out_everywhere_ends_every_session_of_the_password(private: Flask) -> None:
    alice, bob = sign_in(private.test_client()), sign_in(private.test_client(), "10.0.0.2")
    copy = copy_of(private, bob)
    assert 'id="sign-out-everywhere"' in alice.get("/").text
    stranger = private.test_client()  # not signed in: sent to the login page, ends nothing
    assert stranger.post("/logout/everywhere").headers["Location"].startswith("/login")
    assert signed_in(bob)
    response = alice.post("/logout/everywhere")
    assert response.status_code == 303 and response.headers["Location"] == "/login?signed_out=everywhere"
    assert "Every browser that was signed in with this password is signed out" in alice.get(
        response.headers["Location"]).text
    assert not any(signed_in(browser) for browser in (alice, bob, copy))
    assert signed_in(sign_in(bob))  # signing in again works


def test_a_token_is_no_session_and_outlives_sign_out_everywhere(private: Flask) -> None:
    from impasto.jobs.tokens import new_token

    token, digest = new_token()
    private.extensions["impasto"].store.add_token("ci", digest)
    sign_in(private.test_client()).post("/logout/everywhere")
    script = private.test_client(use_cookies=False)
    assert script.get("/api/jobs", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_without_a_password_sign_out_ends_the_browsers_anonymous_session(app: Flask) -> None:
    browser = app.test_client()
    job_id = submit(browser).json["id"]
    copy = copy_of(app, browser)
    assert [job["id"] for job in copy.get("/api/jobs").json["jobs"]] == [job_id]
    response = browser.post("/logout")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert browser.get("/api/jobs").json["jobs"] == [] and copy.get("/api/jobs").json["jobs"] == []
    assert copy.post(f"/api/jobs/{job_id}/cancel").status_code == 404  # the copy no longer owns the job
    assert app.test_client().get(f"/api/jobs/{job_id}").json["state"] == "queued"  # still there, by its link
    refused = browser.post("/logout/everywhere")
    assert refused.status_code == 400 and "no password" in refused.text


# -- the lifetime, and a new password ---------------------------------------------------------

def test_a_session_ends_after_its_lifetime_whatever_the_cookie_says(make_app: Callable[..., Flask]) -> None:
    app = make_app(IMPASTO_PASSWORD=PASSWORD, IMPASTO_SESSION_DAYS=30)
    clock = Clock()
    app.extensions["impasto"].store.clock = clock  # the server's clock judges, not the browser's
    alice = sign_in(app.test_client())
    clock.now += 30 * DAY - 60
    assert signed_in(alice)
    clock.now += 60
    assert not signed_in(alice)
    assert signed_in(sign_in(alice))


def test_without_a_password_a_browser_is_forgotten_after_the_lifetime(make_app: Callable[..., Flask]) -> None:
    app = make_app(IMPASTO_SESSION_DAYS=0.5)
    clock = Clock()
    app.extensions["impasto"].store.clock = clock
    browser = app.test_client()
    job_id = submit(browser).json["id"]
    clock.now += DAY / 2 - 1
    assert [job["id"] for job in browser.get("/api/jobs").json["jobs"]] == [job_id]
    clock.now += 1
    assert browser.get("/api/jobs").json["jobs"] == []


def test_the_lifetime_is_30_days_by_default_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IMPASTO_SESSION_DAYS", raising=False)
    assert Settings.from_env().session_days == 30
    monkeypatch.setenv("IMPASTO_SESSION_DAYS", "0")
    with pytest.raises(SettingsError, match="IMPASTO_SESSION_DAYS must be a number above 0, got '0'"):
        Settings.from_env()


def test_a_new_password_ends_every_session_on_the_server(make_app: Callable[..., Flask]) -> None:
    old = make_app(IMPASTO_PASSWORD=PASSWORD)
    alice = sign_in(old.test_client())
    new = make_app(IMPASTO_PASSWORD="a new password")  # the same data dir and session key
    # Even a cookie signed again with the new password's fingerprint is refused: the server's record
    # of that session is the old password's.
    cookies = new.session_interface.get_signing_serializer(new)  # the same key signs both apps' cookies
    session_id = cookies.loads(alice.get_cookie("impasto_session").value)["id"]
    forged = cookies.dumps({"id": session_id, "signed_in": new.extensions["impasto_password"].fingerprint})
    browser = new.test_client()
    browser.set_cookie("impasto_session", forged)
    assert not signed_in(browser)
    assert signed_in(sign_in(new.test_client(), password="a new password"))


# -- limits per person ------------------------------------------------------------------------

def test_signing_in_again_gives_no_new_share_of_the_cap(make_app: Callable[..., Flask]) -> None:
    app = make_app(IMPASTO_PASSWORD=PASSWORD, IMPASTO_MAX_QUEUED_PER_CLIENT=3, IMPASTO_RATE_LIMIT="off")
    browsers = [sign_in(app.test_client()) for _ in range(3)]  # three sign-ins from one address
    codes = [submit(browser).status_code for browser in browsers for _ in range(2)]
    assert sorted(codes) == [202, 202, 202, 429, 429, 429]
    assert app.extensions["impasto"].store.counts() == {"queued": 3}
    assert submit(sign_in(app.test_client(), "10.0.0.2"), "10.0.0.2").status_code == 202  # another address


def test_signing_in_again_gives_no_new_rate_allowance(make_app: Callable[..., Flask]) -> None:
    app = make_app(IMPASTO_PASSWORD=PASSWORD, IMPASTO_RATE_LIMIT="2/minute")
    codes = [submit(sign_in(app.test_client())).status_code for _ in range(3)]  # a new cookie each time
    assert codes == [202, 202, 429]
    assert submit(sign_in(app.test_client(), "10.0.0.2"), "10.0.0.2").status_code == 202
