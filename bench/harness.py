"""What the bench scripts share: where things are, a quiet TensorFlow, the common arguments, the log
line, the machine's facts and the JSON report.

Each script imports it first (``sys.path.insert(0, <bench>)`` then ``import harness``), so that
TensorFlow's start-up chatter is off before anything loads it and ``impasto`` and ``scripts`` import from
this checkout however the script was started.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before anything imports TensorFlow

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
for _folder in (SRC, ROOT):  # impasto and scripts of this checkout, from any working directory
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

SHARED = ROOT.parent / "shared"
SAMPLES = SHARED / "samples"
RESULTS = ROOT / "bench" / "results"
DEFAULT_CONTENT = SAMPLES / "tubingen.jpg"
DEFAULT_STYLE = SAMPLES / "starry_night.jpg"
DEFAULT_WEIGHTS = SHARED / "weights" / "vgg16_hed_notop.weights.h5"


def argument_parser(description: str) -> argparse.ArgumentParser:
    """A parser whose --help shows the script's docstring as written (its usage lines kept)."""
    return argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)


def add_weights(parser: argparse.ArgumentParser) -> None:
    """--weights: IMPASTO_VGG_WEIGHTS when set, else the stand-in weights beside the checkout."""
    parser.add_argument("--weights", default=os.environ.get("IMPASTO_VGG_WEIGHTS") or str(DEFAULT_WEIGHTS))


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def utc_now() -> str:
    """When a run started, as its report says it."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def machine_facts() -> dict[str, Any]:
    import keras
    import numpy as np
    import scipy
    import tensorflow as tf

    from impasto.nst import hardware

    return {
        "cpu": hardware.cpu_model(), "cores": os.cpu_count(),
        "bf16_flags": sorted({"amx_bf16", "avx512_bf16"} & hardware.cpu_flags()),
        "auto_precision": hardware.choose_precision("auto"), "tensorflow": tf.__version__,
        "keras": keras.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
        "python": platform.python_version(), "load_average": os.getloadavg(), "engine_commit": git_commit(),
    }


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def relative_to_repo(path: Path) -> str:
    """A results folder as committed: relative to the repository when inside it (no machine paths)."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def write_report(path: Path, report: Any, indent: int = 2) -> None:
    """The run's JSON, as UTF-8 with a final newline."""
    path.write_text(json.dumps(report, indent=indent) + "\n", encoding="utf-8")
