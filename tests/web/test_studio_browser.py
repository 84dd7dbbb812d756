"""The studio people keep open (issue #28), in Chromium at a desktop's 1280 px and a phone's 390 px:
the banner when the weights are missing, the result filling the page, the before/after slider, a
phone form that fits, the queue and looks to share. axe-core checks every page changed."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.web.axe import assert_accessible
from tests.web.conftest import form, png_bytes, style_bytes
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


def finished(app, page: Page, base: str, **fields) -> str:
    """A job of ``page``'s browser, painted to the end (the Manual dispatcher, run here): its page's URL."""
    owner = app.test_client()
    body = form(content=png_bytes(48, 64), style_name="the_scream", **{"size": "64", **fields})
    job_id = owner.post("/api/jobs", data=body, content_type="multipart/form-data").json["id"]
    assert app.extensions["impasto"].dispatcher.run_all() == [job_id]
    page.context.add_cookies([{"name": "impasto_session", "value": owner.get_cookie("impasto_session").value,
                               "url": base}])
    return f"{base}/jobs/{job_id}"


@pytest.fixture
def idle(make_app) -> Iterator[tuple[str, object]]:
    app = make_app()
    for url in _serve(app):
        yield url, app


def fit_share(page: Page) -> float:
    """How much of the room the fitted result takes: of the frame's width, or of the window's height
    that the fit allows (88 % of it), whichever it fills more."""
    return page.evaluate("""() => {
        const img = document.getElementById('result'), frame = img.closest('.result-frame');
        return Math.max(img.clientWidth / frame.clientWidth, img.clientHeight / (innerHeight * 0.88 - 4));
    }""")


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280", "390"])
def test_the_result_fills_the_page_and_zooms_to_its_own_pixels(page: Page, idle, size: dict[str, int]) -> None:
    base, app = idle
    page.set_viewport_size(size)
    page.goto(finished(app, page, base))
    result = page.locator("#result")
    expect(result).to_be_visible()
    assert result.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [64, 48]
    expect(page.locator("#zoom [data-zoom=fit]")).to_have_attribute("aria-pressed", "true")
    assert fit_share(page) >= 0.9  # a 64 px picture is shown large: filling the page, not a stamp
    width = result.evaluate("img => img.clientWidth")
    assert width <= page.evaluate("() => document.querySelector('.result-frame').clientWidth")  # no sideways scroll
    expect(page.locator("#shown-at")).to_have_text(re.compile(r"^, shown at \d+ %$"))
    said = int(re.search(r"\d+", page.locator("#shown-at").inner_text()).group())
    assert abs(said - 100 * width / 64) <= 1  # the caption says the scale it is shown at
    page.click("#zoom [data-zoom='1']")
    expect(result).to_have_js_property("clientWidth", 64)
    rendering = "img => getComputedStyle(img).imageRendering"
    assert result.evaluate(rendering) == "auto"  # enlarged smoothly when fitted
    page.click("#zoom [data-zoom='2']")
    expect(result).to_have_js_property("clientWidth", 128)
    assert result.evaluate(rendering) == "pixelated"  # 200 %: its own pixels, sharp
    page.click("#zoom [data-zoom=fit]")
    expect(result).to_have_js_property("clientWidth", width)
    assert_accessible(page)


def test_a_masked_jobs_page_shows_its_mask(page: Page, idle) -> None:
    from tests.web.test_masks_web import mask_bytes

    base, app = idle
    owner = app.test_client()
    body = form(content=png_bytes(48, 64), style_name="the_scream", size="64")
    body["mask"] = (io.BytesIO(mask_bytes(48, 64)), "mask.png")
    job_id = owner.post("/api/jobs", data=body, content_type="multipart/form-data").json["id"]
    app.extensions["impasto"].dispatcher.run_all()
    page.goto(f"{base}/jobs/{job_id}")
    mask = page.locator(".mask-shown img")
    expect(mask).to_be_visible()
    assert mask.evaluate("img => img.complete && img.naturalWidth") == 64  # the stored mask, the photo's size
    expect(page.locator(".mask-shown figcaption")).to_contain_text("white is where it paints")
    assert_accessible(page)


def photo_share(page: Page) -> float:
    """Where the divider stands, as a share of the result's width from the left, as the browser lays
    it out; the photo's cut is checked to be at the same place."""
    line, cut = page.evaluate("""() => {
        const box = document.getElementById('compare-box'), line = document.getElementById('compare-line');
        const photo = document.getElementById('compare-photo');
        return [(line.getBoundingClientRect().left + 1 - box.getBoundingClientRect().left) / box.clientWidth,
                getComputedStyle(photo).clipPath];
    }""")
    right = re.fullmatch(r"inset\(0px ([\d.]+)% 0px 0px\)", cut)  # what is cut off the photo on the right
    assert right and 1 - float(right.group(1)) / 100 == pytest.approx(line, abs=0.02), (cut, line)
    return line


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280", "390"])
def test_before_and_after_by_dragging_or_with_the_arrow_keys(page: Page, idle, size: dict[str, int]) -> None:
    base, app = idle
    page.set_viewport_size(size)
    page.goto(finished(app, page, base))
    slider = page.get_by_role("slider", name="Before and after")
    expect(slider).to_be_visible()
    expect(slider).to_have_value("0")
    assert photo_share(page) == pytest.approx(0, abs=0.01)  # the result alone to begin with
    photo, result = page.locator("#compare-photo"), page.locator("#result")
    assert photo.bounding_box() == result.bounding_box()  # the photo lies exactly over the result, at its size

    box = page.locator("#compare-box").bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] / 2, steps=6)
    page.mouse.up()
    expect(slider).to_have_value("70")
    assert photo_share(page) == pytest.approx(0.7, abs=0.02)
    assert "photo on the left 70 %" in slider.get_attribute("aria-valuetext")

    slider.focus()
    for _ in range(5):
        page.keyboard.press("ArrowLeft")
    expect(slider).to_have_value("65")
    assert photo_share(page) == pytest.approx(0.65, abs=0.02)
    page.keyboard.press("End")
    expect(slider).to_have_attribute("aria-valuetext", "your photo alone")

    page.click("#zoom [data-zoom='2']")  # at 200 % the photo still covers the result exactly
    expect(result).to_have_js_property("clientWidth", 128)
    assert photo.evaluate("p => [p.clientWidth, p.clientHeight]") == [128, 96]
    assert_accessible(page)


