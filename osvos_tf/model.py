"""The OSVOS network (Caelles et al., CVPR 2017) as a Keras functional model.

Architecture, as in the original Caffe release:

* VGG16 ``block1_conv1`` .. ``block5_conv3`` (keras.applications names, so weights load by name), 3x3 convs
  with ReLU, 2x2 max-pools that round up (``padding='same'``: odd sizes work, like Caffe's ceil mode);
  no pool5 and no fully-connected layers. :func:`vgg_trunk` builds it, here and for the contour network
  (:mod:`osvos_tf.contours`).
* Side paths on conv2_2, conv3_3, conv4_3 and conv5_3 (strides s = 2, 4, 8, 16): a 3x3 conv to 16
  channels with no activation (``side{k}_prep``), then (in the original) a fixed bilinear transposed conv with
  kernel 2s and stride s and a crop back to the input size.
* ``fuse`` (:class:`SideFuse`): the original concatenates the 4 x 16 upsampled channels and applies a 1x1 conv
  to one channel: logits at the input's full resolution. osvos_tf computes the same function with the 1x1
  conv applied to each side's 16 channels before the (linear, per-channel) upsampling and crop, so one
  channel per side is upsampled instead of 16. The weights are the same (kernel (1, 1, 64, 1), bias).
* For parent training, four deep-supervision outputs: a 1x1 conv 16 -> 1 on each prep output
  (``side{k}_score``), upsampled and cropped the same way.

Crop offsets: the upsampled map is cropped at offset s/2 in both axes, as the original Caffe model. That is
the exact alignment: the bilinear kernel of size 2s peaks at s - 1/2, so feature i (centred on input pixel
s*i + (s-1)/2) lands on s*i + s - 1/2 - s/2. The TF and PyTorch ports centre-crop instead, which equals s/2
only when the padded size exceeds the input by exactly s (480 rows: yes; 854 columns at s=16: 13 px, a
5-pixel shift). osvos_tf uses s/2.

New convs start from N(0, 0.001) with zero biases, as the original.

Compute dtype: ``build_osvos(compute_dtype='bfloat16')`` runs every layer up to the fused and side scores
in bfloat16 (Keras's ``mixed_bfloat16`` policy: weights stay float32, so checkpoints are the same files);
the 1x1 ``fuse`` and ``side{k}_score`` convs and everything after them run in float32, so logits and losses
are float32 either way. On CPUs with AVX512-BF16 this about halves the time of a forward pass.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from osvos_tf.cpu import resolve_compute_dtype

#: Caffe VGG16 mean pixel, BGR order, on the 0..255 scale.
MEAN_BGR = (104.00699, 116.66877, 122.67892)

#: VGG16 conv layers: (block, number of convs, channels).
VGG_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))

#: VGG16 conv layer names, in order.
VGG_LAYER_NAMES = tuple(f"block{b}_conv{j}" for b, n, _ in VGG_BLOCKS for j in range(1, n + 1))

#: Side paths: VGG block whose last conv feeds it -> upsampling stride.
SIDE_STRIDES = {2: 2, 3: 4, 4: 8, 5: 16}

SIDE_CHANNELS = 16

#: Keras dtype policy of the layers before the scores, for each of config.COMPUTE_DTYPES.
_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


def preprocess(frames):
    """RGB frames -> network input: BGR, float32, minus the Caffe mean. The only preprocessing in osvos_tf.

    Args:
        frames: uint8 or float RGB on the 0..255 scale, shape (H, W, 3) or (B, H, W, 3); numpy or tensor.

    Returns:
        float32 tensor of the same shape, BGR channel order, mean-subtracted (roughly -123..151).
    """
    x = ops.cast(frames, "float32")
    return ops.flip(x, axis=-1) - ops.convert_to_tensor(np.array(MEAN_BGR, np.float32))


def bilinear_kernel(stride: int) -> np.ndarray:
    """The FCN / Caffe ``bilinear`` filler for a transposed conv of kernel 2*stride, stride ``stride``.

    Returns:
        float32 (2s, 2s), separable: ``k[i, j] = w[i] * w[j]`` with ``w[i] = 1 - |i - (s - 1/2)| / s``
        (a tent peaking between taps s-1 and s; for s = 2: 0.25, 0.75, 0.75, 0.25).
    """
    size = 2 * stride
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    w = 1.0 - np.abs(np.arange(size) - center) / factor
    return np.outer(w, w).astype(np.float32)


def bilinear_upsample(x, stride: int, kernel=None):
    """The fixed bilinear transposed conv of the side paths, on each channel alone (any Keras backend).

    Args:
        x: float (B, h, w, C).
        stride: s; the kernel is (2s, 2s), :func:`bilinear_kernel`.
        kernel: the (2s, 2s, 1, 1) kernel as a tensor or variable (default: :func:`bilinear_kernel`).

    Returns:
        (B, s*(h+1), s*(w+1), C) in x's dtype, as Caffe's Deconvolution with no padding and ``group = C``
        (``keras.ops.conv_transpose`` with ``padding='valid'``: (h - 1) * s + 2s rows).
    """
    s = int(stride)
    if kernel is None:
        kernel = bilinear_kernel(s).reshape(2 * s, 2 * s, 1, 1)
    kernel = ops.cast(kernel, x.dtype)
    if x.shape[-1] == 1:  # one channel (the fused side scores): no transposes needed
        return ops.conv_transpose(x, kernel, strides=s, padding="valid")
    # channels into the batch axis: one 1-channel transposed conv serves every channel
    shape = ops.shape(x)
    b, h, w, c = shape[0], shape[1], shape[2], shape[3]
    y = ops.conv_transpose(
        ops.reshape(ops.transpose(x, (0, 3, 1, 2)), (b * c, h, w, 1)), kernel, strides=s, padding="valid"
    )
    return ops.transpose(ops.reshape(y, (b, c, s * (h + 1), s * (w + 1))), (0, 2, 3, 1))


@keras.saving.register_keras_serializable(package="osvos_tf")
class BilinearUpsample(layers.Layer):
    """Fixed (non-trainable) bilinear transposed conv, kernel 2s, stride s, applied to each channel.

    Input (B, h, w, C) -> output (B, s*(h+1), s*(w+1), C), as Caffe's Deconvolution with no padding and
    ``group = C``. The kernel is a non-trainable weight, so it is saved with the model and never updated.
    """

    def __init__(self, stride: int, **kwargs):
        super().__init__(**kwargs)
        if int(stride) < 1:
            raise ValueError(f"stride must be a positive integer, got {stride!r}.")
        self.stride = int(stride)

    def build(self, input_shape):
        k = 2 * self.stride
        self.kernel = self.add_weight(
            name="kernel",
            shape=(k, k, 1, 1),
            trainable=False,
            initializer=keras.initializers.Constant(bilinear_kernel(self.stride).reshape(k, k, 1, 1)),
        )

    def call(self, x):
        return bilinear_upsample(x, self.stride, self.kernel)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        s = self.stride
        return (b, None if h is None else s * (h + 1), None if w is None else s * (w + 1), c)

    def get_config(self):
        return {**super().get_config(), "stride": self.stride}


@keras.saving.register_keras_serializable(package="osvos_tf")
class CropLike(layers.Layer):
    """Crop ``x`` to the spatial size of ``reference`` starting at ``(offset, offset)``.

    Inputs: ``[x (B, H', W', C), reference (B, H, W, ...)]`` with H' >= offset + H and W' >= offset + W.
    Output: ``x[:, offset:offset + H, offset:offset + W, :]``.
    """

    def __init__(self, offset: int, **kwargs):
        super().__init__(**kwargs)
        self.offset = int(offset)

    def call(self, inputs):
        x, reference = inputs
        shape = ops.shape(reference)
        o = self.offset
        return x[:, o : o + shape[1], o : o + shape[2], :]

    def compute_output_shape(self, input_shapes):
        x_shape, ref_shape = input_shapes
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[3])

    def get_config(self):
        return {**super().get_config(), "offset": self.offset}


@keras.saving.register_keras_serializable(package="osvos_tf")
class SideFuse(layers.Layer):
    """The ``fuse`` layer: the original's 1x1 conv over the concatenated, upsampled and cropped side maps,
    computed with the upsampling moved after the conv.

    The original concatenates the four side paths' 16-channel maps at full resolution and applies a 1x1 conv
    (kernel (1, 1, 64, 1), bias). Upsampling and cropping are linear and act on each channel alone, so each
    side's 16 rows of the kernel are applied at that side's own resolution, and one channel per side is
    upsampled and cropped; the four results are summed. The same function (up to float rounding), with a
    sixteenth of the full-resolution work. The weights are those of the Conv2D it replaces, in the same
    order (kernel (1, 1, 64, 1), bias (1,)), so checkpoints are unchanged.

    Inputs: ``[prep_1, ..., prep_n, image]``: prep_k (B, h_k, w_k, channels), the output of side path k
    (stride ``strides[k]``: h_k = ceil(H / s)), and the network input (B, H, W, 3), for the output size.
    Output: float logits (B, H, W, 1) in the layer's compute dtype (float32 in OSVOS).
    """

    def __init__(self, strides=(2, 4, 8, 16), channels: int = 16, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.strides = tuple(int(t) for t in strides)
        self.channels = int(channels)
        self.seed = seed

    def build(self, input_shape):
        n = len(self.strides) * self.channels
        self.kernel = self.add_weight(
            name="kernel",
            shape=(1, 1, n, 1),
            initializer=keras.initializers.RandomNormal(stddev=0.001, seed=self.seed),
        )
        self.bias = self.add_weight(name="bias", shape=(1,), initializer="zeros")

    def call(self, inputs):
        *preps, image = inputs
        size = ops.shape(image)
        total = None
        for k, (prep, s) in enumerate(zip(preps, self.strides)):
            rows = self.kernel[:, :, k * self.channels : (k + 1) * self.channels, :]
            score = ops.conv(ops.cast(prep, self.compute_dtype), ops.cast(rows, self.compute_dtype))
            o = s // 2  # the crop offset (see the module docstring)
            side = bilinear_upsample(score, s)[:, o : o + size[1], o : o + size[2], :]
            total = side if total is None else total + side
        return total + ops.cast(self.bias, self.compute_dtype)

    def compute_output_shape(self, input_shapes):
        image_shape = input_shapes[-1]
        return (image_shape[0], image_shape[1], image_shape[2], 1)

    def get_config(self):
        return {**super().get_config(), "strides": list(self.strides), "channels": self.channels, "seed": self.seed}


def _layer_seed(seed: int | None, name: str) -> int | None:
    """A per-layer initialiser seed derived from the model seed and the layer name (None: unseeded)."""
    return None if seed is None else (int(seed) * 1_000_003 + zlib.crc32(name.encode())) % (2**31 - 1)


def _new_conv(
    filters: int, size: int, name: str, activation=None, dtype=None, seed: int | None = None
) -> layers.Conv2D:
    """A conv with the original's initialisation of new layers: kernels N(0, 0.001), zero biases; ``seed``
    (a model seed) makes the kernels reproducible, each layer drawing from its own stream."""
    return layers.Conv2D(
        filters,
        size,
        padding="same",
        activation=activation,
        name=name,
        dtype=dtype,
        kernel_initializer=keras.initializers.RandomNormal(stddev=0.001, seed=_layer_seed(seed, name)),
        bias_initializer="zeros",
    )


#: ``get(name, make)``: the layer called ``name`` (``make()`` builds a new one). Building a model passes
#: :func:`_build_new`; re-wiring an existing model's layers (:func:`split_frozen`) passes its ``get_layer``.
LayerGetter = Callable[[str, Callable[[], layers.Layer]], layers.Layer]


def _build_new(_name: str, make: Callable[[], layers.Layer]) -> layers.Layer:
    return make()


def _layer(get: LayerGetter, factory: Callable[..., layers.Layer], name: str, *args, **kwargs) -> layers.Layer:
    """``get`` the layer called ``name``, built (if new) as ``factory(*args, name=name, **kwargs)``."""
    return get(name, functools.partial(factory, *args, name=name, **kwargs))


def vgg_trunk(
    x,
    first_block: int = 1,
    dtype: str | None = None,
    seed: int | None = None,
    get: LayerGetter = _build_new,
) -> dict[int, Any]:
    """The VGG16 trunk shared by the OSVOS and the contour network: blocks ``first_block`` .. 5 on ``x``.

    Each block but the first starts with a 2x2 max-pool that rounds up (``padding='same'``, named
    ``block{b-1}_pool``), then its 3x3 ReLU convs ``block{b}_conv{j}`` (:data:`VGG_BLOCKS`; keras.applications
    names, so weights load by name). No pool5, no fully-connected layers. New convs start as :func:`_new_conv`.

    Args:
        x: float tensor (B, H, W, C): the preprocessed image (:func:`preprocess`, C = 3) for ``first_block``
            1, else the output of block ``first_block - 1`` (stride 2**(first_block - 2)).
        first_block: the first VGG block to apply, 1..5.
        dtype: Keras dtype policy of the trunk's layers (None: the global policy).
        seed: model seed of the convs' initialisation (see :func:`_layer_seed`; None: unseeded).
        get: where layers come from (default: built new; see :data:`LayerGetter`).

    Returns:
        ``{block: output of its last conv}`` for blocks ``first_block`` .. 5: (B, ceil(H / 2**(b-1)),
        ceil(W / 2**(b-1)), channels) for an image input, in the layers' compute dtype.
    """
    if not 1 <= first_block <= 5:
        raise ValueError(f"first_block must be a VGG block 1..5, got {first_block!r}.")
    features = {}
    for block, n_convs, channels in VGG_BLOCKS:
        if block < first_block:
            continue
        if block > 1:
            x = _layer(get, layers.MaxPooling2D, f"block{block - 1}_pool", 2, strides=2, padding="same", dtype=dtype)(x)
        for j in range(1, n_convs + 1):
            conv = _layer(
                get, _new_conv, f"block{block}_conv{j}", channels, 3, activation="relu", dtype=dtype, seed=seed
            )
            x = conv(x)
        features[block] = x
    return features


def _wire(get: LayerGetter, image, cached: dict, side_outputs: bool, policy: str = "float32", seed: int | None = None):
    """Connect the OSVOS graph. ``get(name, make)`` returns the layer called ``name`` (see :data:`LayerGetter`);
    ``cached`` maps VGG block numbers to tensors standing in for those blocks' outputs (empty: the whole
    network from ``image``). ``policy``: Keras dtype policy of the layers before the scores (the scores and
    what follows them are float32). Returns the fused logits, or the list with the side logits."""
    p = policy
    frozen = max(cached, default=0)
    features = dict(cached)
    if frozen < 5:
        features.update(vgg_trunk(cached.get(frozen, image), frozen + 1, p, seed, get))

    prep_maps, score_maps = [], []
    for block, stride in SIDE_STRIDES.items():
        prep = _layer(get, _new_conv, f"side{block}_prep", SIDE_CHANNELS, 3, dtype=p, seed=seed)(features[block])
        prep_maps.append(prep)
        if side_outputs:
            score = _layer(get, _new_conv, f"side{block}_score", 1, 1, dtype="float32", seed=seed)(prep)
            score_up = _layer(get, BilinearUpsample, f"side{block}_score_upsample", stride, dtype="float32")(score)
            score_maps.append(
                _layer(get, CropLike, f"side{block}_score_crop", stride // 2, dtype="float32")([score_up, image])
            )

    strides = tuple(SIDE_STRIDES.values())
    fuse_seed = _layer_seed(seed, "fuse")  # the draw of the Conv2D it replaces: same shape, same seed
    fused_logits = _layer(get, SideFuse, "fuse", strides, SIDE_CHANNELS, seed=fuse_seed, dtype="float32")(
        [*prep_maps, image]
    )
    return [fused_logits, *score_maps] if side_outputs else fused_logits


def build_osvos(
    side_outputs: bool = False, name: str = "osvos", compute_dtype: str = "float32", seed: int | None = None
) -> keras.Model:
    """Build the OSVOS network (randomly initialised; see :mod:`osvos_tf.weights` to load weights).

    Args:
        side_outputs: also return the four deep-supervision side logits (for parent training).
        name: model name.
        compute_dtype: 'float32', or 'bfloat16' for the activations of every layer before the scores
            (weights stay float32; see the module docstring), or 'auto': bfloat16 where the CPU has native
            bfloat16 (:func:`osvos_tf.cpu.resolve_compute_dtype`).
        seed: seed of the initialisation of every conv (each layer from its own stream, so two builds with
            the same seed are identical); None: unseeded, as Keras draws.

    Returns:
        A Keras model. Input: float32 (B, H, W, 3), the output of :func:`preprocess`, any H, W >= 1.
        Output: float32 logits (B, H, W, 1) at the input's resolution; with ``side_outputs``, the list
        ``[fused_logits, side2_logits, side3_logits, side4_logits, side5_logits]``, all (B, H, W, 1).
    """
    policy = _POLICIES[resolve_compute_dtype(compute_dtype)]  # checks the name
    inputs = keras.Input(shape=(None, None, 3), name="image")
    outputs = _wire(_build_new, inputs, {}, side_outputs, policy, seed)
    return keras.Model(inputs, outputs, name=name)


def cached_blocks(frozen_blocks: int) -> tuple[int, ...]:
    """VGG blocks whose outputs a head with blocks 1..``frozen_blocks`` frozen takes as inputs."""
    if not 1 <= frozen_blocks <= 4:
        raise ValueError(f"frozen_blocks must be 1..4 (block 5 feeds the last side path), got {frozen_blocks}.")
    return tuple(sorted({frozen_blocks, *range(2, frozen_blocks + 1)}))


def split_frozen(model: keras.Model, frozen_blocks: int) -> tuple[keras.Model, keras.Model]:
    """Split an OSVOS model into a frozen trunk and a trainable head that share the model's layers.

    For fine-tuning with VGG blocks 1..``frozen_blocks`` frozen: the trunk's outputs are computed once per
    training image and the head trains on them, skipping the frozen layers' forward and backward passes.

    Returns:
        ``(trunk, head)``. trunk: preprocessed image (B, H, W, 3) -> list of the outputs of the
        :func:`cached_blocks`. head: ``[image, *those outputs]`` -> the model's outputs (the image only
        gives the crop size). ``head(image, trunk(image))`` equals ``model(image)``.
    """
    blocks = cached_blocks(frozen_blocks)
    n_convs = {b: n for b, n, _ in VGG_BLOCKS}
    trunk = keras.Model(
        model.input,
        [model.get_layer(f"block{b}_conv{n_convs[b]}").output for b in blocks],
        name=f"{model.name}_trunk{frozen_blocks}",
    )
    image = keras.Input(shape=(None, None, 3), name="image")
    feature_dtype = model.get_layer("block1_conv1").compute_dtype
    feats = {
        b: keras.Input(
            shape=(None, None, dict((k, c) for k, _, c in VGG_BLOCKS)[b]),
            name=f"block{b}_features",
            dtype=feature_dtype,
        )
        for b in blocks
    }
    side_outputs = isinstance(model.outputs, (list, tuple)) and len(model.outputs) > 1
    outputs = _wire(lambda name, _make: model.get_layer(name), image, feats, side_outputs)
    head = keras.Model([image, *feats.values()], outputs, name=f"{model.name}_head{frozen_blocks}")
    return trunk, head


def layer_kind(layer_name: str) -> str:
    """Which learning-rate group a layer belongs to: 'trunk' (VGG and prep convs), 'score' or 'fuse'."""
    if layer_name == "fuse":
        return "fuse"
    if layer_name.endswith("_score"):
        return "score"
    return "trunk"
