"""Random VGG16 weights for the tests (and scripts) that exercise plumbing, not pictures.

Production accepts only real weights files (or the ImageNet download), so the tests write one:
VGG16's 13 convolutions with He-normal kernels drawn from seed 0 and zero biases, the same numbers
in every process so that a tiny job repeats exactly (how soon L-BFGS converges depends on them).
tests/conftest.py writes it once per machine and user, before the first test.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

# Where the tests find it; subprocesses (CLI, served servers, workers) get this path too.
UNTRAINED_WEIGHTS = str(Path(tempfile.gettempdir()) / f"impasto-tests-{os.getuid()}" / "untrained.weights.h5")


def write_untrained_weights(path: str | os.PathLike = UNTRAINED_WEIGHTS) -> str:
    """Write the seeded random weights to ``path`` (atomically: a reader never sees half a file)."""
    import keras

    from impasto.nst.options import VGG_LAYERS

    model = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    rng = np.random.default_rng(0)
    for name in VGG_LAYERS:  # network order: the draws follow it
        layer = model.get_layer(name)
        kernel, bias = layer.get_weights()
        kernel = (rng.standard_normal(kernel.shape) * np.sqrt(2.0 / np.prod(kernel.shape[:3]))).astype(np.float32)
        layer.set_weights([kernel, np.zeros_like(bias)])
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"partial-{os.getpid()}.weights.h5")  # Keras insists on the suffix
    model.save_weights(partial)
    os.replace(partial, target)
    return str(target)


def untrained_weights() -> str:
    """The path of the seeded random weights, written first if missing."""
    if not Path(UNTRAINED_WEIGHTS).is_file():
        write_untrained_weights()
    return UNTRAINED_WEIGHTS
