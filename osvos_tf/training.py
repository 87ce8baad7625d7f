"""Optimisation shared by one-shot fine-tuning, parent training and contour training, and the fine-tuning loop.

The original recipe (Caffe semantics): SGD with momentum 0.9; L2 weight decay 2e-4 on kernels only, added to
the gradient; per-layer learning-rate multipliers (VGG and prep convs: kernels x1, biases x2; side scores
x0.1 / x0.2; fuse x0.01 / x0.02); the bilinear upsampling is frozen. The optimizer is
:class:`osvos_tf.optimizer.GroupedOptimizer` (backend-agnostic: the JAX parent trainer shares it).

Updates: :func:`make_update_fn` (one image per step, fine-tuning) and :func:`make_accumulated_update_fn`
(the mean gradient of several images of any sizes per step, Caffe's ``iter_size``; contour training). Parent
training accumulates micro-batches under a ``tf.distribute`` strategy itself (:mod:`osvos_tf.parent`) and
shares :func:`log_images`.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from osvos_tf.config import FineTuneConfig, save_config
from osvos_tf.data import augmented_variants
from osvos_tf.losses import deep_supervision_loss
from osvos_tf.model import split_frozen
from osvos_tf.optimizer import GroupedOptimizer
from osvos_tf.progress import Progress


@dataclasses.dataclass
class FitHistory:
    """What a fine-tuning run did. ``losses``: total loss per update; ``seconds``: wall time (set-up included);
    ``step_seconds``: wall time of each update (the first ones of each image size include tracing)."""

    iterations: int
    seconds: float
    losses: list[float]
    stopped_by_budget: bool
    step_seconds: list[float] = dataclasses.field(default_factory=list)


def _loss_and_gradients(model, variables, inputs, label, side_weight):
    """The deep-supervision loss of one forward pass in training mode and its gradients w.r.t. ``variables``.

    Returns:
        ``(total, grads)``: scalar float32 loss, a list of gradients aligned with ``variables``.
    """
    with tf.GradientTape() as tape:
        outputs = model(inputs, training=True)
        total, _, _ = deep_supervision_loss(label, outputs, side_weight)
    return total, tape.gradient(total, variables)


def _add(a, b):
    """Sum of two gradients, None standing for "no gradient" (a variable the loss does not reach)."""
    if a is None or b is None:
        return b if a is None else a
    return a + b


def make_update_fn(model, optimizer: GroupedOptimizer):
    """A compiled one-image update: ``update(inputs, label (1,h,w,1), side_weight) -> loss``.

    ``inputs`` is the model's input: an image (1, h, w, 3), or ``[image, *features]`` for a head model
    from :func:`osvos_tf.model.split_frozen`.
    """

    @tf.function(reduce_retracing=True)
    def update(inputs, label, side_weight):
        total, grads = _loss_and_gradients(model, optimizer.variables, inputs, label, side_weight)
        optimizer.apply(grads)
        return total

    return update


def make_accumulated_update_fn(model, optimizer: GroupedOptimizer):
    """One update from several images of any sizes (Caffe's ``iter_size``): their gradients are averaged.

    Returns:
        ``update(samples, side_weight) -> float``: ``samples`` is a non-empty sequence of ``(inputs, label)``
        pairs as :func:`make_update_fn` takes them (each image its own forward and backward pass, compiled
        once per input shape); the gradients are summed in order and divided by ``len(samples)``, then
        :meth:`GroupedOptimizer.apply` (L2 decay, multipliers) makes one step. Returns the mean loss. With
        one sample this is the update of :func:`make_update_fn`.
    """

    @tf.function(reduce_retracing=True)
    def gradients(inputs, label, side_weight):
        return _loss_and_gradients(model, optimizer.variables, inputs, label, side_weight)

    @tf.function
    def apply_mean(grad_sums, count):
        optimizer.apply([None if g is None else g / count for g in grad_sums])

    def update(samples: Sequence, side_weight) -> float:
        if not samples:
            raise ValueError("An accumulated update needs at least one (inputs, label) sample; got none.")
        grad_sums: list | None = None
        loss_sum = 0.0
        for inputs, label in samples:
            loss, grads = gradients(inputs, label, side_weight)
            grad_sums = list(grads) if grad_sums is None else [_add(a, g) for a, g in zip(grad_sums, grads)]
            loss_sum += float(loss)
        apply_mean(grad_sums, float(len(samples)))  # a Python number: compiled in, one trace per count
        return loss_sum / len(samples)

    return update


def finetune(
    model,
    frames: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    config: FineTuneConfig,
    time_budget_s: float | None = None,
    log_dir: str | os.PathLike | None = None,
    progress: bool = True,
    callback: Callable[[int, float], object] | None = None,
    record: dict | None = None,
    voids: Sequence[np.ndarray | None] | None = None,
    label: str = "fine-tune",
) -> FitHistory:
    """Fine-tune ``model`` in place on annotated frames, with the original one-shot recipe.

    Each update takes one augmented copy (random scale from ``config.scales``, random flip) of one
    annotated frame, chosen at random, as the original (batch 1); the first ``config.coarse_updates`` updates
    draw their scale from ``config.coarse_scales`` instead.

    Args:
        model: a network from :func:`osvos_tf.model.build_osvos` holding the starting (parent) weights; it
            is modified in place, so pass a copy.
        frames: uint8 RGB (H, W, 3) frames; masks: bool (H, W), same sizes.
        config: the recipe; ``config.iterations`` updates unless ``time_budget_s`` runs out first.
        time_budget_s: stop after this many seconds of training (the model as it is then is kept).
        log_dir: write TensorBoard scalars (loss, learning rate) and images (input, mask, prediction)
            there, with the config as ``config.json``.
        progress: show a progress bar on stderr.
        callback: called as ``callback(n, seconds)`` after update n (1-based), while ``model`` holds the
            weights of that point (e.g. to evaluate a learning curve in one run); ``seconds`` is the wall
            time of the fine-tuning so far without the callbacks' own time. The callbacks' time counts
            towards ``time_budget_s`` and the returned ``seconds``, not towards the step times.
        record: JSON-able fields saved with the config in ``log_dir/config.json`` (e.g. the parent's id).
        voids: per frame, bool (H, W) pixels the loss ignores (DAVIS-2017 void), or None.
        label: the progress bar's label.
    """
    rng = np.random.default_rng(config.seed)
    voids = list(voids) if voids is not None else [None] * len(frames)
    variants, pools = _variant_pools(frames, masks, voids, config)
    side_outputs = isinstance(model.outputs, (list, tuple)) and len(model.outputs) > 1
    if config.side_loss_weight and not side_outputs:
        raise ValueError("side_loss_weight > 0 needs a model built with side_outputs=True.")
    train_model, inputs = _training_inputs(model, [image for image, _ in variants], config.freeze_blocks)
    optimizer = GroupedOptimizer(
        train_model, config.lr_multipliers, config.optimizer, config.momentum, config.weight_decay
    )
    optimizer.set_learning_rate(config.learning_rate)
    update = make_update_fn(train_model, optimizer)
    side_weight = tf.constant(config.side_loss_weight, tf.float32)
    writer = _summary_writer(log_dir, config, record or {})
    image_every = max(1, config.iterations // 10)

    bar = Progress(config.iterations, label, enabled=progress)
    losses: list[float] = []
    step_seconds: list[float] = []
    start = time.perf_counter()
    callback_seconds = 0.0
    stopped = False
    for it in range(config.iterations):
        if time_budget_s is not None and time.perf_counter() - start >= time_budget_s:
            stopped = True
            break
        pool = pools[0] if it < config.coarse_updates else pools[1]
        k = pool[int(rng.integers(len(pool)))]
        image, label = variants[k]
        step_start = time.perf_counter()
        loss = float(update(inputs[k], label, side_weight))
        step_seconds.append(time.perf_counter() - step_start)
        check_finite_loss(loss, "Fine-tuning", it)
        losses.append(loss)
        if writer is not None:
            with writer.as_default(step=it):
                tf.summary.scalar("loss/total", loss)
                tf.summary.scalar("learning_rate", config.learning_rate)
                tf.summary.scalar("step_seconds", step_seconds[-1])
                if it % image_every == 0 or it == config.iterations - 1:
                    log_images(model, image, label)
        bar.update(status=f"loss {loss:.4f}")
        if callback is not None:
            called = time.perf_counter()
            callback(it + 1, called - start - callback_seconds)
            callback_seconds += time.perf_counter() - called
    bar.close()
    if writer is not None:
        writer.flush()
    return FitHistory(len(losses), time.perf_counter() - start, losses, stopped, step_seconds)


def _variant_pools(frames, masks, voids, config: FineTuneConfig) -> tuple[list, tuple[list[int], list[int]]]:
    """Every augmented copy the updates draw from, and which of them each phase draws from.

    Returns:
        ``(variants, (coarse, main))``: ``variants`` lists ``(image, label)`` of :func:`augmented_variants`,
        first every frame at ``config.scales`` (in the order of the original recipe, so that a run without
        coarse updates draws exactly as before), then the frames at the ``config.coarse_scales`` not among
        them (only when ``config.coarse_updates`` > 0); ``coarse`` and ``main`` are the indices into
        ``variants`` of the copies at ``coarse_scales`` and at ``scales``.
    """

    def copies(scales):
        return [
            (scale, v)
            for f, m, void in zip(frames, masks, voids)
            for scale in scales
            for v in augmented_variants(f, m, (scale,), config.flip, void)
        ]

    tagged = copies(config.scales)
    if config.coarse_updates:
        tagged += copies([s for s in dict.fromkeys(config.coarse_scales) if s not in config.scales])
    main = [i for i, (scale, _) in enumerate(tagged) if scale in config.scales]
    coarse = [i for i, (scale, _) in enumerate(tagged) if scale in config.coarse_scales]
    return [v for _, v in tagged], (coarse, main)


def _training_inputs(model, images: list, freeze_blocks: int):
    """``(train_model, inputs)``: the model and its input per image, or, with VGG blocks 1..``freeze_blocks``
    frozen, the trainable head of :func:`osvos_tf.model.split_frozen` and ``[image, *frozen features]`` per
    image (the frozen blocks' outputs computed once here, so each update skips them)."""
    if not freeze_blocks:
        return model, images
    trunk, head = split_frozen(model, freeze_blocks)
    inputs = []
    for image in images:
        features = trunk(image, training=False)
        inputs.append([image, *(features if isinstance(features, (list, tuple)) else [features])])
    return head, inputs


def _summary_writer(log_dir: str | os.PathLike | None, config, record: dict):
    """A TensorBoard writer on ``log_dir`` with the config saved as ``config.json`` next to the events (None:
    no logging)."""
    if log_dir is None:
        return None
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    save_config(config, Path(log_dir) / "config.json", **record)
    return tf.summary.create_file_writer(str(log_dir))


def check_finite_loss(loss: float, what: str, update: int) -> None:
    """Raise FloatingPointError if the loss of ``update`` (0-based) is not finite: ``what`` diverged."""
    if not np.isfinite(loss):
        raise FloatingPointError(f"{what} diverged at update {update}: loss {loss}. Lower the learning rate.")


def log_images(model, image, label, max_outputs: int = 1) -> None:
    """TensorBoard images of the input (RGB), the mask and the predicted probabilities (current writer)."""
    from osvos_tf.model import MEAN_BGR

    outputs = model(image, training=False)
    logits = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
    rgb = tf.reverse(image + tf.constant(MEAN_BGR, tf.float32), axis=[-1]) / 255.0
    tf.summary.image("input", tf.clip_by_value(rgb, 0, 1), max_outputs=max_outputs)
    tf.summary.image("mask", tf.clip_by_value(label, 0, 1), max_outputs=max_outputs)  # void (-1) shown as 0
    tf.summary.image("prediction", tf.sigmoid(logits), max_outputs=max_outputs)
