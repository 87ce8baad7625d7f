"""The one-shot API: ``OSVOS`` (a parent network) and ``VideoState`` (one video's fine-tuned network).

    from osvos_tf import OSVOS
    osvos = OSVOS()                                   # the shipped parent (osvos_tf.parents)
    state = osvos.fit_one_shot(frame, mask)           # fine-tunes a copy; the parent is untouched
    for index, probs in osvos.segment(frame_paths):   # lazily, one float32 (H, W) map in [0, 1] per frame
        ...
    osvos.segment_to_folder(frame_paths, "out/")      # DAVIS-style PNG masks (0/255), optional overlays
    OSVOS(snap="contours")                            # masks snapped to contours ('bilateral': the fast variant)

The parent's weights (:attr:`OSVOS.parent_weights`) are kept apart from any video's: :meth:`OSVOS.fit`
returns a :class:`VideoState` holding that video's weights, which :meth:`OSVOS.segment` uses (the latest one
by default, or the one you pass). Each :meth:`OSVOS.segment` generator keeps the weights it was started
with, whatever runs in between (other generators, :meth:`OSVOS.fit`). :meth:`OSVOS.reset` goes back to the
parent.
"""

from __future__ import annotations

import dataclasses
import os
import time
import warnings
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from osvos_tf.config import MASK_THRESHOLD, BilateralParams, ContourSnapParams, FineTuneConfig
from osvos_tf.cpu import resolve_compute_dtype
from osvos_tf.estimate import JobEstimate, estimate_job
from osvos_tf.frames import check_pair, read_frame
from osvos_tf.masks import read_user_mask
from osvos_tf.objects import ObjectsState
from osvos_tf.parents import BASE_SOURCES, ParentSource, get_preset, resolve_parent
from osvos_tf.resolution import resize_frame, resize_mask, resize_probs, working_shape
from osvos_tf.snapping import Snapper
from osvos_tf.video_state import NetworkWeights, VideoState

__all__ = ["OSVOS", "VideoState", "NetworkWeights", "BASE_SOURCES"]


#: Frames :meth:`OSVOS.segment` accepts: paths or arrays (uint8 RGB (H, W, 3); see osvos_tf.frames).
FrameLike = Any


