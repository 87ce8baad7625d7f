"""Parent training: the tf.data pipeline, a short run, checkpoints, resume and MirroredStrategy."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from osvos_tf.config import ParentTrainConfig
from osvos_tf.data import davis_pairs, decode_mask, parent_dataset
from osvos_tf.model import MEAN_BGR
from osvos_tf.synthetic import write_davis_tree


def make_davis(root, sequences=("a", "b"), n=4, h=48, w=64):
    return write_davis_tree(root, sequences, n, h, w, image_set=None, db_info=False, seed=0)


@pytest.fixture(scope="module")
def tiny_davis(tmp_path_factory):
    return make_davis(tmp_path_factory.mktemp("davis"))


def test_pairs_from_tree_and_imagesets(tiny_davis, tmp_path):
    pairs = davis_pairs(tiny_davis)
    assert len(pairs) == 8 and pairs[0][0].endswith("a/00000.jpg") and pairs[0][1].endswith("a/00000.png")
    sets = tiny_davis / "ImageSets" / "480p"
    sets.mkdir(parents=True, exist_ok=True)
    (sets / "train.txt").write_text("/JPEGImages/480p/b/00001.jpg /Annotations/480p/b/00001.png\n")
    assert [p[0].split("/")[-2:] for p in davis_pairs(tiny_davis)] == [["b", "00001.jpg"]]
    (sets / "train.txt").unlink()
    with pytest.raises(FileNotFoundError, match="not found"):
        davis_pairs(tmp_path)


def test_decode_mask_rules():
    gray = tf.io.encode_png(tf.constant([[[0], [127], [128], [255]]], tf.uint8))
    np.testing.assert_array_equal(decode_mask(gray).numpy()[..., 0], [[0, 0, 1, 1]])
    labels01 = tf.io.encode_png(tf.constant([[[0], [1]]], tf.uint8))
    np.testing.assert_array_equal(decode_mask(labels01).numpy()[..., 0], [[0, 1]])
    rgb = tf.io.encode_png(tf.constant([[[0, 0, 0], [64, 0, 0]]], tf.uint8))
    np.testing.assert_array_equal(decode_mask(rgb).numpy()[..., 0], [[0, 1]])


def test_pipeline_keeps_pairs_aligned_and_binary(tmp_path):
    """An image whose colour encodes the mask: after flips, scales and crops the two must still agree."""
    root = tmp_path / "d"
    (root / "JPEGImages" / "480p" / "s").mkdir(parents=True)
    (root / "Annotations" / "480p" / "s").mkdir(parents=True)
    mask = np.zeros((60, 80), bool)
    mask[10:40, 5:30] = True  # off-centre, so a wrong flip would show
    image = np.where(mask[..., None], 250, 5).astype(np.uint8).repeat(3, -1)
    Image.fromarray(image).save(root / "JPEGImages" / "480p" / "s" / "00000.png")
    Image.fromarray(np.where(mask, 255, 0).astype(np.uint8)).save(root / "Annotations" / "480p" / "s" / "00000.png")
    pairs = [(str(root / "JPEGImages/480p/s/00000.png"), str(root / "Annotations/480p/s/00000.png"))] * 2
    for crop in (None, (32, 40)):
        ds = parent_dataset(pairs, scales=(0.5, 0.8, 1.0), crop=crop, batch_size=1, seed=3)
        shapes = set()
        for images, labels in ds.take(24):
            img, lab = images.numpy()[0], labels.numpy()[0, ..., 0]
            shapes.add(img.shape[:2])
            assert set(np.unique(lab)) <= {0.0, 1.0}
            bright = (img[..., 0] + MEAN_BGR[0]) > 127.5  # blue channel of the BGR input
            agree = (bright == (lab > 0.5)).mean()
            assert agree > 0.97, agree
            if crop is not None:
                assert lab.any(), "object-aware crops contain foreground"
        if crop is None:
            assert len(shapes) == 3  # three scales seen
        else:
            assert shapes == {crop}


def tiny_config(**kw):
    base = dict(
        phase_steps=(3, 5, 6),
        side_weights=(1.0, 0.5, 0.0),
        lr_boundaries=(4,),
        lr_values=(4e-3, 4e-4),
        accumulate=2,
        micro_batch=1,
        crop=(32, 48),
        checkpoint_every=2,
        keep_checkpoints=2,
        image_summary_every=2,
        shuffle_buffer=16,
    )
    base.update(kw)
    return ParentTrainConfig(**base)


def test_schedule_matches_the_original():
    cfg = ParentTrainConfig()
    assert [cfg.side_weight_at(s) for s in (0, 14999, 15000, 29999, 30000, 49999)] == [1, 1, 0.5, 0.5, 0, 0]
    lr = cfg.lr_values[0]
    assert [cfg.lr_at(s) / lr for s in (0, 9999, 10000, 15000, 25000, 30000, 40000)] == pytest.approx(
        [1, 1, 0.1, 1, 0.1, 1, 0.1]
    )
    assert cfg.accumulate == 10 and cfg.momentum == 0.9 and cfg.weight_decay == 2e-4


def test_short_run_lowers_loss_checkpoints_and_resumes(tiny_davis, tmp_path):
    from osvos_tf.parent import ParentTrainer, latest_checkpoint, train_parent
    from osvos_tf.weights import read_checkpoint

    out = tmp_path / "run"
    cfg = tiny_config(optimizer="adam", lr_values=(1e-4, 1e-5))
    train_parent(tiny_davis, out, cfg, max_updates=4, progress=False)
    latest = latest_checkpoint(out)
    assert latest["step"] == 4
    assert len(list(out.glob("ckpt-*.h5"))) == 2  # keep_checkpoints
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    assert json.loads((out / "config.json").read_text())["accumulate"] == 2
    with pytest.raises(FileExistsError, match="resume"):
        train_parent(tiny_davis, out, cfg, max_updates=1, progress=False)

    # the resumed trainer holds exactly the saved model and optimizer state at the saved step
    saved = np.load(out / latest["optimizer"])
    trainer = ParentTrainer(cfg)
    trainer.restore(out)
    assert trainer.step == 4
    for a, b in zip(trainer.optimizer.state(), [saved[f"arr_{i}"] for i in range(len(saved.files))]):
        np.testing.assert_array_equal(a, b)
    weights, _ = read_checkpoint(out / latest["weights"])
    np.testing.assert_array_equal(trainer.model.get_layer("fuse").get_weights()[0], weights["fuse"][0])

    final = train_parent(tiny_davis, out, resume=True, progress=False)
    assert final.name == "parent.h5" and latest_checkpoint(out)["step"] == 6


def test_training_lowers_the_loss_on_a_fixed_batch(tiny_davis):
    from osvos_tf.parent import ParentTrainer

    cfg = tiny_config(optimizer="adam", lr_values=(1e-4, 1e-4))
    trainer = ParentTrainer(cfg)
    ds = parent_dataset(davis_pairs(tiny_davis), scales=(1.0,), flip=False, crop=(32, 48), batch_size=2, seed=0)
    batch = next(iter(ds))
    trainer.optimizer.learning_rate.assign(1e-4)
    losses = [float(trainer._update(batch, tf.constant(1.0))[1]) for _ in range(12)]
    assert losses[-1] < 0.8 * losses[0], losses


def test_mirrored_strategy_on_two_logical_cpus(tiny_davis, tmp_path):
    script = textwrap.dedent(f"""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from osvos_tf.config import ParentTrainConfig
        from osvos_tf.parent import train_parent, latest_checkpoint
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        assert strategy.num_replicas_in_sync == 2
        cfg = ParentTrainConfig(phase_steps=(2,), side_weights=(1.0,), lr_boundaries=(), lr_values=(1e-4,),
                                accumulate=2, micro_batch=1, crop=(32, 48), optimizer="adam", shuffle_buffer=8,
                                checkpoint_every=2)
        train_parent({str(tiny_davis)!r}, {str(tmp_path / "mirrored")!r}, cfg, strategy=strategy, progress=False)
        print("STEP", latest_checkpoint({str(tmp_path / "mirrored")!r})["step"])
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "STEP 2" in r.stdout


def test_init_checkpoint_warm_starts_every_layer(tmp_path):
    from osvos_tf.model import build_osvos
    from osvos_tf.parent import ParentTrainer
    from osvos_tf.weights import save_checkpoint

    source = build_osvos(side_outputs=True)
    rng = np.random.default_rng(1)
    for layer in source.layers:
        if layer.trainable_weights:
            layer.set_weights([rng.normal(0, 0.01, w.shape).astype(np.float32) for w in layer.get_weights()])
    path = save_checkpoint(source, tmp_path / "warm.h5", tiny_config())
    trainer = ParentTrainer(tiny_config(init_checkpoint=str(path)))
    for name in ("block1_conv1", "side3_prep", "side5_score", "fuse"):
        for a, b in zip(trainer.model.get_layer(name).get_weights(), source.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(FileNotFoundError):
        ParentTrainer(tiny_config(init_checkpoint=str(tmp_path / "missing.h5")))
    # a resumed run takes its weights from its own checkpoint: the initial file is not read (it may be gone)
    ParentTrainer(tiny_config(init_checkpoint=str(tmp_path / "missing.h5")), initialise=False)
