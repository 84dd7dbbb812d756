"""VGG16's weights read straight from the file (src/impasto/nst/weights_h5.py) are the ones Keras
reads, in both layouts a weights file comes in; a file laid out otherwise goes to Keras as before."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from impasto.nst import vgg, weights_h5
from impasto.nst.errors import WeightsError
from impasto.nst.options import VGG_LAYERS
from tests.weights import untrained_weights


def _keras_model(path: str):
    import keras

    return keras.applications.VGG16(include_top=False, weights=path, input_shape=(None, None, 3))


def _same_as_keras(read, model) -> bool:
    kernels, biases = read
    return all(np.array_equal(kernel, model.get_layer(name).kernel.numpy())
               and np.array_equal(bias, model.get_layer(name).bias.numpy())
               for name, kernel, bias in zip(VGG_LAYERS, kernels, biases))


def test_a_keras_3_weights_file_reads_as_keras_reads_it() -> None:
    path = untrained_weights()
    read = weights_h5.read(path, VGG_LAYERS, vgg.KERNEL_SHAPES)
    assert read is not None
    assert [k.shape for k in read[0]] == list(vgg.KERNEL_SHAPES) and all(k.dtype == np.float32 for k in read[0])
    assert _same_as_keras(read, _keras_model(path))


def test_the_older_keras_layout_of_the_imagenet_file_reads_as_keras_reads_it(tmp_path: Path) -> None:
    from keras.src.legacy.saving import legacy_h5_format

    path = tmp_path / "vgg16_notop.h5"
    with h5py.File(path, "w") as handle:  # the layout of vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5
        legacy_h5_format.save_weights_to_hdf5_group(handle, _keras_model(untrained_weights()))
    read = weights_h5.read(str(path), VGG_LAYERS, vgg.KERNEL_SHAPES)
    assert read is not None
    assert _same_as_keras(read, _keras_model(str(path)))


def test_a_file_that_does_not_match_is_left_to_keras(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.weights.h5"
    with h5py.File(untrained_weights(), "r") as source, h5py.File(wrong, "w") as copy:
        for name in source:
            source.copy(source[name], copy, name)
        del copy["layers/conv2d_12/vars/0"]  # block5_conv3's kernel, 3×3×512×512
        copy["layers/conv2d_12/vars/0"] = np.zeros((3, 3, 512, 256), np.float32)
    assert weights_h5.read(str(wrong), VGG_LAYERS, vgg.KERNEL_SHAPES) is None
    not_hdf5 = tmp_path / "text.weights.h5"
    not_hdf5.write_text("not HDF5")
    assert weights_h5.read(str(not_hdf5), VGG_LAYERS, vgg.KERNEL_SHAPES) is None
    with pytest.raises(WeightsError, match="could not load VGG16 weights"):  # Keras's turn, and its message
        vgg._load_uncached(str(wrong))


def test_loading_a_readable_file_builds_no_keras_model(monkeypatch: pytest.MonkeyPatch) -> None:
    import keras

    def refuse(*args, **kwargs):
        raise AssertionError("Keras's VGG16 was built")

    monkeypatch.setattr(keras.applications, "VGG16", refuse)
    loaded = vgg._load_uncached(untrained_weights())
    assert loaded.source == untrained_weights()
    assert [k.shape for k in loaded.kernels] == list(vgg.KERNEL_SHAPES)
