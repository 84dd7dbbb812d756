"""Print the Debian archive mirror this machine's apt already uses, for debootstrap.

    python3 scripts/apt_mirror.py [SUITE]     # SUITE defaults to bookworm

scripts/docker-smoke.sh builds its base image with debootstrap, which needs a mirror URL. No host
name is written in the repository: the mirror is the first ``deb`` source in /etc/apt/sources.list
or /etc/apt/sources.list.d/*.list / *.sources (deb822) that serves SUITE itself (not SUITE-security
or SUITE-updates). Exit status 1, with one line on stderr, when there is none. Standard library only:
it runs on the host before any virtual environment exists.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

APT = Path("/etc/apt")


def one_line_sources(text: str) -> Iterator[tuple[str, list[str]]]:
    """(URI, [suite]) of each ``deb`` line of the one-line format: ``deb [options] URI suite comp…``."""
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):  # options: [arch=amd64 signed-by=…]
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) >= 2:
            yield words[0], [words[1]]


def deb822_sources(text: str) -> Iterator[tuple[str, list[str]]]:
    """(URI, suites) of each enabled ``Types: deb`` stanza of a .sources file (one per URI)."""
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
            continue
        for uri in fields.get("uris", "").split():
            yield uri, fields.get("suites", "").split()


def sources(apt: Path = APT) -> Iterator[tuple[str, list[str]]]:
    """Every (URI, suites) apt is configured with, in apt's own reading order."""
    main = apt / "sources.list"
    if main.is_file():
        yield from one_line_sources(main.read_text(encoding="utf-8", errors="replace"))
    folder = apt / "sources.list.d"
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:
        if path.suffix == ".list":
            yield from one_line_sources(path.read_text(encoding="utf-8", errors="replace"))
        elif path.suffix == ".sources":
            yield from deb822_sources(path.read_text(encoding="utf-8", errors="replace"))


def mirror(suite: str = "bookworm", apt: Path = APT) -> str | None:
    """The first http(s) mirror that serves ``suite`` itself, without a trailing slash."""
    for uri, suites in sources(apt):
        if suite in suites and uri.startswith(("http://", "https://")):
            return uri.rstrip("/")
    return None


def main(argv: list[str]) -> int:
    suite = argv[0] if argv else "bookworm"
    found = mirror(suite)
    if found is None:
        print(f"no apt source for {suite!r} in {APT}/sources.list or {APT}/sources.list.d/", file=sys.stderr)
        return 1
    print(found)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
