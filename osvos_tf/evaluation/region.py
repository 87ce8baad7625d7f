"""Region similarity J (the official ``db_eval_iou``): intersection over union of two masks."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from osvos_tf.evaluation.validation import as_mask, check_same_shape


def jaccard(mask: ArrayLike, gt: ArrayLike) -> float:
    """Region similarity J in [0, 1]: |mask & gt| / |mask | gt|, and 1.0 when both are empty.

    ``mask`` (the result) and ``gt`` (the ground truth) are (H, W) arrays of the same shape, bool or integer
    (nonzero = foreground).  Raises ValueError for a non-2-D input or different shapes.
    """
    m = as_mask(mask, "mask")
    g = as_mask(gt, "gt")
    check_same_shape(m, g)
    union = np.count_nonzero(m | g)
    if union == 0:
        return 1.0
    return float(np.count_nonzero(m & g)) / float(union)
