"""Take the studio's screenshots (docs/studio.md): the studio form, a job being painted, a finished job.

Run once by hand (about a minute on 2 cores); it paints a real picture with the real weights:

    python scripts/screenshots.py [--weights PATH] [--size 256] [--iterations 100]

Writes docs/screenshots/form.png, running.png and job.png. The photo is the gallery's copy of the
Tübingen sample (Neckarfront, photo by Andreas Praefcke, Wikimedia Commons, CC licence). With ``--clip``
it paints that clip instead (e.g. docs/gallery/pan.mp4) and writes
clip-running.png (the frame counter and the latest finished frame) and clip-job.png (the result playing).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from impasto import create_app  # noqa: E402
from tests.helpers import CHROMIUM_ARGS  # noqa: E402

SHARED_WEIGHTS = ROOT.parent / "shared" / "weights" / "vgg16_hed_notop.weights.h5"
OUT = ROOT / "docs" / "screenshots"

log = logging.getLogger("screenshots")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=os.environ.get("IMPASTO_VGG_WEIGHTS", str(SHARED_WEIGHTS)),
                        help="VGG16 weights file (default: IMPASTO_VGG_WEIGHTS, else the stand-in beside the checkout)")
    parser.add_argument("--photo", default=str(ROOT / "docs" / "gallery" / "photo.jpg"))
    parser.add_argument("--style", default="starry_night", help="built-in style name")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--clip", help="paint this clip instead of the photo (clip-running.png, clip-job.png)")
    parser.add_argument("--frame-iterations", type=int, default=20, help="with --clip: iterations a later frame")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    data_dir = Path(tempfile.mkdtemp(prefix="impasto-shots-"))
    app = create_app({"IMPASTO_DATA_DIR": str(data_dir), "IMPASTO_VGG_WEIGHTS": args.weights})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (shoot_clip if args.clip else shoot)(f"http://127.0.0.1:{server.server_port}", args)
    finally:
        server.shutdown()
        app.extensions["impasto"].dispatcher.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


@contextmanager
def studio_form(base: str, args: argparse.Namespace, upload: str, **fields: int) -> Iterator[Page]:
    """Debian's Chromium at 1280×900 on the studio form, with ``upload`` as the photo (or clip), the
    painting, size, iterations, the other ``fields`` and seed 7 filled in."""
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                             args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
        page.goto(base + "/")
        page.set_input_files("input[name=content]", upload)
        if args.clip:  # the form reads a clip's frames first
            expect(page.locator("#name-content")).to_contain_text("a clip of")
        page.click(f"input[name=style_name][value={args.style}]", force=True)
        for name, value in {"size": args.size, "iterations": args.iterations, **fields, "seed": 7}.items():
            page.fill(f"#f-{name}", str(value))
        yield page
        browser.close()


def screenshot(page: Page, name: str) -> None:
    page.screenshot(path=str(OUT / name), full_page=True)
    log.info("wrote %s", name)


def shoot(base: str, args: argparse.Namespace) -> None:
    with studio_form(base, args, args.photo) as page:
        page.wait_for_timeout(300)
        screenshot(page, "form.png")
        page.click("#submit")
        page.wait_for_url(re.compile(r"/jobs/"))
        expect(page.locator("#preview")).to_be_visible(timeout=120_000)
        page.wait_for_function(
            "() => { const t = document.getElementById('iteration');"
            f" return t && parseInt(t.textContent) >= {args.iterations // 3}; }}", timeout=600_000)
        screenshot(page, "running.png")
        expect(page.locator("#title")).to_have_text("Finished", timeout=900_000)
        page.wait_for_load_state("networkidle")
        screenshot(page, "job.png")


def shoot_clip(base: str, args: argparse.Namespace) -> None:
    with studio_form(base, args, args.clip, frame_iterations=args.frame_iterations) as page:
        page.click("#submit")
        page.wait_for_url(re.compile(r"/jobs/"))
        page.wait_for_function("() => { const t = document.getElementById('frame');"
                               " return t && parseInt(t.textContent.replace('frame ', '')) >= 4; }", timeout=900_000)
        screenshot(page, "clip-running.png")
        expect(page.locator("#title")).to_have_text("Finished", timeout=1_800_000)
        page.wait_for_function("() => { const v = document.getElementById('result-video');"
                               " return v && v.readyState >= 2 && v.currentTime > 0.5; }", timeout=60_000)
        screenshot(page, "clip-job.png")


if __name__ == "__main__":
    sys.exit(main())
