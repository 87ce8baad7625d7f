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


