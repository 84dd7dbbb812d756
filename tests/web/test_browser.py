"""A person in Chromium: upload two images, move a slider, see how long it will take, submit, watch it
paint, download the result; see every problem at once before anything is sent; cancel (after a
confirmation). axe-core checks every page on the way. Runs against a real HTTP server on 127.0.0.1,
whose runner thread paints behind a gate (tests.dispatch.Gate): a job waits after each report until
the test lets it on, so that the page can be checked at a known point of it."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
from playwright.sync_api import Page, Route, expect
from werkzeug.serving import make_server

from impasto.web.estimate import FIXED_SECONDS, START_SECONDS
from tests.dispatch import Gate, threads
from tests.web.axe import assert_accessible
from tests.web.conftest import form, png_bytes, style_bytes

pytestmark = pytest.mark.browser


def _serve(app) -> Iterator[str]:
    """Serve ``app`` on a free loopback port in a thread; yield its base URL, then shut it down."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


@pytest.fixture
def live_server(make_app, gate: Gate) -> Iterator[str]:
    yield from _serve(make_app(DISPATCHER=threads(gate.painter)))


def pictures(tmp_path: Path) -> tuple[Path, Path]:
    content, style = tmp_path / "photo.png", tmp_path / "painting.jpg"
    content.write_bytes(png_bytes(48, 64))
    style.write_bytes(style_bytes())
    return content, style


def test_paint_a_picture_in_the_browser(page: Page, live_server: str, gate: Gate, tmp_path: Path) -> None:
    fill_the_studio(page, live_server, tmp_path)
    page.click("#submit")

    page.wait_for_url(re.compile(r"/jobs/[\w-]+$"))
    expect(page.locator("#iteration")).to_have_text("0 / 12", timeout=60_000)  # held after its first report: the start
    expect(page.locator("#preview")).to_be_visible()
    assert_accessible(page)  # the job page while it paints
    gate.run_until(iteration=5)
    expect(page.locator("#iteration")).to_have_text("5 / 12")  # the page follows it
    gate.open()
    expect(page.locator("#title")).to_have_text("Finished", timeout=60_000)
    expect(page.locator("#result")).to_be_visible()
    assert page.locator("#result").evaluate("img => img.naturalWidth") == 48
    # Fitted to the window; the zoom shows it at its own size, or doubles it.
    assert page.locator("#result").evaluate("img => img.clientWidth") > 300
    page.click("#zoom [data-zoom='1']")
    expect(page.locator("#result")).to_have_js_property("clientWidth", 48)
    page.click("#zoom [data-zoom='2']")
    expect(page.locator("#result")).to_have_js_property("clientWidth", 96)
    assert_accessible(page)  # the finished page

    with page.expect_download() as download_info:
        page.click("#download-png")
    saved = tmp_path / "download.png"
    download_info.value.save_as(saved)
    assert saved.read_bytes().startswith(b"\x89PNG")
    # "Again" brings back the settings, the seed included.
    page.click("#again")
    expect(page.locator("#f-style_weight")).to_have_value("1000")
    expect(page.locator("#f-seed")).not_to_have_value("")


def fill_the_studio(page: Page, base: str, tmp_path: Path) -> None:
    """Both pictures uploaded, the style weight set by its slider and a preset, 48 px and 12
    iterations, the estimate checked on the way."""
    content, style = pictures(tmp_path)
    page.goto(base + "/")
    assert_accessible(page)
    page.set_input_files("input[name=content]", str(content))
    page.set_input_files("input[name=style]", str(style))
    expect(page.locator("#drop-content .preview")).to_be_visible()
    expect(page.locator("#drop-style .preview")).to_be_visible()
    expect(page.locator("input[name=style_name]:checked")).to_have_count(0)  # the upload replaced the pick

    # The style weight slider is logarithmic: 10^3 on the slider is 1000 in the field.
    page.locator(".slider[data-for=f-style_weight]").fill("3")
    expect(page.locator("#f-style_weight")).to_have_value("1000")
    page.locator(".preset[data-preset=strong-style]").click()
    expect(page.locator("#f-style_weight")).to_have_value("1000")
    # Before submitting: about how long it takes here, for these settings (this server's own speed).
    expect(page.locator("#estimate")).to_contain_text(re.compile(r"^Takes about .* on this server"))
    before = page.locator("#estimate").text_content()
    page.fill("#f-size", "48")
    page.fill("#f-iterations", "12")
    expect(page.locator("#estimate")).not_to_have_text(before)
    # A tiny picture on a fresh server: mostly its start (and tracing), so less than the default's
    # seconds but not less than that start (the page says seconds to the nearest 5).
    after = estimated_seconds(page.locator("#estimate").text_content())
    assert 5 * round((START_SECONDS + FIXED_SECONDS) / 5) <= after < estimated_seconds(before)


