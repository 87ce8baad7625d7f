"""Reading video frames, with clear errors for bad input.

Frames (:func:`read_frame`) become uint8 RGB (H, W, 3):

* RGB as is; grayscale is replicated to three channels; RGBA and LA drop the alpha channel; palette images
  are converted through their palette; 16-bit images are scaled to 8 bits.
* Arrays: uint8 (H, W), (H, W, 3) or (H, W, 4); uint16 is scaled to 8 bits; float arrays must be on the
  0..255 scale (a float array whose maximum is <= 1 is refused: multiply it by 255 first).

Masks are read by :mod:`osvos_tf.masks`; outputs are written by :mod:`osvos_tf.outputs`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
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
        ValueError: it holds no image files, or two of them share a name stem (`a.jpg`, `a.png`: their masks
            would overwrite each other).
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
    check_unique_names(files)
    return files


def open_image(path: str | os.PathLike, what: str) -> Image.Image:
    """Open and fully decode an image file, or raise an error naming it (missing, 0-byte, truncated, not an
    image)."""
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
        image = open_image(frame, "Frame")
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


def check_unique_names(frames: Sequence) -> None:
    """Refuse frames whose output names (file stems) coincide, e.g. ``a.jpg`` and ``a.png``: one mask would
    overwrite the other.

    Raises:
        ValueError: naming the clashing files.
    """
    seen: dict[str, object] = {}
    for index, frame in enumerate(frames):
        name = frame_name(frame, index)
        if name in seen:
            raise ValueError(
                f"Frames {seen[name]} and {frame} share the name {name!r}, so their masks ({name}.png) would "
                "overwrite each other. Rename or remove one of them."
            )
        seen[name] = frame


def check_frames(frames: Sequence, progress: bool = False) -> tuple[int, int]:
    """Decode every frame once and check they share one size, before any long work (fine-tuning).

    Args:
        frames: paths or arrays.
        progress: show a progress bar on stderr (for long videos).

    Returns:
        The common (height, width).

    Raises:
        FileNotFoundError, ValueError: a missing, 0-byte, truncated or non-image frame, or a frame whose size
            differs from the first one's; the message names the file (not only its index).
    """
    from osvos_tf.progress import Progress

    if len(frames) == 0:
        raise ValueError("No frames given.")
    bar = Progress(len(frames), "check frames", enabled=progress)
    shape = None
    first = None
    for index, frame in enumerate(frames):
        size = read_frame(frame).shape[:2]
        name = str(frame) if isinstance(frame, (str, os.PathLike)) else f"frame array {index}"
        if shape is None:
            shape, first = size, name
        elif size != shape:
            raise ValueError(
                f"{name} is {size[1]}x{size[0]} (WxH) but {first} is {shape[1]}x{shape[0]}: all frames of a "
                "video must have the same size. Resize or remove it."
            )
        bar.update()
    bar.close()
    assert shape is not None
    return int(shape[0]), int(shape[1])
