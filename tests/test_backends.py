"""One network definition for both backends (issue #14 item 1): the same weights give the same logits and
losses under TensorFlow (the package's backend: fine-tuning) and JAX (the GPU parent trainer), the same
augmentation (resize, threshold), and two SGD-momentum updates with the per-layer learning-rate
multipliers and weight decay give the same weights. JAX runs on its CPU backend in a subprocess
(tests/backend_jax_side.py), since Keras fixes its backend at import."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("jax", reason="jax is not installed (pip install -e '.[test]' installs it)")

HERE = Path(__file__).resolve().parent


@pytest.mark.slow
def test_tensorflow_and_jax_give_the_same_logits_losses_and_updates(tmp_path):
    import tensorflow as tf

    from osvos_tf.config import ORIGINAL_LR_MEAN_LOSS, LrMultipliers
    from osvos_tf.data import resize_pair
    from osvos_tf.losses import deep_supervision_loss
    from osvos_tf.model import build_osvos, preprocess
    from osvos_tf.optimizer import GroupedOptimizer
    from osvos_tf.parents import preset_path
    from osvos_tf.training import make_update_fn
    from osvos_tf.weights import load_checkpoint, save_checkpoint

    rng = np.random.default_rng(0)
    h, w = 37, 53  # odd: exercises the crops and the half-to-even rounding of the 0.5 scale (18.5 -> 18)
    image = np.clip(rng.normal(120, 60, (h, w, 3)), 0, 255).astype(np.uint8)
    mask = np.zeros((h, w), bool)
    mask[8:27, 12:40] = True
    sizes = np.array([[h, w], [18, 26]])
    lr, side_weight = ORIGINAL_LR_MEAN_LOSS * 10, 0.5

    model = build_osvos(side_outputs=True, seed=3)
    load_checkpoint(model, preset_path("osvos_davis2016_cpu"))  # real-scale weights: logits of a trained net
    save_checkpoint(model, tmp_path / "weights.h5")
    np.savez(tmp_path / "inputs.npz", image=image, mask=mask, sizes=sizes, lr=lr, side_weight=side_weight)
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, str(HERE / "backend_jax_side.py"), str(tmp_path)], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    jax_out = np.load(tmp_path / "jax.npz")

    x0 = preprocess(image.astype(np.float32))
    m0 = tf.constant(mask[..., None].astype(np.float32))
    diffs, loss_diffs, step_diffs = [], [], []
    for k, (sh, sw) in enumerate(sizes):
        x, label = resize_pair(x0, m0, float(sh) / h) if (sh, sw) != (h, w) else (x0, m0)
        assert tuple(x.shape[:2]) == (sh, sw)
        np.testing.assert_array_equal(np.asarray(label)[None], jax_out[f"label_{k}"])  # the same mask pixels
        outputs = model(x[None], training=False)
        for i, logits in enumerate(outputs):
            got, want = jax_out[f"logits_{k}_{i}"], np.asarray(logits)
            diffs.append(np.abs(got - want).max() / np.abs(want).max())
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * np.abs(want).max(), err_msg=f"size {k} out {i}")
        total, fused, sides = deep_supervision_loss(label[None], model(x[None], training=True), side_weight)
        want_losses = np.concatenate([[float(total), float(fused)], np.asarray(sides)])
        loss_diffs.append(np.abs(jax_out[f"losses_{k}"] / want_losses - 1).max())
        np.testing.assert_allclose(jax_out[f"losses_{k}"], want_losses, rtol=1e-5)

    opt = GroupedOptimizer(model, LrMultipliers(), "sgd", 0.9, 2e-4)
    before = {v.path: np.asarray(v) for v in opt.variables}
    opt.set_learning_rate(lr)
    update = make_update_fn(model, opt)
    for _ in range(2):
        update(x0[None], m0[None], tf.constant(side_weight, tf.float32))
    moved = 0
    for var in opt.variables:
        step_tf = np.asarray(var) - before[var.path]
        step_jax = jax_out[f"weight:{var.path}"] - before[var.path]
        scale = np.abs(step_tf).max()
        assert scale > 0, f"{var.path} did not move"
        step_diffs.append(np.abs(step_jax - step_tf).max() / scale)
        np.testing.assert_allclose(step_jax, step_tf, rtol=0, atol=2e-3 * scale, err_msg=var.path)
        moved += 1
    print(f"logits {max(diffs):.2e}, losses {max(loss_diffs):.2e}, weight steps {max(step_diffs):.2e} (relative)")
    assert moved == len(opt.variables) == 44  # kernel and bias of 13 VGG, 4 prep, 4 score convs and the fuse
