"""The network: shapes, pooling, fixed bilinear upsampling, crop offsets, side outputs, initialisation."""

import numpy as np
import pytest

from osvos_tf.model import (
    MEAN_BGR,
    SIDE_STRIDES,
    VGG_LAYER_NAMES,
    BilinearUpsample,
    CropLike,
    bilinear_kernel,
    build_osvos,
    preprocess,
)


@pytest.fixture(scope="module")
def model():
    return build_osvos(side_outputs=True)


@pytest.mark.parametrize("hw", [(16, 16), (17, 33), (31, 45), (64, 96)])
def test_output_shapes_small_and_odd(model, hw):
    out = model(np.zeros((2, *hw, 3), np.float32))
    assert len(out) == 5
    for o in out:
        assert tuple(o.shape) == (2, *hw, 1)


def test_output_shape_davis_480p():
    m = build_osvos()
    out = m(np.zeros((1, 480, 854, 3), np.float32))
    assert tuple(out.shape) == (1, 480, 854, 1)


def test_vgg_names_and_no_pool5_no_fc(model):
    names = [layer.name for layer in model.layers]
    for n in VGG_LAYER_NAMES:
        assert n in names
    assert "block5_pool" not in names
    assert not any("fc" in n or "dense" in n for n in names)
    assert model.get_layer("block1_conv1").kernel.shape == (3, 3, 3, 64)


def test_pooling_rounds_up(model):
    import keras

    probe = keras.Model(model.input, model.get_layer("block5_conv3").output)
    # 17 -> 9 -> 5 -> 3 -> 2 (ceil), 33 -> 17 -> 9 -> 5 -> 3
    assert tuple(probe(np.zeros((1, 17, 33, 3), np.float32)).shape) == (1, 2, 3, 512)


def test_bilinear_kernel_values():
    # FCN/Caffe bilinear filler, by hand: s=2 -> taps 1/4, 3/4, 3/4, 1/4
    np.testing.assert_allclose(bilinear_kernel(2)[0] / bilinear_kernel(2)[0].max(), [1 / 3, 1, 1, 1 / 3], rtol=1e-6)
    np.testing.assert_allclose(np.diag(bilinear_kernel(2)), [1 / 16, 9 / 16, 9 / 16, 1 / 16])
    k = bilinear_kernel(8)
    assert k.shape == (16, 16) and np.allclose(k, k.T)
    # a transposed conv with this kernel reproduces a constant field (away from the borders)
    w = k[0] / k[0].max()
    np.testing.assert_allclose(w[:8] + w[8:], np.full(8, w[:8].max() + w[8:].min()), rtol=1e-6)


def test_upsampling_is_frozen_and_bilinear(model):
    for block, stride in SIDE_STRIDES.items():
        layer = model.get_layer(f"side{block}_upsample")
        assert not layer.trainable_weights
        assert layer.non_trainable_weights
        np.testing.assert_array_equal(np.asarray(layer.kernel)[:, :, 0, 0], bilinear_kernel(stride))


def _numpy_transposed_upsample(x, s):
    """Independent reference: scatter each input value times the kernel, then crop at s/2."""
    h, w = x.shape
    k = bilinear_kernel(s)
    out = np.zeros((s * (h + 1), s * (w + 1)))
    for i in range(h):
        for j in range(w):
            out[s * i : s * i + 2 * s, s * j : s * j + 2 * s] += x[i, j] * k
    return out


