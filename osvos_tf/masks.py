"""Reading and writing masks, under two named rule sets, side by side.

A mask becomes bool (H, W), True = foreground. Which pixels count depends on where the mask comes from:

=========================  ===========================================  ======================================
input                      USER rules (:func:`read_user_mask`): the     DAVIS rules (:func:`read_davis_mask`):
                           annotation a user gives for fine-tuning      ground truth and results scored by the
                                                                        DAVIS-2016 protocol (as the official code)
=========================  ===========================================  ======================================
palette PNG (DAVIS-2017)   the one object id (index not 0, not 255);    index != 0
                           255 (void) is background; several ids are
                           refused (:class:`MultipleObjectsError`)
1-bit                      as is                                        as is
8-bit grayscale            0/1 map: nonzero; a 0..N label map (ids      value != 0
                           below 128, 255 = void): the one id, several
                           refused; otherwise value >= 128 (soft,
                           anti-aliased edges binarised at 50 %)
16-bit grayscale           value >= 32768 (or nonzero for a 0/1 map)    value != 0
RGB                        largest channel, thresholded as grayscale    any channel != 0
RGBA                       uniform colour: the alpha channel (a cut-out  any colour channel != 0 (alpha
                           saved with transparency); else as RGB        ignored)
=========================  ===========================================  ======================================

Arrays (user rules only): bool as is; integers as grayscale above; floats: >= 0.5 (probabilities).

Both readers raise an error naming the file for a missing, empty (0-byte), truncated or non-image file.
:func:`write_mask` writes the DAVIS result format (8-bit grayscale PNG, 0 / 255), atomically.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from osvos_tf.atomic import atomic_path
from osvos_tf.frames import open_image

#: The void label of DAVIS-2017 / label maps: ignored (background for a single object).
VOID_ID = 255


class MultipleObjectsError(ValueError):
    """A mask holds several object ids where one object is expected (``OSVOS.fit``; ``fit_objects`` takes them)."""


def _single_object(labels: np.ndarray, what: str) -> np.ndarray:
    ids = [int(i) for i in np.unique(labels) if i not in (0, VOID_ID)]
    if len(ids) > 1:
        shown = ", ".join(map(str, ids[:10])) + (" ..." if len(ids) > 10 else "")
        raise MultipleObjectsError(
            f"{what} holds {len(ids)} objects (ids {shown}), but this reads the mask of one object: several "
            "objects are not merged into one. To segment each object, use OSVOS.fit_objects (the CLI does so for "
            f"a label map); for one of them, pass its mask, e.g. `numpy.asarray(PIL.Image.open(path)) == {ids[0]}`."
        )
    return labels == ids[0] if ids else np.zeros(labels.shape, bool)


def _threshold_gray(array: np.ndarray, full_scale: float, what: str) -> np.ndarray:
    if array.size == 0:
        return np.zeros(array.shape, bool)
    if array.max() <= 1:
        return array > 0
    if full_scale == 255:
        ids = np.unique(array)
        labels = ids[(ids != 0) & (ids != VOID_ID)]
        if labels.size and labels.max() < 128:  # a 0..N label map (thresholding would leave it empty)
            return _single_object(array, what)
    return array >= full_scale / 2


def read_user_mask(mask, what: str = "Mask") -> np.ndarray:
    """An annotation for fine-tuning as bool (H, W), under the USER rules (module docstring).

    Args:
        mask: a path (PNG, JPEG, ...) or an array (H, W) / (H, W, C).
        what: how errors name it (e.g. 'Mask of frame 00000.jpg').

    Raises:
        FileNotFoundError: no such file. ValueError: an unreadable file, a bad array shape or dtype.
        MultipleObjectsError: a palette or label map with several object ids.
    """
    if isinstance(mask, (str, os.PathLike)):
        image = open_image(mask, what)
        label = f"{what} {mask}"
        if image.mode == "P":
            return _single_object(np.asarray(image), label)
        if image.mode == "1":
            return np.asarray(image, dtype=bool)
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            return _threshold_gray(np.asarray(image, dtype=np.int64), 65535, label)
        if image.mode == "F":
            return read_user_mask(np.asarray(image, dtype=np.float32), label)
        if image.mode in ("L", "LA"):
            return _threshold_gray(np.asarray(image.convert("L")), 255, label)
        if image.mode == "RGBA":
            rgba = np.asarray(image)
            rgb = rgba[..., :3]
            if rgb.size and (rgb == rgb.reshape(-1, 3)[0]).all():
                return _threshold_gray(rgba[..., 3], 255, label)
            return _threshold_gray(rgb.max(axis=-1), 255, label)
        return _threshold_gray(np.asarray(image.convert("RGB")).max(axis=-1), 255, label)
    array = np.asarray(mask)
    if array.ndim == 3 and array.shape[-1] in (1, 3, 4):
        array = array[..., :3].max(axis=-1) if array.shape[-1] != 1 else array[..., 0]
    if array.ndim != 2:
        raise ValueError(
            f"{what}: a mask array must be (H, W) (or (H, W, C) with C in 1, 3, 4); got shape {array.shape}."
        )
    if array.dtype == bool:
        return array.copy()
    if np.issubdtype(array.dtype, np.floating):
        return array >= 0.5
    if np.issubdtype(array.dtype, np.integer):
        full = 65535 if array.dtype.itemsize >= 2 and array.max(initial=0) > 255 else 255
        return _threshold_gray(array, full, what)
    raise ValueError(f"{what}: mask arrays must be bool, integer or float; got {array.dtype}.")


def read_davis_mask(path: str | os.PathLike, what: str = "Mask") -> np.ndarray:
    """A ground-truth or result mask PNG as bool (H, W) under the DAVIS rules: True where nonzero.

    Palette images are read as indices (index != 0; the colours are ignored); RGB / RGBA count a pixel when
    any colour channel is nonzero (alpha is ignored).

    Raises:
        FileNotFoundError: no such file. ValueError: an empty, truncated or non-image file.
    """
    image = open_image(path, what)
    array = np.asarray(image)
    if array.ndim == 3:
        if image.mode in ("RGBA", "LA", "PA"):
            array = array[..., :-1]
        return np.any(array != 0, axis=2)
    return array != 0


def write_mask(path: str | os.PathLike, mask: np.ndarray) -> None:
    """Write a bool (H, W) mask as a DAVIS-style PNG (8-bit grayscale, 0 background, 255 foreground),
    atomically (a temporary file, then a rename: a full disk never leaves a 0-byte mask)."""
    image = Image.fromarray(np.where(np.asarray(mask, bool), 255, 0).astype(np.uint8), mode="L")
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
