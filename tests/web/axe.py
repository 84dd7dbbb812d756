"""axe-core in the browser tests: no serious or critical accessibility violation on a page.

axe.min.js comes from the axe-playwright-python package (test extra): a released axe-core build,
injected with page.evaluate, which the page's Content-Security-Policy does not apply to.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from playwright.sync_api import Page

from tests.conftest import require


def _axe_source() -> str:
    spec = importlib.util.find_spec("axe_playwright_python")
    script = Path(spec.origin).with_name("axe.min.js") if spec and spec.origin else None
    require(script is not None and script.is_file(), "axe-core not installed (pip install -e '.[test]')")
    return script.read_text(encoding="utf-8")  # type: ignore[union-attr]


def serious_violations(page: Page) -> list[str]:
    """Every serious or critical axe-core (WCAG 2 A/AA and best-practice) violation on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:4]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def assert_accessible(page: Page) -> None:
    problems = serious_violations(page)
    assert problems == [], f"axe-core on {page.url}:\n" + "\n".join(problems)