class OSVOS:
    """One-Shot Video Object Segmentation with a parent network and per-video fine-tuning.

    Args:
        checkpoint: the parent network: None (default: ``$OSVOS_PARENT`` if set, else the shipped preset
            :data:`osvos_tf.parents.DEFAULT_PARENT_PRESET`), a preset name of
            :data:`osvos_tf.parents.PARENT_PRESETS`, an osvos_tf checkpoint path, or ``'base'`` /
            ``'base:hed'`` / ``'base:imagenet'`` for the bare VGG16 initialisation (no parent: ablations).
            A missing parent raises; there is no silent fallback.
        base_weights: VGG16 of ``'base'``: 'hed' (offline, default) or 'imagenet' (downloads). The side
            and fuse layers then start from N(0, 0.001).
        config: the fine-tuning recipe (:class:`~osvos_tf.config.FineTuneConfig`); kept as :attr:`config`
            with ``compute_dtype='auto'`` resolved to the dtype this machine runs. The network is built for
            that dtype (and with side outputs if ``side_loss_weight > 0``): :meth:`fit` configs must match.
        snap: boundary snapping of the masks of :meth:`segment_masks` / :meth:`segment_to_folder`: None
            (default: probabilities > threshold), 'contours' (superpixels of a contour network, majority
            vote: the paper's best) or 'bilateral' (the fast bilateral solver). :meth:`segment` always
            yields the network's own probabilities.
        contour_params, bilateral_params: parameters of the two snapping modes.

    Attributes:
        parent: the :class:`~osvos_tf.parents.ParentSource` (``parent.id`` names it in records).
        source: ``parent.id``.
        parent_weights: the parent's :class:`NetworkWeights`.
        state: the latest :class:`VideoState` of :meth:`fit` (None: the parent).
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
        self.parent: ParentSource = resolve_parent(checkpoint, base_weights)
        self.source: str = self.parent.id
        self._model = build_osvos(
            side_outputs=self.config.side_loss_weight > 0, compute_dtype=self.config.compute_dtype
        )
        if self.parent.path is None:  # 'base': the bare VGG16
            load_vgg_weights(self._model, self.parent.base_weights or "hed")
        else:
            load_checkpoint(self._model, self.parent.path, strict=not self.config.side_loss_weight)
        self.parent_weights = NetworkWeights.of(self._model)
        self.state: VideoState | None = None
        # the NetworkWeights the model holds now; None while fit modifies it (no snapshot matches)
        self._loaded: NetworkWeights | None = self.parent_weights
        self._predict: Callable | None = None

    @classmethod
    def from_preset(cls, name: str, config: FineTuneConfig | None = None, **snap_kwargs) -> OSVOS:
        """An OSVOS whose parent is the registered preset ``name`` (:data:`osvos_tf.parents.PARENT_PRESETS`).

        ``snap_kwargs``: ``snap``, ``contour_params``, ``bilateral_params`` as for :class:`OSVOS`.

        Raises:
            ValueError: an unknown preset, one that is not shipped, or a file failing its sha256 check.
        """
        get_preset(name)  # a clear error for unknown names (not "checkpoint not found")
        return cls(checkpoint=name, config=config, **snap_kwargs)

    @classmethod
    def from_base_weights(cls, base_weights: str = "hed", config: FineTuneConfig | None = None, **snap_kwargs) -> OSVOS:
        """An OSVOS whose 'parent' is the bare VGG16 initialisation (no parent training), e.g. for ablations."""
        return cls(checkpoint="base", base_weights=base_weights, config=config, **snap_kwargs)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, config: FineTuneConfig | None = None, **snap_kwargs) -> OSVOS:
        """An OSVOS whose parent is the checkpoint at ``path`` (a parent, or a saved fine-tuned model)."""
        if not Path(path).is_file():
            raise FileNotFoundError(f"Checkpoint not found: {path}.")
        return cls(checkpoint=path, config=config, **snap_kwargs)

    # -- weights -------------------------------------------------------------------------------------
    def _use(self, weights: NetworkWeights) -> None:
        """Make the model hold ``weights`` (a no-op when it already does)."""
        if self._loaded is not weights:
            weights.assign_to(self._model)
            self._loaded = weights

    def _weights_of(self, state: VideoState | None) -> NetworkWeights:
        if state is not None and not isinstance(state, VideoState):
            raise TypeError(f"state must be a VideoState returned by fit (or None), got {type(state).__name__}.")
        return self.parent_weights if state is None else state.weights

    def reset(self) -> None:
        """Forget the current video: :meth:`segment` uses the parent again."""
        self.state = None

    def save(self, path: str | os.PathLike, state: VideoState | None = None, dtype: str = "float32") -> Path:
        """Save the network of ``state`` (default: the current video, else the parent) as a checkpoint, with
        its config and the parent's id (never a machine path) in the JSON next to it."""
        from osvos_tf.weights import save_checkpoint

        state = state if state is not None else self.state
        self._use(self._weights_of(state))
        extra = {} if state is None else {"iterations": state.iterations, "seconds": state.seconds}
        config = state.config if state is not None else self.config
        return save_checkpoint(self._model, path, config, dtype=dtype, parent=self.parent.describe(), **extra)

    # -- fine-tuning ---------------------------------------------------------------------------------
    def fit_one_shot(self, frame: FrameLike, mask: Any, **kwargs) -> VideoState:
        """Fine-tune a copy of the parent on one annotated frame; see :meth:`fit` for the arguments.

        Args:
            frame: path or array (uint8 RGB (H, W, 3); grayscale and RGBA are converted).
            mask: path or array of the same size; read by :func:`osvos_tf.masks.read_user_mask`.
        """
        return self.fit([frame], [mask], **kwargs)

    def fit(
        self,
        frames: Sequence[FrameLike],
        masks: Sequence[Any],
        config: FineTuneConfig | None = None,
        *,
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
            frames, masks: paths or arrays, pairwise the same size; masks are read by
                :func:`osvos_tf.masks.read_user_mask` (a mask with several object ids is refused).
            config: the recipe (default: :attr:`config`); its ``compute_dtype`` and whether it uses side
                losses must match the network's (build another OSVOS to change them).
            iterations, seed: override ``config.iterations`` / ``config.seed``; iterations 0 keeps the parent.
                The other fields stay: with a config of ``coarse_updates=100`` (the 'default' preset),
                ``iterations=50`` gives the first 50 updates of that run, all at scale 0.5.
            time_budget_s: stop fine-tuning after this many seconds, keeping the model as it is then.
            log_dir: TensorBoard folder (loss, learning rate, input / mask / prediction images, config).
            progress: progress bar on stderr.
            callback: called as ``callback(n, probs)`` after update n (1-based); ``probs(frame)`` gives the
                foreground probabilities, float32 (H, W) in [0, 1], of the network as it is after n updates
                (e.g. a learning curve in one run: ``benchmarks/finetune_curve.py``). Its time counts towards
                ``time_budget_s``.
            keep_at: update counts at which to keep a copy of the network as well, in
                :attr:`VideoState.earlier` (the updates do not depend on the number of iterations). Counts
                beyond the updates done are ignored.

        Returns:
            The new :class:`VideoState`, also kept as :attr:`state` for :meth:`segment`.

        Raises:
            ValueError: no frames, a frame/mask size mismatch, only empty / all-foreground masks (the
                balanced loss is identically zero there), a config the network was not built for, negative
                iterations or bad ``keep_at``.
        """
        config = self._fit_config(config, iterations, seed)
        keep = _check_keep_at(keep_at)
        frames_np, masks_np = self._read_annotations(frames, masks)
        return self._fit_arrays(
            frames_np,
            masks_np,
            config,
            time_budget_s=time_budget_s,
            log_dir=log_dir,
            progress=progress,
            callback=callback,
            keep=keep,
        )

    def _fit_arrays(
        self,
        frames_np: Sequence[np.ndarray],
        masks_np: Sequence[np.ndarray],
        config: FineTuneConfig,
        *,
        voids: Sequence[np.ndarray | None] | None = None,
        time_budget_s: float | None = None,
        log_dir: str | os.PathLike | None = None,
        progress: bool = True,
        callback: Callable[[int, Callable], object] | None = None,
        keep: Collection[int] = (),
        label: str = "fine-tune",
    ) -> VideoState:
        """:meth:`fit` on checked arrays (uint8 RGB frames, bool masks, optional bool void maps), at the
        config's working resolution; ``label`` names the progress bar. Also the per-object fine-tuning of
        :func:`osvos_tf.objects.fit_objects`."""
        from osvos_tf.training import finetune

        side = config.working_short_side
        shapes_in = [working_shape(m.shape[0], m.shape[1], side) for m in masks_np]
        frames_np = [resize_frame(f, shape) for f, shape in zip(frames_np, shapes_in)]
        masks_np = [resize_mask(m, shape) for m, shape in zip(masks_np, shapes_in)]
        if voids is not None:
            voids = [None if v is None else resize_mask(v, shape) for v, shape in zip(voids, shapes_in)]
        kept: dict[int, tuple[NetworkWeights, float]] = {}

        def probs(frame) -> np.ndarray:  # on the network being trained
            return self._predict_probs(read_frame(frame), side)

        def hook(n: int, seconds: float) -> None:
            if n in keep and n < config.iterations:
                kept[n] = (NetworkWeights.of(self._model), seconds)
            if callback is not None:
                callback(n, probs)

        self._use(self.parent_weights)
        self._loaded = None  # the model is being modified: no snapshot matches it
        history = finetune(
            self._model,
            frames_np,
            masks_np,
            config,
            time_budget_s,
            log_dir,
            progress,
            hook if callback is not None or keep else None,
            record={"parent": self.parent.describe()},
            voids=voids,
            label=label,
        )
        shapes = tuple((int(m.shape[0]), int(m.shape[1])) for m in masks_np)
        weights = NetworkWeights.of(self._model)
        self._loaded = weights
        state = self._video_state(weights, shapes, config, history, kept)
        self.state = state
        return state

    def _video_state(
        self,
        weights: NetworkWeights,
        shapes: tuple[tuple[int, int], ...],
        config: FineTuneConfig,
        history: Any,
        kept: Mapping[int, tuple[NetworkWeights, float]],
    ) -> VideoState:
        """The VideoState of a finished fine-tuning (``history``: a training.FitHistory), with the states kept
        at the ``keep_at`` counts as its ``earlier``."""

        def state_at(n: int, weights: NetworkWeights, seconds: float, stopped: bool, earlier: dict) -> VideoState:
            return VideoState(
                weights,
                shapes,
                dataclasses.replace(config, iterations=n),
                n,
                seconds,
                tuple(history.losses[:n]),
                self.source,
                stopped,
                tuple(history.step_seconds[:n]),
                earlier,
            )

        earlier = {n: state_at(n, w, seconds, False, {}) for n, (w, seconds) in sorted(kept.items())}
        final = state_at(history.iterations, weights, history.seconds, history.stopped_by_budget, earlier)
        return dataclasses.replace(final, config=config)  # the recipe asked for, even if stopped early

    def _fit_config(self, config: FineTuneConfig | None, iterations: int | None, seed: int | None) -> FineTuneConfig:
        if config is None:
            config = self.config
        elif not isinstance(config, FineTuneConfig):
            raise TypeError(f"config must be a FineTuneConfig, got {type(config).__name__}.")
        else:
            config = dataclasses.replace(config, compute_dtype=resolve_compute_dtype(config.compute_dtype))
            if config.compute_dtype != self.config.compute_dtype:
                raise ValueError(
                    f"This network computes in {self.config.compute_dtype}, the config asks for "
                    f"{config.compute_dtype}: build an OSVOS with that config (OSVOS(config=...)) instead."
                )
            if (config.side_loss_weight > 0) != (self.config.side_loss_weight > 0):
                raise ValueError(
                    f"side_loss_weight={config.side_loss_weight} needs a network built "
                    f"{'with' if config.side_loss_weight > 0 else 'without'} side outputs; this one was built "
                    f"for side_loss_weight={self.config.side_loss_weight}. Build an OSVOS with that config."
                )
        if iterations is not None or seed is not None:
            config = dataclasses.replace(
                config,
                iterations=config.iterations if iterations is None else int(iterations),
                seed=config.seed if seed is None else int(seed),
            )
        if config.iterations < 0:
            raise ValueError(f"iterations must be >= 0 (0 keeps the parent), got {config.iterations}.")
        return config

    @staticmethod
    def _read_annotations(frames: Sequence, masks: Sequence) -> tuple[list[np.ndarray], list[np.ndarray]]:
        if len(frames) != len(masks) or not frames:
            raise ValueError(
                f"fit needs as many masks as frames (at least one); got {len(frames)} frames and {len(masks)} masks."
            )
        frames_np = [read_frame(f) for f in frames]
        masks_np = [read_user_mask(m, f"Mask {i}") for i, m in enumerate(masks)]
        informative = 0
        for i, (f, m) in enumerate(zip(frames_np, masks_np)):
            check_pair(f, m, where=f" (annotated frame {i})")
            if m.all() or not m.any():
                what = "empty" if not m.any() else "all foreground"
                warnings.warn(f"Mask {i} is {what}: the balanced loss gives it no gradient.", stacklevel=3)
            else:
                informative += 1
        if informative == 0:
            raise ValueError(
                "Every mask is empty or all foreground, so there is nothing to fine-tune on (the class-balanced "
                "loss is zero). Annotate the object in at least one frame, or segment with the parent alone "
                "(iterations=0)."
            )
        return frames_np, masks_np

    # -- segmentation --------------------------------------------------------------------------------
    def _predict_fn(self) -> Callable:
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

    def _predict_probs(self, frame: np.ndarray, short_side: int | None) -> np.ndarray:
        """Float32 (H, W) probabilities in [0, 1] of the loaded network for a uint8 RGB (H, W, 3) frame: computed
        at the working resolution of ``short_side`` (:mod:`osvos_tf.resolution`), upsampled back to (H, W)."""
        shape = working_shape(frame.shape[0], frame.shape[1], short_side)
        probs = self._predict_fn()(resize_frame(frame, shape)).numpy()
        return resize_probs(probs, frame.shape[:2])

    def _working_side(self, state: VideoState | None) -> int | None:
        """The working resolution's short side for segmenting with ``state`` (default: the latest fit's)."""
        state = state if state is not None else self.state
        return (state.config if state is not None else self.config).working_short_side

    def estimate(
        self, input_shape: tuple[int, int], n_frames: int, n_objects: int = 1, config: FineTuneConfig | None = None
    ) -> JobEstimate:
        """Estimate the time of fine-tuning (``config``, default :attr:`config`) and segmenting ``n_frames``
        frames of ``input_shape`` (H, W), for ``n_objects`` objects, from one timed forward pass at the
        working resolution (:mod:`osvos_tf.estimate`; a second or two, the first call also traces)."""
        config = self.config if config is None else config
        shape = working_shape(int(input_shape[0]), int(input_shape[1]), config.working_short_side)
        frame = np.zeros((*shape, 3), np.uint8)
        self._use(self._weights_of(self.state))
        predict = self._predict_fn()
        predict(frame)  # traces on the first call
        start = time.perf_counter()
        predict(frame).numpy()
        seconds = time.perf_counter() - start
        return estimate_job(seconds, config, (int(input_shape[0]), int(input_shape[1])), shape, n_frames, n_objects)

    def segment(
        self, frames: Iterable[FrameLike], state: VideoState | None = None, indices: Collection[int] | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Foreground probabilities for each frame, lazily (one frame in memory at a time).

        These are the network's own probabilities, never snapped (see :meth:`segment_masks`). The generator
        keeps the network it was started with (``state``, or the latest :meth:`fit` at the time of this
        call), whatever runs before it is exhausted: other generators, :meth:`fit`, :meth:`reset`.

        Args:
            frames: an iterable of paths or arrays (a list, a generator, ...), all the same size.
            state: the fine-tuned video to use (default: the latest :meth:`fit`, else the parent).
            indices: segment only the frames at these positions of ``frames`` (others are not decoded);
                yielded in increasing order. Default: every frame.

        Yields:
            ``(index, probs)``: the frame's position in ``frames`` and float32 (H, W) probabilities in
            [0, 1], in order, at the frame's size (frames larger than the config's working resolution,
            ``FineTuneConfig.working_short_side``, run through the network at it and come back upsampled).

        Raises:
            ValueError: a frame's size differs from the first segmented frame's; an index out of range.
        """
        return ((index, probs) for index, _, probs in self.segment_frames(frames, state, indices))

    def segment_frames(
        self, frames: Iterable[FrameLike], state: VideoState | None = None, indices: Collection[int] | None = None
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Like :meth:`segment`, but yields ``(index, frame, probs)``: with the decoded uint8 RGB (H, W, 3)
        frame (for post-processing that needs the image, e.g. snapping)."""
        weights = self._weights_of(state if state is not None else self.state)  # fixed now, not at first next()
        selected = _check_indices(indices, frames)
        return self._segment_frames(frames, weights, selected, self._working_side(state))

    def _segment_frames(
        self,
        frames: Iterable[FrameLike],
        weights: NetworkWeights,
        selected: frozenset[int] | None,
        short_side: int | None,
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        items = ((i, f) for i, f in enumerate(frames) if selected is None or i in selected)
        shape = None
        with ThreadPoolExecutor(max_workers=1) as reader:  # decode the next frame while this one runs
            pending = _submit_next(reader, items)
            while pending is not None:
                index, future = pending
                frame = future.result()
                pending = _submit_next(reader, items)
                if shape is None:
                    shape = frame.shape
                elif frame.shape != shape:
                    raise ValueError(
                        f"Frame {index} is {frame.shape[1]}x{frame.shape[0]} (WxH) but the video's first frame "
                        f"is {shape[1]}x{shape[0]}: all frames of a video must have the same size. Resize them."
                    )
                self._use(weights)  # another generator or a fit may have run since the last frame
                yield index, frame, self._predict_probs(frame, short_side)

    def segment_masks(
        self,
        frames: Iterable[FrameLike],
        state: VideoState | None = None,
        threshold: float = MASK_THRESHOLD,
        indices: Collection[int] | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """The final mask of each frame, lazily: probabilities > ``threshold``, snapped as ``snap`` says.

        Args:
            frames, state, indices: as for :meth:`segment`.
            threshold: foreground where the probability is > threshold (for 'contours': the mask that is
                voted over; 'bilateral' thresholds its solution at ``bilateral_params.threshold``).

        Yields:
            ``(index, mask)``: bool (H, W) masks, in order. :attr:`snapper` ``.seconds`` accumulates the
            snapping time.
        """
        _check_threshold(threshold)
        items = self.segment_frames(frames, state, indices)  # checks now, not at the first next()
        return ((index, self.snapper(frame, probs, threshold=threshold)) for index, frame, probs in items)

    def segment_to_folder(
        self,
        frames: Sequence[FrameLike],
        out_dir: str | os.PathLike,
        threshold: float = MASK_THRESHOLD,
        overlay_dir: str | os.PathLike | None = None,
        overwrite: bool = False,
        state: VideoState | None = None,
        progress: bool = True,
        indices: Collection[int] | None = None,
    ) -> list[Path]:
        """Segment ``frames`` and write ``out_dir/<frame name>.png`` masks (0/255), optionally overlays.

        The masks are those of :meth:`segment_masks` (snapped if the OSVOS was built with ``snap``). Refuses
        a non-empty ``out_dir`` unless ``overwrite`` (files of the same name are then replaced, nothing else
        is touched), an ``out_dir`` that is, holds or lies in a frame folder, a folder another run is writing
        to, and frames whose names share a stem. Every mask is written atomically. Returns the mask paths.
        """
        from osvos_tf.outputs import claim_output_dir, write_masks
        from osvos_tf.progress import Progress

        frames = list(frames)
        _check_threshold(threshold)
        with claim_output_dir(out_dir, overwrite, frames=frames, overlay_dir=overlay_dir):
            total = len(frames) if indices is None else len(_check_indices(indices, frames) or ())
            bar = Progress(total, "segment", enabled=progress)

            def counted():
                for item in self.segment_masks(frames, state, threshold, indices):
                    yield item
                    bar.update()

            written = write_masks(counted(), frames, out_dir, overlay_dir)
            bar.close()
        return written

    # -- several objects (osvos_tf.objects) ----------------------------------------------------------
    def fit_objects(
        self,
        frames: Sequence[FrameLike],
        annotations: Sequence[Any],
        config: FineTuneConfig | None = None,
        **kwargs,
    ) -> ObjectsState:
        """Fine-tune one copy of the parent per object of label-map annotations (palette PNGs, arrays of ids,
        or dicts ``{id: mask}``; 255 = void); see :func:`osvos_tf.objects.fit_objects` for the arguments
        (``objects``, ``iterations``, ``time_budget_s`` for all objects together, ``progress``, ``seed``)."""
        from osvos_tf.objects import fit_objects

        return fit_objects(self, frames, annotations, config, **kwargs)

    def segment_objects(
        self,
        frames: Iterable[FrameLike],
        state: ObjectsState,
        merge: str | None = "argmax",
        threshold: float = MASK_THRESHOLD,
        indices: Collection[int] | None = None,
    ) -> Iterator[tuple[int, np.ndarray | None, dict[int, np.ndarray]]]:
        """``(index, label map or None, {id: probs})`` per frame, lazily; see
        :func:`osvos_tf.objects.segment_objects`."""
        from osvos_tf.objects import segment_objects

        return segment_objects(self, frames, state, merge, threshold, indices)

    def segment_objects_to_folder(
        self,
        frames: Sequence[FrameLike],
        out_dir: str | os.PathLike,
        state: ObjectsState,
        threshold: float = MASK_THRESHOLD,
        overlay_dir: str | os.PathLike | None = None,
        overwrite: bool = False,
        progress: bool = True,
        indices: Collection[int] | None = None,
    ) -> list[Path]:
        """Segment every object of ``state`` and write DAVIS-2017 results: ``out_dir/<frame name>.png``
        palette PNGs (index = object id; the authors' argmax merge), optionally overlays in the objects'
        colours. The folder rules of :meth:`segment_to_folder` apply. Returns the paths written."""
        from osvos_tf.outputs import claim_output_dir, write_label_maps
        from osvos_tf.progress import Progress

        frames = list(frames)
        with claim_output_dir(out_dir, overwrite, frames=frames, overlay_dir=overlay_dir):
            items = self.segment_objects(frames, state, "argmax", threshold, indices)  # checks first
            total = len(frames) if indices is None else len(_check_indices(indices, frames) or ())
            bar = Progress(total, f"segment {len(state.objects)} objects", enabled=progress)

            def counted():
                for index, labels, _ in items:
                    yield index, labels
                    bar.update()

            written = write_label_maps(counted(), frames, out_dir, overlay_dir)
            bar.close()
        return written


def _check_threshold(threshold: float) -> None:
    if not 0.0 <= float(threshold) < 1.0:
        raise ValueError(f"threshold must be in [0, 1) (foreground where probability > threshold), got {threshold}.")


def _check_keep_at(keep_at: Iterable[int]) -> set[int]:
    keep = set()
    for n in keep_at:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"keep_at takes positive update counts, got {n!r}.")
        keep.add(int(n))
    return keep


def _check_indices(indices: Collection[int] | None, frames: Iterable) -> frozenset[int] | None:
    if indices is None:
        return None
    out = set()
    for i in indices:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or i < 0:
            raise ValueError(f"indices must be non-negative frame positions, got {i!r}.")
        out.add(int(i))
    if isinstance(frames, Sequence) and out and max(out) >= len(frames):
        raise ValueError(
            f"Frame index {max(out)} is out of range: there are {len(frames)} frames (valid: 0..{len(frames) - 1})."
        )
    return frozenset(out)


def _submit_next(pool: ThreadPoolExecutor, items: Iterator[tuple[int, Any]]) -> tuple[int, Future] | None:
    try:
        index, item = next(items)
    except StopIteration:
        return None
    return index, pool.submit(read_frame, item)
