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
        layer = model.get_layer(f"side{block}_score_upsample")
        assert not layer.trainable_weights
        assert layer.non_trainable_weights
        np.testing.assert_array_equal(np.asarray(layer.kernel)[:, :, 0, 0], bilinear_kernel(stride))
    fuse = model.get_layer("fuse")  # upsamples with the same fixed kernel, and trains only its 1x1 conv
    assert [tuple(w.shape) for w in fuse.trainable_weights] == [(1, 1, 64, 1), (1,)] and not fuse.non_trainable_weights


def _original_fuse(prep_maps, image, kernel, bias):
    """The original's fuse, as Keras layers: each side's 16 channels upsampled and cropped at full resolution,
    concatenated, then the 1x1 conv (the graph osvos_tf had before SideFuse)."""
    import keras

    ups = [CropLike(s // 2)([BilinearUpsample(s)(p), image]) for p, s in zip(prep_maps, SIDE_STRIDES.values())]
    conv = keras.layers.Conv2D(1, 1)
    conv.build((None, None, None, 64))
    conv.set_weights([kernel, bias])
    return np.asarray(conv(keras.layers.Concatenate()(ups)))


@pytest.mark.parametrize("hw", [(16, 16), (37, 53), (480, 854)])
def test_fuse_before_upsampling_equals_the_original_fuse(hw):
    """SideFuse (1x1 conv per side at low resolution, then one channel upsampled) is the original's
    concat-upsample-crop-conv to float32 rounding, on random side maps at small, odd and DAVIS sizes."""
    from osvos_tf.model import SideFuse

    rng = np.random.default_rng(hw[0])
    h, w = hw
    image = np.zeros((1, h, w, 3), np.float32)
    preps = [rng.normal(0, 30, (1, -(-h // s), -(-w // s), 16)).astype(np.float32) for s in SIDE_STRIDES.values()]
    kernel = rng.normal(0, 0.05, (1, 1, 64, 1)).astype(np.float32)
    bias = np.array([0.3], np.float32)
    fuse = SideFuse(tuple(SIDE_STRIDES.values()), 16)
    fuse.build([p.shape for p in preps] + [image.shape])
    fuse.set_weights([kernel, bias])
    got = np.asarray(fuse([*preps, image]))
    want = _original_fuse(preps, image, kernel, bias)
    assert got.shape == want.shape == (1, h, w, 1)
    scale = np.abs(want).max()
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6 * scale)  # measured: ~3e-7 x the largest logit


def test_checkpoints_of_the_original_fuse_load_unchanged():
    """The shipped parent was saved by the concat-then-conv network (it still holds side*_upsample kernels):
    it loads strictly, and its fuse weights are the conv's."""
    from osvos_tf.parents import preset_path
    from osvos_tf.weights import load_checkpoint, read_checkpoint

    weights, _ = read_checkpoint(preset_path("osvos_davis2016_cpu"))
    assert "side2_upsample" in weights  # written by the old graph
    m = build_osvos(side_outputs=True)
    load_checkpoint(m, preset_path("osvos_davis2016_cpu"))  # strict
    for got, want in zip(m.get_layer("fuse").get_weights(), weights["fuse"]):
        np.testing.assert_array_equal(got, want)


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


# ---------------------------------------------------------------------------------------------------- numpy reference


def _np_conv(x, kernel, bias):
    """'same' (zero-padded) stride-1 convolution of x (H, W, Cin) with kernel (kh, kw, Cin, Cout), float64."""
    kh, kw = kernel.shape[:2]
    h, w = x.shape[:2]
    xp = np.pad(x, (((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2), (0, 0)))
    out = np.zeros((h, w, kernel.shape[-1]))
    for i in range(kh):
        for j in range(kw):
            out += xp[i : i + h, j : j + w] @ kernel[i, j]
    return out + bias


def _np_pool(x):
    """2x2 max-pool, stride 2, rounding up (a partial last row / column pools what it has)."""
    h, w, c = x.shape
    ho, wo = -(-h // 2), -(-w // 2)
    xp = np.full((2 * ho, 2 * wo, c), -np.inf)
    xp[:h, :w] = x
    return xp.reshape(ho, 2, wo, 2, c).max(axis=(1, 3))


def _np_upsample_crop(x, s, height, width):
    """Caffe's bilinear Deconvolution (kernel 2s, stride s, tent weights 1 - |i - (s - 1/2)| / s), by
    scattering, then the crop at offset s/2 to (height, width)."""
    taps = 1.0 - np.abs(np.arange(2 * s) - (s - 0.5)) / s
    kernel = np.outer(taps, taps)[:, :, None]
    h, w, c = x.shape
    out = np.zeros((s * (h + 1), s * (w + 1), c))
    for i in range(h):
        for j in range(w):
            out[s * i : s * i + 2 * s, s * j : s * j + 2 * s] += x[i, j] * kernel
    o = s // 2
    return out[o : o + height, o : o + width]


def _np_osvos(image, weights):
    """The whole OSVOS network with side outputs in float64 numpy: ``[fused, side2 .. side5]`` logits
    (H, W, 1) of one preprocessed image (H, W, 3). ``weights``: layer name -> (kernel, bias)."""
    h, w = image.shape[:2]
    x, features = image.astype(np.float64), {}
    for block, n_convs in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3)):
        if block > 1:
            x = _np_pool(x)
        for j in range(1, n_convs + 1):
            x = np.maximum(_np_conv(x, *weights[f"block{block}_conv{j}"]), 0.0)
        features[block] = x
    prep_maps, side_logits = [], []
    for block, stride in ((2, 2), (3, 4), (4, 8), (5, 16)):
        prep = _np_conv(features[block], *weights[f"side{block}_prep"])  # no activation
        prep_maps.append(_np_upsample_crop(prep, stride, h, w))
        side_logits.append(_np_upsample_crop(_np_conv(prep, *weights[f"side{block}_score"]), stride, h, w))
    fused_logits = _np_conv(np.concatenate(prep_maps, axis=-1), *weights["fuse"])
    return [fused_logits, *side_logits]


def _randomise(model, seed=0):
    """He-scaled random kernels and random biases for every conv, so that every layer matters (the
    N(0, 0.001) initialisation of the new layers would make the side paths vanish). Returns name -> (k, b)."""
    rng = np.random.default_rng(seed)
    weights = {}
    for layer in model.layers:
        if not layer.trainable_weights:
            continue
        kernel_shape, bias_shape = (tuple(v.shape) for v in layer.trainable_weights)
        fan_in = int(np.prod(kernel_shape[:3]))
        kernel = rng.normal(0, np.sqrt(2.0 / fan_in), kernel_shape).astype(np.float32)
        bias = rng.normal(0, 0.1, bias_shape).astype(np.float32)
        layer.set_weights([kernel, bias])
        weights[layer.name] = (kernel.astype(np.float64), bias.astype(np.float64))
    return weights


@pytest.mark.parametrize("hw", [(16, 16), (19, 23)])
def test_forward_matches_a_numpy_implementation(hw):
    """The whole network (fixed random weights, a tiny odd-sized input: pools that round up, every crop)
    against an independent float64 numpy implementation of the architecture."""
    m = build_osvos(side_outputs=True)
    weights = _randomise(m)
    assert sorted(weights) == sorted(
        [*VGG_LAYER_NAMES, *(f"side{b}_{k}" for b in SIDE_STRIDES for k in ("prep", "score")), "fuse"]
    )
    image = np.random.default_rng(1).normal(0, 50, (1, *hw, 3)).astype(np.float32)
    got = [np.asarray(o)[0] for o in m(image)]
    want = _np_osvos(image[0], weights)
    for name, g, r in zip(["fused", "side2", "side3", "side4", "side5"], got, want):
        assert g.shape == r.shape == (*hw, 1), name
        assert np.abs(r).max() > 0.05, name  # a real signal, not vanishing activations
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4 * np.abs(r).max(), err_msg=name)
    # the inference model computes the same fused logits
    single = build_osvos()
    for layer in single.layers:
        if layer.weights:
            layer.set_weights(m.get_layer(layer.name).get_weights())
    np.testing.assert_array_equal(np.asarray(single(image)), np.asarray(m(image)[0]))


# ---------------------------------------------------------------------------------------------------- serialisation


@pytest.mark.parametrize("layer", [BilinearUpsample(4, name="up"), CropLike(2, name="crop")], ids=["upsample", "crop"])
def test_custom_layers_round_trip_their_config(layer):
    import json

    import keras

    config = layer.get_config()
    revived = layer.__class__.from_config(json.loads(json.dumps(config)))
    assert json.dumps(revived.get_config(), sort_keys=True) == json.dumps(config, sort_keys=True)
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    assert serialized["registered_name"] == f"osvos_tf>{layer.__class__.__name__}"
    assert isinstance(keras.saving.deserialize_keras_object(serialized), layer.__class__)


def _outputs(model, x):
    out = model(x)
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


@pytest.mark.parametrize("side_outputs", [False, True])
def test_model_config_and_keras_file_round_trip(side_outputs, tmp_path):
    """As keras-hub's backbone tests: get_config -> from_config (the same config, the same layers, identical
    outputs once the weights are copied) and a .keras save / load (identical outputs; split_frozen works)."""
    import json

    import keras

    from osvos_tf.model import split_frozen

    m = build_osvos(side_outputs=side_outputs, seed=0)
    _randomise(m, seed=2)
    x = keras.ops.convert_to_tensor(np.random.default_rng(3).normal(0, 50, (1, 21, 27, 3)).astype(np.float32))
    reference = _outputs(m, x)

    config = m.get_config()
    config_json = json.dumps(config, sort_keys=True)
    clone = keras.Model.from_config(json.loads(config_json))
    assert json.dumps(clone.get_config(), sort_keys=True) == config_json
    assert [layer.name for layer in clone.layers] == [layer.name for layer in m.layers]
    clone.set_weights(m.get_weights())
    for a, b in zip(reference, _outputs(clone, x)):
        np.testing.assert_array_equal(a, b)

    path = tmp_path / "osvos.keras"
    m.save(path)
    loaded = keras.saving.load_model(path)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in m.layers]
    assert type(loaded.get_layer("fuse")).__name__ == "SideFuse"
    if side_outputs:
        assert type(loaded.get_layer("side3_score_upsample")) is BilinearUpsample
        assert not loaded.get_layer("side3_score_upsample").trainable_weights
    for a, b in zip(reference, _outputs(loaded, x)):
        np.testing.assert_array_equal(a, b)
    trunk, head = split_frozen(loaded, 3)  # by layer name: the loaded model keeps them
    np.testing.assert_array_equal(_outputs(head, [x, *trunk(x)])[0], reference[0])


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
