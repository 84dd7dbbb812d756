"""A network traced for any picture shape against one traced per shape, in one run.

    python bench/shapes.py

Every new shape (another photo's aspect, each new clip crop) now traces its loss program anew
(src/impasto/nst/lossfn.py). This measures what a program traced once for any shape would cost: the
default layers' VGG16 features and a gradient, in bfloat16, traced for a fixed shape and for
(1, any, any, 3); for each shape, the first call (tracing and graph optimisation for the fixed one)
and the median of 12 calls after it, the two taken in turn. Writes bench/results/shapes.json and a
markdown table to stdout.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # harness, when run from elsewhere

import harness  # noqa: E402
from harness import RESULTS  # noqa: E402

SHAPES = [(192, 256), (384, 512), (200, 256), (256, 192), (72, 16), (32, 64)]
CALLS = 12


def main() -> None:
    import tensorflow as tf

    from impasto.nst.options import DEFAULTS
    from impasto.nst.vgg import build_feature_fn, load_weights

    parser = harness.argument_parser(__doc__.splitlines()[0])
    harness.add_weights(parser)
    args = parser.parse_args()
    features = build_feature_fn(load_weights(args.weights), (*DEFAULTS.content_layers, *DEFAULTS.style_layers),
                                "bfloat16")

    def loss_and_gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.add_n([tf.reduce_mean(tf.square(tf.cast(f, tf.float32))) for f in features(x).values()])
        return loss, tape.gradient(loss, x)

    any_shape = tf.function(loss_and_gradient, autograph=False,
                            input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32)])
    rows = [measure(tf.function(loss_and_gradient, autograph=False), any_shape, shape) for shape in SHAPES]
    report = {"machine": harness.machine_facts(), "commit": harness.git_commit(), "date": harness.utc_now(),
              "calls": CALLS, "shapes": rows}
    harness.write_report(RESULTS / "shapes.json", report)
    print(markdown(rows))


def measure(fixed, any_shape, shape: tuple[int, int]) -> dict[str, Any]:
    """First call and steady seconds of both programs for one (height, width)."""
    import tensorflow as tf

    x = tf.constant(np.random.default_rng(0).normal(size=(1, *shape, 3)).astype(np.float32))
    firsts = [_seconds(program, x) for program in (fixed, any_shape)]
    steady: list[list[float]] = [[], []]
    for _ in range(CALLS):
        for index, program in enumerate((fixed, any_shape)):
            steady[index].append(_seconds(program, x))
    fixed_s, any_s = (float(np.median(s)) for s in steady)
    harness.log(f"{shape}: fixed {firsts[0]:.3f} then {fixed_s:.4f} s, any shape {firsts[1]:.3f} then {any_s:.4f} s")
    return {"height": shape[0], "width": shape[1], "fixed_first_s": round(firsts[0], 4),
            "fixed_s": round(fixed_s, 4), "any_shape_first_s": round(firsts[1], 4), "any_shape_s": round(any_s, 4),
            "any_over_fixed": round(any_s / fixed_s, 3)}


def _seconds(program, x) -> float:
    started = time.perf_counter()
    program(x)[1].numpy()
    return time.perf_counter() - started


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| shape | fixed: first call | fixed: after | any shape: first call | any shape: after | ratio |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['width']}×{r['height']} | {r['fixed_first_s']:.3f} s | {r['fixed_s']:.4f} s | "
              f"{r['any_shape_first_s']:.3f} s | {r['any_shape_s']:.4f} s | {r['any_over_fixed']:.3f} |" for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
