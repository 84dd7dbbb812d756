"""Variants in Chromium (issue #28, point 3): the studio's Variants control sends one submission as
three jobs, the contact sheet fills in as each one finishes (the Manual dispatcher runs them here,
one at a time), and "Paint this one larger" paints the chosen one again, larger, with its seed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.web.axe import assert_accessible
from tests.web.test_browser import _serve, pictures

pytestmark = pytest.mark.browser

WAIT_MS = 15_000  # the sheet asks every 2 s: a few turns at most


@pytest.fixture
def served(make_app) -> Iterator[tuple[str, object]]:
    app = make_app(IMPASTO_MAX_SIZE=96)
    for url in _serve(app):
        yield url, app


def test_the_contact_sheet_fills_in_and_paints_one_larger(page: Page, served, tmp_path: Path) -> None:
    base, app = served
    content, style = pictures(tmp_path)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(base + "/")
    page.set_input_files("input[name=content]", str(content))
    page.set_input_files("input[name=style]", str(style))
    expect(page.locator("#drop-content .preview")).to_be_visible()
    if page.locator("#advanced").get_attribute("open") is None:
        page.click("#advanced > summary")
    page.fill("#f-size", "48")
    page.fill("#f-iterations", "3")
    page.fill("#f-seed", "11")
    page.check("input[name=init][value=noise]")  # the seed only draws a noise start
    page.select_option("#f-vary", "seed")
    page.fill("#f-variants", "9")
    page.click("#submit")  # refused by the server, said next to the field in the page's words
    expect(page.locator("#error-variants")).to_contain_text("Variants must be a whole number from 1 to 6")
    assert app.extensions["impasto"].store.counts() == {}
    page.fill("#f-variants", "3")
    page.click("#submit")
    expect(page).to_have_url(re.compile(r"/groups/[A-Za-z0-9_-]+$"), timeout=WAIT_MS)

    cells = page.locator(".variant-cell")
    expect(cells).to_have_count(3)
    expect(page.locator(".variant-what")).to_have_text(["seed 11", "seed 12", "seed 13"])
    expect(page.locator(".variant-cell[data-state=queued]")).to_have_count(3)
    expect(page.locator(".variant-larger:visible")).to_have_count(0)
    assert_accessible(page)

    dispatcher = app.extensions["impasto"].dispatcher
    dispatcher.run_next()  # the first variant finishes: its cell alone shows its result
    expect(cells.nth(0)).to_have_attribute("data-state", "done", timeout=WAIT_MS)
    expect(cells.nth(0).locator(".variant-picture")).to_have_attribute("src", re.compile(r"/thumb$"))
    expect(page.locator(".variant-cell[data-state=queued]")).to_have_count(2)
    expect(page.locator(".variant-larger:visible")).to_have_count(1)
    dispatcher.run_all()
    expect(page.locator(".variant-cell[data-state=done]")).to_have_count(3, timeout=WAIT_MS)
    assert_accessible(page)

    store = app.extensions["impasto"].store
    chosen = store.get(cells.nth(1).get_attribute("data-id"))
    larger = cells.nth(1).get_by_role("button", name="Paint this one larger (96 px)")
    larger.click()
    expect(page).to_have_url(re.compile(r"/jobs/[A-Za-z0-9_-]+$"))
    new = store.get(page.url.rsplit("/", 1)[1])
    assert new.id != chosen.id and new.options["size"] == 96 and chosen.options["size"] == 48
    assert new.options["seed"] == chosen.seed == 12
    assert store.get_file(new.id, "content.png") == store.get_file(chosen.id, "content.png")
