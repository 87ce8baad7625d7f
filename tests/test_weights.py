"""Weights: the VGG16 loader (HED, checkpoints), its checks, and exact checkpoint round-trips."""

import h5py
import numpy as np
import pytest

from osvos_tf.model import VGG_LAYER_NAMES, build_osvos
from osvos_tf.weights import (
    assign_by_name,
    hed_weights_path,
    load_checkpoint,
    load_vgg_weights,
    read_checkpoint,
    read_hed_weights,
    save_checkpoint,
)


@pytest.fixture(scope="module")
def hed_model():
    m = build_osvos()
    load_vgg_weights(m, "hed")
    return m


def test_hed_weights_load_by_name(hed_model):
    with h5py.File(hed_weights_path(), "r") as f:
        np.testing.assert_array_equal(hed_model.get_layer("block1_conv1").kernel, f["block1/layers/conv2d/vars/0"])
        np.testing.assert_array_equal(hed_model.get_layer("block3_conv3").bias, f["block3/layers/conv2d_2/vars/1"])
        np.testing.assert_array_equal(hed_model.get_layer("block5_conv2").kernel, f["block5/layers/conv2d_1/vars/0"])
    assert set(VGG_LAYER_NAMES) <= set(read_hed_weights())


def test_missing_layer_raises():
    m = build_osvos()
    weights = read_hed_weights()
    del weights["block4_conv2"]
    with pytest.raises(ValueError, match="block4_conv2"):
        assign_by_name(m, weights, required=VGG_LAYER_NAMES, source="test")


def test_wrong_shape_raises():
    m = build_osvos()
    weights = read_hed_weights()
    weights["block2_conv1"] = [np.zeros((3, 3, 64, 64), np.float32), np.zeros(64, np.float32)]
    with pytest.raises(ValueError, match="block2_conv1.*expects"):
        assign_by_name(m, weights, required=VGG_LAYER_NAMES, source="test")


def test_checkpoint_round_trip_is_exact(tmp_path, hed_model):
    x = np.random.default_rng(0).normal(0, 50, (1, 40, 56, 3)).astype(np.float32)
    hed_model.get_layer("fuse").set_weights(
        [np.random.default_rng(1).normal(0, 1, (1, 1, 64, 1)).astype(np.float32), np.array([0.3], np.float32)]
    )
    path = save_checkpoint(hed_model, tmp_path / "m.h5", note="test")
    assert (tmp_path / "m.json").is_file()
    other = build_osvos()
    load_checkpoint(other, path)
    for a, b in zip(hed_model.weights, other.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(hed_model(x), other(x))
    assert read_checkpoint(path)[1]["note"] == "test"


def test_checkpoint_loads_into_training_model_and_back(tmp_path, hed_model):
    train_model = build_osvos(side_outputs=True)
    path = save_checkpoint(hed_model, tmp_path / "inference.h5")
    with pytest.raises(ValueError, match="side2_score"):
        load_checkpoint(train_model, path)  # strict: the side scores are not in an inference checkpoint
    load_checkpoint(train_model, path, strict=False)
    np.testing.assert_array_equal(train_model.get_layer("fuse").kernel, hed_model.get_layer("fuse").kernel)
    path2 = save_checkpoint(train_model, tmp_path / "train.h5")
    load_checkpoint(build_osvos(), path2)  # the extra side-score layers are ignored


def test_float16_storage_restores_float32(tmp_path, hed_model):
    path = save_checkpoint(hed_model, tmp_path / "half.h5", dtype="float16")
    weights, _ = read_checkpoint(path)
    k = weights["block1_conv1"][0]
    assert k.dtype == np.float32
    np.testing.assert_allclose(k, np.asarray(hed_model.get_layer("block1_conv1").kernel), rtol=1e-3, atol=1e-6)


def test_vgg_loader_from_osvos_checkpoint(tmp_path, hed_model):
    path = save_checkpoint(hed_model, tmp_path / "c.h5")
    m = build_osvos()
    load_vgg_weights(m, path)
    np.testing.assert_array_equal(m.get_layer("block5_conv3").kernel, hed_model.get_layer("block5_conv3").kernel)


def test_bad_checkpoint_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_checkpoint(tmp_path / "nope.h5")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        read_checkpoint(bad)
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(ValueError, match="not an osvos_tf checkpoint"):
        read_checkpoint(tmp_path / "other.h5")


def test_imagenet_option_maps_keras_vgg16_by_name(monkeypatch):
    """The ImageNet path downloads, so here keras.applications.VGG16 is replaced by an offline instance with
    random weights: the loader must copy every block{i}_conv{j} by name."""
    import keras

    real_vgg16 = keras.applications.VGG16
    offline = real_vgg16(include_top=False, weights=None)

    def fake_vgg16(include_top=False, weights="imagenet"):
        assert weights == "imagenet" and include_top is False
        return offline

    monkeypatch.setattr(keras.applications, "VGG16", fake_vgg16)
    m = build_osvos()
    load_vgg_weights(m, "imagenet")
    for name in VGG_LAYER_NAMES:
        np.testing.assert_array_equal(m.get_layer(name).kernel, offline.get_layer(name).kernel)


def test_imagenet_download_failure_is_explained(monkeypatch):
    import keras

    def failing(**kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(keras.applications, "VGG16", failing)
    with pytest.raises(RuntimeError, match="weights='hed'"):
        load_vgg_weights(build_osvos(), "imagenet")


def test_shipped_parent_loads_into_the_training_model():
    """The shipped parent has every layer, side scores included: side-loss fine-tuning and warm starts need them."""
    from osvos_tf.parents import DEFAULT_PARENT_PRESET, preset_path

    model = build_osvos(side_outputs=True)
    load_checkpoint(model, preset_path(DEFAULT_PARENT_PRESET))  # strict: raises if a layer is missing
    assert np.isfinite(np.asarray(model.get_layer("side5_score").kernel)).all()
