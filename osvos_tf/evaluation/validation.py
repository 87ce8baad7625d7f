"""The mask-argument contract shared by every measure: a 2-D ``(H, W)`` array, nonzero = foreground, and
result / ground-truth pairs of one frame with the same shape."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def as_mask(mask: ArrayLike, name: str = "mask") -> np.ndarray:
    """``mask`` as a bool ``(H, W)`` array, True where it is nonzero (bool, integer or float input).

    Raises:
        ValueError: the array is not 2-D.
    """
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D (H, W) array (nonzero = foreground), received shape {arr.shape}; pass one "
            f"single-channel mask per frame (osvos_tf.evaluation.read_mask reads a PNG as one)"
        )
    return arr != 0


def check_same_shape(a: np.ndarray, b: np.ndarray, what: str = "result and ground truth") -> None:
    """Raise ValueError unless the (H, W) masks ``a`` (the result) and ``b`` (the ground truth) have the same
    shape; ``what`` names them in the message."""
    if a.shape != b.shape:
        raise ValueError(
            f"size mismatch between {what}: {a.shape[1]}x{a.shape[0]} vs {b.shape[1]}x{b.shape[0]} "
            f"(width x height); masks must have the ground truth's size (854x480 for DAVIS 480p) -- "
            f"save results at the annotation resolution"
        )
