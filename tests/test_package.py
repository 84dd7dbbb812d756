"""The wheel installs one top-level package, ``impasto``, with its templates, static files and paintings inside."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    out = tmp_path_factory.mktemp("wheel")
    source = tmp_path_factory.mktemp("source")  # a copy: setuptools writes build/ and *.egg-info beside the code
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(out), str(source)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = out.glob("impasto-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_the_only_top_level_package_is_impasto(wheel_names: list[str]) -> None:
    tops = {name.split("/")[0] for name in wheel_names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"impasto"}


def test_assets_travel_inside_the_package(wheel_names: list[str]) -> None:
    for asset in ("impasto/templates/studio.html", "impasto/static/studio.js", "impasto/static/style.css",
                  "impasto/styles/starry_night.jpg", "impasto/styles/credits.json"):
        assert asset in wheel_names


def test_console_script_and_factory_point_at_impasto(wheel_names: list[str]) -> None:
    assert any(name.endswith(".dist-info/entry_points.txt") for name in wheel_names)
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'impasto = "impasto.cli:run"' in text
    assert "impasto:create_app()" in (Path(ROOT) / "src" / "impasto" / "cli_server.py").read_text(encoding="utf-8")
