"""The whole job on one video, as ``osvos segment`` runs it: check everything, fine-tune on the annotated frame,
segment every frame, write the results. :func:`segment_video` takes a folder of frames,
:func:`segment_video_file` a video file (the 'video' extra).

Every check that can fail does so before the fine-tuning (minutes at 480p): the output folder (not a frame
folder, empty unless ``overwrite``, not in use by another run, claimed for this one), every frame decoded
once with one size (a video file: its packets counted and the annotated frame decoded), the mask read and
matched to its frame. Frames larger than the working resolution (``short_side``, default 480) are processed at
it (:mod:`osvos_tf.resolution`), and the estimated time is printed before the fine-tuning starts.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from osvos_tf.config import MASK_THRESHOLD, FineTuneConfig, config_to_dict, finetune_config
from osvos_tf.frames import check_frames, check_pair, list_frames, read_frame
from osvos_tf.masks import MultipleObjectsError, read_user_mask
from osvos_tf.osvos import OSVOS
from osvos_tf.outputs import claim_output_dir

#: ``short_side`` of the jobs: the working resolution's short side by default (DAVIS's).
WORKING_SHORT_SIDE = FineTuneConfig().working_short_side

#: The record of a job in its output folder: the recipe, the parent, the input, the times.
RUN_RECORD = "run.json"


def _recipe(
    preset: str | None, iterations: int | None, compute_dtype: str | None, short_side: int | None
) -> FineTuneConfig:
    _, config = finetune_config(preset, iterations)
    config = dataclasses.replace(config, working_short_side=short_side)
    if compute_dtype is not None:
        config = dataclasses.replace(config, compute_dtype=compute_dtype)
    return config


def _announce(osvos: OSVOS, shape: tuple[int, int], n_frames: int, n_objects: int, progress: bool):
    """The job's estimate (:meth:`OSVOS.estimate`), printed to stderr with ``progress``."""
    estimate = osvos.estimate(shape, n_frames, n_objects)
    if progress:
        print(estimate.describe(n_frames), file=sys.stderr)
    return estimate


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
    short_side: int | None = WORKING_SHORT_SIDE,
) -> dict:
    """Fine-tune on one annotated frame of a folder of frames, then segment every frame.

    Args:
        frames_dir: folder of frames (natural order); mask: the annotation of frame ``frame_index``. One
            object: masks 0/255 as today. A label map holding several object ids (a DAVIS-2017 palette PNG, an
            8-bit PNG of ids), or any label map with ``objects``: one network per object
            (:meth:`OSVOS.fit_objects`) and palette PNGs out (index = object id).
        out_dir: masks go to ``out_dir/<frame name>.png`` (0/255); with ``overlay``, overlays to
            ``out_dir/overlays/<frame name>.jpg``; the record of the run (recipe, parent, input, times) to
            ``out_dir/run.json``. A non-empty ``out_dir`` is refused unless ``overwrite``; one
            that is, holds or lies in ``frames_dir``, or that another run is using, is always refused.
        iterations: fine-tuning updates (default: the config's; 0 = the network as loaded).
        checkpoint: the parent (see :class:`osvos_tf.osvos.OSVOS`): default the shipped preset; a preset name,
            a path, or ``'base'`` for the bare VGG16 initialisation.
        snap: None, 'contours' or 'bilateral' (see :class:`OSVOS`).
        preset: a fine-tuning preset of :data:`osvos_tf.config.PRESETS` (not with ``iterations``).
        compute_dtype: override of ``FineTuneConfig.compute_dtype`` ('auto', 'float32', 'bfloat16').
        objects: the object ids of a label map to segment (default: all of them).
        short_side: the working resolution's short side (frames with a longer one are processed at it and the
            masks brought back to their size); None = native resolution.

    Returns:
        ``{'masks': [paths], 'overlays': folder or None, 'fit_seconds': s, 'segment_seconds': s,
        'iterations': n, 'source': parent id, 'snap': mode, 'snap_ms_per_frame': {...}, 'objects': ids or
        None, 'estimate': JobEstimate}`` (``iterations``: per object for several objects).
    """
    frames = list_frames(frames_dir)
    annotated = _annotated_frame(frames, frame_index, frames_dir)
    config = _recipe(preset, iterations, compute_dtype, short_side)
    overlay_dir = Path(out_dir) / "overlays" if overlay else None
    with claim_output_dir(out_dir, overwrite, frames=frames, overlay_dir=overlay_dir):
        shape = check_frames(frames, progress=progress and len(frames) > 200)
        chosen = _objects_to_segment(mask, read_frame(annotated), annotated.name, objects)
        if chosen is not None:
            if snap is not None:
                raise ValueError("--snap works on one object; segment several objects without it.")
            osvos = OSVOS(checkpoint=checkpoint, config=config)
            estimate = _announce(osvos, shape, len(frames), len(chosen), progress)
            objects_state = osvos.fit_objects(
                [annotated], [mask], objects=chosen, time_budget_s=time_budget_s, progress=progress
            )
            start = time.perf_counter()
            written = osvos.segment_objects_to_folder(
                frames, out_dir, objects_state, threshold, overlay_dir, overwrite=True, progress=progress
            )
            summary = {
                "masks": written,
                "overlays": overlay_dir,
                "fit_seconds": objects_state.seconds,
                "segment_seconds": time.perf_counter() - start,
                "iterations": max(s.iterations for s in objects_state.states.values()),
                "source": osvos.source,
                "snap": "none",
                "snap_ms_per_frame": {},
                "objects": list(objects_state.objects),
                "estimate": estimate,
            }
            _record_folder_job(out_dir, frames_dir, frames, shape, summary, osvos, threshold, frame_index)
            return summary
        osvos = OSVOS(checkpoint=checkpoint, config=config, snap=snap)
        estimate = _announce(osvos, shape, len(frames), 1, progress)
        state = None
        if osvos.config.iterations != 0:
            state = osvos.fit_one_shot(annotated, mask, log_dir=log_dir, time_budget_s=time_budget_s, progress=progress)
        start = time.perf_counter()
        written = osvos.segment_to_folder(frames, out_dir, threshold, overlay_dir, overwrite=True, progress=progress)
        summary = {
            "masks": written,
            "overlays": overlay_dir,
            "fit_seconds": state.seconds if state else 0.0,
            "segment_seconds": time.perf_counter() - start,
            "iterations": state.iterations if state else 0,
            "source": osvos.source,
            "snap": osvos.snapper.mode,
            "snap_ms_per_frame": osvos.snapper.ms_per_frame(),
            "objects": None,
            "estimate": estimate,
        }
        _record_folder_job(out_dir, frames_dir, frames, shape, summary, osvos, threshold, frame_index)
    return summary


