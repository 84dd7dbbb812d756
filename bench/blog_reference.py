"""The design article's neural style transfer, reimplemented faithfully in Keras 3 / TensorFlow 2.

This is the baseline that ``bench/benchmark.py`` measures Impasto against. It keeps every choice
of the article's algorithm and adds none of Impasto's speed-ups:

- content, style and result are concatenated into one batch of three and pushed through
  ``VGG16(include_top=False)`` on every loss evaluation (the article's graph: TF1's
  ``backend.function`` computed what the loss needs, i.e. the whole net up to block5_conv3);
- content loss: sum of squares on block2_conv2;
- style loss: for block1_conv2, block2_conv2, block3_conv3, block4_conv3, block5_conv3,
  sum((S - C)²) / (4 · 3² · (h·w)²) with unnormalised Gram matrices and h, w the image size,
  each layer weighted style_weight / 5;
- total variation: sum((a + b)^1.25) on the result in caffe space;
- weights 0.05 (content), 4.0 (style), 1.0 (TV);
- start: uniform(0, 255) - 128 in caffe space; 10 rounds of scipy ``fmin_l_bfgs_b(maxfun=20)``,
  no pixel bounds; float32 throughout the network.

Modern equivalents, not speed-ups: ``backend.gradients`` + ``backend.function`` become a
``tf.GradientTape`` inside one ``tf.function``; the article's Evaluator class (which caches the
gradient between scipy's ``loss`` and ``grads`` calls) becomes a function returning both, which
makes exactly the same evaluations.

Two deliberate differences, so that both programs optimise the very same pixels:
- images are resized with Lanczos (as Impasto does) and the content keeps its aspect ratio with
  its longest side at ``size``; the style image is resized to the content's width × height, as the
  article does;
- caffe preprocessing is the standard one (RGB → BGR, minus 103.939/116.779/123.68 for B/G/R).
  The article subtracts those means before flipping the channels, so its blue and red means are
  swapped; that slip is not reproduced.

Run it alone: ``python bench/blog_reference.py --size 256 --rounds 2 --out /tmp/ref.png``.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import harness
import numpy as np
from harness import DEFAULT_CONTENT, DEFAULT_STYLE
from PIL import Image, ImageOps

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402  (imported after quieting TensorFlow's start-up logging)
import tensorflow as tf  # noqa: E402
from scipy.optimize import fmin_l_bfgs_b  # noqa: E402

CONTENT_WEIGHT = 0.05
STYLE_WEIGHT = 4.0
TV_WEIGHT = 1.0
CONTENT_LAYER = "block2_conv2"
STYLE_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3")
ROUNDS = 10
MAXFUN = 20
BGR_MEAN = np.array([103.939, 116.779, 123.68], dtype=np.float32)

IterationCallback = Callable[[int, int], None]  # (iterations so far, evaluations so far)
EvaluationHook = Callable[[int], None]  # called as each evaluation starts, with the evaluations done so far


# -- images -------------------------------------------------------------------------------------


def load_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as an RGB uint8 array (EXIF orientation applied)."""
    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"), dtype=np.uint8)


def resize(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    if (rgb.shape[1], rgb.shape[0]) == (width, height):
        return rgb.copy()
    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.LANCZOS))


def content_size(rgb: np.ndarray, size: int) -> tuple[int, int]:
    """(width, height) with the longest side ``size`` and the aspect ratio kept."""
    height, width = rgb.shape[:2]
    scale = size / max(height, width)
    return max(1, round(width * scale)), max(1, round(height * scale))


def preprocess(rgb: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3) -> caffe space float32 (1, H, W, 3): BGR minus the ImageNet channel means."""
    return (np.asarray(rgb, dtype=np.float32)[:, :, ::-1] - BGR_MEAN)[None].astype(np.float32)


def deprocess(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """Caffe-space pixels (any shape with H·W·3 values) -> RGB uint8, clipped as the article does."""
    bgr = np.asarray(x, dtype=np.float32).reshape(height, width, 3) + BGR_MEAN
    return np.clip(bgr[:, :, ::-1], 0, 255).astype(np.uint8)


def initial_image(height: int, width: int, seed: int | None) -> np.ndarray:
    """The article's start, uniform(0, 255) - 128 in caffe space, as float64 (1, H, W, 3)."""
    return np.random.default_rng(seed).uniform(0, 255, (1, height, width, 3)) - 128.0


# -- the network and the loss -------------------------------------------------------------------


def build_model(weights: str, height: int, width: int) -> keras.Model:
    """VGG16 without its classifier, returning the outputs of every layer the loss reads."""
    vgg = keras.applications.VGG16(include_top=False, weights=weights, input_shape=(height, width, 3))
    names = sorted({CONTENT_LAYER, *STYLE_LAYERS})
    return keras.Model(vgg.input, {name: vgg.get_layer(name).output for name in names})


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """Unnormalised Gram matrix of one (H, W, C) feature map: channels × channels."""
    flat = tf.reshape(tf.transpose(features, (2, 0, 1)), (tf.shape(features)[-1], -1))
    return tf.matmul(flat, flat, transpose_b=True)


