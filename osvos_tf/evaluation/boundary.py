"""Contour accuracy F (the official ``db_eval_boundary``): F-measure of boundary precision and recall.

Boundaries are one pixel wide, made as the official ``seg2bmap`` makes them (:func:`boundary_map`); a
boundary pixel is matched when a boundary pixel of the other mask lies within
``bound_pix = ceil(0.008 * image diagonal)`` pixels (8 px at 854x480), which is what dilating with
``skimage.morphology.disk(bound_pix)`` does (computed here with a Euclidean distance transform, which gives
the same matches).  Empty-boundary conventions as the official code: no result boundary and some
ground-truth boundary -> P=1, R=0; the reverse -> P=0, R=1; both empty -> P=R=1; F = 0 when P + R = 0.
F (and J) are asserted exactly equal to the independent ``vos-benchmark`` package's
(tests/test_evaluation_vos_benchmark.py).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage

from osvos_tf.evaluation.validation import as_mask, check_same_shape

BOUND_TH = 0.008
"""Boundary tolerance of F as a fraction of the image diagonal (official ``bound_th``)."""


def boundary_map(mask: ArrayLike) -> np.ndarray:
    """One-pixel-wide boundary of a (H, W) mask (nonzero = foreground), as the official ``seg2bmap``.

    A pixel is on the boundary when it differs from its east, south or south-east neighbour (outside the
    image counts as background); the last row only compares with the east neighbour, the last column
    only with the south one, and the bottom-right pixel is never a boundary pixel.  Returns bool (H, W).
    """
    seg = as_mask(mask, "mask")
    east = np.zeros_like(seg)
    south = np.zeros_like(seg)
    south_east = np.zeros_like(seg)
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    south_east[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ east) | (seg ^ south) | (seg ^ south_east)
    b[-1, :] = seg[-1, :] ^ east[-1, :]
    b[:, -1] = seg[:, -1] ^ south[:, -1]
    b[-1, -1] = False
    return b


def bound_pix(shape: tuple[int, ...], bound_th: float) -> float:
    """The matching radius in pixels for an image of ``shape`` (H, W): ``bound_th`` itself when >= 1,
    else ``ceil(bound_th * hypot(H, W))``."""
    if bound_th >= 1:
        return float(bound_th)
    return float(np.ceil(bound_th * np.linalg.norm(shape)))


def _matched(src: np.ndarray, dst: np.ndarray, radius: float) -> int:
    """Number of True pixels of ``src`` within Euclidean distance ``radius`` of a True pixel of ``dst``.

    Same count as ``sum(src & binary_dilation(dst, disk(radius)))`` for integer radius.  Both inputs
    must be non-empty bool arrays of the same shape.
    """
    rows = np.flatnonzero(np.any(src, axis=1) | np.any(dst, axis=1))
    cols = np.flatnonzero(np.any(src, axis=0) | np.any(dst, axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    s = src[r0:r1, c0:c1]
    d = dst[r0:r1, c0:c1]
    dist = ndimage.distance_transform_edt(~d)
    return int(np.count_nonzero(s & (dist <= radius)))


def f_measure(mask: ArrayLike, gt: ArrayLike, bound_th: float = BOUND_TH) -> float:
    """Contour accuracy F in [0, 1] between a result ``mask`` and the ground truth ``gt``.

    Both are (H, W) arrays of the same shape, bool or integer (nonzero = foreground).  ``bound_th`` < 1 is
    a fraction of the image diagonal (rounded up to whole pixels); >= 1 is pixels.  Raises ValueError for
    a non-2-D input or different shapes.
    """
    m = as_mask(mask, "mask")
    g = as_mask(gt, "gt")
    check_same_shape(m, g)
    fg_b = boundary_map(m)
    gt_b = boundary_map(g)
    n_fg = int(np.count_nonzero(fg_b))
    n_gt = int(np.count_nonzero(gt_b))
    if n_fg == 0 and n_gt > 0:
        precision, rec = 1.0, 0.0
    elif n_fg > 0 and n_gt == 0:
        precision, rec = 0.0, 1.0
    elif n_fg == 0 and n_gt == 0:
        precision, rec = 1.0, 1.0
    else:
        radius = bound_pix(m.shape, bound_th)
        precision = _matched(fg_b, gt_b, radius) / float(n_fg)
        rec = _matched(gt_b, fg_b, radius) / float(n_gt)
    if precision + rec == 0:
        return 0.0
    return 2.0 * precision * rec / (precision + rec)