def estimated_seconds(line: str) -> int:
    """The seconds of an estimate line: 'Takes about 40 s', 'about 3 min', 'about 1 h 20 min' (text.duration)."""
    said = re.match(r"Takes about ((?:\d+ (?:h|min|s) ?)+)", line).group(1)
    units = {"h": 3600, "min": 60, "s": 1}
    return sum(int(number) * units[unit] for number, unit in re.findall(r"(\d+) (h|min|s)", said))


def test_every_problem_shows_at_once_in_plain_words_before_anything_is_sent(
        page: Page, live_server: str, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# not a photo")
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url) if request.method == "POST" else None)
    page.goto(live_server + "/")
    page.set_input_files("input[name=content]", str(readme))  # checked at once, as the server would
    expect(page.locator("#error-content")).to_have_text(
        "Photo: README.md is not a JPEG, PNG, WebP, BMP or TIFF image, nor an MP4, WebM, MOV, animated GIF or "
        "WebP clip.")
    page.fill("#f-tv_weight", "0.05")
    page.fill("#f-style_weight", "lots")
    page.fill("#f-size", "2000")
    page.fill("#f-seed", "1.5")
    page.click("#submit")
    expect(page.locator("#error-style_weight")).to_have_text(
        "Style weight must be a number from 0 to 1,000,000; you entered lots.")
    expect(page.locator("#error-size")).to_have_text("Size must be a whole number from 32 to 1024; you entered 2000.")
    expect(page.locator("#error-seed")).to_contain_text("must be a whole number")
    expect(page.locator("#error-content")).to_contain_text("README.md is not a JPEG")
    expect(page.locator("#error-summary")).to_have_text("4 things to fix before painting: see the messages in red.")
    assert sent == [] and page.url == live_server + "/"
    expect(page.locator("#f-tv_weight")).to_have_value("0.05")  # what the person entered stays
    assert_accessible(page)  # with the messages shown

    # What only the server can tell (the file is no image inside) comes back in the same words.
    not_an_image = tmp_path / "holiday.png"
    not_an_image.write_text("this is a text file with a .png name")
    page.set_input_files("input[name=content]", str(not_an_image))
    page.fill("#f-style_weight", "100")
    page.fill("#f-size", "48")
    page.fill("#f-seed", "")
    page.click("#submit")
    expect(page.locator("#error-content")).to_contain_text("Photo: not a readable image")
    assert len(sent) == 1 and page.url == live_server + "/"
    page.set_input_files("input[name=content]", str(pictures(tmp_path)[0]))
    expect(page.locator("#error-content")).to_be_empty()


def test_cancel_asks_first_and_the_cancelled_page_says_what_happened(
        page: Page, live_server: str, gate: Gate, tmp_path: Path) -> None:
    page.goto(live_server + "/")
    page.set_input_files("input[name=content]", str(pictures(tmp_path)[0]))
    page.fill("#f-size", "48")
    page.fill("#f-iterations", "200")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/jobs/[\w-]+$"))
    expect(page.locator("#iteration")).to_have_text("0 / 200", timeout=60_000)  # held at its start
    questions: list[str] = []

    def answer(accept: bool):
        def handler(dialog) -> None:
            questions.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()
        return handler

    page.once("dialog", answer(False))
    page.click("#cancel")
    expect(page.locator("#cancel")).to_be_enabled()  # "no": it goes on painting
    assert questions and "cannot be resumed" in questions[0]
    gate.run_until(iteration=2)
    expect(page.locator("#iteration")).to_have_text("2 / 200")
    page.once("dialog", answer(True))
    with page.expect_response(re.compile(r"/cancel$")) as cancelled:
        page.click("#cancel")
    assert cancelled.value.ok
    gate.open()  # the job goes on, sees the cancel at its next check and stops
    expect(page.locator("#title")).to_have_text("Cancelled", timeout=30_000)
    expect(page.locator("#message")).to_contain_text(re.compile(r"cancelled after iteration \d+ of 200: there is no "
                                                                r"finished picture, only the last preview below"))
    assert_accessible(page)
    page.goto(live_server + "/history")
    expect(page.locator(".history-title").first).to_have_text("In the style of The Starry Night")
    assert_accessible(page)
    page.goto(live_server + "/jobs/no-such-job")
    assert_accessible(page)


