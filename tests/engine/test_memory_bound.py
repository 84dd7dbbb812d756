"""A warm runner's kept state stays within a bound: painting pictures of ever new shapes in one
process keeps at most lossfn.KEPT_PER_THREAD traced programs and targets.CACHE_SIZE style targets,
and the process stops growing once those are full (docs/benchmark.md, "What a warm runner keeps")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.weights import UNTRAINED_WEIGHTS

ROOT = Path(__file__).resolve().parents[2]
WARM_UP = 8  # shapes painted before the first measurement: the kept programs are full by then
MORE = 10  # further new shapes
# Each traced program of a new shape once stayed alive for good (through tf.custom_gradient's global
# registry, then until a cycle collection that seldom came): 10 more shapes grew the process by
# ~355 MB; now by ~50 MB (allocator noise).
GROWTH_LIMIT_MB = 150

SCRIPT = """
import json, sys
import numpy as np
from impasto.nst import lossfn, targets
from impasto.nst.engine import stylize
from impasto.nst.options import Options

def resident_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 1e6

warm_up, more, weights = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
painting = np.random.default_rng(99).integers(0, 255, (40, 40, 3), dtype=np.uint8)
sizes = []
for index in range(warm_up + more):
    # one longest side (so one painting size, one style target), a new height each time
    photo = np.random.default_rng(index).integers(0, 255, (36 + 4 * index, 112, 3), dtype=np.uint8)
    options = Options(size=112, iterations=2, scales=1, precision="float32", seed=0)
    stylize(photo, painting, options=options, weights=weights)
    if index + 1 in (warm_up, warm_up + more):
        sizes.append(resident_mb())
print(json.dumps({"mb": sizes, "programs": len(lossfn._programs()), "targets": len(targets._cache)}))
"""


def test_new_shapes_stop_growing_the_process_once_the_kept_state_is_full():
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(WARM_UP), str(MORE), UNTRAINED_WEIGHTS],
                          capture_output=True, text=True, cwd=ROOT, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    from impasto.nst import lossfn, targets

    assert report["programs"] == lossfn.KEPT_PER_THREAD
    assert report["targets"] <= targets.CACHE_SIZE
    before, after = report["mb"]
    assert after - before < GROWTH_LIMIT_MB, f"{MORE} new shapes grew the process from {before:.0f} to {after:.0f} MB"