def _record_folder_job(out_dir, frames_dir, frames, shape, summary, osvos, threshold, frame_index) -> None:
    """Write ``out_dir/run.json`` for :func:`segment_video`."""
    source = {"frames_folder": Path(frames_dir).name, "frames": len(frames), "width": shape[1], "height": shape[0]}
    outputs = {"masks": ".", **({"overlays": "overlays"} if summary["overlays"] is not None else {})}
    index = frame_index % len(frames)
    _write_run_record(out_dir, _run_record(source, summary, osvos, threshold, index, outputs))


def _objects_to_segment(mask, frame: np.ndarray, name: str, objects: Sequence[int] | None) -> tuple[int, ...] | None:
    """The object ids to segment one network each (None: the one-object path, 0/255 masks), checked
    against the annotated frame (uint8 RGB, called ``name`` in errors) before anything is fine-tuned."""
    from osvos_tf.label_maps import object_ids, read_label_map
    from osvos_tf.objects import chosen_objects

    what = f"Mask of {name}"
    if objects is None:
        try:
            check_pair(frame, read_user_mask(mask, what), f" ({name})")
            return None
        except MultipleObjectsError:
            pass  # a label map with several objects: every one
    labels = read_label_map(mask, what)
    check_pair(frame, labels, f" ({name})")
    return chosen_objects(object_ids([labels]), objects)


