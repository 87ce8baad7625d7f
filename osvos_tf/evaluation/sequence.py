"""J, F and T of one sequence from its masks in memory (the per-sequence step of the DAVIS-2016 protocol)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from osvos_tf.evaluation.boundary import f_measure
from osvos_tf.evaluation.region import jaccard
from osvos_tf.evaluation.statistics import nanmean, sequence_statistics
from osvos_tf.evaluation.temporal import T_SCALE, contour_descriptor, match_descriptors
from osvos_tf.evaluation.validation import as_mask, check_same_shape


def evaluate_sequence(gt_masks: Sequence[ArrayLike], result_masks: Sequence[ArrayLike], compute_t: bool = True) -> dict:
    """Evaluate one sequence given all its masks in memory.

    ``gt_masks`` holds the N >= 3 ground-truth masks of the sequence (frames 0..N-1, (H, W) arrays, nonzero
    = foreground); ``result_masks`` holds either N result masks aligned with them or the N-2 result masks
    of frames 1..N-2 only.  Returns ``{'J': {'frames', 'mean', 'recall', 'decay'}, 'F': {...}, 'T':
    {'frames', 'mean'}}`` where 'frames' are per-frame float64 arrays over frames 1..N-2 (T has one value
    per pair of consecutive evaluated frames, NaN where a mask has no contour; T is None when ``compute_t``
    is false).  Raises ValueError for too few frames, a wrong number of results or a size mismatch.
    """
    n = len(gt_masks)
    if n < 3:
        raise ValueError(
            f"a sequence needs at least 3 ground-truth frames (the first and last are not evaluated), got {n}"
        )
    if len(result_masks) == n:
        res = list(result_masks)[1:-1]
    elif len(result_masks) == n - 2:
        res = list(result_masks)
    else:
        raise ValueError(
            f"expected {n} result masks (all frames) or {n - 2} (frames 1..{n - 2}), got {len(result_masks)}"
        )
    gts = list(gt_masks)[1:-1]
    return evaluate_frames(gts, res, compute_t)


def evaluate_frames(
    gts: Sequence[ArrayLike], res: Sequence[ArrayLike], compute_t: bool, names: Sequence[str] | None = None
) -> dict:
    """J, F (and T) of the evaluated frames only: ``gts[i]`` and ``res[i]`` are the ground truth and the
    result of the i-th evaluated frame; ``names[i]`` names that pair in a size-mismatch error.  Returns the
    dict of :func:`evaluate_sequence`."""
    j = np.empty(len(gts))
    f = np.empty(len(gts))
    masks = []
    for i, (gt, result) in enumerate(zip(gts, res)):
        g = as_mask(gt, "ground truth")
        r = as_mask(result, "result")
        what = "result and ground truth" if names is None else names[i]
        check_same_shape(r, g, what)
        j[i] = jaccard(r, g)
        f[i] = f_measure(r, g)
        masks.append(r)
    out: dict = {
        "J": dict(frames=j, **sequence_statistics(j)),
        "F": dict(frames=f, **sequence_statistics(f)),
        "T": None,
    }
    if compute_t:
        descs = [contour_descriptor(m) for m in masks]
        t = np.array([T_SCALE * match_descriptors(a, b) for a, b in zip(descs[:-1], descs[1:])])
        out["T"] = {"frames": t, "mean": nanmean(t)}
    return out
