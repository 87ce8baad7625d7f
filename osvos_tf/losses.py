"""Class-balanced sigmoid cross-entropy (the OSVOS paper's eq. 1, from HED).

    L = -beta * sum_{j in Y+} log P(y_j = 1) - (1 - beta) * sum_{j in Y-} log P(y_j = 0),
    beta = |Y-| / |Y|, computed per image.

Normalisation: the original sums over pixels and trains at lr 1e-8. Here the per-image loss is divided by the
number of pixels |Y| (a mean), so gradients do not scale with the image size; the learning rates in
:mod:`osvos_tf.config` are the original ones times 854 * 480 to compensate (identical updates on a full
480p frame). The cross-entropy uses the stable form ``max(x, 0) - x*y + log(1 + exp(-|x|))``
(``keras.ops.binary_crossentropy(..., from_logits=True)``: TensorFlow's
``sigmoid_cross_entropy_with_logits`` under TensorFlow), finite for any logit.

Written with ``keras.ops`` only, so the loss is the same function under TensorFlow (the package's backend)
and JAX (the GPU parent trainer, :mod:`osvos_tf.jax_parent`).

An image with no foreground (beta = 1) or no background (beta = 0) has a loss of exactly 0: there is nothing
to balance against, as in the original.
"""

from __future__ import annotations

from keras import ops

#: Deep-supervision side outputs of the OSVOS training model (side2 .. side5).
SIDE_OUTPUTS = 4

#: The training label of a void pixel (ignored by the loss): any negative value.
VOID_LABEL = -1.0


def balanced_bce_with_logits(labels, logits):
    """Per-image class-balanced sigmoid cross-entropy, averaged over pixels.

    Args:
        labels: (B, H, W, 1) float, 0 (background) or 1 (foreground); soft values are accepted and counted
            fractionally. A negative value marks a void pixel (:data:`VOID_LABEL`, e.g. the DAVIS-2017 border
            around objects): it is left out of the loss, of the pixel count and of the class balance.
        logits: (B, H, W, 1) float, unbounded.

    Returns:
        float (B,): the loss of each image, >= 0 (0 for an image with no valid pixel).
    """
    labels = ops.cast(labels, logits.dtype)
    valid = ops.cast(labels >= 0, logits.dtype)
    labels = ops.maximum(labels, 0.0)
    bce = ops.binary_crossentropy(labels, logits, from_logits=True)
    axes = (1, 2, 3)
    n_total = ops.maximum(ops.sum(valid, axis=axes), 1.0)  # H * W exactly without void (float32 to 2**24)
    n_pos = ops.sum(labels, axis=axes)
    n_neg = n_total - n_pos
    loss_pos = ops.sum(labels * bce, axis=axes)
    loss_neg = ops.sum((valid - labels) * bce, axis=axes)
    return (n_neg / n_total * loss_pos + n_pos / n_total * loss_neg) / n_total


def deep_supervision_loss(labels, outputs, side_weight):
    """Fused loss plus ``side_weight`` times the sum of the side losses, averaged over the batch.

    Args:
        labels: float (B, H, W, 1) in {0, 1}.
        outputs: ``[fused_logits, *side_logits]``, each float (B, H, W, 1): OSVOS's five (a model built with
            ``side_outputs=True``: fused, side2..side5), the contour model's six (fused, dsn1..dsn5), or a
            single logits tensor (or a list of one).
        side_weight: scalar weight of the side losses (1, 0.5 or 0 in the original phases).

    Returns:
        ``(total, fused, sides)``: scalar total loss, scalar fused loss, float (S,) side losses, one per side
        output (``(4,)`` zeros when ``outputs`` has none, OSVOS's layout); in the logits' dtype.

    Raises:
        ValueError: ``outputs`` is an empty list.
    """
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    if len(outputs) == 0:
        raise ValueError(
            "outputs must be one logits tensor or a list [fused_logits, *side_logits] (a model built with "
            "side_outputs=True gives five); got an empty list."
        )
    fused = ops.mean(balanced_bce_with_logits(labels, outputs[0]))
    if len(outputs) > 1:
        sides = ops.stack([ops.mean(balanced_bce_with_logits(labels, o)) for o in outputs[1:]])
    else:
        sides = ops.zeros((SIDE_OUTPUTS,), fused.dtype)
    total = fused + ops.cast(side_weight, fused.dtype) * ops.sum(sides)
    return total, fused, sides