@pytest.mark.parametrize("stride", [2, 4, 8, 16])
def test_upsample_and_crop_match_numpy_reference(stride):
    import tensorflow as tf

    rng = np.random.default_rng(stride)
    H, W = 3 * stride + 1, 5 * stride - 3
    h, w = -(-H // stride), -(-W // stride)
    x = rng.standard_normal((1, h, w, 3)).astype(np.float32)
    up = BilinearUpsample(stride)(x)
    got = CropLike(stride // 2)([up, tf.zeros((1, H, W, 1))]).numpy()
    for c in range(3):
        ref = _numpy_transposed_upsample(x[0, :, :, c], stride)[
            stride // 2 : stride // 2 + H, stride // 2 : stride // 2 + W
        ]
        np.testing.assert_allclose(got[0, :, :, c], ref, atol=1e-5)


@pytest.mark.parametrize("stride", [2, 4, 8, 16])
def test_crop_offset_aligns_features_with_input_pixels(stride):
    """A feature at index i covers input pixels [s*i, s*i + s): after upsampling and the s/2 crop its peak
    is centred on that block (s*i + (s-1)/2), i.e. no shift. A centre crop would shift it on 854 columns."""
    import tensorflow as tf

    W = 854
    w = -(-W // stride)
    i = w // 2
    x = np.zeros((1, 1, w, 1), np.float32)
    x[0, 0, i, 0] = 1.0
    up = BilinearUpsample(stride)(x)
    row = CropLike(stride // 2)([up, tf.zeros((1, 1, W, 1))]).numpy()[0, 0, :, 0]
    # the response is symmetric about the centre of input block i
    centre = stride * i + (stride - 1) / 2
    cols = np.arange(W)
    assert np.isclose((row * cols).sum() / row.sum(), centre, atol=1e-4)
    center_crop_offset = (stride * (w + 1) - W) // 2
    if stride == 16:
        assert center_crop_offset - stride // 2 == 5  # the 5-pixel misalignment of the TF/PyTorch ports


def test_new_layers_initialisation(model):
    fuse = np.asarray(model.get_layer("fuse").kernel)
    prep = np.asarray(model.get_layer("side4_prep").kernel)
    assert np.all(np.asarray(model.get_layer("fuse").bias) == 0)
    assert np.all(np.asarray(model.get_layer("side4_prep").bias) == 0)
    assert 0.0007 < prep.std() < 0.0013 and abs(prep.mean()) < 1e-4
    assert fuse.shape == (1, 1, 64, 1)


def test_preprocess_is_bgr_minus_mean():
    frame = np.zeros((2, 3, 3), np.uint8)
    frame[..., 0] = 200  # red
    frame[..., 2] = 10  # blue
    x = np.asarray(preprocess(frame))
    np.testing.assert_allclose(x[0, 0], [10 - MEAN_BGR[0], 0 - MEAN_BGR[1], 200 - MEAN_BGR[2]], rtol=1e-6)
    assert x.dtype == np.float32


def test_model_config_serialises():
    import keras

    m = build_osvos()
    clone = keras.Model.from_config(m.get_config())
    assert [layer.name for layer in clone.layers] == [layer.name for layer in m.layers]


@pytest.mark.parametrize("frozen", [1, 2, 3, 4])
def test_split_frozen_head_equals_the_full_model(frozen):
    import tensorflow as tf

    from osvos_tf.model import split_frozen

    m = build_osvos(side_outputs=True)
    x = tf.constant(np.random.default_rng(0).normal(0, 50, (1, 37, 53, 3)).astype(np.float32))
    trunk, head = split_frozen(m, frozen)
    feats = trunk(x)
    out = head([x, *(feats if isinstance(feats, list) else [feats])])
    for a, b in zip(m(x), out):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    frozen_names = {f"block{b}_conv{j}" for b in range(1, frozen + 1) for j in (1, 2, 3)}
    head_names = {layer.name for layer in head.layers}
    assert not frozen_names & head_names
    assert head.get_layer("fuse") is m.get_layer("fuse")  # shared, so training the head trains the model


def test_bfloat16_compute_keeps_float32_weights_and_logits_close_to_float32():
    """bfloat16 activations (8-bit mantissa: relative error ~2^-8 per op): the logits stay float32 and within
    a few percent of the float32 network's, the weights are the same float32 variables (so the same files
    load), and split_frozen still reproduces the full model exactly."""
    import tensorflow as tf

    from osvos_tf.model import split_frozen

    m32 = build_osvos(side_outputs=True)
    m16 = build_osvos(side_outputs=True, compute_dtype="bfloat16")
    m16.set_weights(m32.get_weights())
    assert all(w.dtype == "float32" for w in m16.weights)
    assert m16.get_layer("block3_conv1").compute_dtype == "bfloat16"
    assert m16.get_layer("fuse").compute_dtype == "float32"
    x = tf.constant(np.random.default_rng(1).normal(0, 50, (1, 45, 61, 3)).astype(np.float32))
    for a, b in zip(m32(x), m16(x)):
        assert b.dtype == tf.float32
        a, b = np.asarray(a), np.asarray(b)
        assert np.abs(a - b).max() <= 0.05 * np.abs(a).max() + 1e-6, (np.abs(a - b).max(), np.abs(a).max())
        assert not np.array_equal(a, b)  # it really computed in bfloat16
    trunk, head = split_frozen(m16, 2)
    feats = trunk(x)
    assert feats.dtype == tf.bfloat16
    np.testing.assert_array_equal(np.asarray(head([x, feats])[0]), np.asarray(m16(x)[0]))
    with pytest.raises(
        ValueError, match="compute_dtype must be one of \\('auto', 'float32', 'bfloat16'\\), got 'float16'"
    ):
        build_osvos(compute_dtype="float16")


def test_auto_compute_dtype_follows_the_cpu_flags(tmp_path):
    from osvos_tf.cpu import cpu_has_bfloat16, resolve_compute_dtype

    cases = {
        "flags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_tile\n": True,
        "flags\t\t: fpu sse2 amx_bf16\n": True,
        "flags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n": False,  # no native bfloat16
        "processor\t: 0\n": False,
    }
    for i, (text, expected) in enumerate(cases.items()):
        (tmp_path / f"cpuinfo{i}").write_text(text)
        assert cpu_has_bfloat16(tmp_path / f"cpuinfo{i}") is expected, text
    assert cpu_has_bfloat16(tmp_path / "missing") is False
    assert resolve_compute_dtype("auto") == ("bfloat16" if cpu_has_bfloat16() else "float32")
    assert resolve_compute_dtype("float32") == "float32" and resolve_compute_dtype("bfloat16") == "bfloat16"
    with pytest.raises(ValueError, match="got 'bf16'"):
        resolve_compute_dtype("bf16")
