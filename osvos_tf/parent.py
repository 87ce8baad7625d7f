"""Offline training of the OSVOS parent network on DAVIS: deep supervision, checkpoints, resume, TensorBoard.

The run folder (``out_dir``) holds:

* ``config.json``: the :class:`~osvos_tf.config.ParentTrainConfig` of the run as recorded (a resumed run
  reuses it). Files are recorded by identity, never by a machine path: ``init_checkpoint`` and a
  checkpoint ``base_weights`` become the parent preset's name or ``sha256:<hex>``
  (:attr:`osvos_tf.parents.ParentSource.id`; see :func:`recorded_config`);
* ``ckpt-<step>.h5`` (+ ``.json``): model weights by layer name, the last ``keep_checkpoints`` kept;
  ``ckpt-<step>.optimizer.npz``: optimizer state; ``latest.json``: which checkpoint is the newest. Every file
  is written atomically and ``latest.json`` last, so ``kill -9`` at any moment (even mid-checkpoint) leaves
  the previous complete checkpoint in force, and ``resume=True`` continues from it;
* ``tensorboard/``: side / fused / total losses, learning rate, step time, and input / mask / prediction images;
* ``parent.h5`` (+ ``.json``): the final weights, loadable with ``OSVOS.from_checkpoint``.

Reproducibility: a run is a function of its config (``seed`` included) and its data. The new layers are
initialised from ``config.seed`` (:func:`osvos_tf.model.build_osvos`), and the image order, scales, flips
and crops are stateless functions of ``config.seed`` and the image's position in the data stream
(:func:`osvos_tf.data.parent_dataset`; ``shuffle_buffer`` is unused: every epoch is a full permutation).
A resumed run restores the model, optimizer, step counter and schedule and continues the data stream
where the checkpoint left it, so it follows the same path as an uninterrupted run. Measured on one machine
(tests/test_parent.py): two runs of the same config, and a run resumed mid-way, end bit-identical; another
seed differs by ~6e-3. Another machine or thread count may differ at float32 rounding (oneDNN's summation
order).

One update = ``accumulate`` images (the original ``iter_size``), processed ``micro_batch`` at a time with
their gradients averaged. The update runs under a ``tf.distribute`` strategy (the default one unless you
pass e.g. ``tf.distribute.MirroredStrategy()``); the ``accumulate`` images of an update are split across the
replicas, so results do not depend on the number of devices (up to summation order: 1.5e-8 after 3 updates
with 2 replicas against 1, measured).

Before anything is trained or written, every (frame, mask) pair is decoded once
(:func:`osvos_tf.data.check_training_pairs`): a corrupt, empty or mis-sized file is reported by name.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from osvos_tf.atomic import atomic_path, write_json_atomic
from osvos_tf.config import ParentTrainConfig, save_config
from osvos_tf.data import check_training_pairs, parent_dataset
from osvos_tf.davis import davis_pairs
from osvos_tf.losses import deep_supervision_loss
from osvos_tf.parent_run import (
    LATEST,
    build_parent,
    check_max_updates,
    describe_pairs,
    latest_checkpoint,
    recorded_config,
    run_config,
)
from osvos_tf.progress import Progress
from osvos_tf.training import log_images
from osvos_tf.weights import load_checkpoint, save_checkpoint

_CHECKPOINT_FILE = re.compile(r"ckpt-(\d+)\.(h5|json|optimizer\.npz)")


def _check_recipe(config: ParentTrainConfig) -> None:
    """The parts of a recipe :meth:`ParentTrainConfig.validate` leaves to parent training."""
    config.validate()
    if config.crop is None:
        raise ValueError(
            "Parent training batches images: set crop=(height, width) (e.g. (480, 854) for "
            "whole 480p frames; smaller frames are padded)."
        )
    for name in ("checkpoint_every", "keep_checkpoints", "image_summary_every"):
        if getattr(config, name) < 1:
            raise ValueError(f"ParentTrainConfig.{name} must be >= 1, got {getattr(config, name)!r}.")


# --------------------------------------------------------------------------------------------------
# The trainer: model, optimizer, compiled update, checkpoints
# --------------------------------------------------------------------------------------------------
class ParentTrainer:
    """Holds the model, optimizer and compiled update of a parent-training run (see the module docstring).

    Args:
        config: the recipe. ``init_checkpoint`` / ``base_weights`` may be paths or preset names (to load)
            or records (:func:`source_id`; enough when ``initialise`` is False).
        strategy: a ``tf.distribute.Strategy`` (default: the current one).
        initialise: load the initial weights (``config.init_checkpoint`` or the base weights). False when the
            weights come from :meth:`restore` next (a resumed run no longer needs the initial files).

    Attributes:
        step: updates done (0 for a new run; the checkpoint's after :meth:`restore`).
    """

    def __init__(
        self, config: ParentTrainConfig, strategy: tf.distribute.Strategy | None = None, initialise: bool = True
    ):
        _check_recipe(config)
        self.config = config
        self.strategy = strategy or tf.distribute.get_strategy()
        replicas = self.strategy.num_replicas_in_sync
        if config.accumulate % replicas or (config.accumulate // replicas) % config.micro_batch:
            raise ValueError(
                f"accumulate ({config.accumulate}) must split evenly over {replicas} replicas into "
                f"micro-batches of {config.micro_batch}."
            )
        with self.strategy.scope():
            self.model, self.optimizer = build_parent(config, initialise)
        self.step = 0
        self._recorded: ParentTrainConfig | None = None
        self._update = self._make_update()

    @property
    def recorded_config(self) -> ParentTrainConfig:
        """The config as checkpoints and the run folder record it (:func:`recorded_config`)."""
        if self._recorded is None:
            self._recorded = recorded_config(self.config)
        return self._recorded

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

    def update(self, batch, learning_rate: float, side_weight: float) -> np.ndarray:
        """One update (does not advance :attr:`step`).

        Args:
            batch: ``(images, labels)`` of ``accumulate`` images, as :meth:`dataset` yields them: float32
                (N, h, w, 3) preprocessed and float32 (N, h, w, 1) in {0, 1} (per replica under a strategy).
            learning_rate: the base learning rate of this update.
            side_weight: the weight of the side losses.

        Returns:
            float32 (6,): the total, fused and side2..side5 losses, each the mean over the update's images.
        """
        self.optimizer.set_learning_rate(learning_rate)
        metrics: np.ndarray = self._update(batch, tf.constant(side_weight, tf.float32)).numpy()
        return metrics

    def dataset(self, pairs: Sequence[tuple[str, str]]):
        """The run's batches of ``accumulate`` images from update :attr:`step` on, distributed over the
        strategy's replicas (:func:`osvos_tf.data.parent_dataset` with the config's augmentation and seed)."""
        cfg = self.config
        ds = parent_dataset(
            pairs,
            cfg.scales,
            cfg.flip,
            cfg.base_scale,
            cfg.crop,
            batch_size=cfg.accumulate,
            seed=cfg.seed,
            start=self.step * cfg.accumulate,
        )
        return self.strategy.experimental_distribute_dataset(ds)

    def save(self, out_dir: str | os.PathLike) -> None:
        """Write checkpoint ``ckpt-<step>`` (weights, optimizer state), then point ``latest.json`` at it, then
        delete the checkpoints beyond the newest ``keep_checkpoints`` (see the module docstring)."""
        out_dir = Path(out_dir)
        name = f"ckpt-{self.step:06d}"
        weights = out_dir / f"{name}.h5"
        opt_path = out_dir / f"{name}.optimizer.npz"
        with atomic_path(opt_path) as tmp, open(tmp, "wb") as f:
            np.savez(f, *self.optimizer.state())
        save_checkpoint(self.model, weights, self.recorded_config, step=self.step)
        write_json_atomic(
            out_dir / LATEST, {"step": self.step, "weights": weights.name, "optimizer": opt_path.name}, sort_keys=True
        )
        self._prune(out_dir)

    def _prune(self, out_dir: Path) -> None:
        """Delete old checkpoints, checkpoints newer than this one (left by a run killed before it wrote
        ``latest.json``, then resumed from an older one) and temporary files of killed writes."""
        by_step: dict[int, list[Path]] = {}
        for path in out_dir.glob("ckpt-*"):
            match = _CHECKPOINT_FILE.fullmatch(path.name)
            if match:
                by_step.setdefault(int(match[1]), []).append(path)
        keep = sorted(s for s in by_step if s <= self.step)[-self.config.keep_checkpoints :]
        doomed = [p for s, paths in by_step.items() if s not in keep for p in paths]
        doomed += [*out_dir.glob("ckpt-*.tmp"), *out_dir.glob(".ckpt-*.tmp"), *out_dir.glob(f".{LATEST}.*.tmp")]
        for path in doomed:
            path.unlink(missing_ok=True)

    def restore(self, out_dir: str | os.PathLike) -> None:
        """Load the model, optimizer state and step of the run folder's newest checkpoint."""
        out_dir = Path(out_dir)
        latest = latest_checkpoint(out_dir)
        if latest is None:
            raise FileNotFoundError(f"No checkpoint to resume from in {out_dir} ({LATEST} is missing).")
        load_checkpoint(self.model, out_dir / latest["weights"])
        with np.load(out_dir / latest["optimizer"]) as data:
            self.optimizer.set_state([data[f"arr_{i}"] for i in range(len(data.files))])
        self.step = int(latest["step"])