def content_loss(content: tf.Tensor, combination: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(tf.square(combination - content))


def style_loss(style: tf.Tensor, combination: tf.Tensor, height: int, width: int) -> tf.Tensor:
    channels = 3
    size = height * width
    diff = gram_matrix(style) - gram_matrix(combination)
    return tf.reduce_sum(tf.square(diff)) / (4.0 * channels**2 * float(size) ** 2)


def total_variation_loss(x: tf.Tensor, height: int, width: int) -> tf.Tensor:
    a = tf.square(x[:, : height - 1, : width - 1, :] - x[:, 1:, : width - 1, :])
    b = tf.square(x[:, : height - 1, : width - 1, :] - x[:, : height - 1, 1:, :])
    return tf.reduce_sum(tf.pow(a + b, 1.25))


@dataclass
class ReferenceResult:
    image: np.ndarray  # RGB uint8
    x: np.ndarray  # final caffe-space pixels, float64 (1, H, W, 3), unclipped
    loss: float
    seconds: float
    iterations: int
    evaluations: int
    history: list[float] = field(default_factory=list)  # loss after each round


class BlogStyleTransfer:
    """The article's objective for one content/style pair at one size, and its L-BFGS loop."""

    def __init__(self, content_rgb: np.ndarray, style_rgb: np.ndarray, size: int, weights: str) -> None:
        self.width, self.height = content_size(content_rgb, size)
        self.content_rgb = resize(content_rgb, self.width, self.height)
        self.style_rgb = resize(style_rgb, self.width, self.height)  # the article: same size as content
        self.shape = (1, self.height, self.width, 3)
        self.model = build_model(weights, self.height, self.width)
        self._content = tf.constant(preprocess(self.content_rgb))
        self._style = tf.constant(preprocess(self.style_rgb))
        self._loss_and_grad = tf.function(self._loss_and_grad_graph)
        self._features = tf.function(self._features_graph)
        self.evaluations = 0
        self.on_evaluation: EvaluationHook | None = None  # for timing (bench/benchmark.py)

    # The graph: everything runs on the batch of three, every time.
    def _batch(self, combination: tf.Tensor) -> tf.Tensor:
        return tf.concat([self._content, self._style, combination], axis=0)

    def _features_graph(self, combination: tf.Tensor) -> dict[str, tf.Tensor]:
        return self.model(self._batch(combination), training=False)

    def _terms(self, combination: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        features = self.model(self._batch(combination), training=False)
        layer = features[CONTENT_LAYER]
        c = content_loss(layer[0], layer[2])
        s = tf.add_n([style_loss(features[name][1], features[name][2], self.height, self.width)
                      for name in STYLE_LAYERS])
        t = total_variation_loss(combination, self.height, self.width)
        return c, s, t

    def _loss_and_grad_graph(self, combination: tf.Tensor) -> tuple[tf.Tensor, ...]:
        with tf.GradientTape() as tape:
            tape.watch(combination)
            c, s, t = self._terms(combination)
            loss = (CONTENT_WEIGHT * c + (STYLE_WEIGHT / len(STYLE_LAYERS)) * s + TV_WEIGHT * t)
        return loss, tape.gradient(loss, combination), c, s, t

    # What scipy calls.
    def evaluate(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Loss (float32, as a Python float) and gradient (float64, flat) at caffe-space pixels x."""
        if self.on_evaluation is not None:
            self.on_evaluation(self.evaluations)
        combination = tf.constant(np.reshape(x, self.shape), dtype=tf.float32)
        loss, grad, _, _, _ = self._loss_and_grad(combination)
        self.evaluations += 1
        return float(loss), grad.numpy().flatten().astype(np.float64)

    def loss_terms(self, x: np.ndarray) -> dict[str, float]:
        """The weighted terms and their total at x (no optimisation step)."""
        combination = tf.constant(np.reshape(x, self.shape), dtype=tf.float32)
        loss, _, c, s, t = self._loss_and_grad(combination)
        return {"total": float(loss), "content": CONTENT_WEIGHT * float(c),
                "style": STYLE_WEIGHT / len(STYLE_LAYERS) * float(s), "tv": TV_WEIGHT * float(t)}

    def features(self, x: np.ndarray) -> dict[str, tf.Tensor]:
        """One forward pass of the batch of three (for timing the forward part alone)."""
        return self._features(tf.constant(np.reshape(x, self.shape), dtype=tf.float32))

    def run(self, rounds: int = ROUNDS, maxfun: int = MAXFUN, *, seed: int | None = 0, maxiter: int = 15000,
            on_iteration: IterationCallback | None = None) -> ReferenceResult:
        """The article's loop: ``rounds`` restarts of L-BFGS, each limited to ``maxfun`` evaluations."""
        started = time.perf_counter()
        x = initial_image(self.height, self.width, seed).flatten()
        iterations = 0
        history: list[float] = []
        loss = float("nan")

        def callback(_: np.ndarray) -> None:
            nonlocal iterations
            iterations += 1
            if on_iteration is not None:
                on_iteration(iterations, self.evaluations)

        for _ in range(rounds):
            x, loss, _ = fmin_l_bfgs_b(self.evaluate, x, maxfun=maxfun, maxiter=maxiter, callback=callback)
            history.append(float(loss))
        return ReferenceResult(
            image=deprocess(x, self.height, self.width), x=x.reshape(self.shape), loss=float(loss),
            seconds=time.perf_counter() - started, iterations=iterations, evaluations=self.evaluations,
            history=history)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--content", default=str(DEFAULT_CONTENT))
    parser.add_argument("--style", default=str(DEFAULT_STYLE))
    harness.add_weights(parser)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--maxfun", type=int, default=MAXFUN)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="blog_reference.png")
    args = parser.parse_args()
    transfer = BlogStyleTransfer(load_rgb(args.content), load_rgb(args.style), args.size, args.weights)
    result = transfer.run(args.rounds, args.maxfun, seed=args.seed)
    Image.fromarray(result.image).save(args.out)
    print(f"{transfer.width}x{transfer.height}: loss {result.loss:.6g} after {result.evaluations} evaluations "
          f"in {result.seconds:.1f} s; saved {args.out}")


if __name__ == "__main__":
    main()