def test_a_picture_over_the_pixel_limit_is_named_as_soon_as_it_is_chosen(
        page: Page, make_app, tmp_path: Path) -> None:
    for base in _serve(make_app(IMPASTO_MAX_PIXELS=3000)):
        page.goto(base + "/")
        page.set_input_files("input[name=content]", str(pictures(tmp_path)[0]))  # 64×48 = 3,072 pixels
        message = "Photo: 64×48 = 3,072 pixels is over the limit of 3,000 pixels"
        expect(page.locator("#error-content")).to_have_text(message)
        page.click("#submit")
        expect(page.locator("#error-content")).to_have_text(message)  # still refused, nothing sent
        assert page.url == base + "/"


def test_the_studio_at_phone_width_is_accessible(page: Page, live_server: str) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server + "/")
    assert_accessible(page)


def test_blend_two_paintings_in_the_browser(page: Page, live_server: str, gate: Gate, tmp_path: Path) -> None:
    gate.open()  # only the finished jobs are looked at
    content, style = pictures(tmp_path)
    page.goto(live_server + "/")
    page.set_input_files("input[name=content]", str(content))
    expect(page.locator("input[name=style_name][value=starry_night]")).to_be_checked()  # the default pick
    expect(page.locator("#second-style")).to_be_hidden()
    page.click("#add-second")
    page.click("#second-style .style-card:has(input[value=the_scream])")
    expect(page.locator("#drop-style_2 .preview")).to_be_visible()
    expect(page.locator("#name-style_2")).to_contain_text("The Scream")
    page.locator("#blend").fill("30")
    expect(page.locator("#blend-first")).to_have_text("70 %")
    expect(page.locator("#blend-second")).to_have_text("30 %")
    page.fill("#f-size", "48")
    page.fill("#f-iterations", "3")
    page.click("#submit")

    page.wait_for_url(re.compile(r"/jobs/[\w-]+$"))
    expect(page.locator("#title")).to_have_text("Finished", timeout=60_000)
    expect(page.locator("#paintings figure")).to_have_count(2)
    expect(page.locator("#paintings figure").nth(0)).to_contain_text("The Starry Night")
    expect(page.locator("#paintings figure").nth(0)).to_contain_text("70 %")
    expect(page.locator("#paintings figure").nth(1)).to_contain_text("30 %")
    first = page.request.get(live_server + "/api" + page.url.removeprefix(live_server)).json()
    assert first["options"]["style_blend"] == [70, 30]

    # Again, with an upload in place of The Scream: the upload goes first, the blend follows it.
    page.click("#again")
    expect(page.locator("#second-style")).to_be_visible()
    expect(page.locator("#blend")).to_have_value("30")
    page.set_input_files("#file-style_2", str(style))
    page.click("#submit")
    page.wait_for_url(re.compile(r"/jobs/[\w-]+$"))
    expect(page.locator("#title")).to_have_text("Finished", timeout=60_000)
    again = page.request.get(live_server + "/api" + page.url.removeprefix(live_server)).json()
    assert [s["name"] for s in again["styles"]] == [None, "starry_night"]
    assert again["options"]["style_blend"] == [30, 70] and again["seed"] == first["seed"]


@pytest.fixture
def idle_server(make_app) -> Iterator[tuple[str, Any]]:
    """A server whose jobs stay queued (no runners), and its app."""
    app = make_app()
    for url in _serve(app):
        yield url, app


def test_the_job_page_backs_off_on_errors_and_stops_when_the_job_is_gone(page: Page, idle_server) -> None:
    base, app = idle_server
    owner = app.test_client()
    job_id = owner.post("/api/jobs", data=form(content=png_bytes(), style_name="the_scream")).json["id"]
    # The page's browser is the job's owner (it shows the cancel button to its owner only).
    page.context.add_cookies([{"name": "impasto_session", "value": owner.get_cookie("impasto_session").value,
                               "url": base}])
    answers = {"status": 500}
    polls: list[int] = []

    def status(route: Route) -> None:
        polls.append(answers["status"])
        route.fulfill(status=answers["status"], content_type="application/json", body='{"error": "x"}')

    page.route(f"**/api/jobs/{job_id}", status)
    page.clock.install(time=1_000_000)
    # The page's timers move only when the test says so. Pause at a later time than the install:
    # the installed clock ticks until paused, and on a loaded machine "pause at the install time"
    # is already in the past ("Cannot fast-forward to the past").
    page.clock.pause_at(1_000_000 + 60_000)
    page.goto(f"{base}/jobs/{job_id}")

    def after(ms: int) -> int:
        page.clock.run_for(ms)
        page.wait_for_timeout(150)  # the (real) fetch and its handler
        return len(polls)

    assert after(300) == 1  # the first poll (at 250 ms: the page has no preview yet), answered 500
    assert after(1850) == 1 and after(200) == 2  # then 2 s later, not 1 s
    assert after(3800) == 2 and after(200) == 3  # then 4 s
    assert after(7800) == 3 and after(200) == 4  # then 8 s
    assert after(9800) == 4 and after(200) == 5  # then at most 10 s
    answers["status"] = 404  # the job was deleted
    assert after(10_000) == 6
    expect(page.locator("#title")).to_have_text("This job is gone")
    expect(page.locator("#cancel")).to_be_disabled()
    assert after(60_000) == 6  # no more polls


