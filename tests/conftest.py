"""Shared fixtures: project paths, the real and the random weights files, sample images, CI strictness.

In CI (CI=true) a test that needs Chromium, redis-server or the real weights file fails instead of
being skipped, so a missing install step can never hide behind a green run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from tests import weights

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SAMPLES = SHARED / "samples"
REAL_WEIGHTS = Path(os.environ.get("IMPASTO_VGG_WEIGHTS") or SHARED / "weights" / "vgg16_hed_notop.weights.h5")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def require(condition: bool, reason: str) -> None:
    """Skip with ``reason`` when ``condition`` is false, except in CI, where it is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must provide this: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def real_weights() -> str:
    require(REAL_WEIGHTS.is_file(), f"real VGG16 weights file not found at {REAL_WEIGHTS}")
    return str(REAL_WEIGHTS)


@pytest.fixture(scope="session", autouse=True)
def untrained_weights() -> str:
    """Seeded random VGG16 weights (tests/weights.py) for the tests of plumbing, not pictures: written
    once, before the first test, at weights.UNTRAINED_WEIGHTS, the path the tests and their
    subprocesses use."""
    return weights.untrained_weights()


@pytest.fixture(autouse=True)
def no_warm_up_left() -> Iterator[None]:
    """A warm-up's measurement is the process's (src/impasto/jobs/warmup.py): each test starts without one."""
    yield
    from impasto.jobs import warmup

    warmup.forget()


@pytest.fixture(scope="session")
def samples() -> Path:
    require((SAMPLES / "tubingen.jpg").is_file(), f"sample images not found in {SAMPLES}")
    return SAMPLES


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    require(Path(path).is_file(), "Debian's chromium is not installed (apt-get install chromium)")
    return path


def gradient_image(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    """A small deterministic RGB uint8 picture with structure (gradients, a square, noise)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    img = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], axis=2)
    img[height // 4: height // 2, width // 4: width // 2] = [250, 40, 40]
    img += rng.normal(0, 8, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def stripes_image(height: int = 48, width: int = 64, period: int = 6) -> np.ndarray:
    """A small 'painting': diagonal colour stripes."""
    y, x = np.mgrid[0:height, 0:width]
    phase = ((x + y) // period) % 3
    palette = np.array([[20, 40, 160], [240, 200, 40], [30, 140, 60]], dtype=np.uint8)
    return palette[phase]
