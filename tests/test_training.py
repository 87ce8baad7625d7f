"""The shared optimisation machinery (osvos_tf.training): one-image and accumulated updates, weight decay,
the divergence check. On a tiny model whose layer names pick the learning-rate groups."""

import numpy as np
import pytest

from osvos_tf.config import LOSS_PIXELS, LrMultipliers, decay_for_mean_loss
from osvos_tf.optimizer import GroupedOptimizer, variable_groups
from osvos_tf.training import check_finite_loss, make_accumulated_update_fn, make_update_fn

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
        opt.set_learning_rate(1e-2)
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
    lr, wd = 0.1, 0.05 * LOSS_PIXELS  # a decay of 0.05 on the pixel-averaged gradient
    opt = GroupedOptimizer(model, UNIFORM, "sgd", momentum=0.0, weight_decay=wd)
    opt.set_learning_rate(lr)
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
        expected = w0 - lr * (np.mean(gs, axis=0) + (decay_for_mean_loss(wd) * w0 if decay else 0.0))
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


def test_mean_loss_update_is_the_original_summed_loss_update_on_a_480p_frame():
    """On an 854x480 frame, one SGD step of osvos_tf (pixel-averaged loss, lr x 854 * 480, decay applied as
    2e-4 / (854 * 480)) equals the original's (pixel-summed loss, lr, decay 2e-4), with the per-layer
    multipliers: the data term with decay off, and the decay term alone (zero data gradient). Both sides are
    linear in lr; the original's 1e-8 would move float32 weights by less than their rounding, so both terms are
    checked at lr 1 (ORIGINAL_LR_MEAN_LOSS * 1e8 on our side)."""
    import numpy as np
    import tensorflow as tf

    from osvos_tf.config import LOSS_PIXELS, ORIGINAL_LR_MEAN_LOSS, LrMultipliers
    from osvos_tf.losses import balanced_bce_with_logits
    from osvos_tf.model import build_osvos
    from osvos_tf.optimizer import GroupedOptimizer, variable_groups

    rng = np.random.default_rng(0)
    image = tf.constant(rng.normal(0, 50, (1, 480, 854, 3)).astype(np.float32))
    label = np.zeros((1, 480, 854, 1), np.float32)
    label[:, 100:300, 200:500] = 1.0
    multipliers = LrMultipliers()

    def grads(model):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(balanced_bce_with_logits(label, model(image, training=True)))
        return tape.gradient(loss, [v for v, _, _ in variable_groups(model, multipliers)])

    for weight_decay, zero_data, lr_sum in ((0.0, False, 1.0), (2e-4, True, 1.0)):
        model = build_osvos(seed=1)
        groups = variable_groups(model, multipliers)
        before = [np.asarray(v) for v, _, _ in groups]
        g_mean = [tf.zeros_like(b) if zero_data else g for g, b in zip(grads(model), before)]
        # the summed loss is LOSS_PIXELS x the mean on this frame, so is its gradient (linearity; two separate
        # backward passes would differ by float32 summation noise of up to 2 % in near-cancelling bias gradients)
        g_sum = [LOSS_PIXELS * np.asarray(g) for g in g_mean]
        # the original (Caffe SGD, first step from zero momentum): w - lr * lr_mult * (g_sum + wd * w)
        expected = [
            w - lr_sum * mult * (g + (weight_decay * w if decays else 0.0))
            for w, g, (_, mult, decays) in zip(before, g_sum, groups)
        ]
        opt = GroupedOptimizer(model, multipliers, "sgd", 0.9, weight_decay)
        opt.set_learning_rate(ORIGINAL_LR_MEAN_LOSS * lr_sum / 1e-8)
        opt.apply(g_mean)
        for (var, _, _), w0, want in zip(groups, before, expected):
            step, want_step = np.asarray(var) - w0, want - w0
            scale = np.abs(want_step).max()
            if scale == 0:  # biases under decay alone do not move
                assert np.abs(step).max() == 0, var.path
                continue
            np.testing.assert_allclose(step, want_step, rtol=0, atol=2e-3 * scale, err_msg=var.path)


def _clip(n_frames=2, h=24, w=32, seed=3):
    rng = np.random.default_rng(seed)
    frames = [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for _ in range(n_frames)]
    masks = [np.zeros((h, w), bool) for _ in range(n_frames)]
    for k, m in enumerate(masks):
        m[4 + k : 16, 6 : 20 + k] = True
    return frames, masks


def test_without_coarse_updates_the_copies_and_draws_are_the_original_recipe():
    from osvos_tf.config import FineTuneConfig
    from osvos_tf.data import augmented_variants
    from osvos_tf.training import _variant_pools

    frames, masks = _clip()
    config = FineTuneConfig(coarse_updates=0, compute_dtype="float32")
    variants, (_, main) = _variant_pools(frames, masks, [None, None], config)
    expected = [v for f, m in zip(frames, masks) for v in augmented_variants(f, m, config.scales, config.flip)]
    assert main == list(range(len(expected))) == list(range(len(variants)))
    for (image, label), (image_e, label_e) in zip(variants, expected):
        np.testing.assert_array_equal(image.numpy(), image_e.numpy())
        np.testing.assert_array_equal(label.numpy(), label_e.numpy())


def test_coarse_pool_holds_the_coarse_sizes_and_adds_only_missing_scales():
    from osvos_tf.config import FineTuneConfig
    from osvos_tf.training import _variant_pools

    frames, masks = _clip(h=40, w=64)
    inside = FineTuneConfig(coarse_updates=5, coarse_scales=(0.5,), compute_dtype="float32")
    variants, (coarse, main) = _variant_pools(frames, masks, [None, None], inside)
    assert len(variants) == 2 * 3 * 2  # 0.5 is one of the main scales: no extra copy
    assert {tuple(variants[i][0].shape[1:3]) for i in coarse} == {(20, 32)} and len(coarse) == 4
    outside = FineTuneConfig(scales=(1.0,), coarse_updates=5, coarse_scales=(0.25, 0.25), compute_dtype="float32")
    variants, (coarse, main) = _variant_pools(frames, masks, [None, None], outside)
    assert len(variants) == 8 and main == [0, 1, 2, 3] and coarse == [4, 5, 6, 7]
    assert {tuple(variants[i][0].shape[1:3]) for i in coarse} == {(10, 16)}
    assert {tuple(variants[i][0].shape[1:3]) for i in main} == {(40, 64)}


def test_coarse_updates_are_a_plain_run_at_the_coarse_scales():
    """Every update coarse (coarse_updates >= iterations) = the original recipe with scales = coarse_scales:
    the same copies, the same draws, so the same weights exactly."""
    from osvos_tf.config import FineTuneConfig
    from osvos_tf.training import finetune

    frames, masks = _clip()
    coarse = FineTuneConfig(
        iterations=4, scales=(1.0,), coarse_updates=4, coarse_scales=(0.5,), learning_rate=0.1, compute_dtype="float32"
    )
    plain = FineTuneConfig(iterations=4, scales=(0.5,), learning_rate=0.1, compute_dtype="float32")
    a, b = tiny_model(), tiny_model()
    finetune(a, frames, masks, coarse, progress=False)
    finetune(b, frames, masks, plain, progress=False)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert any(not np.array_equal(wa, w0) for wa, w0 in zip(a.get_weights(), tiny_model().get_weights()))
