"""Safe to expose (issue 11, points 4-7): trusted Host names, proxies, the submission rate limit,
security headers and no leaks, with the Flask test client. The same against a real `impasto serve`:
test_exposure_server.py."""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path
from typing import Any, Callable

import pytest
from flask import Flask, g, request, session
from flask.testing import FlaskClient
from PIL import Image

from impasto.config import Settings, SettingsError, masked_url
from impasto.jobs.execute import EngineSettings
from impasto.web.hosts import is_trusted
from impasto.web.limit_store import SqliteLimitStorage, storage_uri
from tests.conftest import ROOT
from tests.dispatch import Inline
from tests.web.conftest import form, nothing_stored, png_bytes, style_bytes

ATTACKER = "evil.example:8000"


def submit(client: FlaskClient, **extra: Any) -> Any:
    return client.post("/api/jobs", data=form(content=png_bytes(), style_name="starry_night"), **extra)


def job_count(app: Flask) -> int:
    return sum(app.extensions["impasto"].store.counts().values())


# -- trusted hosts ------------------------------------------------------------------------------

@pytest.mark.parametrize("host, trusted, expected", [
    ("localhost", (), True), ("localhost:8000", (), True), ("127.0.0.1:5000", (), True), ("[::1]:8000", (), True),
    ("LOCALHOST.", (), True),
    ("192.168.1.5:8000", (), True), ("[fd00::7]", (), True),  # an address cannot be a DNS rebinding
    ("evil.example:8000", (), False), ("studio.example.org", (), False), ("x.localhost", (), False),
    ("", (), False), ("a b", (), False), ("[::1", (), False), ("localhost:99999999", (), False),
    ("studio.example.org:443", ("studio.example.org",), True),
    ("a.example.net", (".example.net",), True), ("example.net", (".example.net",), True),
    ("badexample.net", (".example.net",), False),
    ("192.168.1.5", ("studio.example.org",), False),  # a list set by the operator is the whole list ...
    ("127.0.0.1:8000", ("studio.example.org",), True),  # ... but this machine itself always works
    ("anything.example", ("*",), True),
])
def test_which_hosts_are_trusted(host: str, trusted: tuple[str, ...], expected: bool) -> None:
    assert is_trusted(host, trusted) is expected


def test_a_dns_rebinding_page_is_refused_before_anything_runs(app: Flask, client: FlaskClient) -> None:
    # What a page on evil.example sends once its name points at 127.0.0.1: its own Host and Origin.
    rebinding = {"Host": ATTACKER, "Origin": f"http://{ATTACKER}"}
    response = submit(client, headers=rebinding)
    assert response.status_code == 400  # not 403 (the origin check) and not 202: the Host check came first
    assert "evil.example" in response.json["error"] and "IMPASTO_TRUSTED_HOSTS" in response.json["error"]
    assert nothing_stored(app)
    assert client.get("/history", headers={"Host": ATTACKER}).status_code == 400
    assert client.get("/api/jobs", headers={"Host": ATTACKER}).status_code == 400
    assert client.get("/", headers={"Host": "[::1]:8000"}).status_code == 200


@pytest.mark.parametrize("host", ["a" * 64, "x" * 300 + ".example", "a" * 64 + ":8000"])
def test_a_host_name_werkzeug_cannot_read_gets_a_400_page_not_a_500(make_app: Callable[..., Flask],
                                                                    host: str) -> None:
    # A label over 63 characters leaves Flask with no URL adapter: the page's links cannot be built.
    for trusted in ("", "*"):  # refused by our check, or (check off) by Flask's routing
        client = make_app(IMPASTO_TRUSTED_HOSTS=trusted).test_client()
        page, api = client.get("/", headers={"Host": host}), client.get("/api/jobs", headers={"Host": host})
        assert page.status_code == 400 and page.mimetype == "text/html" and "<p>" in page.text
        assert api.status_code == 400 and api.json["error"]


def test_the_host_check_runs_before_the_rate_limit_counts(make_app: Callable[..., Flask]) -> None:
    app = make_app(IMPASTO_RATE_LIMIT="1/minute")
    client = app.test_client()
    for _ in range(3):
        assert submit(client, headers={"Host": ATTACKER}).status_code == 400
    assert submit(client).status_code == 202  # the refused requests used none of the quota


