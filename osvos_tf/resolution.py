"""The working resolution: frames larger than it are fine-tuned and segmented at it, and the probabilities are
brought back to the input size.

At native 1080p one fine-tuning update costs about five 480p updates (the cost grows with the pixel count), so a
phone video would fine-tune for hours on a float32 CPU; DAVIS, on which the recipe was made, is 480p. Frames whose short side is
longer than :attr:`osvos_tf.config.FineTuneConfig.working_short_side` (default 480) are therefore downscaled
(frames: Lanczos; masks: area fraction > 0.5) for fine-tuning and segmentation, and the probabilities upsampled
bilinearly to the input size, where they are thresholded (and snapped). Frames that are already small enough are
used as they are: nothing is ever upscaled.

The frame filter is measured: DAVIS car-shadow stored as a 1920x1080 H.264 clip and segmented at 853x480 with
the 'default' preset scored J 0.740 with PIL's antialiased bilinear (a triangle filter, which blurs) and 0.852
with Lanczos, the same as the 854x480 H.264 clip segmented as it is (0.853; README, "Video files").
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def working_shape(height: int, width: int, short_side: int | None) -> tuple[int, int]:
    """The (height, width) at which a (height, width) frame is processed.

    Args:
        height, width: the input frame's size.
        short_side: the working resolution's short side, or None for native resolution.

    Returns:
        ``(height, width)`` unchanged when ``short_side`` is None or the frame's short side is at most
        ``short_side``; else both scaled by ``short_side / min(height, width)`` and rounded (aspect kept), so the
        short side is exactly ``short_side`` (1920x1080 -> 853x480).
    """
    if short_side is None or min(height, width) <= short_side:
        return int(height), int(width)
    scale = short_side / min(height, width)
    if height <= width:
        return int(short_side), max(1, round(width * scale))
    return max(1, round(height * scale)), int(short_side)


def resize_frame(frame: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A uint8 RGB (H, W, 3) frame resized to ``shape`` (h, w): Lanczos (PIL, antialiased when reducing; see the
    module docstring for why not bilinear), uint8 (h, w, 3). The frame itself when it already has that shape."""
    if frame.shape[:2] == tuple(shape):
        return frame
    resized = Image.fromarray(frame).resize((shape[1], shape[0]), Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.uint8)


def resize_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A bool (H, W) mask resized to ``shape`` (h, w): a pixel is set where more than half of the input area it
    covers is set (box filter). Bool (h, w); the mask itself when it already has that shape."""
    if mask.shape == tuple(shape):
        return mask
    area = Image.fromarray(np.asarray(mask, np.float32)).resize((shape[1], shape[0]), Image.Resampling.BOX)
    return np.asarray(area) > 0.5


def resize_probs(probs: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Float32 (h, w) probabilities in [0, 1] resized to ``shape`` (H, W) by bilinear interpolation with
    half-pixel centres (as ``tf.image.resize``); float32 (H, W) in [0, 1]. The input itself when it already has
    that shape."""
    if probs.shape == tuple(shape):
        return probs
    resized = Image.fromarray(np.asarray(probs, np.float32)).resize((shape[1], shape[0]), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
