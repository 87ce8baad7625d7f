"""Offline training of the OSVOS parent network on DAVIS: deep supervision, checkpoints, resume, TensorBoard.

The run folder (``out_dir``) holds:

* ``config.json``: the :class:`~osvos_tf.config.ParentTrainConfig` of the run (a resumed run reuses it);
* ``ckpt-<step>.h5`` (+ ``.json``): model weights by layer name, the last ``keep_checkpoints`` kept;
  ``ckpt-<step>.optimizer.npz``: optimizer state; ``latest.json``: which checkpoint is the newest, written
  last and atomically, so ``kill -9`` at any moment leaves a consistent run that ``resume=True`` continues;
* ``tensorboard/``: side / fused / total losses, learning rate, step time, and input / mask / prediction images;
* ``parent.h5`` (+ ``.json``): the final weights, loadable with ``OSVOS.from_checkpoint``.

One update = ``accumulate`` images (the original ``iter_size``), processed ``micro_batch`` at a time with
their gradients averaged. The update runs under a ``tf.distribute`` strategy (the default one unless you
pass e.g. ``tf.distribute.MirroredStrategy()``); the ``accumulate`` images of an update are split across the
replicas, so results do not depend on the number of devices. After a resume the data order is re-drawn
from ``seed + step`` (the model, optimizer, step counter and schedule continue exactly).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from osvos_tf.config import ParentTrainConfig, config_to_dict, load_config, save_config
from osvos_tf.data import davis_pairs, parent_dataset
from osvos_tf.losses import deep_supervision_loss
from osvos_tf.model import build_osvos
from osvos_tf.progress import Progress
from osvos_tf.training import GroupedOptimizer, log_images
from osvos_tf.weights import load_checkpoint, load_vgg_weights, save_checkpoint

LATEST = "latest.json"


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)


def latest_checkpoint(out_dir: str | os.PathLike) -> dict | None:
    """``{'step': int, 'weights': path, 'optimizer': path}`` of the newest checkpoint, or None."""
    path = Path(out_dir) / LATEST
    if not path.is_file():
        return None
    return json.loads(path.read_text())


class ParentTrainer:
    """Holds the model, optimizer and compiled update of a parent-training run (see the module docstring).

    Args:
        config: the recipe.
        strategy: a ``tf.distribute.Strategy`` (default: the current one).
        base_weights: VGG16 initialisation: 'hed', 'imagenet' or a checkpoint path.
        initialise: load the initial weights (``config.init_checkpoint`` or the base weights). False when the
            weights come from :meth:`restore` next (a resumed run no longer needs the initial files).
    """

    def __init__(
        self,
        config: ParentTrainConfig,
        strategy: tf.distribute.Strategy | None = None,
        base_weights: str | None = None,
        initialise: bool = True,
    ):
        config.validate()
        if config.crop is None:
            raise ValueError(
                "Parent training batches images: set crop=(height, width) (e.g. (480, 854) for "
                "whole 480p frames; smaller frames are padded)."
            )
        self.config = config
        self.strategy = strategy or tf.distribute.get_strategy()
        replicas = self.strategy.num_replicas_in_sync
        if config.accumulate % replicas or (config.accumulate // replicas) % config.micro_batch:
            raise ValueError(
                f"accumulate ({config.accumulate}) must split evenly over {replicas} replicas into "
                f"micro-batches of {config.micro_batch}."
            )
        with self.strategy.scope():
            self.model = build_osvos(side_outputs=True, name="osvos_parent")
            if initialise and config.init_checkpoint and base_weights is None:
                load_checkpoint(self.model, config.init_checkpoint, strict=True)
            elif initialise:
                load_vgg_weights(self.model, base_weights or config.base_weights)
            self.optimizer = GroupedOptimizer(
                self.model, config.lr_multipliers, config.optimizer, config.momentum, config.weight_decay
            )
        self.step = 0
        self._update = self._make_update()

    def _make_update(self):
        model, optimizer, cfg = self.model, self.optimizer, self.config
        global_n = float(cfg.accumulate)
        micro = cfg.micro_batch

        def replica_fn(images, labels, side_weight):
            chunks = tf.shape(images)[0] // micro
            grads = [tf.zeros_like(v.value) for v in optimizer.variables]
            metrics = tf.zeros([6], tf.float32)  # total, fused, side2..side5 (sums over images / global_n)
            for i in tf.range(chunks):
                x = images[i * micro : (i + 1) * micro]
                y = labels[i * micro : (i + 1) * micro]
                with tf.GradientTape() as tape:
                    outputs = model(x, training=True)
                    total, fused, sides = deep_supervision_loss(y, outputs, side_weight)
                    scaled = total * (micro / global_n)
                step_grads = tape.gradient(scaled, optimizer.variables)
                grads = [g + sg for g, sg in zip(grads, step_grads)]
                metrics += tf.concat([[total, fused], sides], 0) * (micro / global_n)
            optimizer.apply(grads)
            return metrics

        @tf.function
        def update(batch, side_weight):
            images, labels = batch
            per_replica = self.strategy.run(replica_fn, args=(images, labels, side_weight))
            return self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

        return update

    def dataset(self, pairs: Sequence[tuple[str, str]], seed: int):
        cfg = self.config
        ds = parent_dataset(
            pairs,
            cfg.scales,
            cfg.flip,
            cfg.base_scale,
            cfg.crop,
            batch_size=cfg.accumulate,
            seed=seed,
            shuffle_buffer=cfg.shuffle_buffer,
        )
        return self.strategy.experimental_distribute_dataset(ds)

    def save(self, out_dir: Path) -> None:
        cfg = self.config
        name = f"ckpt-{self.step:06d}"
        weights = out_dir / f"{name}.h5"
        opt_path = out_dir / f"{name}.optimizer.npz"
        tmp = out_dir / f"{name}.optimizer.tmp.npz"
        np.savez(tmp, *self.optimizer.state())
        os.replace(tmp, opt_path)
        save_checkpoint(self.model, weights, cfg, step=self.step)
        _write_json_atomic(out_dir / LATEST, {"step": self.step, "weights": weights.name, "optimizer": opt_path.name})
        steps = sorted(int(p.stem.split("-")[1]) for p in out_dir.glob("ckpt-*.h5"))
        for old in steps[: -cfg.keep_checkpoints]:
            for suffix in (".h5", ".json", ".optimizer.npz"):
                (out_dir / f"ckpt-{old:06d}{suffix}").unlink(missing_ok=True)

    def restore(self, out_dir: Path) -> None:
        latest = latest_checkpoint(out_dir)
        if latest is None:
            raise FileNotFoundError(f"No checkpoint to resume from in {out_dir} ({LATEST} is missing).")
        load_checkpoint(self.model, out_dir / latest["weights"])
        with np.load(out_dir / latest["optimizer"]) as data:
            self.optimizer.set_state([data[f"arr_{i}"] for i in range(len(data.files))])
        self.step = int(latest["step"])


def train_parent(
    davis_root: str | os.PathLike | None,
    out_dir: str | os.PathLike,
    config: ParentTrainConfig | None = None,
    resume: bool = False,
    strategy: tf.distribute.Strategy | None = None,
    pairs: Sequence[tuple[str, str]] | None = None,
    max_updates: int | None = None,
    progress: bool = True,
) -> Path:
    """Train (or resume training) a parent network; returns the path of the final ``parent.h5``.

    Args:
        davis_root: DAVIS folder (its train split is used); ignored if ``pairs`` is given.
        out_dir: run folder (see the module docstring). A new run refuses a folder that already holds a
            run; pass ``resume=True`` to continue it.
        config: the recipe (default: the original). With ``resume``, the run's saved config is used and a
            different ``config`` raises.
        pairs: (frame path, mask path) training pairs instead of DAVIS.
        max_updates: stop after this many updates in this call (a checkpoint is written), e.g. to train in
            slices; the run continues with ``resume=True``.
    """
    out_dir = Path(out_dir)
    config_path = out_dir / "config.json"
    if resume:
        if not config_path.is_file():
            raise FileNotFoundError(f"Cannot resume: {config_path} not found. Start a new run without --resume.")
        saved = load_config(config_path)
        if config is not None and config_to_dict(config) != config_to_dict(saved):
            raise ValueError(
                f"Resuming {out_dir} with a config that differs from its saved config.json; "
                "drop --config to resume with the saved one, or start a new run folder."
            )
        config = saved
    else:
        if config_path.exists() or latest_checkpoint(out_dir):
            raise FileExistsError(
                f"{out_dir} already holds a training run. Pass resume=True (--resume) to "
                "continue it, or choose another folder."
            )
        config = config or ParentTrainConfig()
        out_dir.mkdir(parents=True, exist_ok=True)
        save_config(config, config_path)

    if pairs is None:
        if davis_root is None:
            raise ValueError("Give davis_root or pairs.")
        pairs = davis_pairs(davis_root, "train")
    resuming = bool(resume and latest_checkpoint(out_dir))
    trainer = ParentTrainer(config, strategy, initialise=not resuming)
    if resuming:
        trainer.restore(out_dir)
    (out_dir / "tensorboard").mkdir(exist_ok=True)
    save_config(config, out_dir / "tensorboard" / "config.json")
    writer = tf.summary.create_file_writer(str(out_dir / "tensorboard"))
    dist_ds = trainer.dataset(pairs, seed=config.seed + trainer.step)
    iterator = iter(dist_ds)
    end = config.total_steps if max_updates is None else min(config.total_steps, trainer.step + max_updates)
    bar = Progress(end - trainer.step, f"parent (updates {trainer.step}->{end})", enabled=progress, every_s=30)
    last_batch = None
    while trainer.step < end:
        step = trainer.step
        lr = config.lr_at(step)
        side_weight = config.side_weight_at(step)
        trainer.optimizer.learning_rate.assign(lr)
        t0 = time.perf_counter()
        last_batch = next(iterator)
        metrics = trainer._update(last_batch, tf.constant(side_weight, tf.float32)).numpy()
        dt = time.perf_counter() - t0
        if not np.all(np.isfinite(metrics)):
            raise FloatingPointError(
                f"Parent training diverged at update {step}: losses {metrics}. "
                f"The last good checkpoint is in {out_dir}; lower the learning rate."
            )
        trainer.step += 1
        with writer.as_default(step=trainer.step):
            tf.summary.scalar("loss/total", metrics[0])
            tf.summary.scalar("loss/fused", metrics[1])
            for k, v in zip((2, 3, 4, 5), metrics[2:]):
                tf.summary.scalar(f"loss/side{k}", v)
            tf.summary.scalar("learning_rate", lr)
            tf.summary.scalar("side_weight", side_weight)
            tf.summary.scalar("step_seconds", dt)
            if trainer.step % config.image_summary_every == 0 or trainer.step == 1:
                images, labels = (trainer.strategy.experimental_local_results(t)[0] for t in last_batch)
                log_images(trainer.model, images[:1], labels[:1])
        bar.update(status=f"loss {metrics[0]:.4f} (fused {metrics[1]:.4f}) lr {lr:.2e} {dt:.1f}s")
        if trainer.step % config.checkpoint_every == 0 or trainer.step == end:
            trainer.save(out_dir)
            writer.flush()
    bar.close()
    writer.flush()
    final = out_dir / "parent.h5"
    if trainer.step >= config.total_steps:
        save_checkpoint(trainer.model, final, config, step=trainer.step, davis_root=str(davis_root))
    return final if final.exists() else out_dir / latest_checkpoint(out_dir)["weights"]