def test_the_job_page_polls_often_until_a_first_glimpse_then_once_a_second(page: Page, idle_server) -> None:
    """A picture's first preview comes a fraction of a second into the job: a poll a second showed
    it up to 1 s late. Polls come every 250 ms while there is none, for 5 s at most."""
    base, app = idle_server
    job_id = app.test_client().post("/api/jobs", data=form(content=png_bytes(), style_name="the_scream")).json["id"]
    polls: list[str] = []

    def status(route: Route) -> None:
        polls.append(route.request.url)
        route.continue_()

    page.route(f"**/api/jobs/{job_id}", status)
    page.clock.install(time=1_000_000)
    page.clock.pause_at(1_000_000 + 60_000)  # as in the back-off test: timers move when told
    page.goto(f"{base}/jobs/{job_id}")

    def after(ms: int) -> int:
        for _ in range(ms // 250):  # a quarter second at a time: each poll's (real) fetch answers in between
            page.clock.run_for(250)
            page.wait_for_timeout(100)
        return len(polls)

    assert after(1000) == 4  # queued, no preview yet: every 250 ms
    assert after(4000) == 20
    assert after(4000) == 24  # 5 s after the page opened: once a second
    # A page that opens with its preview already there polls once a second from the start.
    app.extensions["impasto"].store.put_file(job_id, "preview.jpg", png_bytes())
    polls.clear()
    page.goto(f"{base}/jobs/{job_id}")
    assert after(750) == 0 and after(500) == 1 and after(1000) == 2


def test_the_owner_deletes_a_job_from_its_page_after_confirming(page: Page, idle_server) -> None:
    base, app = idle_server
    page.goto(base + "/")
    # this browser's first job, sent through the API with its cookies: the job is this browser's
    job_id = page.request.post(base + "/api/jobs", multipart={
        "content": {"name": "photo.png", "mimeType": "image/png", "buffer": png_bytes()},
        "style_name": "the_scream"}).json()["id"]
    page.goto(f"{base}/jobs/{job_id}")
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#delete")
    page.evaluate("1")  # after the click's handlers: a form sent would have started its request
    assert posts == [] and app.extensions["impasto"].store.get(job_id) is not None  # dismissed: nothing
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete")
    expect(page).to_have_url(f"{base}/history")
    assert app.extensions["impasto"].store.get(job_id) is None
    expect(page.locator(f"a[href='/jobs/{job_id}']")).to_have_count(0)
    # Another browser sees the page by its link, without the buttons that need the owner.
    other = app.test_client().post("/api/jobs", data=form(content=png_bytes(), style_name="the_scream")).json["id"]
    page.goto(f"{base}/jobs/{other}")
    expect(page.locator("#title")).to_have_text("Waiting for its turn")
    expect(page.locator("#delete")).to_have_count(0)
    expect(page.locator("#cancel")).to_have_count(0)


def test_a_coarse_scales_preview_says_it_is_a_first_pass(page: Page, live_server: str, gate: Gate) -> None:
    """The first preview is the start, then the small first scale's: the page says which."""
    answer = page.request.post(live_server + "/api/jobs", multipart={
        "content": {"name": "photo.png", "mimeType": "image/png", "buffer": png_bytes(48, 64)},
        "style": {"name": "painting.jpg", "mimeType": "image/jpeg", "buffer": style_bytes()},
        "size": "64", "iterations": "12", "scales": "2"})
    assert answer.status == 202, answer.text()
    # Held after its first report (the start, before any evaluation), then the page opened: it comes
    # with that preview, and words its caption all the same.
    assert gate.wait_held().iteration == 0
    page.goto(live_server + answer.json()["urls"]["page"])
    expect(page.locator("#preview-caption")).to_have_text(
        "First glimpse: your photo in the painting's colours. The strokes come next.", timeout=60_000)
    assert gate.run_until(iteration=1).scale == 1
    expect(page.locator("#preview-caption")).to_contain_text("First pass (scale 1 of 2, at a smaller size), "
                                                             "iteration 1")
    # Held after its last report (always previewed), still running: the last scale's preview.
    assert gate.run_until(iteration=12).scale == 2
    expect(page.locator("#preview-caption")).to_have_text("Live preview after iteration 12")
