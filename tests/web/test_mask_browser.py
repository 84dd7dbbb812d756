"""The mask brush in Chromium: paint on the photo with the mouse, submit, and the job holds the
mask (white where the mouse went, black elsewhere); erase, invert and a second painting's layer."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.web.conftest import png_bytes
from tests.web.test_browser import _serve

pytestmark = pytest.mark.browser


@pytest.fixture
def server(make_app) -> Iterator[tuple[str, object]]:
    app = make_app()  # the Manual dispatcher: jobs wait, the test reads what was stored
    for url in _serve(app):
        yield url, app


def drag(page: Page, points: list[tuple[float, float]]) -> None:
    """Press the mouse at the first point (fractions of the canvas), move through the rest, release."""
    box = page.locator("#mask-canvas").bounding_box()
    at = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*at[0])
    page.mouse.down()
    for x, y in at[1:]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()


def stored_masks(page: Page, base: str, app) -> list[np.ndarray]:
    page.wait_for_url(re.compile(r"/jobs/[\w-]+$"))
    job_id = page.url.rsplit("/", 1)[1]
    client = app.test_client()
    styles = client.get(f"/api/jobs/{job_id}").json["styles"]
    return [np.asarray(Image.open(io.BytesIO(client.get(s["mask"]).data))) for s in styles]


def open_studio(page: Page, base: str, tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes(96, 128))
    page.goto(base + "/")
    page.set_input_files("input[name=content]", str(photo))
    page.click("#mask-open")
    expect(page.locator("#mask-canvas")).to_be_visible()
    page.fill("#f-size", "64")
    page.fill("#f-iterations", "3")


def test_paint_a_mask_with_the_mouse(page: Page, server, tmp_path: Path) -> None:
    base, app = server
    open_studio(page, base, tmp_path)
    page.locator("#mask-size").fill("40")
    drag(page, [(0.15, 0.1), (0.15, 0.9), (0.25, 0.9), (0.25, 0.1)])  # a broad band down the left
    page.click("#submit")
    (mask,) = stored_masks(page, base, app)
    assert mask.shape == (96, 128)
    assert mask[20:76, 25:45].min() > 200  # where the mouse went: paint
    assert mask[:, 90:].max() < 30  # the right side, never touched: keep the photo


def test_invert_erase_and_two_layers(page: Page, server, tmp_path: Path) -> None:
    base, app = server
    open_studio(page, base, tmp_path)
    page.click("#add-second")
    page.locator("input[name=style_name_2]").first.check()
    expect(page.locator("#mask-layer-2")).to_be_visible()
    page.locator("#mask-size").fill("20")
    drag(page, [(0.1, 0.5), (0.9, 0.5)])  # layer 1: a horizontal band
    page.locator("input[name=mask_tool][value=erase]").check()
    drag(page, [(0.8, 0.5), (0.95, 0.5)])  # … erased at its right end
    page.locator("input[name=mask_layer][value='1']").check()
    page.click("#mask-invert")  # layer 2: everything
    page.click("#submit")
    first, second = stored_masks(page, base, app)
    assert first[48, 30] > 200 and first[48, 120] < 30 and first[5, 30] < 30
    assert second.min() > 200
