"""VGG16 weights and a truncated feature extractor.

Keras builds ``VGG16(include_top=False)`` and loads its weights once per process; the engine then
runs the convolution stack itself with those kernels, only as deep as the options need, in the
chosen precision. That keeps every evaluation to one image through a short network.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from impasto.nst import weights_h5
from impasto.nst.errors import WeightsError
from impasto.nst.options import VGG_LAYERS

log = logging.getLogger(__name__)

WEIGHTS_ENV = "IMPASTO_VGG_WEIGHTS"  # named in messages only: src/impasto/config.py reads it
# Caffe preprocessing (what ImageNet VGG16 was trained on): BGR order, minus these channel means.
BGR_MEAN = np.array([103.939, 116.779, 123.68], dtype=np.float32)
# A 2×2 max-pool follows the last convolution of blocks 1-4.
POOL_AFTER = {"block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3"}


def pool_factor(name: str) -> int:
    """How many image pixels one position of a VGG16 layer spans per side: 2 per pooling before it."""
    return 2 ** (int(VGG_LAYERS[VGG_LAYERS.index(name)].split("_")[0].removeprefix("block")) - 1)


def layer_hw(name: str, image_hw: tuple[int, int]) -> tuple[int, int]:
    """A VGG16 layer's feature-map size: each block after the first halves it (2×2 pooling, floor)."""
    return image_hw[0] // pool_factor(name), image_hw[1] // pool_factor(name)


_lock = threading.Lock()
_cache: dict[str, VggWeights] = {}


@dataclass(frozen=True)
class VggWeights:
    """The 13 convolution layers' kernels and biases, in network order, as float32 NumPy arrays."""

    source: str
    kernels: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]


def load_weights(weights: str | os.PathLike | None = None) -> VggWeights:
    """Load (once per process) the VGG16 weights: a file, or (None) 'imagenet'.

    Raises WeightsError with a message that says what failed and how to fix it.
    """
    source = str(weights or "imagenet")
    with _lock:
        if source not in _cache:
            _cache[source] = _load_uncached(source)
        return _cache[source]


def _load_uncached(source: str) -> VggWeights:
    keras_arg = "imagenet" if source == "imagenet" else _check_weights_file(source)
    local = imagenet_cache() if source == "imagenet" else Path(keras_arg)
    read = weights_h5.read(str(local), VGG_LAYERS, KERNEL_SHAPES) if local is not None else None
    if read is not None:  # straight from the file: Keras's model took ~0.25 s to build
        log.info("loaded VGG16 weights from %s", source)
        return VggWeights(source, *read)
    import keras

    try:
        model = keras.applications.VGG16(include_top=False, weights=keras_arg, input_shape=(None, None, 3))
    except Exception as exc:  # Keras raises many types for download and file errors
        raise WeightsError(_weights_failure(source, exc)) from None
    layers = [model.get_layer(name) for name in VGG_LAYERS]
    kernels = tuple(np.asarray(layer.kernel.numpy(), dtype=np.float32) for layer in layers)
    biases = tuple(np.asarray(layer.bias.numpy(), dtype=np.float32) for layer in layers)
    log.info("loaded VGG16 weights from %s", source)
    return VggWeights(source, kernels, biases)


def _check_weights_file(source: str) -> str:
    path = Path(source).expanduser()
    if not path.is_file():
        raise WeightsError(
            f"VGG16 weights file not found: {path} (from {WEIGHTS_ENV} or --weights). "
            "Point it to a VGG16 notop weights file (.weights.h5 or Keras's "
            "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5), or unset it to download the ImageNet weights.")
    if not (path.name.endswith(".weights.h5") or path.suffix == ".h5"):
        raise WeightsError(f"VGG16 weights file {path} must end in .weights.h5 or .h5 (Keras reads only those)")
    return str(path)


# Kernel shapes of VGG16's 13 convolutions: a weights file must hold them all (in either Keras layout).
KERNEL_SHAPES = ((3, 3, 3, 64), (3, 3, 64, 64), (3, 3, 64, 128), (3, 3, 128, 128), (3, 3, 128, 256),
                 (3, 3, 256, 256), (3, 3, 256, 256), (3, 3, 256, 512), *[(3, 3, 512, 512)] * 5)


def check_weights(source: str | os.PathLike) -> str:
    """'imagenet' as it is; else the path of a weights file that exists, ends as
    Keras needs and holds VGG16's 13 kernels (read from the HDF5 index, without TensorFlow:
    milliseconds), or WeightsError (one line)."""
    import h5py

    if str(source) == "imagenet":
        return str(source)
    path = _check_weights_file(str(source))
    shapes: list[tuple[int, ...]] = []
    try:
        with h5py.File(path, "r") as handle:
            handle.visititems(lambda _, item: shapes.append(item.shape) if isinstance(item, h5py.Dataset) else None)
    except OSError:
        raise WeightsError(_weights_failure(path, "not an HDF5 file")) from None
    missing = list(KERNEL_SHAPES)
    for shape in shapes:
        if shape in missing:
            missing.remove(shape)
    if missing:
        found = len(KERNEL_SHAPES) - len(missing)
        raise WeightsError(_weights_failure(path, f"it holds {found} of VGG16's 13 convolution kernels"))
    return path


IMAGENET_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"  # the name Keras caches it under


