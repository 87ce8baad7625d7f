"""The class-balanced cross-entropy against a numpy reference and hand-computed cases."""

import numpy as np
import pytest
import tensorflow as tf

from osvos_tf.losses import balanced_bce_with_logits, deep_supervision_loss


def numpy_reference(labels, logits):
    """Eq. 1 of the paper, written with probabilities (float64), per image, divided by the pixel count."""
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    out = []
    for y, q in zip(labels, p):
        n = y.size
        beta = (n - y.sum()) / n
        loss = -beta * np.sum(y * np.log(q)) - (1 - beta) * np.sum((1 - y) * np.log(1 - q))
        out.append(loss / n)
    return np.array(out)


def test_against_numpy_reference():
    rng = np.random.default_rng(0)
    labels = (rng.random((3, 7, 9, 1)) < np.array([0.1, 0.5, 0.8])[:, None, None, None]).astype(np.float32)
    logits = rng.normal(0, 3, (3, 7, 9, 1)).astype(np.float32)
    got = balanced_bce_with_logits(tf.constant(labels), tf.constant(logits)).numpy()
    np.testing.assert_allclose(got, numpy_reference(labels, logits), rtol=1e-5)


def test_hand_computed_two_pixels():
    # one foreground pixel with logit 0, one background pixel with logit 0: beta = 1/2
    # L = (1/2 * log 2 + 1/2 * log 2) / 2 pixels = log(2) / 2
    labels = tf.constant([[[[1.0], [0.0]]]])
    logits = tf.zeros((1, 1, 2, 1))
    assert np.isclose(balanced_bce_with_logits(labels, logits).numpy()[0], np.log(2) / 2)


def test_hand_computed_imbalanced():
    # 1 fg pixel (logit 2) and 3 bg pixels (logit -1): beta = 3/4
    # L = [3/4 * log(1 + e^-2) + 1/4 * 3 * log(1 + e^-1)] / 4
    labels = tf.constant([[[[1.0], [0.0], [0.0], [0.0]]]])
    logits = tf.constant([[[[2.0], [-1.0], [-1.0], [-1.0]]]])
    expected = (0.75 * np.log1p(np.exp(-2)) + 0.25 * 3 * np.log1p(np.exp(-1))) / 4
    assert np.isclose(balanced_bce_with_logits(labels, logits).numpy()[0], expected, rtol=1e-6)


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_all_background_or_all_foreground_is_zero(value):
    labels = tf.fill((2, 5, 5, 1), value)
    logits = tf.random.normal((2, 5, 5, 1), seed=1) * 10
    np.testing.assert_array_equal(balanced_bce_with_logits(labels, logits).numpy(), [0.0, 0.0])


def test_stable_for_huge_logits():
    labels = tf.constant([[[[1.0], [0.0]]]])
    logits = tf.constant([[[[-1e4], [1e4]]]])  # confidently wrong: log(1 + e^1e4) = 1e4
    loss = balanced_bce_with_logits(labels, logits).numpy()[0]
    assert np.isfinite(loss) and np.isclose(loss, (0.5 * 1e4 + 0.5 * 1e4) / 2)
    with tf.GradientTape() as tape:
        x = tf.Variable(logits)
        val = balanced_bce_with_logits(labels, x)
    assert np.all(np.isfinite(tape.gradient(val, x).numpy()))


def test_deep_supervision_weights_the_sides():
    rng = np.random.default_rng(1)
    labels = tf.constant((rng.random((1, 4, 4, 1)) < 0.3).astype(np.float32))
    outs = [tf.constant(rng.normal(size=(1, 4, 4, 1)).astype(np.float32)) for _ in range(5)]
    total, fused, sides = deep_supervision_loss(labels, outs, 0.5)
    ref = [numpy_reference(labels.numpy(), o.numpy())[0] for o in outs]
    assert np.isclose(fused.numpy(), ref[0], rtol=1e-5)
    np.testing.assert_allclose(sides.numpy(), ref[1:], rtol=1e-5)
    assert np.isclose(total.numpy(), ref[0] + 0.5 * sum(ref[1:]), rtol=1e-5)


def test_deep_supervision_single_output_and_bad_lists():
    labels = tf.constant([[[[1.0], [0.0]]]])
    logits = tf.zeros((1, 1, 2, 1))
    total, fused, sides = deep_supervision_loss(labels, logits, 1.0)
    assert np.isclose(total.numpy(), np.log(2) / 2) and np.isclose(fused.numpy(), total.numpy())
    np.testing.assert_array_equal(sides.numpy(), np.zeros(4))
    total6, fused6, sides6 = deep_supervision_loss(labels, [logits] * 6, 0.5)  # the contour model: fused + 5 sides
    assert sides6.shape == (5,) and np.isclose(total6.numpy(), fused6.numpy() * (1 + 0.5 * 5))
    with pytest.raises(ValueError, match="got an empty list"):
        deep_supervision_loss(labels, [], 1.0)