# --------------------------------------------------------------------------------------------------
# train_parent and its steps
# --------------------------------------------------------------------------------------------------
def _training_pairs(
    davis_root: str | os.PathLike | None, pairs: Sequence[tuple[str, str]] | None
) -> list[tuple[str, str]]:
    if pairs is not None:
        return [(os.fspath(f), os.fspath(m)) for f, m in pairs]
    if davis_root is None:
        raise ValueError("Give davis_root (a DAVIS folder; its train split is used) or pairs; got neither.")
    return davis_pairs(davis_root, "train")


def _log_update(writer, trainer: ParentTrainer, batch, metrics: np.ndarray, lr: float, side_weight: float, dt: float):
    """TensorBoard scalars of the update just done (:attr:`ParentTrainer.step` is its 1-based number), and
    images every ``image_summary_every`` updates."""
    with writer.as_default(step=trainer.step):
        tf.summary.scalar("loss/total", metrics[0])
        tf.summary.scalar("loss/fused", metrics[1])
        for k, v in zip((2, 3, 4, 5), metrics[2:]):
            tf.summary.scalar(f"loss/side{k}", v)
        tf.summary.scalar("learning_rate", lr)
        tf.summary.scalar("side_weight", side_weight)
        tf.summary.scalar("step_seconds", dt)
        if trainer.step % trainer.config.image_summary_every == 0 or trainer.step == 1:
            images, labels = (trainer.strategy.experimental_local_results(t)[0] for t in batch)
            log_images(trainer.model, images[:1], labels[:1])