def imagenet_cache() -> Path | None:
    """Keras's downloaded ImageNet notop weights, where Keras keeps them ($KERAS_HOME/models, else
    ~/.keras/models, or /tmp/.keras/models when home is not writable), or None: not downloaded."""
    homes = [Path(os.environ["KERAS_HOME"])] if os.environ.get("KERAS_HOME") else [
        Path.home() / ".keras", Path("/tmp/.keras")]
    for home in homes:
        path = home / "models" / IMAGENET_FILE
        if path.is_file() and path.stat().st_size > 0:
            return path
    return None


@dataclass(frozen=True)
class MissingWeights:
    """Why no job could load the weights now: ``said`` for clients (no path), ``detail`` for the log."""

    said: str
    detail: str


def missing_weights(source: str | None, *, imagenet_too: bool = True) -> MissingWeights | None:
    """None when a job would find its weights at hand: the file ``source`` names passes
    ``check_weights``, or (unset or 'imagenet') Keras has the ImageNet file cached. Nothing is
    downloaded here. ``imagenet_too=False``: the cache is not looked at (a scale-out web server
    cannot see its workers' caches)."""
    if source is None or str(source) == "imagenet":
        if not imagenet_too or imagenet_cache() is not None:
            return None
        return MissingWeights(
            f"no VGG16 weights: {WEIGHTS_ENV} is unset and the ImageNet weights were never downloaded; set "
            f"{WEIGHTS_ENV} to a VGG16 notop weights file, or start `impasto serve` once with internet access",
            f"no VGG16 weights: {WEIGHTS_ENV} is unset and Keras's cache has no {IMAGENET_FILE} "
            f"(~/.keras/models, or $KERAS_HOME/models); set {WEIGHTS_ENV} to a local VGG16 notop weights file, "
            "or start once with internet access to download it (58 MB)")
    try:
        _check_each_version(str(source))
    except (WeightsError, OSError) as exc:
        return MissingWeights(f"no VGG16 weights: the weights file that {WEIGHTS_ENV} names cannot be loaded",
                              f"no VGG16 weights: {exc}")
    return None


def _check_each_version(source: str) -> None:
    """``check_weights`` once per version of the file (its size and modification time): the studio
    asks on every page and submission, and reading the HDF5 index each time was work for nothing.
    A file that fails is checked again at the next ask (one put in place later is seen at once)."""
    try:
        found = os.stat(source)
    except OSError:
        check_weights(source)  # its own message for a path that is not there
        return
    _checked(source, found.st_mtime_ns, found.st_size)


@functools.lru_cache(maxsize=8)
def _checked(source: str, mtime_ns: int, size: int) -> str:
    return check_weights(source)  # a failure raises, and is not kept


def _weights_failure(source: str, exc: Exception | str) -> str:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if source == "imagenet":
        return ("could not download the ImageNet VGG16 weights "
                f"(vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5): {reason}. "
                f"Connect to the internet once (Keras caches it in ~/.keras/models), or set {WEIGHTS_ENV} "
                "(or --weights) to a local VGG16 notop weights file.")
    return (f"could not load VGG16 weights from {source}: {reason}. It must be a VGG16 include_top=False "
            f"weights file; fix or replace it, or unset {WEIGHTS_ENV} to use the ImageNet download.")


def layer_index(name: str) -> int:
    return VGG_LAYERS.index(name)


def layer_channels(name: str) -> int:
    """How many channels (feature maps) a VGG16 layer has."""
    return KERNEL_SHAPES[layer_index(name)][-1]


def min_side(deepest: str) -> int:
    """Smallest image side (px) the network can take down to ``deepest``: 2 per pool before it."""
    pools = sum(1 for name in POOL_AFTER if layer_index(name) < layer_index(deepest))
    return 2**pools


def build_feature_fn(weights: VggWeights, layers: Iterable[str], compute_dtype: str) -> Callable:
    """Return f(x) -> {layer: features} for a (1, H, W, 3) caffe-space float32 batch.

    Only ``layers`` are returned (so eager callers keep no other activation alive) and the network
    stops at the deepest of them; convolutions run in ``compute_dtype`` (float32, bfloat16 or
    float16) and the feature maps come back in it; the losses widen them to float32 where they sum
    (bfloat16 maps go into the Gram products as they are: see ``losses.gram``).
    """
    import tensorflow as tf

    wanted = {layers} if isinstance(layers, str) else set(layers)
    deepest = max(wanted, key=layer_index)
    dtype = tf.as_dtype(compute_dtype)
    count = layer_index(deepest) + 1
    kernels = [tf.constant(k, dtype=dtype) for k in weights.kernels[:count]]
    biases = [tf.constant(b, dtype=dtype) for b in weights.biases[:count]]
    names = VGG_LAYERS[:count]

    def features(x):
        out = {}
        h = tf.cast(x, dtype)
        for name, kernel, bias in zip(names, kernels, biases):
            h = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(h, kernel, 1, "SAME"), bias))
            if name in wanted:
                out[name] = h
            if name in POOL_AFTER and name != deepest:
                h = tf.nn.max_pool2d(h, 2, 2, "VALID")
        return out

    return features


def rgb_to_caffe(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8/float (H, W, 3) -> caffe-space float32 (1, H, W, 3): BGR minus the ImageNet means."""
    bgr = np.asarray(rgb, dtype=np.float32)[:, :, ::-1] - BGR_MEAN
    return bgr[None, ...].astype(np.float32)


def caffe_to_rgb(x: np.ndarray) -> np.ndarray:
    """Inverse of rgb_to_caffe, clipped and rounded to uint8 (H, W, 3)."""
    bgr = np.asarray(x, dtype=np.float32).reshape(x.shape[-3:]) + BGR_MEAN
    return np.clip(bgr[:, :, ::-1], 0, 255).round().astype(np.uint8)
