"""The one-shot API: ``OSVOS`` (parent weights) and ``VideoState`` (one video's fine-tuned weights).

    from osvos_tf import OSVOS
    osvos = OSVOS()                                   # the shipped parent (or the base weights)
    state = osvos.fit_one_shot(frame, mask)           # fine-tunes a copy; the parent is untouched
    for probs in osvos.segment(frame_paths):          # lazily, one float32 (H, W) map in [0, 1] per frame
        ...
    osvos.segment_to_folder(frame_paths, "out/")      # DAVIS-style PNG masks (0/255), optional overlays
    OSVOS(snap="contours")                            # masks snapped to contours ('bilateral': the fast variant)

The parent's weights are kept apart from any video's: :meth:`OSVOS.fit` returns a :class:`VideoState`
holding that video's weights, which :meth:`OSVOS.segment` uses (the latest one by default, or the one you
pass). :meth:`OSVOS.reset` goes back to the parent.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from osvos_tf.config import FineTuneConfig, finetune_config
from osvos_tf.cpu import resolve_compute_dtype
from osvos_tf.frames import check_pair, read_frame
from osvos_tf.masks import read_user_mask as read_mask
from osvos_tf.outputs import write_masks
from osvos_tf.snapping import BilateralParams, ContourSnapParams, Snapper

#: Where the shipped parent network lives (see checkpoints/README.md).
DEFAULT_PARENT = Path(__file__).resolve().parent.parent / "checkpoints" / "osvos_parent.h5"


#: ``checkpoint`` strings meaning "no parent, the bare VGG16 initialisation" (``'base'`` = ``base_weights``).
BASE_CHECKPOINTS = ("base", "base:hed", "base:imagenet")


def default_parent_path() -> Path | None:
    """The default parent checkpoint: ``$OSVOS_PARENT`` if set, else checkpoints/osvos_parent.h5 if it exists."""
    env = os.environ.get("OSVOS_PARENT")
    if env:
        return Path(env)
    return DEFAULT_PARENT if DEFAULT_PARENT.is_file() else None


def parent_source(checkpoint: str | os.PathLike | None = None, base_weights: str = "hed") -> str:
    """Which parent ``OSVOS(checkpoint=..., base_weights=...)`` uses, as recorded in :attr:`OSVOS.source`.

    Returns ``'base:hed'`` or ``'base:imagenet'`` (no parent: ``checkpoint`` is one of
    :data:`BASE_CHECKPOINTS`, or None with no default parent) or the checkpoint's absolute path (``checkpoint``,
    else :func:`default_parent_path`).

    Raises:
        FileNotFoundError: the checkpoint (or ``$OSVOS_PARENT``) names no file.
        ValueError: ``base_weights`` is not 'hed' or 'imagenet'.
    """
    if base_weights not in ("hed", "imagenet"):
        raise ValueError(f"base_weights must be 'hed' (offline) or 'imagenet' (downloads), got {base_weights!r}.")
    if isinstance(checkpoint, str) and checkpoint in BASE_CHECKPOINTS:
        return checkpoint if ":" in checkpoint else f"base:{base_weights}"
    if checkpoint is not None:
        path = Path(checkpoint)
        if not path.is_file():
            raise FileNotFoundError(
                f"Checkpoint not found: {path}. Pass an osvos_tf checkpoint (.h5), or none to use the default parent."
            )
        return str(path.resolve())
    path = default_parent_path()
    if path is None:
        return f"base:{base_weights}"
    if not path.is_file():
        raise FileNotFoundError(
            f"The default parent checkpoint {path} (from $OSVOS_PARENT) does not exist; "
            "fix $OSVOS_PARENT or pass a checkpoint."
        )
    return str(path.resolve())


@dataclasses.dataclass
class VideoState:
    """One video's fine-tuned network, kept apart from the parent.

    Attributes:
        weights: ``{layer name: [float32 arrays]}``, the fine-tuned weights.
        annotated_shapes: (H, W) of each annotated frame used for fine-tuning.
        config: the fine-tuning recipe used.
        iterations: updates done; seconds: fine-tuning wall time; losses: loss per update.
        stopped_by_budget: True if ``time_budget_s`` ended the fine-tuning early.
        step_seconds: wall time of each update (the first of each augmented image size includes tracing).
        earlier: ``{n: VideoState}``, the network after n updates for each n of ``fit(keep_at=...)`` below
            ``iterations``; each is what a fit with ``iterations=n`` would have given (same seed), with its
            own ``config.iterations == n`` and ``seconds`` (the wall time up to update n).
    """

    weights: dict
    annotated_shapes: tuple
    config: FineTuneConfig
    iterations: int
    seconds: float
    losses: list
    stopped_by_budget: bool = False
    step_seconds: list = dataclasses.field(default_factory=list)
    earlier: dict = dataclasses.field(default_factory=dict)


class OSVOS:
    """One-Shot Video Object Segmentation with a parent network and per-video fine-tuning.

    Args:
        checkpoint: an osvos_tf checkpoint with the parent network. Default: the shipped parent
            (checkpoints/osvos_parent.h5, or ``$OSVOS_PARENT``); if there is none, the base weights.
            ``'base'``, ``'base:hed'``, ``'base:imagenet'``: the base weights even if a parent exists.
        base_weights: VGG16 initialisation when no parent checkpoint is used: 'hed' (offline, default)
            or 'imagenet' (downloads). The side and fuse layers then start from N(0, 0.001).
        config: the fine-tuning recipe (:class:`~osvos_tf.config.FineTuneConfig`); kept as :attr:`config`
            with ``compute_dtype='auto'`` resolved to the dtype this machine runs. The network is built for
            that dtype: to change it, build a new OSVOS.
        snap: boundary snapping of the masks of :meth:`segment_masks` / :meth:`segment_to_folder`: None
            (default: probabilities > 0.5), 'contours' (superpixels of a contour network, majority vote: the
            paper's best) or 'bilateral' (the fast bilateral solver). :meth:`segment` always yields the
            network's own probabilities.
        contour_params: :class:`~osvos_tf.snapping.ContourSnapParams` for 'contours'.
        bilateral_params: :class:`~osvos_tf.snapping.BilateralParams` for 'bilateral'.
    """

    def __init__(
        self,
        checkpoint: str | os.PathLike | None = None,
        base_weights: str = "hed",
        config: FineTuneConfig | None = None,
        snap: str | None = None,
        contour_params: ContourSnapParams | None = None,
        bilateral_params: BilateralParams | None = None,
    ):
        from osvos_tf.model import build_osvos
        from osvos_tf.weights import load_checkpoint, load_vgg_weights

        config = config or FineTuneConfig()
        # 'auto' becomes the dtype this machine runs, so saved configs and VideoStates say what was used
        self.config = dataclasses.replace(config, compute_dtype=resolve_compute_dtype(config.compute_dtype))
        self.snapper = Snapper(snap, contours=contour_params, bilateral=bilateral_params)  # checks first
        self._model = build_osvos(
            side_outputs=self.config.side_loss_weight > 0, compute_dtype=self.config.compute_dtype
        )
        #: the parent: 'base:hed', 'base:imagenet' or a checkpoint's absolute path (see parent_source)
        self.source = parent_source(checkpoint, base_weights)
        if self.source.startswith("base:"):
            load_vgg_weights(self._model, self.source.split(":", 1)[1])
        else:
            load_checkpoint(self._model, self.source, strict=not self.config.side_loss_weight)
        self._parent = self._snapshot()
        self.state: VideoState | None = None
        self._loaded = None  # the VideoState whose weights are in self._model (None: the parent)
        self._predict = None

    @classmethod
    def from_base_weights(cls, base_weights: str = "hed", config: FineTuneConfig | None = None, **snap_kwargs) -> OSVOS:
        """An OSVOS whose 'parent' is the bare VGG16 initialisation (no parent training), e.g. for ablations.

        ``snap_kwargs``: ``snap``, ``contour_params``, ``bilateral_params`` as for :class:`OSVOS`.
        """
        return cls(checkpoint="base", base_weights=base_weights, config=config, **snap_kwargs)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, config: FineTuneConfig | None = None, **snap_kwargs) -> OSVOS:
        """An OSVOS whose parent is the checkpoint at ``path`` (a parent, or a saved fine-tuned model).

        ``snap_kwargs``: ``snap``, ``contour_params``, ``bilateral_params`` as for :class:`OSVOS`.
        """
        if not Path(path).is_file():
            raise FileNotFoundError(f"Checkpoint not found: {path}.")
        return cls(checkpoint=path, config=config, **snap_kwargs)

    # -- weights -------------------------------------------------------------------------------------
    def _snapshot(self) -> dict:
        return {layer.name: [np.array(w) for w in layer.get_weights()] for layer in self._model.layers if layer.weights}

    def _load(self, state: VideoState | None) -> None:
        if self._loaded is state and state is not None:
            return
        weights = self._parent if state is None else state.weights
        for layer in self._model.layers:
            if layer.name in weights:
                layer.set_weights(weights[layer.name])
        self._loaded = state

    def reset(self) -> None:
        """Forget the current video: :meth:`segment` uses the parent again."""
        self.state = None

    def save(self, path: str | os.PathLike, state: VideoState | None = None, dtype: str = "float32") -> Path:
        """Save the network of ``state`` (default: the current video, else the parent) as a checkpoint."""
        from osvos_tf.weights import save_checkpoint

        state = state if state is not None else self.state
        self._load(state)
        extra = {} if state is None else {"iterations": state.iterations, "seconds": state.seconds}
        return save_checkpoint(
            self._model, path, state.config if state else self.config, dtype=dtype, parent=self.source, **extra
        )

    # -- fine-tuning ---------------------------------------------------------------------------------
    def fit_one_shot(self, frame, mask, **kwargs) -> VideoState:
        """Fine-tune a copy of the parent on one annotated frame; see :meth:`fit` for the arguments.

        Args:
            frame: path or array (uint8 RGB (H, W, 3); grayscale and RGBA are converted).
            mask: path or array of the same size; binarised as in :func:`osvos_tf.masks.read_user_mask`.
        """
        return self.fit([frame], [mask], **kwargs)

    def fit(
        self,
        frames: Sequence,
        masks: Sequence,
        iterations: int | None = None,
        time_budget_s: float | None = None,
        log_dir: str | os.PathLike | None = None,
        progress: bool = True,
        seed: int | None = None,
        callback: Callable[[int, Callable], object] | None = None,
        keep_at: Iterable[int] = (),
    ) -> VideoState:
        """Fine-tune a copy of the parent on several annotated frames (the paper's Table 4 refinement).

        Args:
            frames, masks: paths or arrays, pairwise the same size.
            iterations: updates (default ``config.iterations``); 0 keeps the parent as it is.
            time_budget_s: stop fine-tuning after this many seconds, keeping the model as it is then.
            log_dir: TensorBoard folder (loss, learning rate, input / mask / prediction images, config).
            progress: progress bar on stderr.
            seed: augmentation seed (default ``config.seed``).
            callback: called as ``callback(n, probs)`` after update n (1-based); ``probs(frame)`` gives the
                foreground probabilities, float32 (H, W) in [0, 1], of the network as it is after n updates
                (e.g. a learning curve in one run: ``benchmarks/finetune_curve.py``). Its time counts towards
                ``time_budget_s``.
            keep_at: update counts at which to keep a copy of the network as well, in
                :attr:`VideoState.earlier` (e.g. several budgets from one fine-tuning: the updates do not
                depend on the number of iterations). Counts beyond the updates done are ignored.

        Returns:
            The new :class:`VideoState`, also kept as :attr:`state` for :meth:`segment`.

        Raises:
            ValueError: no frames, a frame/mask size mismatch, or only empty / all-foreground masks (the
            balanced loss is identically zero there: there is nothing to learn).
        """
        from osvos_tf.training import finetune

        if len(frames) != len(masks) or not frames:
            raise ValueError(
                f"fit needs as many masks as frames (at least one); got {len(frames)} frames and {len(masks)} masks."
            )
        frames_np = [read_frame(f) for f in frames]
        masks_np = [read_mask(m) for m in masks]
        informative = 0
        for i, (f, m) in enumerate(zip(frames_np, masks_np)):
            check_pair(f, m, where=f" (annotated frame {i})")
            if m.all() or not m.any():
                what = "empty" if not m.any() else "all foreground"
                warnings.warn(f"Mask {i} is {what}: the balanced loss gives it no gradient.", stacklevel=2)
            else:
                informative += 1
        if informative == 0:
            raise ValueError(
                "Every mask is empty or all foreground, so there is nothing to fine-tune on "
                "(the class-balanced loss is zero). Annotate the object in at least one frame, "
                "or segment with the parent alone (iterations=0)."
            )
        config = self.config
        if iterations is not None or seed is not None:
            config = dataclasses.replace(
                config,
                iterations=config.iterations if iterations is None else int(iterations),
                seed=config.seed if seed is None else int(seed),
            )
        if config.iterations < 0:
            raise ValueError(f"iterations must be >= 0, got {config.iterations}.")
        keep = set()
        for n in keep_at:
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"keep_at takes positive update counts, got {n!r}.")
            keep.add(int(n))
        self._load(None)
        self._loaded = "training"  # the model is being modified: no VideoState matches it
        kept: dict[int, tuple[dict, float]] = {}
        predict = self._predict_fn() if callback is not None else None  # on the network being trained

        def probs(frame) -> np.ndarray:
            return predict(read_frame(frame)).numpy()

        def hook(n: int, seconds: float) -> None:
            if n in keep and n < config.iterations:
                kept[n] = (self._snapshot(), seconds)
            if callback is not None:
                callback(n, probs)

        history = finetune(
            self._model,
            frames_np,
            masks_np,
            config,
            time_budget_s,
            log_dir,
            progress,
            hook if callback is not None or keep else None,
        )
        shapes = tuple(m.shape for m in masks_np)
        earlier = {
            n: VideoState(
                weights,
                shapes,
                dataclasses.replace(config, iterations=n),
                n,
                seconds,
                history.losses[:n],
                False,
                history.step_seconds[:n],
            )
            for n, (weights, seconds) in sorted(kept.items())
        }
        state = VideoState(
            self._snapshot(),
            shapes,
            config,
            history.iterations,
            history.seconds,
            history.losses,
            history.stopped_by_budget,
            history.step_seconds,
            earlier,
        )
        self._loaded = state
        self.state = state
        return state

    # -- segmentation --------------------------------------------------------------------------------
    def _predict_fn(self):
        if self._predict is None:
            import tensorflow as tf

            from osvos_tf.model import preprocess

            model = self._model

            @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.uint8)])
            def predict(frame):
                outputs = model(preprocess(frame)[None], training=False)
                logits = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
                return tf.sigmoid(logits[0, :, :, 0])

            self._predict = predict
        return self._predict

    def segment(self, frames: Iterable, state: VideoState | None = None) -> Iterator[np.ndarray]:
        """Foreground probabilities for each frame, lazily (one frame in memory at a time).

        These are the network's own probabilities, never snapped (see :meth:`segment_masks`).

        Args:
            frames: an iterable of paths or arrays (a list, a generator, ...), all the same size.
            state: the fine-tuned video to use (default: the latest :meth:`fit`, else the parent).

        Yields:
            float32 (H, W) probabilities in [0, 1], one per frame, in order.

        Raises:
            ValueError: a frame's size differs from the first frame's.
        """
        for _, probs in self.segment_frames(frames, state):
            yield probs

    def segment_frames(
        self, frames: Iterable, state: VideoState | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Like :meth:`segment`, but yields ``(frame, probs)``: the decoded uint8 RGB (H, W, 3) frame with its
        float32 (H, W) probabilities in [0, 1] (for post-processing that needs the image, e.g. snapping)."""
        state = state if state is not None else self.state
        self._load(state)
        predict = self._predict_fn()
        frames = iter(frames)
        shape = None
        with ThreadPoolExecutor(max_workers=1) as reader:  # decode the next frame while this one runs
            pending = _submit_next(reader, frames)
            index = 0
            while pending is not None:
                frame = pending.result()
                pending = _submit_next(reader, frames)
                if shape is None:
                    shape = frame.shape
                elif frame.shape != shape:
                    raise ValueError(
                        f"Frame {index} is {frame.shape[1]}x{frame.shape[0]} (WxH) but the video's "
                        f"first frame is {shape[1]}x{shape[0]}: all frames of a video must have "
                        "the same size. Resize them first."
                    )
                yield frame, predict(frame).numpy()
                index += 1

    def segment_masks(
        self, frames: Iterable, state: VideoState | None = None, threshold: float = 0.5
    ) -> Iterator[np.ndarray]:
        """The final mask of each frame, lazily: probabilities > ``threshold``, snapped as ``snap`` says.

        Args:
            frames, state: as for :meth:`segment`.
            threshold: foreground where the probability is > threshold (for 'contours': the mask that is
                voted over; 'bilateral' thresholds its solution at ``bilateral_params.threshold``).

        Yields:
            bool (H, W) masks, one per frame, in order. :attr:`snapper` ``.seconds`` accumulates the
            snapping time.
        """
        for frame, probs in self.segment_frames(frames, state):
            yield self.snapper(frame, probs, threshold=threshold)

    def segment_to_folder(
        self,
        frames: Sequence,
        out_dir: str | os.PathLike,
        threshold: float = 0.5,
        overlay_dir: str | os.PathLike | None = None,
        overwrite: bool = False,
        state: VideoState | None = None,
        progress: bool = True,
    ) -> list[Path]:
        """Segment ``frames`` and write ``out_dir/<frame name>.png`` masks (0/255), optionally overlays.

        The masks are those of :meth:`segment_masks` (snapped if the OSVOS was built with ``snap``).
        Refuses a non-empty ``out_dir`` unless ``overwrite`` (files of the same name are then replaced,
        nothing else is touched). Returns the mask paths.
        """
        from osvos_tf.progress import Progress

        frames = list(frames)
        bar = Progress(len(frames), "segment", enabled=progress)

        def counted():
            for mask in self.segment_masks(frames, state, threshold):
                yield mask
                bar.update()

        written = write_masks(counted(), frames, out_dir, overlay_dir, overwrite)
        bar.close()
        return written


def _submit_next(pool: ThreadPoolExecutor, frames: Iterator):
    try:
        item = next(frames)
    except StopIteration:
        return None
    return pool.submit(read_frame, item)


def segment_video(
    frames_dir: str | os.PathLike,
    mask: str | os.PathLike,
    out_dir: str | os.PathLike,
    frame_index: int = 0,
    iterations: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    overlay: bool = False,
    log_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
    threshold: float = 0.5,
    time_budget_s: float | None = None,
    progress: bool = True,
    snap: str | None = None,
    preset: str | None = None,
    compute_dtype: str | None = None,
) -> dict:
    """The whole job: fine-tune on one annotated frame of a folder of frames, then segment every frame.

    Args:
        frames_dir: folder of frames (natural order); mask: the annotation of frame ``frame_index``.
        out_dir: masks go to ``out_dir/<frame name>.png`` (0/255); with ``overlay``, overlays to
            ``out_dir/overlays/<frame name>.jpg``. A non-empty ``out_dir`` is refused unless ``overwrite``.
        iterations: fine-tuning updates (default: the config's; 0 = the network as loaded).
        checkpoint: parent checkpoint path (default: the shipped parent); ``'base'`` (or ``'base:hed'``,
            ``'base:imagenet'``) for the bare VGG16 initialisation with no parent training.
        snap: None, 'contours' or 'bilateral' (see :class:`OSVOS`).
        preset: a fine-tuning preset of :data:`osvos_tf.config.PRESETS` (not with ``iterations``).
        compute_dtype: override of ``FineTuneConfig.compute_dtype`` ('auto', 'float32', 'bfloat16').

    Returns:
        ``{'masks': [paths], 'overlays': folder or None, 'fit_seconds': s, 'segment_seconds': s,
        'iterations': n, 'source': parent, 'snap': mode, 'snap_ms_per_frame': {...}}``.
    """
    import time

    from osvos_tf.frames import list_frames
    from osvos_tf.outputs import prepare_output_dir

    frames = list_frames(frames_dir)
    if not -len(frames) <= frame_index < len(frames):
        raise ValueError(
            f"--frame-index {frame_index} is out of range: {frames_dir} has {len(frames)} frames "
            f"(valid: 0..{len(frames) - 1})."
        )
    out_dir = prepare_output_dir(out_dir, overwrite)  # fail before the long fine-tuning, not after
    _, config = finetune_config(preset, iterations)
    if compute_dtype is not None:
        config = dataclasses.replace(config, compute_dtype=compute_dtype)
    osvos = OSVOS(checkpoint=checkpoint, config=config, snap=snap)
    state = None
    if osvos.config.iterations != 0:
        state = osvos.fit_one_shot(
            frames[frame_index], mask, log_dir=log_dir, time_budget_s=time_budget_s, progress=progress
        )
    else:
        check_pair(read_frame(frames[frame_index]), read_mask(mask), where=f" ({frames[frame_index].name})")
    start = time.perf_counter()
    overlay_dir = Path(out_dir) / "overlays" if overlay else None
    written = osvos.segment_to_folder(frames, out_dir, threshold, overlay_dir, overwrite=True, progress=progress)
    return {
        "masks": written,
        "overlays": overlay_dir,
        "fit_seconds": state.seconds if state else 0.0,
        "segment_seconds": time.perf_counter() - start,
        "iterations": state.iterations if state else 0,
        "source": osvos.source,
        "snap": osvos.snapper.mode,
        "snap_ms_per_frame": osvos.snapper.ms_per_frame(),
    }