def _train_until(trainer: ParentTrainer, pairs: Sequence[tuple[str, str]], out_dir: Path, end: int, progress: bool):
    """Updates ``trainer.step`` .. ``end - 1``, logged to TensorBoard, with a checkpoint every
    ``checkpoint_every`` updates and at ``end``."""
    config = trainer.config
    (out_dir / "tensorboard").mkdir(exist_ok=True)
    save_config(trainer.recorded_config, out_dir / "tensorboard" / "config.json")
    writer = tf.summary.create_file_writer(str(out_dir / "tensorboard"))
    iterator = iter(trainer.dataset(pairs))
    bar = Progress(end - trainer.step, f"parent (updates {trainer.step}->{end})", enabled=progress, every_s=30)
    while trainer.step < end:
        lr, side_weight = config.lr_at(trainer.step), config.side_weight_at(trainer.step)
        t0 = time.perf_counter()
        batch = next(iterator)
        metrics = trainer.update(batch, lr, side_weight)
        dt = time.perf_counter() - t0
        if not np.all(np.isfinite(metrics)):
            raise FloatingPointError(
                f"Parent training diverged at update {trainer.step}: losses {metrics}. "
                f"The last good checkpoint is in {out_dir}; lower the learning rate."
            )
        trainer.step += 1
        _log_update(writer, trainer, batch, metrics, lr, side_weight, dt)
        bar.update(status=f"loss {metrics[0]:.4f} (fused {metrics[1]:.4f}) lr {lr:.2e} {dt:.1f}s")
        if trainer.step % config.checkpoint_every == 0 or trainer.step == end:
            trainer.save(out_dir)
            writer.flush()
    bar.close()
    writer.flush()


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
    """Train (or resume training) a parent network; returns the path of the final ``parent.h5`` (or of the
    newest checkpoint when the schedule is not finished).

    Args:
        davis_root: DAVIS folder (its train split is used); ignored if ``pairs`` is given.
        out_dir: run folder (see the module docstring). A new run refuses a folder that already holds a
            run; pass ``resume=True`` to continue it.
        config: the recipe (default: the original). With ``resume``, the run's saved config is used and a
            different ``config`` raises (files are compared by their records, :func:`source_id`).
        strategy: a ``tf.distribute.Strategy`` (default: the current one).
        pairs: (frame path, mask path) training pairs instead of DAVIS.
        max_updates: stop after this many updates (>= 1) in this call (a checkpoint is written), e.g. to
            train in slices; the run continues with ``resume=True``.
        progress: progress bars on stderr (the check of the training set, then the updates).

    Raises:
        ValueError: a bad ``max_updates`` or recipe, an unusable training pair (every one is named, before
            anything is written), a resumed run given a different config.
        FileExistsError, FileNotFoundError: a new run in a used folder; a resume without a run.
        FloatingPointError: the losses diverged (the last checkpoint stays).
    """
    check_max_updates(max_updates)
    source = "DAVIS train split" if pairs is None else "given pairs"
    out_dir = Path(out_dir)
    config = run_config(out_dir, config, resume)
    _check_recipe(config)
    pairs = _training_pairs(davis_root, pairs)
    check_training_pairs(pairs, progress=progress)
    resuming = resume and latest_checkpoint(out_dir) is not None
    trainer = ParentTrainer(config, strategy, initialise=not resuming)
    if resuming:
        trainer.restore(out_dir)
    elif not resume:
        out_dir.mkdir(parents=True, exist_ok=True)
        save_config(trainer.recorded_config, out_dir / "config.json")
    end = config.total_steps if max_updates is None else min(config.total_steps, trainer.step + max_updates)
    _train_until(trainer, pairs, out_dir, end, progress)
    final = out_dir / "parent.h5"
    if trainer.step >= config.total_steps:
        save_checkpoint(
            trainer.model, final, trainer.recorded_config, step=trainer.step, data=describe_pairs(pairs, source)
        )
    latest = latest_checkpoint(out_dir)
    return final if final.exists() or latest is None else out_dir / latest["weights"]
