"""Parent training under JAX: the trainer for a GPU machine that has JAX and no TensorFlow.

The same network (:func:`osvos_tf.model.build_osvos`), loss (:func:`osvos_tf.losses.deep_supervision_loss`),
optimizer (:class:`osvos_tf.optimizer.GroupedOptimizer`, its stateless form), recipe
(:class:`osvos_tf.config.ParentTrainConfig`) and checkpoint format (:func:`osvos_tf.weights.save_checkpoint`)
as the TensorFlow trainer (:mod:`osvos_tf.parent`); only the loop and the data path differ:

* Data: a packed training set (:mod:`osvos_tf.packed_davis`: H.264 frames and bit-packed masks, small
  enough to send to the GPU machine) is decoded once and held on the device as uint8 (1,044 DAVIS frames at
  854x480: 1.3 GB). Each image is augmented on the device inside the compiled step: resized bilinearly by
  ``base_scale * scale`` (half-pixel centres, no antialiasing, as :func:`osvos_tf.data.resize_pair`; the
  mask resized the same way and thresholded at 0.5), flipped, preprocessed.
* Recipe: whole frames, one image per forward pass (``crop=None``, ``micro_batch=1``: the original's batch
  1 with ``iter_size`` = ``accumulate``), each image at its own scale; one compiled step per scale.
* Random choices are functions of ``config.seed`` and the image's position in the stream (numpy
  generators seeded with ``(seed, stream, position)``): each epoch is a permutation drawn from
  ``(seed, epoch)``, each image's scale and flip from ``(seed, position)``. The same distribution as the
  TensorFlow pipeline's, not the same draws.
* Output: ``out_dir/parent.h5`` (+ ``.json``: the recorded config, the update reached, the data record,
  the throughput), written every ``save_every_s`` seconds and at the end, so a command stopped at its time
  limit keeps the last save; with ``export_dir``, the checkpoint is also split into parts under 16 MiB
  there (:func:`osvos_tf.file_parts.split_file`; ``tools/join_parts.py`` joins them here) with its
  ``.json`` and ``train_log.json`` (losses and throughput).

There is no resume: a GPU lease is one command; to train further, start a new run with
``init_checkpoint`` set to the result (its record is its sha256).

Set ``KERAS_BACKEND=jax`` before anything imports Keras (:func:`check_backend` says so otherwise).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np
from keras import ops

from osvos_tf.atomic import write_json_atomic
from osvos_tf.config import ParentTrainConfig, config_to_dict, save_config
from osvos_tf.losses import deep_supervision_loss
from osvos_tf.model import preprocess
from osvos_tf.parent_run import build_parent, check_max_updates, recorded_config

# Purposes of the random streams (as osvos_tf.data's).
_ORDER_STREAM = 1
_AUGMENT_STREAM = 2


def check_backend() -> None:
    """Raise RuntimeError unless Keras runs on JAX."""
    if keras.backend.backend() != "jax":
        raise RuntimeError(
            f"The JAX parent trainer needs Keras's JAX backend; Keras runs on {keras.backend.backend()!r}. Set "
            "KERAS_BACKEND=jax in the environment before starting Python (it is read when Keras is first imported)."
        )


def check_jax_recipe(config: ParentTrainConfig) -> None:
    """The parts of a recipe the JAX trainer needs beyond :meth:`ParentTrainConfig.validate`."""
    config.validate()
    if config.crop is not None:
        raise ValueError(
            f"The JAX trainer trains on whole frames, one image per pass (crop=None, micro_batch=1, the original "
            f"recipe); got crop={config.crop!r}. Use tools/train_parent.py (TensorFlow) for crops."
        )


def scaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """The size of a (height, width) image resized by ``scale``: rounded (half to even, as ``tf.round``), >= 1."""
    return (max(1, int(np.round(height * scale))), max(1, int(np.round(width * scale))))


@dataclasses.dataclass(frozen=True)
class Draw:
    """One image of the stream: which pair, at which of ``config.scales``, flipped or not."""

    index: int
    scale: int
    flip: bool


class DataStream:
    """The run's images, a function of the seed and the stream position (see the module docstring).

    Args:
        n: number of training pairs (>= 1).
        config: the recipe (``seed``, ``scales``, ``flip``, ``accumulate``).
    """

    def __init__(self, n: int, config: ParentTrainConfig):
        if n < 1:
            raise ValueError("The training set is empty: a packed set with at least one frame is needed.")
        self.n = n
        self.config = config
        self._orders: dict[int, np.ndarray] = {}

    def _order(self, epoch: int) -> np.ndarray:
        if epoch not in self._orders:
            self._orders = {epoch: np.random.default_rng([self.config.seed, _ORDER_STREAM, epoch]).permutation(self.n)}
        return self._orders[epoch]

    def draw(self, position: int) -> Draw:
        u = np.random.default_rng([self.config.seed, _AUGMENT_STREAM, position]).random(2)
        scales = len(self.config.scales)
        return Draw(
            index=int(self._order(position // self.n)[position % self.n]),
            scale=min(int(u[0] * scales), scales - 1),
            flip=bool(self.config.flip and u[1] < 0.5),
        )

    def update(self, step: int) -> list[Draw]:
        """The ``accumulate`` images of update ``step`` (0-based)."""
        a = self.config.accumulate
        return [self.draw(step * a + i) for i in range(a)]


def augment(images, masks, index, flip, size: tuple[int, int]):
    """One training image, augmented on the device.

    Args:
        images: uint8 (N, H, W, 3) RGB; masks: bool (N, H, W).
        index: int32 scalar, the image; flip: bool scalar.
        size: (h, w) to resize to (static).

    Returns:
        ``(x, label)``: float32 (1, h, w, 3) preprocessed (:func:`osvos_tf.model.preprocess`) and float32
        (1, h, w, 1) in {0, 1}.
    """
    x = ops.cast(ops.take(images, index[None], axis=0), "float32")
    m = ops.cast(ops.take(masks, index[None], axis=0), "float32")[..., None]
    if tuple(size) != tuple(x.shape[1:3]):
        x = ops.image.resize(x, size, interpolation="bilinear", antialias=False)
        m = ops.cast(ops.image.resize(m, size, interpolation="bilinear", antialias=False) >= 0.5, "float32")
    x = ops.where(flip, ops.flip(x, axis=2), x)
    m = ops.where(flip, ops.flip(m, axis=2), m)
    return preprocess(x), m


class JaxParentTrainer:
    """The model, optimizer state and compiled steps of a JAX parent-training run.

    Args:
        config: the recipe (:func:`check_jax_recipe`).
        images: uint8 (N, H, W, 3) RGB training frames; masks: bool (N, H, W).
        initialise: load ``config.init_checkpoint`` / ``config.base_weights`` (False: the seeded random
            initialisation, for tests).

    Attributes:
        step: updates done.
        values: the trainable weights (aligned with ``optimizer.variables``), as device arrays.
        flops: ``{(h, w): FLOP of one image's forward and backward pass}`` from XLA's cost analysis, for
            each size compiled so far; compile_seconds: how long each took to compile.
    """

    def __init__(self, config: ParentTrainConfig, images: np.ndarray, masks: np.ndarray, initialise: bool = True):
        check_backend()
        import jax

        check_jax_recipe(config)
        images, masks = np.asarray(images), np.asarray(masks)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 (N, H, W, 3); got {images.dtype} {images.shape}.")
        if masks.shape != images.shape[:3]:
            raise ValueError(f"masks must be (N, H, W) = {images.shape[:3]}; got {masks.shape}.")
        self.config = config
        self.model, self.optimizer = build_parent(config, initialise)
        position = {id(v): i for i, v in enumerate(self.optimizer.variables)}
        self._model_order = [position[id(v)] for v in self.model.trainable_variables]
        self.values = [v.value for v in self.optimizer.variables]
        self.fixed = [v.value for v in self.model.non_trainable_variables]
        self.state = [jax.numpy.asarray(a) for a in self.optimizer.state()]
        self.images = jax.device_put(images)
        self.masks = jax.device_put(masks.astype(bool))
        self.height, self.width = images.shape[1:3]
        self.sizes = [scaled_size(self.height, self.width, config.base_scale * s) for s in config.scales]
        self.stream = DataStream(len(images), config)
        self.step = 0
        self.flops: dict[tuple[int, int], float] = {}
        self.compile_seconds: dict[tuple[int, int], float] = {}
        self._grads: dict[tuple[int, int], Callable] = {}
        self._apply = jax.jit(self.optimizer.stateless_apply)
        self._add = jax.jit(lambda acc, g, w: [a + w * b for a, b in zip(acc, g)])
        self._scale = jax.jit(lambda g, w: [w * b for b in g])

    # ---- the compiled pieces ----------------------------------------------------------------------------
    def _loss(self, values, fixed, images, masks, index, flip, side_weight, size):
        x, label = augment(images, masks, index, flip, size)
        trainable = [values[i] for i in self._model_order]
        outputs, _ = self.model.stateless_call(trainable, fixed, x, training=True)
        total, fused, sides = deep_supervision_loss(label, outputs, side_weight)
        return total, ops.concatenate([ops.stack([total, fused]), sides])

    def grads_fn(self, size: tuple[int, int]) -> Callable:
        """The compiled ``(values, fixed, images, masks, index, flip, side_weight) -> ((loss, metrics (6,)),
        grads)`` of one image at ``size``; its FLOP are recorded in :attr:`flops` when first compiled."""
        import jax

        size = (int(size[0]), int(size[1]))
        if size not in self._grads:
            t0 = time.perf_counter()
            fn = jax.jit(
                jax.value_and_grad(functools.partial(self._loss, size=size), has_aux=True),
            )
            args = (self.values, self.fixed, self.images, self.masks, np.int32(0), np.bool_(False), np.float32(1.0))
            compiled = fn.lower(*args).compile()
            cost = compiled.cost_analysis()
            cost = cost[0] if isinstance(cost, (list, tuple)) else cost
            self.flops[size] = float((cost or {}).get("flops", float("nan")))
            self._grads[size] = compiled
            self.compile_seconds[size] = time.perf_counter() - t0
        return self._grads[size]

    # ---- one update -------------------------------------------------------------------------------------
    def update(self, learning_rate: float, side_weight: float, draws: Sequence[Draw] | None = None):
        """Update number :attr:`step` (advances it) on ``draws`` (default: the stream's images of that update).
        Returns the metrics as a device array (not synced): float32 (6,), the total, fused and side2..side5
        losses, each the mean over the update's images."""
        draws = self.stream.update(self.step) if draws is None else draws
        weight = np.float32(1.0 / len(draws))
        acc = metrics = None
        for d in draws:
            fn = self.grads_fn(self.sizes[d.scale])
            (_, m), g = fn(
                self.values,
                self.fixed,
                self.images,
                self.masks,
                np.int32(d.index),
                np.bool_(d.flip),
                np.float32(side_weight),
            )
            acc = self._scale(g, weight) if acc is None else self._add(acc, g, weight)
            metrics = m * weight if metrics is None else metrics + m * weight
        self.values, self.state = self._apply(self.state, acc, self.values, np.float32(learning_rate))
        self.step += 1
        return metrics

    def image_flops(self, draws: Sequence[Draw]) -> float:
        """FLOP of the forward and backward passes of ``draws`` (compiled sizes only)."""
        return float(sum(self.flops.get(self.sizes[d.scale], 0.0) for d in draws))

    def sync_model(self) -> keras.Model:
        """Copy :attr:`values` into the Keras model's variables and return the model (for saving)."""
        for var, value in zip(self.optimizer.variables, self.values):
            var.assign(value)
        return self.model


def _device_names() -> list[str]:
    import jax

    return [str(d) for d in jax.devices()]


def _export(out_dir: Path, export_dir: Path, step: int) -> None:
    """Split ``parent.h5`` into parts in ``export_dir`` (``parent.h5.parts.json`` names the newest set; the
    parts of older saves are removed once it is written) and copy ``parent.json`` and ``train_log.json``."""
    from osvos_tf.file_parts import split_file

    export_dir.mkdir(parents=True, exist_ok=True)
    tag = f"u{step:06d}"
    split_file(out_dir / "parent.h5", export_dir, tag=tag)
    for old in export_dir.glob("parent.h5.u*.part*"):
        if not old.name.startswith(f"parent.h5.{tag}."):
            old.unlink()
    for name in ("parent.json", "train_log.json"):
        if (out_dir / name).exists():
            shutil.copyfile(out_dir / name, export_dir / name)


def train_parent_jax(
    pack_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    config: ParentTrainConfig,
    max_updates: int | None = None,
    max_seconds: float | None = None,
    save_every_s: float = 120.0,
    export_dir: str | os.PathLike | None = None,
    fit_schedule_s: float | None = None,
    probe_s: float = 20.0,
    log_every_s: float = 15.0,
    log: Callable[[str], object] = print,
) -> Path:
    """Train a parent network under JAX on a packed training set; returns ``out_dir/parent.h5``.

    Args:
        pack_dir: a folder written by :func:`osvos_tf.packed_davis.pack_davis`.
        out_dir: a new (or empty) folder for ``config.json``, ``parent.h5`` (+ ``.json``), ``train_log.json``.
        config: the recipe (:func:`check_jax_recipe`); ``init_checkpoint`` a preset name or a path.
        max_updates: stop after this many updates (default: the schedule's end, ``config.total_steps``).
        max_seconds: stop training after this many seconds of the loop (data loading and the first
            compilation included), then save: keep it well under a command's time limit.
        save_every_s: save (and export) every this many seconds as well as at the end.
        export_dir: also write the checkpoint as parts under 16 MiB, with its ``.json`` and the log, here.
        fit_schedule_s: fit the schedule to this many seconds from the start of the call: after ``probe_s``
            seconds of timed updates, the recipe is compressed to the updates the measured rate allows
            (:meth:`ParentTrainConfig.scaled_to`: every phase and learning-rate boundary scaled alike; never
            stretched beyond the recipe), and the run records the compressed recipe, which is then the one
            it followed (the probe's updates all lie before the first boundary, or it is not compressed).
        log_every_s: print progress (updates, loss, images/s, achieved TFLOP/s, time to the end) this often
            (the first line after at most 5 s of timed updates).
        log: where progress lines go.

    Raises:
        RuntimeError: Keras is not on JAX. ValueError: a bad recipe or ``max_updates``. FileExistsError: a
            used ``out_dir``. FloatingPointError: the losses diverged (the last save stays).
    """
    start_time = time.perf_counter()
    check_backend()
    check_max_updates(max_updates)
    check_jax_recipe(config)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty: the JAX trainer starts new runs only; choose a new folder.")
    from osvos_tf.packed_davis import load_packed

    pack = load_packed(pack_dir)
    out.mkdir(parents=True, exist_ok=True)
    recorded = recorded_config(config)
    data_record = {
        "source": "packed DAVIS",
        "pairs": len(pack.names),
        "image_set": pack.index.get("image_set"),
        "sequences": len({s for s, _ in pack.names}),
        "index_sha256": hashlib.sha256((Path(pack_dir) / "index.json").read_bytes()).hexdigest(),
    }
    save_config(recorded, out / "config.json", backend="jax", devices=_device_names())
    log(f"data: {len(pack.names)} frames {pack.images.shape[1]}x{pack.images.shape[2]} from {pack_dir}")
    trainer = JaxParentTrainer(config, pack.images, pack.masks)
    log(f"devices: {', '.join(_device_names())}; compute dtype {config.compute_dtype}")
    sizes = list(dict.fromkeys(trainer.sizes))
    with concurrent.futures.ThreadPoolExecutor(len(sizes)) as pool:  # XLA compiles outside the GIL
        list(pool.map(trainer.grads_fn, sizes))
    for size in sizes:
        log(
            f"compiled the {size[0]}x{size[1]} step in {trainer.compile_seconds[size]:.1f} s: "
            f"{trainer.flops[size] / 1e12:.3g} TFLOP per image (forward + backward, XLA's count)"
        )
    end = config.total_steps if max_updates is None else min(config.total_steps, max_updates)
    history: list[dict] = []
    pending: list[tuple[int, object]] = []
    done_images = 0
    done_flops = 0.0
    window_t: float | None = None  # when the timed window started (after the first update)
    history_logged = False  # the first throughput line comes after 5 s of timed updates, then every log_every_s
    window_images, window_flops = 0, 0.0
    last_save = last_log = time.perf_counter()

    def save(final: bool) -> None:
        flush()
        elapsed = time.perf_counter() - start_time
        throughput = {
            "images": done_images,
            "seconds": round(elapsed, 1),
            "tflops_per_image": {f"{h}x{w}": f / 1e12 for (h, w), f in trainer.flops.items()},
        }
        from osvos_tf.weights import save_checkpoint

        save_checkpoint(
            trainer.sync_model(),
            out / "parent.h5",
            recorded,
            step=trainer.step,
            finished=trainer.step >= config.total_steps,
            data=data_record,
            backend="jax",
            devices=_device_names(),
            throughput=throughput,
        )
        write_json_atomic(out / "train_log.json", {"history": history, "throughput": throughput, "final": final})
        if export_dir is not None:
            _export(out, Path(export_dir), trainer.step)

    def flush() -> None:
        for step, metrics in pending:
            values = np.asarray(metrics, dtype=np.float64)
            if not np.all(np.isfinite(values)):
                raise FloatingPointError(
                    f"Parent training diverged at update {step}: losses {values}. Lower the learning rate."
                )
            history.append({"step": step, "loss": [round(float(v), 6) for v in values]})
        pending.clear()

    fitted = fit_schedule_s is None

    def fit_schedule(rate_updates: float) -> None:
        """Compress the schedule to what ``rate_updates`` allows in the rest of ``fit_schedule_s``."""
        nonlocal config, recorded, end
        left = float(fit_schedule_s or 0.0) - (time.perf_counter() - start_time)
        target = min(end, int(trainer.step + rate_updates * left))
        if target >= end:
            log(f"schedule kept: its {end} updates fit in {fit_schedule_s} s at {rate_updates:.2f} updates/s")
            return
        scaled = config.scaled_to(max(target, len(config.phase_steps)))
        if trainer.step >= min([*scaled.phase_steps, *scaled.lr_boundaries]):
            log(
                f"schedule not compressed: {target} updates would put a phase or learning-rate boundary before "
                f"update {trainer.step}, which already ran; the run stops at max_seconds instead"
            )
            return
        original = config.total_steps
        config, recorded, end = scaled, recorded_config(scaled), scaled.total_steps
        trainer.config = config
        save_config(recorded, out / "config.json", backend="jax", devices=_device_names(), compressed_from=original)
        log(
            f"schedule compressed from {original} to {end} updates (phases {list(config.phase_steps)}, lr "
            f"boundaries {list(config.lr_boundaries)}) to end within {fit_schedule_s} s at {rate_updates:.2f} updates/s"
        )

    while trainer.step < end:
        if max_seconds is not None and time.perf_counter() - start_time >= max_seconds:
            log(f"stopping at update {trainer.step}: max_seconds={max_seconds} reached")
            break
        step = trainer.step
        draws = trainer.stream.update(step)
        metrics = trainer.update(config.lr_at(step), config.side_weight_at(step), draws)  # config: as fitted
        pending.append((step, metrics))
        done_images += len(draws)
        done_flops += trainer.image_flops(draws)
        now = time.perf_counter()
        if window_t is None:
            np.asarray(metrics)  # wait for the first update (its small compilations), then start timing
            window_t = last_log = time.perf_counter()
            window_images, window_flops = done_images, done_flops
        elif now - last_log >= (min(log_every_s, 5.0) if not history_logged else log_every_s):
            loss = np.asarray(metrics)
            now = time.perf_counter()
            dt = now - window_t
            rate = (done_images - window_images) / dt
            tflops = (done_flops - window_flops) / dt / 1e12
            eta = (end - trainer.step) * config.accumulate / max(rate, 1e-9)
            log(
                f"update {trainer.step}/{end}  loss {loss[0]:.4f} (fused {loss[1]:.4f})  {rate:.1f} images/s  "
                f"{tflops:.1f} TFLOP/s achieved  end of schedule in {eta / 60:.1f} min"
            )
            flush()
            history_logged = True
            history.append({"step": trainer.step, "images_per_s": round(rate, 2), "tflops": round(tflops, 2)})
            last_log = now
            if not fitted and dt >= probe_s:
                fit_schedule(rate / config.accumulate)
                fitted = True
        if now - last_save >= save_every_s:
            save(final=False)
            last_save = time.perf_counter()
    save(final=True)
    log(f"saved {out / 'parent.h5'} at update {trainer.step} ({json.dumps(config_to_dict(recorded)['phase_steps'])})")
    return out / "parent.h5"
