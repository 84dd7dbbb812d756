"""The docs' examples run as written, against a real `impasto serve`.

Every shell block marked ``<!-- runs -->`` in README.md and docs/*.md is run page by page, in order,
in one bash per page (``set -euo pipefail``), from the repository's folder, as a reader pastes them.
Two things differ from a reader's terminal: ``STUDIO`` points at this test's server, and sizes are
64 px with 10 iterations (``-F size=256`` → ``-F size=64 -F iterations=10``, ``--size 256`` →
``--size 64 --iterations 10``; a size above 1024, shown to be refused, stays), so that the whole run
takes a minute or two, not half an hour.

Checked: every block exits 0; every file a block writes with ``-o "$out/NAME"`` exists and opens as
an image; the keys of every JSON answer shown in a ``# {...}`` comment are in what the server
answered, and a status shown (``#  400``) is the one it returned; nothing new is left in the
repository.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import ROOT
from tests.helpers import free_port, stop_process
from tests.web.netclient import wait_until_up

RUNS = "<!-- runs -->"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SMALLER = {"-F size=": "-F size=64 -F iterations=10", "--size ": "--size 64 --iterations 10"}
REFUSED_SIZE = 1024  # a larger size is an example of a refusal: kept as written
MARK = "::docs-block::"

def runnable_blocks(text: str) -> list[str]:
    """The bash blocks right after a ``<!-- runs -->`` line."""
    return re.findall(rf"^{re.escape(RUNS)}\n```bash\n(.*?)^```", text, flags=re.S | re.M)


def smaller(block: str) -> str:
    """The block with every size it submits at 64 px and 10 iterations (sizes shown to be refused stay)."""
    def shrink(match: re.Match) -> str:
        return SMALLER[match[1]] if int(match[2]) <= REFUSED_SIZE else match[0]
    return re.sub(r"(-F size=|--size )(\d+)", shrink, block)


def page_script(blocks: list[str]) -> str:
    """One bash script for a page: its blocks in order, each announced on stdout by a marker line."""
    parts = ["set -euo pipefail"]
    for number, block in enumerate(blocks):
        parts += [f"echo '{MARK}{number}'", smaller(block)]
    return "\n".join(parts) + "\n"


def outputs_per_block(stdout: str, count: int) -> list[str]:
    chunks = re.split(rf"^{re.escape(MARK)}\d+\n", stdout, flags=re.M)[1:]
    assert len(chunks) == count, f"only {len(chunks)} of {count} blocks started"
    return chunks


def json_keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in json_keys(item)}
    if isinstance(value, list):
        return {key for item in value for key in json_keys(item)}
    return set()


def answered(output: str) -> tuple[set[str], set[str]]:
    """The keys of every JSON line a block printed, and the statuses it printed (curl -w)."""
    keys, statuses = set(), set()
    for line in output.splitlines():
        line = line.strip()
        if re.fullmatch(r"\d{3}", line):
            statuses.add(line)
        elif line[:1] in "{[":
            try:
                keys |= json_keys(json.loads(line))
            except json.JSONDecodeError:
                pass
    return keys, statuses


def shown(block: str) -> tuple[set[str], set[str]]:
    """The JSON keys and the statuses the doc shows in a block's ``#`` comments."""
    comments = "\n".join(line.strip()[1:] for line in block.splitlines() if line.strip().startswith("#"))
    keys = set(re.findall(r'"(\w+)":', comments))
    statuses = set(re.findall(r"^\s*(\d{3})\s*$", comments, flags=re.M))
    return keys, statuses


def untracked() -> set[str]:
    result = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    return set(result.stdout.splitlines())


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory, real_weights: str) -> Iterator[dict[str, str]]:
    """A real `impasto serve` on a free loopback port; the environment the examples run in."""
    tmp = tmp_path_factory.mktemp("docs-studio")
    port = free_port()
    env = {**os.environ, "IMPASTO_DATA_DIR": str(tmp / "data"), "IMPASTO_VGG_WEIGHTS": real_weights,
           "TF_CPP_MIN_LOG_LEVEL": "2", "IMPASTO_RATE_LIMIT": "off",  # the test submits faster than a reader
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    for name in ("IMPASTO_TRUSTED_HOSTS", "IMPASTO_PROXY_COUNT", "IMPASTO_BROKER_URL", "IMPASTO_PASSWORD"):
        env.pop(name, None)
    with (tmp / "server.log").open("w") as log:
        command = [sys.executable, "-m", "impasto.cli", "serve", "--port", str(port), "--workers", "1"]
        process = subprocess.Popen(command, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_up(f"http://127.0.0.1:{port}/healthz")
            yield {**env, "STUDIO": f"http://127.0.0.1:{port}"}
        finally:
            stop_process(process, 30)


def test_some_pages_have_runnable_examples():
    pages = {page.name for page in PAGES if runnable_blocks(page.read_text(encoding="utf-8"))}
    assert {"README.md", "api.md", "cli.md", "security.md"} <= pages


def test_the_shrinking_reaches_every_size_a_block_submits():
    for page in PAGES:
        for block in runnable_blocks(page.read_text(encoding="utf-8")):
            sizes = [int(size) for size in re.findall(r"(?<![?&])\bsize[= ](\d+)", smaller(block))]
            assert all(size == 64 or size > REFUSED_SIZE for size in sizes), f"{page.name}: not shrunk: {sizes}"


@pytest.mark.quality
def test_the_examples_run_as_written(studio: dict[str, str], tmp_path: Path):
    before = untracked()
    for page in PAGES:
        blocks = runnable_blocks(page.read_text(encoding="utf-8"))
        if blocks:
            _run_page(page, blocks, studio, tmp_path / page.stem)
    assert untracked() - before == set(), "the examples left files in the repository"


def _run_page(page: Path, blocks: list[str], env: dict[str, str], tmp: Path) -> None:
    tmp.mkdir()
    result = subprocess.run(["bash", "-c", page_script(blocks)], cwd=ROOT, env={**env, "TMPDIR": str(tmp)},
                            capture_output=True, text=True, timeout=600)
    name = page.relative_to(ROOT)
    assert result.returncode == 0, f"{name}: a block failed\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    for block, output in zip(blocks, outputs_per_block(result.stdout, len(blocks))):
        keys, statuses = answered(output)
        shown_keys, shown_statuses = shown(block)
        assert shown_keys <= keys, f"{name} shows keys the server did not send: {shown_keys - keys}\n{output}"
        assert shown_statuses <= statuses, f"{name} shows a status the server did not return\n{output}"
    for written in re.findall(r'-o "\$out/([^"]+)"', "\n".join(blocks)):
        files = list(tmp.rglob(written))
        assert files, f"{name}: no {written} was written"
        for path in files:
            with Image.open(path) as picture:
                picture.verify()
