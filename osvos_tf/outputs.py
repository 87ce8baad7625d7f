"""Writing results: the output folder (refusing to overwrite), DAVIS-style mask PNGs and overlays."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from osvos_tf.frames import read_frame
from osvos_tf.masks import write_mask


def frame_name(frame, index: int) -> str:
    """Output name stem for a frame: the input file's stem, or a 5-digit index for arrays."""
    if isinstance(frame, (str, os.PathLike)):
        return Path(frame).stem
    return f"{index:05d}"


def prepare_output_dir(folder: str | os.PathLike, overwrite: bool = False) -> Path:
    """Create ``folder``; refuse one that already holds files unless ``overwrite`` is True.

    With ``overwrite``, files osvos_tf writes replace those of the same name; nothing else is deleted.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"Output path {folder} exists and is not a folder.")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(
            f"Output folder {folder} is not empty; osvos_tf will not overwrite files "
            "without being asked. Choose an empty folder or pass overwrite=True "
            "(CLI: --overwrite)."
        )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def overlay(frame: np.ndarray, mask: np.ndarray, color=(255, 40, 40), alpha: float = 0.5) -> np.ndarray:
    """The frame (uint8 RGB) with the mask (bool) tinted in ``color`` and its boundary drawn solid."""
    from scipy import ndimage

    out = frame.astype(np.float32)
    tint = np.array(color, np.float32)
    out[mask] = (1 - alpha) * out[mask] + alpha * tint
    edge = mask & ~ndimage.binary_erosion(mask, border_value=0)
    edge = ndimage.binary_dilation(edge, iterations=1)
    out[edge] = tint
    return out.round().astype(np.uint8)


def write_results(
    probs: Iterable[np.ndarray],
    frames: Sequence,
    out_dir: str | os.PathLike,
    threshold: float = 0.5,
    overlay_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Write per-frame masks (``out_dir/<frame name>.png``, 0/255) and optional overlays, streaming.

    Args:
        probs: an iterable of float32 (H, W) foreground probabilities in [0, 1], one per frame, in order
            (e.g. ``OSVOS.segment(frames)``); consumed lazily.
        frames: the frames (paths or arrays) the probabilities belong to, for names and overlays.
        threshold: foreground where ``probs > threshold``.
        overlay_dir: if given, also write ``<frame name>.jpg`` overlays there.

    Returns:
        The mask paths written.
    """
    return write_masks((p > threshold for p in probs), frames, out_dir, overlay_dir, overwrite)


def write_masks(
    masks: Iterable[np.ndarray],
    frames: Sequence,
    out_dir: str | os.PathLike,
    overlay_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Write bool (H, W) masks as ``out_dir/<frame name>.png`` (0/255) and optional overlays, streaming.

    Args:
        masks: an iterable of bool (H, W) masks, one per frame, in order (e.g. ``OSVOS.segment_masks``);
            consumed lazily.
        frames: the frames (paths or arrays) the masks belong to, for names and overlays.
        overlay_dir: if given, also write ``<frame name>.jpg`` overlays there.
        overwrite: see :func:`prepare_output_dir`.

    Returns:
        The mask paths written.
    """
    out_dir = prepare_output_dir(out_dir, overwrite)
    if overlay_dir is not None:
        overlay_dir = prepare_output_dir(overlay_dir, overwrite)
    written = []
    for index, (mask, frame) in enumerate(zip(masks, frames)):  # masks first: its generator runs to the end
        mask = np.asarray(mask, bool)
        name = frame_name(frame, index)
        path = out_dir / f"{name}.png"
        write_mask(path, mask)
        written.append(path)
        if overlay_dir is not None:
            Image.fromarray(overlay(read_frame(frame), mask)).save(Path(overlay_dir) / f"{name}.jpg", quality=90)
    return written
