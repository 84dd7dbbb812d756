"""Scale-out mode (Redis): two web containers that share the Redis store but not a data dir agree on
sessions (a sign-out in one ends the session in the other), and /readyz says 503 when Redis is gone."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest
from flask import Flask

from impasto import create_app
from tests.helpers import free_port
from tests.weights import UNTRAINED_WEIGHTS

pytestmark = pytest.mark.redis
PASSWORD = "scale-out password"
KEY = "k" * 40  # every web container of a site is given the same session key


@pytest.fixture
def make_web(redis_url: str, prefix: str, tmp_path: Path) -> Iterator[Callable[[str], Flask]]:
    """A scale-out web container with its own data dir, on the test's Redis namespace."""
    apps: list[Flask] = []

    def factory(name: str) -> Flask:
        app = create_app({"TESTING": True, "IMPASTO_DATA_DIR": str(tmp_path / name), "IMPASTO_BROKER_URL": redis_url,
                          "IMPASTO_REDIS_PREFIX": prefix, "IMPASTO_VGG_WEIGHTS": UNTRAINED_WEIGHTS,
                          "IMPASTO_PASSWORD": PASSWORD, "IMPASTO_SECRET_KEY": KEY})
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["impasto"].dispatcher.stop()


def test_sign_out_in_one_web_container_ends_the_session_in_the_others(make_web: Callable[[str], Flask]) -> None:
    one, two = make_web("one"), make_web("two")
    alice = one.test_client()
    assert alice.post("/login", data={"password": PASSWORD}).status_code == 303
    copy = two.test_client()
    copy.set_cookie("impasto_session", alice.get_cookie("impasto_session").value)
    assert copy.get("/api/jobs").status_code == 200  # the other container knows the session
    assert alice.post("/logout").status_code == 303
    assert copy.get("/api/jobs").status_code == 401
    bob = two.test_client()
    bob.post("/login", data={"password": PASSWORD})
    assert one.test_client().get("/api/jobs").status_code == 401
    alice.post("/login", data={"password": PASSWORD})
    alice.post("/logout/everywhere")  # in container one: bob, signed in at two, is signed out too
    assert bob.get("/api/jobs").status_code == 401


def test_a_closed_redis_is_not_ready(make_web: Callable[[str], Flask]) -> None:
    import redis

    app = make_web("one")
    client = app.test_client()
    assert client.get("/readyz").json == {"status": "ready", "checks": {"store": "ok", "weights": "ok", "disk": "ok"}}
    closed_port = free_port()  # nothing listens there: Redis as a stopped server leaves it
    store = app.extensions["impasto"].store
    store.redis = redis.Redis(host="127.0.0.1", port=closed_port, socket_connect_timeout=2)
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json["checks"]["store"] == "the job store does not answer"
    assert str(closed_port) not in response.text and "redis://" not in response.text
