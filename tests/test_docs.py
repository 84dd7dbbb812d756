"""The docs say what the code does: their tables are the ones generated from the code (and from the
benchmark's results files); their links, pictures and examples point at what the repository has."""

from __future__ import annotations

import re

import pytest

from scripts.doc_tables import DOC_FILES, TABLES
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = {path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8") for path in DOC_FILES}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_doc_tables_match_the_code(name):
    holders = [doc for doc, text in DOCS.items() if f"<!-- {name}-table -->" in text]
    assert len(holders) == 1, f"the {name} table must be in exactly one of {sorted(DOCS)}, found in {holders}"
    text = DOCS[holders[0]]
    block = text.split(f"<!-- {name}-table -->", 1)[1].split(f"<!-- /{name}-table -->", 1)[0]
    assert block.strip().splitlines() == TABLES[name](), (
        f"{holders[0]}'s {name} table is stale: run python scripts/doc_tables.py --update")


def test_readme_has_exactly_the_two_setup_commands():
    for marker in ("<!-- run-command -->", "<!-- test-command -->"):
        assert README.count(marker) == 1
        fence, command = README.split(marker, 1)[1].strip().splitlines()[:2]
        assert fence == "```bash" and command.startswith("python3 -m venv .venv && ")
    run = README.split("<!-- run-command -->", 1)[1].strip().splitlines()[1]
    assert run.endswith("impasto serve")
    test = README.split("<!-- test-command -->", 1)[1].strip().splitlines()[1]
    assert "pytest" in test


DOC_PAGES = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]


def test_every_local_picture_in_the_docs_exists():
    """README shows at least one picture; the pages under docs/ the rest (screenshots, gallery, video)."""
    links = {doc: re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (ROOT / doc).read_text(encoding="utf-8"))
             for doc in DOC_PAGES}
    assert links["README.md"] and sum(map(len, links.values())) >= 10
    missing = [f"{doc}: {link}" for doc, found in links.items() for link in found
               if not link.startswith("http") and not ((ROOT / doc).parent / link).is_file()]
    assert missing == []


@pytest.mark.parametrize("doc", DOC_PAGES)
def test_docs_link_only_to_files_in_the_repository(doc):
    """A fresh clone has nothing beside it: no ../shared, no notes outside the repo, no dead links."""
    text = (ROOT / doc).read_text(encoding="utf-8")
    folder = (ROOT / doc).parent
    # Only README's "Developing" may speak of the stand-in weights beside our own checkouts.
    user_text = text.replace(_readme_section("Developing"), "") if doc == "README.md" else text
    assert "../shared" not in user_text and "FACTS.md" not in text and not re.search(r"issue #\d", text)
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    missing = [link for link in links if not link.startswith(("http", "mailto:")) and not (folder / link).exists()]
    assert missing == [], f"{doc} links to files a clone does not have"


