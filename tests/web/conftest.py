"""Fixtures for the web tests: an app on a temporary data dir, image bytes, a submit helper."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from impasto import create_app
from impasto.nst.images import encode_image
from tests.conftest import gradient_image, stripes_image
from tests.dispatch import Gate, Manual
from tests.helpers import CHROMIUM_ARGS
from tests.weights import UNTRAINED_WEIGHTS

TINY = {"size": "48", "iterations": "3"}


def png_bytes(height: int = 48, width: int = 64) -> bytes:
    return encode_image(gradient_image(height, width), "PNG")


def style_bytes() -> bytes:
    return encode_image(stripes_image(), "JPEG")


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., Flask]:
    """create_app on tmp_path with no runner threads (tests run jobs themselves: the Manual
    dispatcher, unless DISPATCHER= says otherwise), untrained weights and no warm-up (runner
    threads start on their job at once: tests/web/test_warmup.py turns it on). No per-client cap: with
    no runner, jobs stay queued, and many tests queue more than 3 from one client
    (tests/web/test_access.py sets the cap where it is the subject)."""
    apps: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        config = {"TESTING": True, "IMPASTO_DATA_DIR": str(tmp_path / "data"), "DISPATCHER": Manual,
                  "IMPASTO_VGG_WEIGHTS": UNTRAINED_WEIGHTS, "IMPASTO_MAX_QUEUED_PER_CLIENT": 0,
                  "IMPASTO_WARM_UP": "off", **overrides}
        app = create_app(config)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["impasto"].dispatcher.stop()


@pytest.fixture
def gate() -> Iterator[Gate]:
    """A gate for the jobs of a served app (``DISPATCHER=threads(gate.painter)``): closed, so that a
    job waits after its first report until the test lets it on; opened when the test ends, so that
    the runner threads finish their job and stop (ask for it after make_app: torn down before)."""
    gate = Gate()
    yield gate
    gate.open()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def upload(data: bytes, name: str = "picture.png") -> tuple[io.BytesIO, str]:
    return io.BytesIO(data), name


def form(content: bytes | None = None, style: bytes | None = None, **fields: Any) -> dict[str, Any]:
    """A multipart body: a content upload, a style upload (or style_name=...), and options."""
    body: dict[str, Any] = {**TINY, **fields}
    if content is not None:
        body["content"] = upload(content, "photo.png")
    if style is not None:
        body["style"] = upload(style, "painting.jpg")
    return body


def nothing_stored(app: Flask) -> bool:
    store = app.extensions["impasto"].store
    jobs_dir = Path(app.config["IMPASTO_DATA_DIR"]) / "jobs"
    return store.counts() == {} and not any(jobs_dir.iterdir())


# pytest-playwright reads this session fixture when it launches the browser (Debian's Chromium).
@pytest.fixture(scope="session")
def browser_type_launch_args(chromium_path: str) -> dict[str, Any]:
    return {"executable_path": chromium_path, "args": CHROMIUM_ARGS, "headless": True}


def no_js_form(html: str) -> dict[str, str]:
    """What a browser without JavaScript sends from the studio page as it came: every text and
    hidden input, and each radio group's checked radio (file inputs are added by the test); not
    the inputs that name another form (the mask brush's)."""
    fields = {}
    tags = re.findall(r'<input type="(?:hidden|text)"[^>]*>', html) + re.findall(r"<input[^>]*\bchecked\b[^>]*>", html)
    for tag in (tag for tag in tags if " form=" not in tag):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name:
            fields[name.group(1)] = value.group(1) if value else "on"
    return fields
