"""Class-balanced sigmoid cross-entropy (the OSVOS paper's eq. 1, from HED).

    L = -beta * sum_{j in Y+} log P(y_j = 1) - (1 - beta) * sum_{j in Y-} log P(y_j = 0),
    beta = |Y-| / |Y|, computed per image.

Normalisation: the original sums over pixels and trains at lr 1e-8. Here the per-image loss is divided by the
number of pixels |Y| (a mean), so gradients do not scale with the image size; the learning rates in
:mod:`osvos_tf.config` are the original ones times 854 * 480 to compensate (identical updates on a full
480p frame). The cross-entropy uses the stable form ``max(x, 0) - x*y + log(1 + exp(-|x|))``
(``tf.nn.sigmoid_cross_entropy_with_logits``), finite for any logit.

An image with no foreground (beta = 1) or no background (beta = 0) has a loss of exactly 0: there is nothing
to balance against, as in the original.
"""

from __future__ import annotations

import tensorflow as tf


def balanced_bce_with_logits(labels, logits):
    """Per-image class-balanced sigmoid cross-entropy, averaged over pixels.

    Args:
        labels: (B, H, W, 1) float, 0 (background) or 1 (foreground); soft values are accepted and counted
            fractionally.
        logits: (B, H, W, 1) float, unbounded.

    Returns:
        float (B,): the loss of each image, >= 0.
    """
    labels = tf.cast(labels, logits.dtype)
    bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
    axes = [1, 2, 3]
    n_total = tf.cast(tf.reduce_prod(tf.shape(labels)[1:]), logits.dtype)
    n_pos = tf.reduce_sum(labels, axis=axes)
    n_neg = n_total - n_pos
    loss_pos = tf.reduce_sum(labels * bce, axis=axes)
    loss_neg = tf.reduce_sum((1.0 - labels) * bce, axis=axes)
    return (n_neg / n_total * loss_pos + n_pos / n_total * loss_neg) / n_total


def deep_supervision_loss(labels, outputs, side_weight):
    """Fused loss plus ``side_weight`` times the sum of the side losses, averaged over the batch.

    Args:
        labels: (B, H, W, 1) in {0, 1}.
        outputs: ``[fused_logits, side2, side3, side4, side5]`` each (B, H, W, 1), or a single logits tensor.
        side_weight: scalar weight of the side losses (1, 0.5 or 0 in the original phases).

    Returns:
        ``(total, fused, sides)``: scalar total loss, scalar fused loss, float (4,) side losses (zeros when
        ``outputs`` has no side outputs).
    """
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    fused = tf.reduce_mean(balanced_bce_with_logits(labels, outputs[0]))
    if len(outputs) > 1:
        sides = tf.stack([tf.reduce_mean(balanced_bce_with_logits(labels, o)) for o in outputs[1:]])
    else:
        sides = tf.zeros([4], fused.dtype)
    total = fused + tf.cast(side_weight, fused.dtype) * tf.reduce_sum(sides)
    return total, fused, sides