def choose_both(page: Page, tmp_path: Path) -> None:
    content, style = tmp_path / "photo.png", tmp_path / "painting.jpg"
    content.write_bytes(png_bytes(480, 640))  # a photo-shaped photo: its preview takes its full height
    style.write_bytes(style_bytes())
    page.set_input_files("input[name=content]", str(content))
    page.set_input_files("input[name=style]", str(style))
    expect(page.locator("#drop-content .preview")).to_be_visible()
    expect(page.locator("#drop-style .preview")).to_be_visible()


def in_view(page: Page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size["height"]


def test_the_phone_form_fits_with_paint_it_always_within_reach(page: Page, idle, tmp_path: Path) -> None:
    base, _ = idle
    page.set_viewport_size(PHONE)
    page.goto(base + "/")
    choose_both(page, tmp_path)
    expect(page.locator("#advanced")).not_to_have_attribute("open", "")  # folded on a phone
    expect(page.locator("#f-style_weight")).to_be_hidden()
    expect(page.locator("#for-clip")).to_be_hidden()
    height = page.locator("#studio").bounding_box()["height"]
    assert height <= 1.2 * PHONE["height"], f"the form is {height:.0f} px tall on a {PHONE['height']} px screen"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing sideways
    assert in_view(page, "#submit")  # at the top of the page already
    page.mouse.wheel(0, 400)
    page.wait_for_function("() => window.scrollY > 0")
    assert in_view(page, "#submit")  # and while scrolling through the form
    assert_accessible(page)

    # An error in a folded setting unfolds it, next to its field.
    page.click("#advanced > summary")
    page.fill("#f-size", "5000")
    page.click("#advanced > summary")
    expect(page.locator("#f-size")).to_be_hidden()
    page.click("#submit")
    expect(page.locator("#advanced")).to_have_attribute("open", "")
    expect(page.locator("#error-size")).to_be_visible()
    expect(page.locator("#error-size")).to_contain_text("Size")


def test_on_a_wide_screen_the_settings_are_open_and_the_clip_ones_only_for_a_clip(
        page: Page, idle, tmp_path: Path) -> None:
    from tests.clips import video_bytes

    base, _ = idle
    page.set_viewport_size(DESKTOP)
    page.goto(base + "/")
    expect(page.locator("#advanced")).to_have_attribute("open", "")
    expect(page.locator("#f-style_weight")).to_be_visible()
    expect(page.locator("#for-clip")).to_be_hidden()  # a photo: no clip settings
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(video_bytes("mp4"))
    page.set_input_files("input[name=content]", str(clip))
    expect(page.locator("#for-clip")).to_be_visible()
    expect(page.locator("#f-frame_iterations")).to_be_visible()
    choose_both(page, tmp_path)  # a photo again
    expect(page.locator("#for-clip")).to_be_hidden()
    assert_accessible(page)


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1280", "390"])
def test_your_queue_follows_your_jobs_and_cancels_a_waiting_one(page: Page, idle, size: dict[str, int]) -> None:
    base, app = idle
    page.set_viewport_size(size)
    owner = app.test_client()
    jobs = [owner.post("/api/jobs", data=form(content=png_bytes(), style_name="the_scream"),
                       content_type="multipart/form-data").json["id"] for _ in range(2)]
    page.context.add_cookies([{"name": "impasto_session", "value": owner.get_cookie("impasto_session").value,
                               "url": base}])
    page.goto(base + "/")
    queue = page.get_by_role("region", name="Your queue")
    expect(queue).to_be_visible()
    items = queue.locator(".queue-item")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text("Waiting: next in line")
    expect(items.nth(1)).to_contain_text("Waiting: 1 job ahead")
    assert_accessible(page)

    store = app.extensions["impasto"].store
    store.claim("test-worker", 1, jobs[0])
    store.update_progress(jobs[0], "test-worker", {"iteration": 3, "total": 12})
    expect(items.nth(0)).to_contain_text("Painting: 25 % (3 of 12 iterations)", timeout=10_000)  # live
    expect(items.nth(0).locator("button")).to_have_count(0)  # a running job is cancelled on its own page
    items.nth(1).get_by_role("button", name="Cancel").click()
    expect(items).to_have_count(1)
    assert store.get(jobs[1]).state == "cancelled"
    store.finish(jobs[0], "test-worker", "done")
    expect(queue).to_be_hidden(timeout=10_000)  # nothing under way any more


def test_a_look_saved_and_loaded_back_and_a_bad_one_named(page: Page, idle, tmp_path: Path) -> None:
    base, _ = idle
    page.set_viewport_size(DESKTOP)
    page.goto(base + "/")
    page.locator(".preset[data-preset=strong-style]").click()
    page.fill("#f-size", "320")
    page.fill("#f-seed", "42")
    page.check("#f-preserve_colors")
    with page.expect_download() as download:
        page.click("#look-save")
    saved = tmp_path / "look.json"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "impasto-look.json"
    look = json.loads(saved.read_text())
    assert look["impasto_look"] == 1 and look["preset"] == "strong-style"
    assert look["options"]["size"] == 320 and look["options"]["seed"] == 42
    assert look["options"]["preserve_colors"] is True and look["options"]["style_weight"] == 1000
    assert len(saved.read_bytes()) < 2048  # a small file to pass around
    expect(page.locator("#look-said")).to_contain_text("Saved as impasto-look.json")

    page.goto(base + "/")  # a fresh form: the defaults
    expect(page.locator("#f-size")).not_to_have_value("320")
    page.set_input_files("#look-file", str(saved))
    expect(page.locator("#f-size")).to_have_value("320")
    expect(page.locator("#f-seed")).to_have_value("42")
    expect(page.locator("#f-preserve_colors")).to_be_checked()
    expect(page.locator(".preset.active")).to_have_attribute("data-preset", "strong-style")
    expect(page.locator("#look-said")).to_have_text("Loaded the look from look.json.")
    assert_accessible(page)

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**look, "options": {"size": 5000}}))
    page.set_viewport_size(PHONE)
    page.reload()
    page.set_input_files("#look-file", str(bad))
    expect(page.locator("#error-size")).to_have_text("Size must be a whole number from 32 to 1024; you entered 5000")
    expect(page.locator("#advanced")).to_have_attribute("open", "")  # shown next to its field, unfolded
    expect(page.locator("#f-size")).not_to_have_value("5000")  # nothing of a bad look is applied
    junk = tmp_path / "notes.json"
    junk.write_text("size = 3")
    page.set_input_files("#look-file", str(junk))
    expect(page.locator("#error-form")).to_have_text("notes.json is not a look: it is not JSON.")
    assert_accessible(page)
