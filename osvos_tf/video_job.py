"""The whole job on one video (a folder of frames), as ``osvos segment`` runs it: check everything, fine-tune
on the annotated frame, segment every frame, write the masks.

Every check that can fail does so before the fine-tuning (minutes at 480p): the output folder (not a frame
folder, empty unless ``overwrite``, not in use by another run, claimed for this one), every frame decoded
once with one size, the mask read and matched to its frame.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from pathlib import Path

from osvos_tf.config import MASK_THRESHOLD, FineTuneConfig, finetune_config
from osvos_tf.frames import check_frames, check_pair, list_frames, read_frame
from osvos_tf.masks import MultipleObjectsError, read_user_mask
from osvos_tf.osvos import OSVOS
from osvos_tf.outputs import claim_output_dir


def _recipe(preset: str | None, iterations: int | None, compute_dtype: str | None) -> FineTuneConfig:
    _, config = finetune_config(preset, iterations)
    if compute_dtype is not None:
        config = dataclasses.replace(config, compute_dtype=compute_dtype)
    return config


def _annotated_frame(frames: list[Path], frame_index: int, frames_dir: str | os.PathLike) -> Path:
    if not -len(frames) <= frame_index < len(frames):
        raise ValueError(
            f"--frame-index {frame_index} is out of range: {frames_dir} has {len(frames)} frames "
            f"(valid: 0..{len(frames) - 1})."
        )
    return frames[frame_index]


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
    threshold: float = MASK_THRESHOLD,
    time_budget_s: float | None = None,
    progress: bool = True,
    snap: str | None = None,
    preset: str | None = None,
    compute_dtype: str | None = None,
    objects: Sequence[int] | None = None,
) -> dict:
    """Fine-tune on one annotated frame of a folder of frames, then segment every frame.

    Args:
        frames_dir: folder of frames (natural order); mask: the annotation of frame ``frame_index``. One
            object: masks 0/255 as today. A label map holding several object ids (a DAVIS-2017 palette PNG, an
            8-bit PNG of ids), or any label map with ``objects``: one network per object
            (:meth:`OSVOS.fit_objects`) and palette PNGs out (index = object id).
        out_dir: masks go to ``out_dir/<frame name>.png`` (0/255); with ``overlay``, overlays to
            ``out_dir/overlays/<frame name>.jpg``. A non-empty ``out_dir`` is refused unless ``overwrite``; one
            that is, holds or lies in ``frames_dir``, or that another run is using, is always refused.
        iterations: fine-tuning updates (default: the config's; 0 = the network as loaded).
        checkpoint: the parent (see :class:`osvos_tf.osvos.OSVOS`): default the shipped preset; a preset name,
            a path, or ``'base'`` for the bare VGG16 initialisation.
        snap: None, 'contours' or 'bilateral' (see :class:`OSVOS`).
        preset: a fine-tuning preset of :data:`osvos_tf.config.PRESETS` (not with ``iterations``).
        compute_dtype: override of ``FineTuneConfig.compute_dtype`` ('auto', 'float32', 'bfloat16').
        objects: the object ids of a label map to segment (default: all of them).

    Returns:
        ``{'masks': [paths], 'overlays': folder or None, 'fit_seconds': s, 'segment_seconds': s,
        'iterations': n, 'source': parent id, 'snap': mode, 'snap_ms_per_frame': {...}, 'objects': ids or
        None}`` (``iterations``: per object for several objects).
    """
    frames = list_frames(frames_dir)
    annotated = _annotated_frame(frames, frame_index, frames_dir)
    config = _recipe(preset, iterations, compute_dtype)
    overlay_dir = Path(out_dir) / "overlays" if overlay else None
    with claim_output_dir(out_dir, overwrite, frames=frames, overlay_dir=overlay_dir):
        check_frames(frames, progress=progress and len(frames) > 200)
        chosen = _objects_to_segment(mask, annotated, objects)
        if chosen is not None:
            if snap is not None:
                raise ValueError("--snap works on one object; segment several objects without it.")
            osvos = OSVOS(checkpoint=checkpoint, config=config)
            objects_state = osvos.fit_objects(
                [annotated], [mask], objects=chosen, time_budget_s=time_budget_s, progress=progress
            )
            start = time.perf_counter()
            written = osvos.segment_objects_to_folder(
                frames, out_dir, objects_state, threshold, overlay_dir, overwrite=True, progress=progress
            )
            return {
                "masks": written,
                "overlays": overlay_dir,
                "fit_seconds": objects_state.seconds,
                "segment_seconds": time.perf_counter() - start,
                "iterations": max(s.iterations for s in objects_state.states.values()),
                "source": osvos.source,
                "snap": "none",
                "snap_ms_per_frame": {},
                "objects": list(objects_state.objects),
            }
        osvos = OSVOS(checkpoint=checkpoint, config=config, snap=snap)
        state = None
        if osvos.config.iterations != 0:
            state = osvos.fit_one_shot(annotated, mask, log_dir=log_dir, time_budget_s=time_budget_s, progress=progress)
        start = time.perf_counter()
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
        "objects": None,
    }


def _objects_to_segment(mask, annotated: Path, objects: Sequence[int] | None) -> tuple[int, ...] | None:
    """The object ids to segment one network each (None: the one-object path, 0/255 masks), checked
    against the annotated frame before anything is fine-tuned."""
    from osvos_tf.label_maps import object_ids, read_label_map
    from osvos_tf.objects import chosen_objects

    what = f"Mask of {annotated.name}"
    frame = read_frame(annotated)
    if objects is None:
        try:
            check_pair(frame, read_user_mask(mask, what), f" ({annotated.name})")
            return None
        except MultipleObjectsError:
            pass  # a label map with several objects: every one
    labels = read_label_map(mask, what)
    check_pair(frame, labels, f" ({annotated.name})")
    return chosen_objects(object_ids([labels]), objects)
