"""Per-object J and F of one sequence in memory: the DAVIS-2017 semi-supervised (multi-object) protocol.

A *frame* is either

* a label map: an integer (H, W) array, 0 background, k = object k, 255 (:data:`VOID_ID`) void; or
* an object stack: a (K, H, W) array (bool or integer, nonzero = foreground), layer k - 1 the mask of
  object k; layers may overlap (each object is scored on its own mask, as SegTrack v2 needs).

The rules of the official semi-supervised evaluation (davis2017-evaluation), written from a reading of it:

* the objects are 1..K with K the largest id of the *first* ground-truth frame, void excluded (a stack:
  its number of layers); an id below K that is absent there is an object too (empty until it appears);
  ground-truth ids above K in later frames are not scored;
* void counts as background, in the ground truth (the official code zeroes it before splitting objects);
* an object absent from a result frame is an empty prediction; a result id (or stack layer) above K is an
  error (the official code prints a line and exits with status 0 there; here it is a ValueError);
* each object is scored on frames 1..N-2 with :func:`~osvos_tf.evaluation.region.jaccard` (1 where both
  masks are empty) and :func:`~osvos_tf.evaluation.boundary.f_measure` (the 0.008-diagonal tolerance:
  8 px at 854x480, 9 px at 910x480), and summarised by
  :func:`~osvos_tf.evaluation.statistics.sequence_statistics` (Mean, Recall, Decay with integer bin
  indices: the official code keeps them in uint8 and so wraps past 256 frames).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from osvos_tf.evaluation.boundary import f_measure
from osvos_tf.evaluation.region import jaccard
from osvos_tf.evaluation.statistics import sequence_statistics
from osvos_tf.evaluation.validation import check_same_shape
from osvos_tf.masks import VOID_ID


def _frame_array(frame: ArrayLike, what: str) -> np.ndarray:
    """``frame`` as an array, checked to be a label map (integer or bool (H, W)) or a (K, H, W) stack."""
    arr = np.asarray(frame)
    if arr.ndim not in (2, 3) or not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
        raise ValueError(
            f"{what}: expected an integer (H, W) label map (0 background, k = object k, {VOID_ID} void) or a "
            f"(K, H, W) stack of object masks, received a {arr.dtype} array of shape {arr.shape}; read a "
            f"DAVIS-2017 PNG with osvos_tf.label_maps.read_label_map"
        )
    return arr


def count_objects(first_gt: ArrayLike) -> int:
    """The number of objects K of a sequence from its first ground-truth frame: the largest id of a label
    map other than void (0 when it holds only background and void), or the number of layers of a stack."""
    arr = _frame_array(first_gt, "first ground-truth frame")
    if arr.ndim == 3:
        return int(arr.shape[0])
    ids = np.unique(arr)
    ids = ids[(ids != 0) & (ids != VOID_ID)]
    return int(ids.max()) if ids.size else 0


def object_masks(frame: ArrayLike, n_objects: int, is_result: bool, what: str = "frame") -> np.ndarray:
    """The masks of objects 1..``n_objects`` in ``frame`` as bool (n_objects, H, W) (layer k - 1 = object k).

    A ground-truth label map loses its void and its ids above ``n_objects``; a result (``is_result``) may
    hold no id above ``n_objects`` (255 included); a stack gets empty layers up to ``n_objects``.  ``what``
    names the frame in errors.

    Raises:
        ValueError: not a label map or stack; a result id or stack layer above ``n_objects``.
    """
    arr = _frame_array(frame, what)
    if arr.ndim == 3:
        if arr.shape[0] > n_objects:
            raise ValueError(
                f"{what}: a stack of {arr.shape[0]} object masks, but the first ground-truth frame has "
                f"{n_objects} object(s); pass at most one mask per ground-truth object, in id order (a colour "
                f"(H, W, 3) image is neither a label map nor a stack)"
            )
        masks = np.zeros((n_objects, *arr.shape[1:]), bool)
        masks[: arr.shape[0]] = arr != 0
        return masks
    if is_result:
        top = int(arr.max(initial=0))
        if top > n_objects:
            raise ValueError(
                f"{what}: object id {top} in a result, but the first ground-truth frame has {n_objects} "
                f"object(s) (ids 1..{n_objects}); a result holds 0 for background and the ground-truth ids "
                f"only ({VOID_ID} is not void in a result) -- relabel or drop the extra objects"
            )
    ids = np.arange(1, n_objects + 1).reshape(-1, 1, 1)
    return arr[None, :, :] == ids  # void (255) and ids above n_objects match no layer: background


def evaluate_object_frames(
    first_gt: ArrayLike,
    gts: Sequence[ArrayLike],
    results: Sequence[ArrayLike],
    names: Sequence[tuple[str, str]] | None = None,
    first_name: str | None = None,
) -> dict[int, dict]:
    """Per-object J and F of the evaluated frames only.

    ``first_gt`` is the first ground-truth frame (it fixes the objects, see the module docstring);
    ``gts[i]`` and ``results[i]`` are the ground truth and the result of the i-th evaluated frame (label
    maps or stacks, (H, W) of the same size); ``names[i]`` = (result name, ground-truth name) and
    ``first_name`` name those frames in errors (e.g. their paths).  Returns
    ``{k: {'J': {'frames', 'mean', 'recall', 'decay'}, 'F': {...}}}`` for k = 1..K, 'frames' a float64
    array over the evaluated frames, the statistics floats in [0, 1] (Decay in [-1, 1]).

    Raises:
        ValueError: no evaluated frame, ``gts`` and ``results`` of different lengths, no object in
            ``first_gt``, a size mismatch, a result id above K (see :func:`object_masks`).
    """
    if len(gts) != len(results) or not gts:
        raise ValueError(
            f"expected one result per evaluated ground-truth frame (at least one), received {len(gts)} "
            f"ground-truth frames and {len(results)} results"
        )
    n_objects = count_objects(first_gt)
    if n_objects == 0:
        raise ValueError(
            f"the first ground-truth frame{'' if first_name is None else ' ' + first_name} holds no object (only "
            f"background 0 and void {VOID_ID}), expected ids 1..K; a DAVIS-2016 mask (0/255) read as DAVIS-2017 "
            f"is all void -- score single-object masks with the DAVIS-2016 protocol (--year 2016)"
        )
    j = np.empty((n_objects, len(gts)))
    f = np.empty((n_objects, len(gts)))
    for i, (gt, result) in enumerate(zip(gts, results)):
        r_name, g_name = (f"result of frame {i + 1}", f"ground truth of frame {i + 1}") if names is None else names[i]
        g = object_masks(gt, n_objects, is_result=False, what=g_name)
        r = object_masks(result, n_objects, is_result=True, what=r_name)
        check_same_shape(r[0], g[0], f"{r_name} and {g_name}")
        for k in range(n_objects):
            j[k, i] = jaccard(r[k], g[k])
            f[k, i] = f_measure(r[k], g[k])
    return {
        k + 1: {
            "J": dict(frames=j[k], **sequence_statistics(j[k])),
            "F": dict(frames=f[k], **sequence_statistics(f[k])),
        }
        for k in range(n_objects)
    }


def evaluate_objects(gt_frames: Sequence[ArrayLike], result_frames: Sequence[ArrayLike]) -> dict[int, dict]:
    """Per-object J and F of one sequence given all its frames in memory.

    ``gt_frames`` holds the N >= 3 ground-truth frames 0..N-1 (label maps or stacks, see the module
    docstring); ``result_frames`` holds either N results aligned with them or the N-2 results of frames
    1..N-2 only.  Returns the dict of :func:`evaluate_object_frames`.

    Raises:
        ValueError: too few frames, a wrong number of results, or what :func:`evaluate_object_frames` raises.
    """
    n = len(gt_frames)
    if n < 3:
        raise ValueError(
            f"a sequence needs at least 3 ground-truth frames (the first and last are not evaluated), got {n}"
        )
    if len(result_frames) not in (n, n - 2):
        raise ValueError(
            f"expected {n} result frames (all frames) or {n - 2} (frames 1..{n - 2}), got {len(result_frames)}"
        )
    results = list(result_frames)[1:-1] if len(result_frames) == n else list(result_frames)
    return evaluate_object_frames(gt_frames[0], list(gt_frames)[1:-1], results)
