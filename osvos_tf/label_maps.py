"""Label maps: several objects in one annotation, as DAVIS-2017 stores them (annotations for fine-tuning, and
the ground truth and results the DAVIS-2017 evaluation reads: :mod:`osvos_tf.evaluation.davis2017`).

A label map is uint8 (H, W): 0 = background, 1..254 = object ids, 255 = void (pixels no object claims, e.g.
the border DAVIS-2017 draws around objects; ignored in the fine-tuning loss, background when scoring).

Accepted annotations (:func:`read_label_map`):

* a palette PNG (mode P): the indices are the ids, the colours ignored (DAVIS-2017 annotations and results);
* an 8-bit grayscale PNG or a uint8 / integer array of ids (0..254, 255 void); a 16-bit one with ids up to
  254; a 1-bit PNG (object 1);
* a dict ``{object id: mask}`` (each mask read by :func:`osvos_tf.masks.read_user_mask`); the masks must not
  overlap (a label map gives each pixel one id);
* an RGB(A) image is refused: its colours are not ids (save it as a palette PNG, or pass a dict).

:func:`merge` turns per-object probabilities into a label map (the authors' argmax, background below a
threshold); :func:`write_label_map` writes a DAVIS-2017 result (a palette PNG with :data:`DAVIS_PALETTE`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image

from osvos_tf.atomic import atomic_path
from osvos_tf.config import MASK_THRESHOLD
from osvos_tf.frames import open_image
from osvos_tf.masks import VOID_ID, read_user_mask

#: The largest object id a label map can hold (255 is void).
MAX_OBJECT_ID = 254


def _davis_palette() -> np.ndarray:
    """The palette of DAVIS-2017 (the PASCAL VOC colour map): colour k spreads the bits of k over the three
    channels, most significant first (1 = dark red, 2 = dark green, 3 = olive, ...)."""
    palette = np.zeros((256, 3), np.uint8)
    for k in range(256):
        c, r, g, b = k, 0, 0, 0
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette[k] = (r, g, b)
    return palette


#: uint8 (256, 3): the DAVIS-2017 palette (index 0 black, 1 (128, 0, 0), 2 (0, 128, 0), 255 (224, 224, 192)).
DAVIS_PALETTE = _davis_palette()


def _check_ids(labels: np.ndarray, what: str) -> np.ndarray:
    """``labels`` (integer (H, W)) as uint8, refusing ids above :data:`MAX_OBJECT_ID` (other than void)."""
    ids = np.unique(labels)
    bad = ids[(ids > MAX_OBJECT_ID) & (ids != VOID_ID)]
    if bad.size or (ids.size and ids.min() < 0):
        n_objects = int(np.count_nonzero((ids > 0) & (ids != VOID_ID)))
        raise ValueError(
            f"{what}: a label map holds object ids 1..{MAX_OBJECT_ID} (0 background, {VOID_ID} void); got "
            f"{n_objects} ids from {int(ids.min())} to {int(ids.max())}. Segment at most {MAX_OBJECT_ID} objects "
            "per run: pass a dict {id: mask} of the objects you want, or relabel them 1..N."
        )
    return labels.astype(np.uint8)


def read_label_map(annotation, what: str = "Annotation") -> np.ndarray:
    """An annotation as a uint8 (H, W) label map (module docstring for what is accepted).

    Raises:
        FileNotFoundError: no such file. ValueError: a colour image, a bad array, ids above 254, overlapping
            dict masks, a dict mask of another size.
    """
    if isinstance(annotation, Mapping):
        return label_map_from_masks(annotation, what)
    if isinstance(annotation, (str, os.PathLike)):
        image = open_image(annotation, what)
        label = f"{what} {annotation}"
        if image.mode in ("P", "1", "L"):  # palette indices, 1-bit (object 1), 8-bit ids
            return np.asarray(image).astype(np.uint8)
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            return _check_ids(np.asarray(image, dtype=np.int64), label)
        raise ValueError(
            f"{label} is a {image.mode} image: its colours are not object ids. Save the annotation as a palette "
            "PNG (mode P: index = object id, as DAVIS-2017) or an 8-bit grayscale PNG of ids, or pass a dict "
            "{id: mask}."
        )
    array = np.asarray(annotation)
    if array.ndim != 2:
        raise ValueError(
            f"{what}: a label map array must be (H, W) of integer ids; got shape {array.shape}. For a colour "
            "annotation pass a dict {id: mask}."
        )
    if array.dtype == bool:
        return array.astype(np.uint8)
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{what}: a label map array holds integer ids; got {array.dtype}.")
    return _check_ids(array, what)


def check_object_id(obj_id: object, what: str = "Annotation") -> int:
    """``obj_id`` as an int, or ValueError unless it is an integer 1..:data:`MAX_OBJECT_ID`."""
    if isinstance(obj_id, bool) or not isinstance(obj_id, (int, np.integer)) or not 1 <= obj_id <= MAX_OBJECT_ID:
        raise ValueError(f"{what}: object ids are integers 1..{MAX_OBJECT_ID}; got {obj_id!r}.")
    return int(obj_id)


def label_map_from_masks(masks: Mapping[int, object], what: str = "Annotation") -> np.ndarray:
    """A dict ``{object id: mask}`` as a uint8 label map; the masks must not overlap and share one size."""
    if not masks:
        raise ValueError(f"{what}: the dict of object masks is empty; give at least one {{id: mask}}.")
    out: np.ndarray | None = None
    for obj_id, mask in masks.items():
        check_object_id(obj_id, what)
        m = read_user_mask(mask, f"{what}, object {obj_id}")
        if out is None:
            out = np.zeros(m.shape, np.uint8)
        if m.shape != out.shape:
            raise ValueError(f"{what}: the mask of object {obj_id} is {m.shape}, the others {out.shape}.")
        overlap = m & (out != 0)
        if overlap.any():
            others = sorted(int(i) for i in np.unique(out[overlap]))
            raise ValueError(
                f"{what}: the mask of object {obj_id} overlaps object(s) {others} on {int(overlap.sum())} pixels; a "
                "label map gives each pixel one id. Remove the overlap, or segment the objects independently "
                "(merge=None keeps overlapping results)."
            )
        out[m] = obj_id
    assert out is not None
    return out


def object_ids(label_maps: Sequence[np.ndarray]) -> tuple[int, ...]:
    """The object ids present in any of ``label_maps`` (not 0, not void), sorted."""
    ids: set[int] = set()
    for labels in label_maps:
        ids.update(int(i) for i in np.unique(labels) if i not in (0, VOID_ID))
    return tuple(sorted(ids))


def merge(probs: Mapping[int, np.ndarray], threshold: float = MASK_THRESHOLD) -> np.ndarray:
    """Per-object probabilities as one label map: each pixel takes the id of the most probable object, or
    background where that probability is not above ``threshold`` (ties go to the lowest id).

    Args:
        probs: ``{object id: float (H, W) in [0, 1]}``, one size, at least one object.

    Returns:
        uint8 (H, W) label map (no void).
    """
    if not probs:
        raise ValueError("merge needs the probabilities of at least one object; got none.")
    ids = sorted(probs)
    stack = np.stack([np.asarray(probs[i], np.float32) for i in ids])
    best = np.argmax(stack, axis=0)
    labels = np.asarray(ids, np.uint8)[best]
    return np.where(np.take_along_axis(stack, best[None], 0)[0] > threshold, labels, 0).astype(np.uint8)


def write_label_map(path: str | os.PathLike, labels: np.ndarray) -> None:
    """Write a uint8 (H, W) label map as a DAVIS-2017 result: a palette PNG (index = object id, the DAVIS
    palette), atomically."""
    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.dtype != np.uint8:
        raise ValueError(f"A label map to write is uint8 (H, W); got {labels.dtype} {labels.shape}.")
    image = Image.fromarray(labels, mode="P")
    image.putpalette(DAVIS_PALETTE.reshape(-1).tolist())
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