def test_trusted_hosts_from_the_setting(make_app: Callable[..., Flask]) -> None:
    client = make_app(IMPASTO_TRUSTED_HOSTS=("studio.example.org", ".example.net")).test_client()
    for host, status in [("studio.example.org", 200), ("photos.example.net:8443", 200), ("localhost:8000", 200),
                         ("192.168.1.5:8000", 400), (ATTACKER, 400)]:
        assert client.get("/healthz", headers={"Host": host}).status_code == status, host


@pytest.mark.parametrize("name, value, message", [
    ("IMPASTO_TRUSTED_HOSTS", "studio.example.org:8000", "IMPASTO_TRUSTED_HOSTS must be a comma list of host "
     "names or addresses without ports (e.g. studio.example.com,.example.org,192.168.1.5,[fd00::1]) or *, "
     "got 'studio.example.org:8000' in 'studio.example.org:8000'"),
    ("IMPASTO_TRUSTED_HOSTS", "a.example,*", "got '*' in 'a.example,*'"),
    ("IMPASTO_PROXY_COUNT", "-1", "IMPASTO_PROXY_COUNT must be a whole number from 0 to 5, got '-1'"),
    ("IMPASTO_RATE_LIMIT", "lots", "IMPASTO_RATE_LIMIT must be a rate such as 10/minute, 30/hour or "
     "5 per 10 seconds (or off), got 'lots'"),
])
def test_bad_security_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                                  message: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env()
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_security_settings_defaults_and_values(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("IMPASTO_TRUSTED_HOSTS", "IMPASTO_PROXY_COUNT", "IMPASTO_RATE_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    assert (settings.trusted_hosts, settings.proxy_count, settings.rate_limit) == ((), 0, "10/minute")
    monkeypatch.setenv("IMPASTO_TRUSTED_HOSTS", " Studio.Example.org, .example.net,[FD00::1] ")
    monkeypatch.setenv("IMPASTO_RATE_LIMIT", "off")
    settings = Settings.from_env()
    assert settings.trusted_hosts == ("studio.example.org", ".example.net", "[fd00::1]")
    assert settings.rate_limit is None


@pytest.mark.parametrize("host, trusted, note", [("0.0.0.0", "", True), ("0.0.0.0", "studio.lan", False),
                                                  ("127.0.0.1", "", False)])
def test_serve_on_every_interface_reminds_of_the_trusted_hosts(monkeypatch: pytest.MonkeyPatch, caplog,
                                                                host: str, trusted: str, note: bool) -> None:
    from impasto import cli

    started: list[list[str]] = []
    monkeypatch.setattr(cli.os, "execv", lambda path, argv: started.append(argv))
    monkeypatch.setenv("IMPASTO_TRUSTED_HOSTS", trusted)
    assert cli.main(["serve", "--host", host]) == 0 and started
    assert ("IMPASTO_TRUSTED_HOSTS" in caplog.text) is note  # a log line: JSON too with IMPASTO_LOG_FORMAT=json


def test_serve_stops_on_a_bad_trusted_hosts_list(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from impasto import cli

    monkeypatch.setattr(cli.os, "execv", lambda path, argv: pytest.fail("gunicorn must not start"))
    monkeypatch.setenv("IMPASTO_TRUSTED_HOSTS", "https://studio.lan/")
    assert cli.main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("impasto: error: IMPASTO_TRUSTED_HOSTS must be") and err.count("\n") == 1


# -- behind a reverse proxy ---------------------------------------------------------------------

PROXIED = {"Host": "127.0.0.1:8000", "X-Forwarded-Host": "studio.example", "X-Forwarded-Proto": "https",
           "X-Forwarded-For": "203.0.113.7"}


def test_behind_a_proxy_the_public_host_scheme_and_address_count(make_app: Callable[..., Flask]) -> None:
    app = make_app(IMPASTO_PROXY_COUNT=1, IMPASTO_TRUSTED_HOSTS=("studio.example",), SECRET_KEY="test")

    @app.get("/test-whoami")
    def whoami() -> dict[str, Any]:
        session["seen"] = True
        return {"host": request.host, "scheme": request.scheme, "address": request.remote_addr}

    client = app.test_client()
    response = client.get("/test-whoami", headers=PROXIED)
    assert response.json == {"host": "studio.example", "scheme": "https", "address": "203.0.113.7"}
    assert "Secure" in response.headers["Set-Cookie"]  # https (as the proxy says): the cookie never goes over http
    plain = client.get("/test-whoami", headers={**PROXIED, "X-Forwarded-Proto": "http"})
    assert "Secure" not in plain.headers["Set-Cookie"]
    # The page's own fetch through the proxy passes the origin check; the proxy's public name is checked too.
    job_id = submit(client, headers={**PROXIED, "Origin": "https://studio.example"}).json["id"]
    assert client.post(f"/api/jobs/{job_id}/cancel", headers={**PROXIED, "Origin": "https://studio.example"}
                       ).status_code == 200
    assert client.get("/healthz", headers={**PROXIED, "X-Forwarded-Host": "evil.example"}).status_code == 400


def test_without_proxies_forwarded_headers_are_ignored(make_app: Callable[..., Flask]) -> None:
    app = make_app(SECRET_KEY="test")

    @app.get("/test-whoami")
    def whoami() -> dict[str, Any]:
        session["seen"] = True
        return {"host": request.host, "scheme": request.scheme, "address": request.remote_addr}

    response = app.test_client().get("/test-whoami", headers=PROXIED)
    assert response.json == {"host": "127.0.0.1:8000", "scheme": "http", "address": "127.0.0.1"}
    assert "Secure" not in response.headers["Set-Cookie"]
    # A forged X-Forwarded-Host does not make a cross-site page look like this site.
    evil = submit(app.test_client(), headers={"Origin": "https://evil.example", "X-Forwarded-Host": "evil.example"})
    assert evil.status_code == 403 and nothing_stored(app)


# -- rate limit ---------------------------------------------------------------------------------

def test_submissions_over_the_limit_get_429_with_retry_after(make_app: Callable[..., Flask]) -> None:
    app = make_app(IMPASTO_RATE_LIMIT="3/minute")
    client = app.test_client()
    client.get("/")  # a browser's first visit gives it its cookie: its submissions count against it
    assert [submit(client).status_code for _ in range(2)] == [202, 202]
    assert client.post("/api/jobs", data={"size": "48"}).status_code == 400  # a refused one counts too
    response = submit(client)
    assert response.status_code == 429
    assert response.json["error"] == (f"too many job submissions: this server takes at most 3 per 1 minute from "
                                      f"one client (IMPASTO_RATE_LIMIT); try again in {response.json['retry_after']} s")
    assert 1 <= int(response.headers["Retry-After"]) == response.json["retry_after"] <= 60
    assert job_count(app) == 2  # nothing stored for the refused one
    # The page without JavaScript shows the same message above the form (as a sentence), with the same status.
    page = client.post("/", data=form(content=png_bytes(), style_name="starry_night"))
    assert page.status_code == 429 and 1 <= int(page.headers["Retry-After"]) <= 60
    assert "Too many job submissions: this server takes at most 3 per 1 minute" in page.get_data(as_text=True)
    # Only submissions are limited: polling, pages and pictures go on.
    job = client.get("/api/jobs").json["jobs"][0]
    assert client.get(job["urls"]["self"]).status_code == 200 and client.get("/").status_code == 200
    assert client.get(job["urls"]["content"]).status_code == 200
    # Another client has its own quota.
    assert submit(app.test_client(), environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 202


def test_the_limit_counts_per_owner_before_the_address(make_app: Callable[..., Flask]) -> None:
    app = make_app(IMPASTO_RATE_LIMIT="1/minute")

    @app.before_request
    def sign_in() -> None:  # what the sign-in hooks do: the owner of the request, from its cookie or token
        g.owner = request.headers.get("X-Test-Owner")

    client = app.test_client()
    assert submit(client, headers={"X-Test-Owner": "token:alice"}).status_code == 202
    assert submit(client, headers={"X-Test-Owner": "token:alice"}).status_code == 429
    assert submit(client, headers={"X-Test-Owner": "token:bob"}).status_code == 202  # same address, another token
    assert submit(client).status_code == 202  # no owner: counted by address
    assert submit(client).status_code == 429
    # Without a password a browser's cookie is free: counted by its address, not by the cookie.
    assert submit(client, headers={"X-Test-Owner": "browser:fresh"}).status_code == 429


def test_fresh_cookies_get_no_fresh_quota(make_app: Callable[..., Flask]) -> None:
    # A script that fetches a new session cookie before each submission is still one client.
    app = make_app(IMPASTO_RATE_LIMIT="2/minute")
    codes = []
    for _ in range(3):
        browser = app.test_client()
        browser.get("/")  # a new session id
        codes.append(submit(browser).status_code)
    assert codes == [202, 202, 429] and job_count(app) == 2


def test_an_ipv6_client_is_counted_by_its_64_network(make_app: Callable[..., Flask]) -> None:
    # A device picks new addresses in its /64 at will: a new address is no new client.
    client = make_app(IMPASTO_RATE_LIMIT="1/minute").test_client(use_cookies=False)
    assert submit(client, environ_base={"REMOTE_ADDR": "2001:db8:1:2::10"}).status_code == 202
    assert submit(client, environ_base={"REMOTE_ADDR": "2001:db8:1:2:ffff::99"}).status_code == 429
    assert submit(client, environ_base={"REMOTE_ADDR": "2001:db8:1:3::10"}).status_code == 202  # another /64
    assert submit(client, environ_base={"REMOTE_ADDR": "::ffff:192.0.2.7"}).status_code == 202  # IPv4, mapped
    assert submit(client, environ_base={"REMOTE_ADDR": "::ffff:192.0.2.8"}).status_code == 202


def test_with_a_password_signed_in_browsers_count_by_their_address(make_app: Callable[..., Flask]) -> None:
    # Signing in again is free: a new session must not bring a new allowance (tests/web/test_sessions.py).
    app = make_app(IMPASTO_RATE_LIMIT="1/minute", IMPASTO_PASSWORD="open sesame, please")
    first, second = app.test_client(), app.test_client()
    for browser in (first, second):
        assert browser.post("/login", data={"password": "open sesame, please"}).status_code == 303
    assert [submit(first).status_code, submit(first).status_code] == [202, 429]
    assert submit(second).status_code == 429  # the same address, another signed-in browser
    assert submit(second, environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code == 202  # another address


def test_behind_a_proxy_the_limit_counts_per_client_address(make_app: Callable[..., Flask]) -> None:
    # Clients without a cookie (a script): each one is known by its address only.
    client = make_app(IMPASTO_RATE_LIMIT="1/minute", IMPASTO_PROXY_COUNT=1).test_client(use_cookies=False)
    first = {"X-Forwarded-For": "203.0.113.7"}
    assert submit(client, headers=first).status_code == 202
    assert submit(client, headers=first).status_code == 429
    assert submit(client, headers={"X-Forwarded-For": "203.0.113.8"}).status_code == 202


def test_the_rate_limit_can_be_turned_off(make_app: Callable[..., Flask]) -> None:
    client = make_app(IMPASTO_RATE_LIMIT="off").test_client()  # test_config is read as the environment is
    assert {submit(client).status_code for _ in range(4)} == {202}


def probe(client: FlaskClient, **extra: Any) -> Any:
    return client.post("/api/probe", data={"content": (io.BytesIO(png_bytes()), "photo.png")},
                       content_type="multipart/form-data", **extra)


def test_probes_have_their_own_per_client_limit_with_429_and_retry_after(make_app: Callable[..., Flask]) -> None:
    app = make_app(IMPASTO_PROBE_RATE_LIMIT="2/minute", IMPASTO_RATE_LIMIT="1/minute")
    client = app.test_client(use_cookies=False)
    assert [probe(client).status_code for _ in range(2)] == [200, 200]
    refused = probe(client)
    assert refused.status_code == 429
    assert refused.json["error"] == (f"too many clip checks (POST /api/probe): this server takes at most 2 per 1 "
                                     f"minute from one client (IMPASTO_PROBE_RATE_LIMIT); try again in "
                                     f"{refused.json['retry_after']} s")
    assert 1 <= int(refused.headers["Retry-After"]) == refused.json["retry_after"] <= 60
    assert refused.json["limit"] == "2 per 1 minute"
    assert probe(client, environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 200  # another client
    # Its own counter: the probes spent none of the submissions, and a submission spends no probe.
    assert submit(client).status_code == 202 and submit(client).status_code == 429
    assert probe(client, environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 200
    assert probe(client, environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 429


def test_the_probe_limit_can_be_turned_off_and_has_a_default(make_app: Callable[..., Flask],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_app(IMPASTO_PROBE_RATE_LIMIT="off", IMPASTO_RATE_LIMIT="off").test_client()
    assert {probe(client).status_code for _ in range(5)} == {200}
    monkeypatch.delenv("IMPASTO_PROBE_RATE_LIMIT", raising=False)
    assert Settings.from_env().probe_rate_limit == "60/minute"
    monkeypatch.setenv("IMPASTO_PROBE_RATE_LIMIT", "lots")
    with pytest.raises(SettingsError, match="IMPASTO_PROBE_RATE_LIMIT must be a rate such as 10/minute"):
        Settings.from_env()


def test_the_sqlite_counters_are_shared_and_expire(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two storages on one file stand for two gunicorn processes.
    one, two = SqliteLimitStorage(storage_uri(tmp_path)), SqliteLimitStorage(storage_uri(tmp_path))
    now = [1_000_000.0]
    monkeypatch.setattr("impasto.web.limit_store.time.time", lambda: now[0])
    assert one.incr("k", 60) == 1 and two.incr("k", 60) == 2 and one.get("k") == 2
    assert one.get_expiry("k") == now[0] + 60
    now[0] += 61
    assert two.get("k") == 0 and one.incr("k", 60) == 1  # a new window
    two.clear("k")
    assert one.get("k") == 0 and one.check()


# -- headers ------------------------------------------------------------------------------------

def _paths(app: Flask, client: FlaskClient) -> list[str]:
    client.get("/")  # a browser's first visit gives it its cookie: its submissions count against it
    job = submit(client).json
    store = app.extensions["impasto"].store
    store.claim("w", 1)
    store.put_file(job["id"], "result.png", png_bytes())
    store.finish(job["id"], "w", "done")
    return ["/", "/history", "/api/jobs", "/healthz", "/static/style.css", "/static/studio.js",
            "/static/favicon.svg", job["urls"]["page"], job["urls"]["self"], job["urls"]["content"],
            f"{job['urls']['self']}/result?download=1", "/styles/starry_night.jpg", "/no-such-page",
            "/api/jobs/no-such-job", "/api/jobs/x/nothing"]


def test_no_template_has_an_inline_script_style_or_event_handler() -> None:
    """What the CSP forbids must not be in the pages: it would silently do nothing in a browser."""
    import re

    for template in (ROOT / "templates").glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"\sstyle=|\son[a-z]+=", text), template.name
        scripts = re.findall(r"<script\b([^>]*)>", text)
        assert all("src=" in attrs or 'type="application/json"' in attrs for attrs in scripts), template.name


def test_every_response_carries_the_security_headers(make_app: Callable[..., Flask]) -> None:
    app = make_app(IMPASTO_RATE_LIMIT="1/minute")
    client = app.test_client()
    responses = [client.get(path) for path in _paths(app, client)]
    responses += [client.get("/", headers={"Host": ATTACKER}), submit(client),  # 400 Host, 429
                  client.post("/api/jobs/x/cancel", headers={"Origin": "https://evil.example"}),  # 403
                  client.delete("/healthz")]  # 405
    assert {r.status_code for r in responses} >= {200, 400, 403, 404, 405, 429}
    for response in responses:
        csp = response.headers.get("Content-Security-Policy", "")
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["script-src"] == "'self'", response  # no 'unsafe-inline', no eval
        assert directives["style-src"] == "'self'", response  # no inline styles either
        assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer")
        assert response.headers["X-Frame-Options"] == "DENY"


def test_pages_have_no_inline_script(app: Flask, client: FlaskClient) -> None:
    job_page = submit(client).json["urls"]["page"]
    for path in ("/", "/history", job_page, "/no-such-page"):
        html = client.get(path).get_data(as_text=True)
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)  # JSON data is not run
        assert not re.search(r"\son[a-z]+\s*=", html), path  # no onclick= and the like
        assert "javascript:" not in html


def test_downloads_say_attachment_and_their_type(app: Flask, client: FlaskClient) -> None:
    self_url = [p for p in _paths(app, client) if p.endswith("/result?download=1")][0].split("/result")[0]
    png = client.get(f"{self_url}/result?download=1")
    assert png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    assert re.fullmatch(r'attachment; filename="impasto-[\w-]{8}\.png"', png.headers["Content-Disposition"])
    jpeg = client.get(f"{self_url}/result?format=jpeg&download=1")
    assert jpeg.mimetype == "image/jpeg" and jpeg.data.startswith(b"\xff\xd8")
    assert re.fullmatch(r'attachment; filename="impasto-[\w-]{8}\.jpg"', jpeg.headers["Content-Disposition"])


# -- no leaks -----------------------------------------------------------------------------------

def test_a_weights_error_shows_no_server_path(make_app: Callable[..., Flask], tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    missing = tmp_path / "private-folder" / "vgg16.weights.h5"
    app = make_app(DISPATCHER=Inline)
    # A missing file stops the server at start (tests/web/test_settings.py); here it goes missing later.
    runner = app.extensions["impasto"].dispatcher
    runner.config = dataclasses.replace(runner.config, engine=EngineSettings(weights=str(missing)))
    client = app.test_client()
    job = submit(client).json
    shown = client.get(job["urls"]["self"]).json
    assert shown["state"] == "failed"
    assert shown["error"].startswith("the server could not load its VGG16 weights")
    page = client.get(job["urls"]["page"]).get_data(as_text=True)
    assert "could not load its VGG16 weights" in page
    for text in (str(shown), page):
        assert "private-folder" not in text and str(tmp_path) not in text
    assert "private-folder" in caplog.text  # the operator finds the details in the log


def test_an_unexpected_error_shows_no_details(app: Flask, client: FlaskClient, monkeypatch) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("cannot open /srv/impasto/secret.db via redis://:hunter2@10.0.0.5:6379/0")

    monkeypatch.setattr(app.extensions["impasto"].store, "get", broken)
    for path in ("/api/jobs/abc", "/jobs/abc"):
        response = client.get(path)
        text = response.get_data(as_text=True)
        assert response.status_code == 500 and "internal error" in text
        assert "/srv" not in text and "hunter2" not in text and "Traceback" not in text and "redis://" not in text


@pytest.mark.parametrize("url, shown", [
    ("redis://:hunter2@redis:6379/0", "redis://:***@redis:6379/0"),
    ("rediss://impasto:hunter2@redis.example:6380/1", "rediss://impasto:***@redis.example:6380/1"),
    ("redis://redis:6379/0?password=hunter2&db=1", "redis://redis:6379/0?password=***&db=1"),
    ("amqp://token-hunter2@mq//", "amqp://***@mq//"),
    ("redis://redis:6379/0", "redis://redis:6379/0"),
    ("redis://[hunter2", "(an unreadable URL)"),
])
def test_passwords_in_urls_are_masked(url: str, shown: str) -> None:
    assert masked_url(url) == shown


def test_a_settings_error_about_a_url_masks_its_password() -> None:
    with pytest.raises(ValueError) as caught:
        Settings.from_env({"IMPASTO_BROKER_URL": "redis://:hunter2@redis/0",
                           "IMPASTO_STORE_URL": "memcached://user:hunter2@cache?password=hunter2"})
    assert "hunter2" not in str(caught.value) and "memcached://user:***@cache" in str(caught.value)


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {1: "N", 2: (48.0, 31.0, 12.0), 3: "E", 4: (9.0, 3.0, 24.0)}  # GPSInfo: Tübingen
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    data = buffer.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # the test's upload does carry GPS
    return data


def test_pictures_served_back_carry_no_exif(app: Flask, client: FlaskClient) -> None:
    photo = _jpeg_with_gps()
    body = form(content=photo, style=photo, init="image")
    body["init_image"] = (io.BytesIO(photo), "start.jpg")
    job = client.post("/api/jobs", data=body).json
    for kind in ("content", "style", "init"):
        data = client.get(job["urls"][kind]).data
        with Image.open(io.BytesIO(data)) as served:
            assert not served.getexif() and "exif" not in served.info, kind
        assert b"SecretCam" not in data and b"Exif" not in data, kind


# -- hostile headers (issue 16, reproduction 2) -------------------------------------------------

@pytest.mark.parametrize("header", ["Origin", "Referer"])
def test_an_unparseable_origin_or_referer_is_a_clean_400(app: Flask, client: FlaskClient, header: str) -> None:
    response = client.post("/api/jobs/x/cancel", headers={header: "http://["})
    assert response.status_code == 400
    assert response.json == {"error": f"the {header} header is not a URL: 'http://['"}
    assert submit(client, headers={header: "http://["}).status_code == 400 and nothing_stored(app)
    page = client.post("/", data=form(content=png_bytes(), style=style_bytes()), headers={header: "http://["})
    assert page.status_code == 400 and "is not a URL" in page.get_data(as_text=True)
