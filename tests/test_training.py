"""The shared optimisation machinery (osvos_tf.training): one-image and accumulated updates, weight decay,
the divergence check. On a tiny model whose layer names pick the learning-rate groups."""

import numpy as np
import pytest

from osvos_tf.config import LrMultipliers
from osvos_tf.training import (
    GroupedOptimizer,
    check_finite_loss,
    make_accumulated_update_fn,
    make_update_fn,
    variable_groups,
)

UNIFORM = LrMultipliers(1.0, 1.0, 1.0, 1.0, 1.0, 1.0)


def tiny_model(seed=0):
    """image (B, H, W, 3) -> [fused logits, side2 .. side5 logits] (the OSVOS training model's outputs), layers
    'block1_conv1' (trunk), 'side{k}_score' and 'fuse'."""
    import keras

    image = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="block1_conv1")(image)
    sides = [keras.layers.Conv2D(1, 1, name=f"side{k}_score")(x) for k in (2, 3, 4, 5)]
    fused = keras.layers.Conv2D(1, 1, name="fuse")(x)
    model = keras.Model(image, [fused, *sides])
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def samples(n, seed=1):
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        h, w = 6 + k, 9 - k  # any sizes
        image = tf.constant(rng.normal(0, 1, (1, h, w, 3)).astype(np.float32))
        label = tf.constant((rng.random((1, h, w, 1)) > 0.6).astype(np.float32))
        out.append((image, label))
    return out


def test_one_sample_accumulated_update_is_the_plain_update():
    a, b = tiny_model(), tiny_model()
    opt_a = GroupedOptimizer(a, UNIFORM, "adam", weight_decay=1e-2)
    opt_b = GroupedOptimizer(b, UNIFORM, "adam", weight_decay=1e-2)
    for opt in (opt_a, opt_b):
        opt.learning_rate.assign(1e-2)
    plain, accumulated = make_update_fn(a, opt_a), make_accumulated_update_fn(b, opt_b)
    for image, label in samples(3):
        loss_a = float(plain(image, label, 0.5))
        loss_b = accumulated([(image, label)], 0.5)
        assert loss_a == pytest.approx(loss_b, rel=1e-6)
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)


def test_accumulated_update_averages_the_gradients_then_decays_the_kernels():
    import tensorflow as tf

    from osvos_tf.losses import deep_supervision_loss

    model = tiny_model()
    lr, wd = 0.1, 0.05
    opt = GroupedOptimizer(model, UNIFORM, "sgd", momentum=0.0, weight_decay=wd)
    opt.learning_rate.assign(lr)
    batch = samples(3)
    before = [np.asarray(v) for v in opt.variables]
    grads, losses = [], []
    for image, label in batch:
        with tf.GradientTape() as tape:
            loss, _, _ = deep_supervision_loss(label, model(image, training=True), 1.0)
        grads.append([np.asarray(g) for g in tape.gradient(loss, opt.variables)])
        losses.append(float(loss))
    decays = [d for _, _, d in variable_groups(model, UNIFORM)]
    assert decays == [True, False] * 6  # kernels decay, biases do not
    loss = make_accumulated_update_fn(model, opt)(batch, 1.0)
    assert loss == pytest.approx(np.mean(losses), rel=1e-6)
    for var, w0, decay, *gs in zip(opt.variables, before, decays, *grads):
        expected = w0 - lr * (np.mean(gs, axis=0) + (wd * w0 if decay else 0.0))
        np.testing.assert_allclose(np.asarray(var), expected, rtol=1e-5, atol=1e-6)


def test_multipliers_scale_the_step_per_group():
    model = tiny_model()
    mult = LrMultipliers(
        trunk_kernel=1.0, trunk_bias=2.0, score_kernel=0.1, score_bias=0.2, fuse_kernel=0.01, fuse_bias=0.02
    )
    got = {v.path: m for v, m, _ in variable_groups(model, mult)}
    assert got == {
        "block1_conv1/kernel": 1.0,
        "block1_conv1/bias": 2.0,
        **{f"side{k}_score/kernel": 0.1 for k in (2, 3, 4, 5)},
        **{f"side{k}_score/bias": 0.2 for k in (2, 3, 4, 5)},
        "fuse/kernel": 0.01,
        "fuse/bias": 0.02,
    }


def test_empty_accumulation_and_divergence_are_reported():
    model = tiny_model()
    update = make_accumulated_update_fn(model, GroupedOptimizer(model, UNIFORM))
    with pytest.raises(ValueError, match="at least one"):
        update([], 1.0)
    check_finite_loss(0.3, "Contour training", 4)
    with pytest.raises(FloatingPointError, match="Contour training diverged at update 4: loss nan"):
        check_finite_loss(float("nan"), "Contour training", 4)