def _github_anchors(path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens,
    -1, -2 … after a repeated title."""
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)  # a fence's "# comment" is none
    anchors, seen = set(), {}
    for title in re.findall(r"^#{1,6} +(.+?) *$", text, flags=re.M):
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)  # a link in a heading counts by its text
        slug = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        anchors.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return anchors


def _section_links(text: str) -> list[tuple[str, str]]:
    """(file, anchor) of every link to a section outside code: the file empty for the page itself."""
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    return [(target, anchor) for target, anchor in re.findall(r"\]\(([^)#\s]*)#([^)\s]+)\)", prose)
            if not target.startswith(("http", "mailto:"))]


def test_github_anchors_follow_its_rules(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Impasto\n## Install and run\n### The photo's structure\n## JSON API\n## JSON API\n"
                    "```bash\n# not a heading\n```\n", encoding="utf-8")
    assert _github_anchors(page) == {"impasto", "install-and-run", "the-photos-structure", "json-api", "json-api-1"}


@pytest.mark.parametrize("doc", DOC_PAGES)
def test_links_to_sections_point_at_headings_that_exist(doc):
    """[Weights](#weights) or [engine](docs/engine.md#where-the-method-comes-from): a renamed heading
    breaks them silently on GitHub."""
    path = ROOT / doc
    links = _section_links(path.read_text(encoding="utf-8"))
    pages = {target: path.parent / target if target else path for target, _ in links
             if not target or target.endswith(".md")}
    broken = [f"{target}#{anchor}" for target, anchor in links if target in pages
              and anchor not in _github_anchors(pages[target])]
    assert broken == [], f"{doc} links to sections that are not there"


def _readme_section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _bash_blocks(doc: str) -> list[str]:
    """A page's ```bash blocks, each with its backslash-continued lines joined."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / doc).read_text(encoding="utf-8"), flags=re.S)
    return [block.replace("\\\n", " ") for block in blocks]


ALL_BASH = "\n".join(block for doc in DOC_PAGES for block in _bash_blocks(doc))


def test_doc_examples_use_pictures_in_the_repository():
    """Every file a command in the docs reads (curl -F name=@file, impasto transfer/--style/--init-image/--mask)
    exists: the examples run from the repository's folder."""
    uploads = re.findall(r"=@([^\s\\]+)", ALL_BASH)
    transfers = re.findall(r"impasto transfer ([^\s\\]+) ([^\s\\]+)", ALL_BASH)
    flags = re.findall(r"--(?:style|init-image|mask) ([^\s\\]+)", ALL_BASH)
    files = set(uploads) | {f for pair in transfers for f in pair} | set(flags)
    assert len(uploads) >= 5 and transfers
    assert sorted(f for f in files if not (ROOT / f).is_file()) == []


def _curl_commands(text: str) -> list[str]:
    """Each curl command of the shell text, up to its pipe, && or the end of its line."""
    return [re.split(r"\s(?:\||&&|;)\s", "curl " + rest, maxsplit=1)[0]
            for line in text.splitlines() if "curl " in line for rest in line.split("curl ")[1:]]


def test_doc_curls_fail_on_errors_and_share_one_cookie_jar():
    """curl -fsS, so that an error answer never lands in a picture file; only a command that prints the
    status (an example of a refusal) does without -f. One cookie jar for a whole page: "$jar"."""
    curls = _curl_commands(ALL_BASH)
    assert len(curls) >= 15
    for command in curls:
        assert "-fsS" in command or "%{http_code}" in command, f"neither -fsS nor a printed status: {command}"
        assert set(re.findall(r"\s-[bc] (\S+)", command)) <= {'"$jar"'}, f"another cookie jar: {command}"


def test_doc_examples_write_outside_the_repository():
    """Every -o of a command in the docs (curl's download, impasto transfer's picture) goes to a temporary folder."""
    outputs = re.findall(r'(?:^|\s)-o ("\$\(mktemp -d\)/\S+|\S+)', ALL_BASH, flags=re.M)
    assert len(outputs) >= 10
    assert [o for o in outputs if not o.startswith(('"$out/', '"$(mktemp -d)/'))] == []


def test_doc_api_examples_print_the_status_where_they_show_one():
    """A comment showing a status ('#  400') under a curl that prints none would mislead: -w '%{http_code}'."""
    pairs = re.findall(r"(curl [^#]*?)\n((?:# [^\n]*\n?)+)", ALL_BASH)
    with_status = [(command, shown) for command, shown in pairs
                   if re.search(r"^#\s+\d{3}$|^# \d{3} |[}\]] \d{3}$", shown, flags=re.M)]
    assert len(with_status) >= 2
    for command, _shown in with_status:
        assert "%{http_code}" in command, f"shows a status but prints none: {command.strip()}"


def test_the_deployment_pages_nginx_example_is_the_tested_file():
    """docs/deployment.md shows the core of docs/deploy/nginx-impasto.conf, which
    tests/web/test_reverse_proxy.py runs: every directive it shows is in that file."""
    page = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    conf = (ROOT / "docs" / "deploy" / "nginx-impasto.conf").read_text(encoding="utf-8")
    tested = {line.split("#")[0].strip() for line in conf.splitlines()}
    blocks = re.findall(r"```nginx\n(.*?)```", page, flags=re.S)
    assert len(blocks) == 1, "one nginx example, in one place"
    shown = [line.split("#")[0].strip() for line in blocks[0].splitlines()]
    directives = [line for line in shown if line.endswith(";") and not line.startswith("upstream")]
    assert len(directives) >= 10 and [line for line in directives if line not in tested] == []


def test_readme_lists_every_docs_page():
    """The README's Documentation section is the table of contents: every page under docs/ is in it."""
    contents = _readme_section("Documentation")
    pages = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))
    assert [page for page in pages if f"]({page})" not in contents] == []


def test_readme_stays_short():
    assert len(README.splitlines()) <= 200


def test_readme_says_how_to_activate_the_environment_before_bare_commands():
    install = _readme_section("Install and run")
    assert ". .venv/bin/activate" in install