def segment_video_file(
    video: str | os.PathLike,
    mask: str | os.PathLike,
    out_dir: str | os.PathLike,
    frame_index: int = 0,
    iterations: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    log_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
    threshold: float = MASK_THRESHOLD,
    time_budget_s: float | None = None,
    progress: bool = True,
    snap: str | None = None,
    preset: str | None = None,
    compute_dtype: str | None = None,
    objects: Sequence[int] | None = None,
    short_side: int | None = WORKING_SHORT_SIDE,
    masks: str = "png",
    overlay: bool = False,
    cutout: str | None = None,
    soft_alpha: bool = False,
) -> dict:
    """Fine-tune on one annotated frame of a video file, then segment every frame, streaming (one decoded frame
    in memory at a time): the video counterpart of :func:`segment_video` (needs the 'video' extra).

    Args:
        video: any file FFmpeg reads (MP4, MOV, WebM, MKV, ...); its rotation metadata is applied, so the mask is
            drawn on the frame as displayed. mask: the annotation of frame ``frame_index`` (negative counts from
            the end), a mask or a label map as for :func:`segment_video`.
        out_dir: the results, as :class:`osvos_tf.video_outputs.VideoOutputs` lays them out (``masks``,
            ``overlay``, ``cutout``, ``soft_alpha``), plus ``run.json`` (the recipe, the parent, the input, the
            times). The folder rules of :func:`segment_video` hold; the video must not lie inside it.
        The other arguments are :func:`segment_video`'s.

    Returns:
        ``{'paths': {what: path}, 'fit_seconds', 'segment_seconds', 'iterations', 'source', 'snap', 'objects',
        'estimate', 'info': VideoInfo, 'frames': n}``.

    Raises:
        ImportError: no PyAV (the message names the install command); FileNotFoundError, ValueError: a missing
            or unreadable video, a frame index out of range, a mask that does not fit the frame, bad options.
    """
    from osvos_tf.video import VideoReader
    from osvos_tf.video_outputs import VideoOutputs, check_output_kinds

    check_output_kinds(masks, cutout)
    reader = VideoReader(video)
    info = reader.info
    try:
        annotated = reader.read(frame_index)
    except IndexError as err:
        raise ValueError(f"--frame-index: {err}") from None
    config = _recipe(preset, iterations, compute_dtype, short_side)
    with claim_output_dir(out_dir, overwrite):
        if Path(out_dir).resolve() in Path(video).resolve().parents:
            raise ValueError(f"The video {video} lies inside the output folder {out_dir}; choose another folder.")
        name = f"frame {annotated.index} of {Path(video).name}"
        chosen = _objects_to_segment(mask, annotated.image, name, objects)
        if chosen is not None and snap is not None:
            raise ValueError("--snap works on one object; segment several objects without it.")
        osvos = OSVOS(checkpoint=checkpoint, config=config, snap=snap)
        estimate = _announce(osvos, (info.height, info.width), info.frames, len(chosen or (1,)), progress)
        objects_state = None
        if chosen is not None:
            objects_state = osvos.fit_objects(
                [annotated.image], [mask], objects=chosen, time_budget_s=time_budget_s, progress=progress
            )
            fit_seconds, done = objects_state.seconds, max(s.iterations for s in objects_state.states.values())
        elif osvos.config.iterations != 0:
            state = osvos.fit_one_shot(
                annotated.image, mask, log_dir=log_dir, time_budget_s=time_budget_s, progress=progress
            )
            fit_seconds, done = state.seconds, state.iterations
        else:
            fit_seconds, done = 0.0, 0
        start = time.perf_counter()
        with VideoOutputs(Path(out_dir), info, masks, overlay, cutout, soft_alpha, chosen) as outputs:
            _segment_stream(osvos, reader, outputs, threshold, objects_state, progress)
        segment_seconds = time.perf_counter() - start
        summary = {
            "paths": outputs.paths,
            "fit_seconds": fit_seconds,
            "segment_seconds": segment_seconds,
            "iterations": done,
            "source": osvos.source,
            "snap": osvos.snapper.mode,
            "objects": None if chosen is None else list(chosen),
            "estimate": estimate,
            "info": info,
            "frames": info.frames,
        }
        source = {
            "video": info.path.name,
            "frames": info.frames,
            "width": info.width,
            "height": info.height,
            "fps": info.fps,
            "rotation": info.rotation,
            "audio": info.audio,
        }
        outputs_written = {k: p.name for k, p in outputs.paths.items()}
        _write_run_record(out_dir, _run_record(source, summary, osvos, threshold, annotated.index, outputs_written))
    return summary


def _segment_stream(osvos: OSVOS, reader, outputs, threshold: float, objects_state, progress: bool) -> None:
    """Segment every frame of ``reader`` (one object, or every object of ``objects_state``) into ``outputs``."""
    from osvos_tf.progress import Progress

    decoded: dict[int, object] = {}  # the frames read ahead of the network (at most two)

    def images():
        for frame in reader:
            decoded[frame.index] = frame
            yield frame.image

    bar = Progress(len(reader), "segment", enabled=progress)
    if objects_state is None:
        for index, image, probs in osvos.segment_frames(images()):
            outputs.write(decoded.pop(index), osvos.snapper(image, probs, threshold=threshold), probs)
            bar.update()
    else:
        for index, labels, probs_of in osvos.segment_objects(images(), objects_state, "argmax", threshold):
            outputs.write(decoded.pop(index), labels, probs_of)
            bar.update()
    bar.close()


def _run_record(source: dict, summary: dict, osvos: OSVOS, threshold: float, frame_index: int, outputs: dict) -> dict:
    """``run.json`` of a job: what produced the results (``source``: the input, by name, never a machine path;
    ``outputs``: what was written, relative to the output folder)."""
    return {
        "input": source,
        "annotated_frame": frame_index,
        "working_shape": list(summary["estimate"].working_shape),
        "parent": osvos.parent.describe(),
        "fine_tune_config": config_to_dict(osvos.config),  # compute_dtype resolved
        "threshold": threshold,
        "snap": summary["snap"],
        "objects": summary["objects"],
        "outputs": outputs,
        "seconds": {
            "fit": summary["fit_seconds"],
            "segment": summary["segment_seconds"],
            "estimated": summary["estimate"].seconds,
        },
        "iterations": summary["iterations"],
    }


def _write_run_record(out_dir: str | os.PathLike, record: dict) -> None:
    from osvos_tf.atomic import write_json_atomic

    write_json_atomic(Path(out_dir) / RUN_RECORD, record)
