"""Reading frames and masks, writing DAVIS-style masks and overlays, with clear errors for bad input.

Frames (:func:`read_frame`) become uint8 RGB (H, W, 3):

* RGB as is; grayscale is replicated to three channels; RGBA and LA drop the alpha channel; palette images
  are converted through their palette; 16-bit images are scaled to 8 bits.
* Arrays: uint8 (H, W), (H, W, 3) or (H, W, 4); uint16 is scaled to 8 bits; float arrays must be on the
  0..255 scale (a float array whose maximum is <= 1 is refused: multiply it by 255 first).

Masks (:func:`read_mask`) become bool (H, W), foreground = True:

* palette PNG (DAVIS-2017 style): palette index != 0;
* 1-bit: as is;
* grayscale 8/16-bit: if the largest value is 1 (a 0/1 label map), nonzero; otherwise value >= half the
  range (128 of 255, 32768 of 65535), which also binarises soft, anti-aliased edges at 50 %;
* RGB / RGBA: the largest colour channel, thresholded as grayscale; an RGBA mask whose colour is uniform
  takes its alpha channel instead (a cut-out saved with transparency);
* arrays: bool as is; integer as grayscale above; float: >= 0.5 (probabilities in [0, 1]).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def _natural_key(path: Path):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def list_frames(folder: str | os.PathLike) -> list[Path]:
    """The image files of ``folder`` (jpg, png, bmp, tif, webp), in natural order (2 before 10).

    Raises:
        FileNotFoundError: the folder does not exist.
        ValueError: it holds no image files.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"Frame folder not found: {folder}. Pass a folder of video frames "
            "(one image per frame, e.g. 00000.jpg, 00001.jpg, ...)."
        )
    files = sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()), key=_natural_key
    )
    if not files:
        raise ValueError(f"No image files in {folder} (looked for {', '.join(IMAGE_EXTENSIONS)}).")
    return files


def _open_image(path: str | os.PathLike, what: str) -> Image.Image:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}.")
    if path.stat().st_size == 0:
        raise ValueError(f"{what} {path} is an empty file (0 bytes); re-export it.")
    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f"{what} {path} is not a readable image ({err}); it may be corrupt or truncated.") from err
    return image


def read_frame(frame) -> np.ndarray:
    """A video frame as uint8 RGB (H, W, 3). See the module docstring for the accepted inputs."""
    if isinstance(frame, (str, os.PathLike)):
        image = _open_image(frame, "Frame")
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            array = np.asarray(image, dtype=np.float64)
            array = np.clip(array / 257.0, 0, 255).round().astype(np.uint8)
            return np.repeat(array[..., None], 3, axis=-1)
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    array = np.asarray(frame)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
        raise ValueError(f"A frame array must be (H, W), (H, W, 3) or (H, W, 4); got shape {array.shape}.")
    array = array[..., :3] if array.shape[-1] == 4 else array
    if array.dtype == np.uint8:
        pass
    elif array.dtype == np.uint16:
        array = (array.astype(np.float64) / 257.0).round().astype(np.uint8)
    elif np.issubdtype(array.dtype, np.floating):
        if array.size and float(np.nanmax(array)) <= 1.0:
            raise ValueError(
                "Float frame arrays must be on the 0..255 scale; this one has max <= 1 "
                "(probably 0..1): pass (frame * 255).astype(np.uint8)."
            )
        array = np.clip(array, 0, 255).round().astype(np.uint8)
    else:
        raise ValueError(f"Frame arrays must be uint8, uint16 or float; got {array.dtype}.")
    if array.shape[-1] == 1:
        array = np.repeat(array, 3, axis=-1)
    return np.ascontiguousarray(array)


def _threshold_gray(array: np.ndarray, full_scale: float) -> np.ndarray:
    if array.size and array.max() <= 1:
        return array > 0
    return array >= full_scale / 2


def read_mask(mask) -> np.ndarray:
    """An annotation as bool (H, W), True = foreground. See the module docstring for the rules."""
    if isinstance(mask, (str, os.PathLike)):
        image = _open_image(mask, "Mask")
        if image.mode == "P":
            return np.asarray(image) != 0
        if image.mode == "1":
            return np.asarray(image, dtype=bool)
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            return _threshold_gray(np.asarray(image, dtype=np.int64), 65535)
        if image.mode == "F":
            return read_mask(np.asarray(image, dtype=np.float32))
        if image.mode in ("L", "LA"):
            return _threshold_gray(np.asarray(image.convert("L")), 255)
        if image.mode == "RGBA":
            rgba = np.asarray(image)
            rgb = rgba[..., :3]
            if rgb.size and (rgb == rgb.reshape(-1, 3)[0]).all():
                return _threshold_gray(rgba[..., 3], 255)
            return _threshold_gray(rgb.max(axis=-1), 255)
        return _threshold_gray(np.asarray(image.convert("RGB")).max(axis=-1), 255)
    array = np.asarray(mask)
    if array.ndim == 3 and array.shape[-1] in (1, 3, 4):
        array = array[..., :3].max(axis=-1) if array.shape[-1] != 1 else array[..., 0]
    if array.ndim != 2:
        raise ValueError(f"A mask must be (H, W) (or (H, W, C) with C in 1, 3, 4); got shape {array.shape}.")
    if array.dtype == bool:
        return array.copy()
    if np.issubdtype(array.dtype, np.floating):
        return array >= 0.5
    if np.issubdtype(array.dtype, np.integer):
        full = 65535 if array.dtype.itemsize >= 2 and array.max(initial=0) > 255 else 255
        return _threshold_gray(array, full)
    raise ValueError(f"Mask arrays must be bool, integer or float; got {array.dtype}.")


def check_pair(frame: np.ndarray, mask: np.ndarray, where: str = "") -> None:
    """Raise if a frame (H, W, 3) and its mask (H, W) differ in size."""
    if frame.shape[:2] != mask.shape:
        raise ValueError(
            f"Mask size {mask.shape[1]}x{mask.shape[0]} (WxH) differs from its frame's "
            f"{frame.shape[1]}x{frame.shape[0]}{where}. Resize the mask to the frame "
            "(nearest-neighbour) or annotate the frame at its own size."
        )


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


def write_mask(path: str | os.PathLike, mask: np.ndarray) -> None:
    """Write a bool (H, W) mask as a DAVIS-style PNG: 8-bit grayscale, 0 background, 255 foreground."""
    Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L").save(path)


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
