"""README says what the code does: its tables are the ones generated from the code (and from the
benchmark's results file)."""

from __future__ import annotations

import pytest

from scripts.doc_tables import TABLES
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(TABLES))
def test_readme_tables_match_the_code(name):
    block = README.split(f"<!-- {name}-table -->", 1)[1].split(f"<!-- /{name}-table -->", 1)[0]
    assert block.strip().splitlines() == TABLES[name](), (
        f"README's {name} table is stale: run python scripts/doc_tables.py --update README.md")


def test_readme_has_exactly_the_two_setup_commands():
    for marker in ("<!-- run-command -->", "<!-- test-command -->"):
        assert README.count(marker) == 1
        fence, command = README.split(marker, 1)[1].strip().splitlines()[:2]
        assert fence == "```bash" and command.startswith("python3 -m venv .venv && ")
    run = README.split("<!-- run-command -->", 1)[1].strip().splitlines()[1]
    assert run.endswith("impasto serve")
    test = README.split("<!-- test-command -->", 1)[1].strip().splitlines()[1]
    assert "pytest" in test


def test_every_local_picture_in_the_readme_exists():
    import re

    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert len(links) >= 10
    missing = [link for link in links if not link.startswith("http") and not (ROOT / link).is_file()]
    assert missing == []
