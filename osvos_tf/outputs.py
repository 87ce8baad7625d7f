"""Writing results: the output folder (checked and claimed before the long work), DAVIS-style mask PNGs and
overlays, each written atomically. Nothing the user has is overwritten unless asked."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from osvos_tf.atomic import atomic_path
from osvos_tf.config import MASK_THRESHOLD
from osvos_tf.frames import check_unique_names, frame_name, read_frame
from osvos_tf.masks import write_mask

#: The lock file of an output folder in use (:func:`claim_output_dir`); not counted as content.
LOCK_NAME = ".osvos-run.lock"

_held: dict[Path, int] = {}


def folder_entries(folder: str | os.PathLike) -> list[Path]:
    """What a folder holds, without the lock file of a run (:data:`LOCK_NAME`), which is never content."""
    return [
        p for p in Path(folder).iterdir() if p.name != LOCK_NAME
    ]  # output folders this process has claimed, with their claim counts


def _inside(a: Path, b: Path) -> bool:
    """Whether folder ``a`` is ``b`` or lies inside it (both resolved)."""
    return a == b or b in a.parents


def check_not_frame_folder(folder: str | os.PathLike, frames: Sequence) -> None:
    """Refuse an output folder that is, holds or lies inside a folder of the (path) ``frames``.

    Raises:
        ValueError: naming both folders.
    """
    out = Path(folder).resolve()
    for frame_dir in sorted({Path(f).resolve().parent for f in frames if isinstance(f, (str, os.PathLike))}):
        if _inside(out, frame_dir) or _inside(frame_dir, out):
            raise ValueError(
                f"Output folder {folder} {'is' if out == frame_dir else 'overlaps'} the frame folder {frame_dir}: "
                "masks would be written among (or over) the input frames. Choose an output folder outside it."
            )


def prepare_output_dir(folder: str | os.PathLike, overwrite: bool = False) -> Path:
    """Create ``folder``; refuse one that already holds files unless ``overwrite`` is True.

    With ``overwrite``, files osvos_tf writes replace those of the same name; nothing else is deleted.

    Raises:
        FileExistsError: not empty without ``overwrite``, or a file of that name exists.
        OSError: the folder cannot be created (a read-only place, a path under a file), with the reason.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"Output path {folder} exists and is not a folder.")
    if folder.is_dir() and not overwrite and folder_entries(folder):
        raise FileExistsError(
            f"Output folder {folder} is not empty; osvos_tf will not overwrite files without being asked. "
            "Choose an empty folder or pass overwrite=True (CLI: --overwrite)."
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(f"Cannot create the output folder {folder}: {err.strerror or err}.") from err
    return folder


@contextlib.contextmanager
def claim_output_dir(
    folder: str | os.PathLike,
    overwrite: bool = False,
    frames: Sequence = (),
    overlay_dir: str | os.PathLike | None = None,
) -> Iterator[Path]:
    """Prepare ``folder`` (and ``overlay_dir``) for a run, and hold it for the run's duration.

    Checks, before any long work: the folder is not a frame folder (:func:`check_not_frame_folder`), the
    frames' names are unique (:func:`check_unique_names`), the folder is empty unless ``overwrite``
    (:func:`prepare_output_dir`), and no other process holds it: a second run on a folder in use fails at
    once. The claim is an exclusive ``flock`` on ``folder/.osvos-run.lock``, removed at the end (a process
    killed with -9 leaves the file, but the kernel releases its lock, and the file does not count as content);
    claims by the same process nest.

    Raises:
        ValueError, FileExistsError, OSError: as the checks above; FileExistsError for a folder in use.
    """
    frames = list(frames)
    check_not_frame_folder(folder, frames)
    if overlay_dir is not None:
        check_not_frame_folder(overlay_dir, frames)
    check_unique_names(frames)
    path = Path(folder).resolve()
    if path in _held:
        _held[path] += 1
        try:
            yield Path(folder)
        finally:
            _held[path] -= 1
        return
    prepare_output_dir(folder, overwrite)
    handle = _lock(path)
    _held[path] = 1
    try:
        if overlay_dir is not None:
            prepare_output_dir(overlay_dir, overwrite)
        yield Path(folder)
    finally:
        del _held[path]
        with contextlib.suppress(OSError):
            (path / LOCK_NAME).unlink()  # still holding the lock: no other run can be between its checks
        handle.close()  # releases the flock


def _lock(folder: Path):
    import fcntl

    handle = open(folder / LOCK_NAME, "a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        owner = handle.read().strip() or "another process"
        handle.close()
        raise FileExistsError(
            f"Output folder {folder} is in use by another osvos run ({owner}); two runs on one folder would mix "
            "their masks. Wait for it to finish or choose another folder."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    return handle


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
    threshold: float = MASK_THRESHOLD,
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
    frames = list(frames)
    with claim_output_dir(out_dir, overwrite, frames, overlay_dir):
        return write_masks(((i, p > threshold) for i, p in enumerate(probs)), frames, out_dir, overlay_dir)


def write_masks(
    masks: Iterable[tuple[int, np.ndarray]],
    frames: Sequence,
    out_dir: str | os.PathLike,
    overlay_dir: str | os.PathLike | None = None,
) -> list[Path]:
    """Write ``(index, bool (H, W) mask)`` items as ``out_dir/<name of frames[index]>.png`` (0/255), and
    optional ``overlay_dir/<name>.jpg`` overlays, streaming; every file is written atomically.

    The folders must exist (see :func:`claim_output_dir`). Returns the mask paths written, in order.
    """
    return _write_each(((i, np.asarray(m, bool)) for i, m in masks), frames, out_dir, overlay_dir, write_mask, overlay)


def _write_each(items, frames: Sequence, out_dir, overlay_dir, write, draw) -> list[Path]:
    """``write(out_dir/<name>.png, item)`` for each ``(index, item)``, and with ``overlay_dir`` a JPEG of
    ``draw(frame, item)`` named after the frame; returns the PNG paths."""
    written = []
    for index, item in items:
        name = frame_name(frames[index], index)
        path = Path(out_dir) / f"{name}.png"
        write(path, item)
        written.append(path)
        if overlay_dir is not None:
            with atomic_path(Path(overlay_dir) / f"{name}.jpg") as tmp:
                Image.fromarray(draw(read_frame(frames[index]), item)).save(tmp, format="JPEG", quality=90)
    return written


def overlay_objects(frame: np.ndarray, labels: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The frame (uint8 RGB) with each object of a label map (uint8 (H, W)) tinted in its DAVIS palette
    colour (:data:`osvos_tf.label_maps.DAVIS_PALETTE`) and its boundary drawn solid; void is left as is."""
    from osvos_tf.label_maps import DAVIS_PALETTE
    from osvos_tf.masks import VOID_ID

    out = frame
    for obj in np.unique(labels):
        if obj not in (0, VOID_ID):
            out = overlay(out, labels == obj, color=tuple(int(c) for c in DAVIS_PALETTE[obj]), alpha=alpha)
    return out


def write_label_maps(
    items: Iterable[tuple[int, np.ndarray]],
    frames: Sequence,
    out_dir: str | os.PathLike,
    overlay_dir: str | os.PathLike | None = None,
) -> list[Path]:
    """Write ``(index, uint8 (H, W) label map)`` items as DAVIS-2017 results, ``out_dir/<name of
    frames[index]>.png`` palette PNGs (:func:`osvos_tf.label_maps.write_label_map`), and optional
    ``overlay_dir/<name>.jpg`` overlays in the objects' colours; streaming, each file written atomically.

    The folders must exist (see :func:`claim_output_dir`). Returns the paths written, in order.
    """
    from osvos_tf.label_maps import write_label_map

    return _write_each(items, frames, out_dir, overlay_dir, write_label_map, overlay_objects)
