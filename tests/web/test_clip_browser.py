"""A person in Chromium drops a clip on the studio, sees it is a clip (frames, seconds), watches the
job page count the frames, and gets the painted clip playing on the result page. Real HTTP server
on 127.0.0.1, real runner threads painting behind a gate (tests.dispatch.Gate), untrained weights."""

from __future__ import annotations

import base64
import re
from typing import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.clips import video_bytes
from tests.dispatch import Gate, threads
from tests.web.axe import assert_accessible
from tests.web.test_browser import _serve

pytestmark = pytest.mark.browser

DROP = """async ([b64, name, type]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type }));
  return transfer;
}"""


@pytest.fixture
def live_server(make_app, gate: Gate) -> Iterator[str]:
    yield from _serve(make_app(DISPATCHER=threads(gate.painter)))


def drop_file(page: Page, selector: str, data: bytes, name: str, mimetype: str) -> None:
    transfer = page.evaluate_handle(DROP, [base64.b64encode(data).decode(), name, mimetype])
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def test_drop_a_clip_watch_the_frames_and_play_the_result(page: Page, live_server: str, gate: Gate) -> None:
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto(live_server + "/")
    drop_file(page, "#drop-content", video_bytes("webm", frames=4, fps=8), "walk.webm", "video/webm")
    expect(page.locator("#clip-preview")).to_be_visible()  # the clip plays in the drop zone (a blob: video)
    expect(page.locator("#name-content")).to_contain_text("a clip of 4 frames, 0.5 s at 8 fps, 64×48")
    expect(page.locator("#mask")).to_be_hidden()  # a clip is painted whole
    page.wait_for_function("() => document.getElementById('clip-preview').readyState >= 2")
    assert_accessible(page)
    page.fill("#f-size", "48")
    page.fill("#f-iterations", "2")
    page.click("#submit")

    page.wait_for_url(re.compile(r"/jobs/[\w-]+$"))
    expect(page.locator("#frame")).to_have_text("frame 1 of 4", timeout=90_000)  # held after its first report
    expect(page.locator("#preview-caption")).to_have_text("Painting the first frame (it takes longest)…")
    gate.run_until(frame=2)  # held in frame 2: frame 1 is finished
    expect(page.locator("#frame")).to_have_text("frame 2 of 4")
    expect(page.locator("#preview")).to_be_visible()  # the latest finished frame
    expect(page.locator("#preview-caption")).to_have_text("Latest finished frame: 1 of 4")
    assert_accessible(page)
    gate.open()

    expect(page.locator("#title")).to_have_text("Finished", timeout=120_000)
    the_result_plays(page)
    page.goto(live_server + "/history")
    expect(page.locator(".clip-meta")).to_have_text(re.compile(r"clip · 4 frames · 0\.5 s"))
    assert refused == []


def the_result_plays(page: Page) -> None:
    """The result page's video: both sources, muted autoplay in a loop, playing; every download."""
    video = page.locator("#result-video")
    expect(video).to_be_visible()
    sources = video.locator("source")
    expect(sources).to_have_count(2)
    assert [sources.nth(i).get_attribute("type") for i in range(2)] == ["video/mp4", "video/webm"]
    assert video.evaluate("v => v.muted && v.loop && v.autoplay && v.controls")
    # It plays: a source was chosen and time moves on (muted autoplay is allowed).
    page.wait_for_function("() => { const v = document.getElementById('result-video');"
                           " return v.currentSrc && v.readyState >= 2 && v.currentTime > 0 && !v.paused; }",
                           timeout=30_000)
    assert re.search(r"/result\?format=(mp4|webm)$", video.evaluate("v => v.currentSrc"))
    assert video.evaluate("v => [v.videoWidth, v.videoHeight]") == [48, 36]
    assert 48 <= video.evaluate("v => v.clientWidth") <= 96  # fitted, but never past twice its own size
    for fmt in ("mp4", "webm", "gif"):
        expect(page.locator(f"#download-{fmt}")).to_have_attribute("href", re.compile(rf"format={fmt}&download=1$"))
    assert_accessible(page)
