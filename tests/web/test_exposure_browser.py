"""The pages work under the Content-Security-Policy (no inline script, nothing refused), and a
person over the submission limit sees the server's 429 message above the form."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.dispatch import Gate, threads
from tests.web.test_browser import _serve, pictures

pytestmark = pytest.mark.browser


@pytest.fixture
def limited_server(make_app, gate: Gate) -> Iterator[str]:
    yield from _serve(make_app(DISPATCHER=threads(gate.painter), IMPASTO_RATE_LIMIT="1/minute"))


def test_the_studio_works_under_its_csp_and_shows_the_rate_limit(page: Page, limited_server: str, gate: Gate,
                                                                  tmp_path: Path) -> None:
    refused: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    page.on("console", watch)
    page.on("pageerror", lambda error: refused.append(str(error)))
    content, style = pictures(tmp_path)
    page.goto(limited_server + "/")
    page.set_input_files("input[name=content]", str(content))
    expect(page.locator("#drop-content .preview")).to_be_visible()  # a blob: picture, allowed by img-src
    page.fill("#f-size", "48")
    page.fill("#f-iterations", "6")
    page.click("#submit")  # the script posts to the API
    page.wait_for_url(re.compile(r"/jobs/[\w-]+$"))
    expect(page.locator("#iteration")).to_have_text("0 / 6", timeout=60_000)  # held at its start: it runs
    gate.open()
    expect(page.locator("#title")).to_have_text("Finished", timeout=60_000)  # job.js polled it to the end

    page.goto(limited_server + "/")
    page.set_input_files("input[name=content]", str(content))
    page.set_input_files("input[name=style]", str(style))
    page.click("#submit")
    expect(page.locator("#error-form")).to_contain_text(
        re.compile(r"too many job submissions: this server takes at most 1 per 1 minute from one client "
                   r"\(IMPASTO_RATE_LIMIT\); try again in \d+ s"))
    assert refused == []
