"""The studio people keep open (issue #28), in Chromium at a desktop's 1280 px and a phone's 390 px:
the banner when the weights are missing, the result filling the page, the before/after slider, a
phone form that fits, the queue and looks to share. axe-core checks every page changed."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.web.axe import assert_accessible
from tests.web.test_browser import _serve

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture
def weightless_server(make_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # nothing downloaded
    yield from _serve(make_app(IMPASTO_VGG_WEIGHTS=""))


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280", "390"])
def test_without_weights_every_page_says_so(page: Page, weightless_server: str, size: dict[str, int]) -> None:
    page.set_viewport_size(size)
    page.goto(weightless_server + "/")
    banner = page.locator("#weights-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("No picture can be painted yet")
    assert banner.bounding_box()["y"] < size["height"] / 2  # seen before anything else is done
    assert_accessible(page)
