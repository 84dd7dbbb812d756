"""VGG16's kernels and biases read from a weights file with h5py, without building Keras's model.

Building ``keras.applications.VGG16`` only to copy its 13 kernels out took ~0.25 s of every fresh
process (the CLI's picture, a studio's or worker's first job). Two layouts are read here:

- Keras 3's ``.weights.h5``: ``layers/<layer>/vars/0`` (kernel) and ``/1`` (bias), the layer's name
  in the ``vars`` group's ``name`` attribute;
- the older Keras HDF5 weights the ImageNet file comes in: a group per layer, listed in the file's
  ``layer_names`` attribute, its kernel and bias named in the group's ``weight_names``.

Anything else (another layout, a name or shape that does not match) gives None, and Keras reads the
file as before (src/impasto/nst/vgg.py), with its own errors.
"""

from __future__ import annotations

import numpy as np

Layers = dict[str, tuple[np.ndarray, np.ndarray]]


def read(path: str, names: tuple[str, ...],
         kernel_shapes: tuple[tuple[int, ...], ...]) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]] | None:
    """(kernels, biases) as float32 for the layers ``names``, each kernel of its shape in
    ``kernel_shapes``; None when the file is not one of the two layouts or does not hold them all."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            layers = _keras3(handle) or _legacy(handle)
    except (OSError, KeyError, ValueError, TypeError, AttributeError):  # not HDF5, or laid out otherwise
        return None
    if any(name not in layers for name in names):
        return None
    kernels = tuple(np.asarray(layers[name][0], dtype=np.float32) for name in names)
    biases = tuple(np.asarray(layers[name][1], dtype=np.float32) for name in names)
    for kernel, bias, shape in zip(kernels, biases, kernel_shapes):
        if kernel.shape != shape or bias.shape != shape[-1:]:
            return None
    return kernels, biases


def _keras3(handle) -> Layers:
    import h5py

    found: Layers = {}
    for layer in (handle.get("layers") or {}).values():
        weights = layer.get("vars") if isinstance(layer, h5py.Group) else None
        if isinstance(weights, h5py.Group) and len(weights) == 2 and {"0", "1"} <= set(weights):
            found[_text(weights.attrs.get("name", ""))] = (weights["0"][()], weights["1"][()])
    return found


def _legacy(handle) -> Layers:
    found: Layers = {}
    for name in handle.attrs.get("layer_names", ()):
        group = handle[_text(name)]
        weight_names = [_text(weight) for weight in group.attrs.get("weight_names", ())]
        if len(weight_names) == 2:  # a convolution: kernel, then bias
            found[_text(name)] = (group[weight_names[0]][()], group[weight_names[1]][()])
    return found


def _text(value: bytes | str) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)
