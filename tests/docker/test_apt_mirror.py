"""scripts/apt_mirror.py: the debootstrap mirror comes from the machine's own apt sources."""

from __future__ import annotations

from pathlib import Path

from scripts.apt_mirror import mirror

DEB822 = """\
Types: deb-src
URIs: http://source.example/debian
Suites: bookworm

Types: deb
# a comment line
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def apt_dir(tmp_path: Path, main: str | None = None, **files: str) -> Path:
    (tmp_path / "sources.list.d").mkdir()
    if main is not None:
        (tmp_path / "sources.list").write_text(main)
    for name, text in files.items():
        (tmp_path / "sources.list.d" / name.replace("_", ".")).write_text(text)
    return tmp_path


def test_deb822_sources_give_the_suite_s_own_mirror(tmp_path):
    apt = apt_dir(tmp_path, debian_sources=DEB822)
    assert mirror("bookworm", apt) == "http://mirror.example/debian"
    assert mirror("bookworm-security", apt) == "http://mirror.example/debian-security"


def test_one_line_format_with_options_and_comments(tmp_path):
    apt = apt_dir(tmp_path, main="# deb http://old.example/debian bookworm main\n"
                                 "deb-src http://src.example/debian bookworm main\n"
                                 "deb [arch=amd64 signed-by=/k.gpg] https://one.example/debian bookworm main\n")
    assert mirror("bookworm", apt) == "https://one.example/debian"


def test_disabled_stanzas_and_other_suites_do_not_count(tmp_path):
    apt = apt_dir(tmp_path, a_sources="Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nEnabled: no\n",
                  b_list="deb http://other.example/ubuntu jammy main\n",
                  c_sources_disabled="Types: deb\nURIs: http://ignored.example/\nSuites: bookworm\n")
    assert mirror("bookworm", apt) is None


def test_the_smoke_script_names_no_mirror_host():
    script = (Path(__file__).resolve().parents[2] / "scripts" / "docker-smoke.sh").read_text()
    assert "deb.debian.org" not in script and "apt_mirror.py" in script
