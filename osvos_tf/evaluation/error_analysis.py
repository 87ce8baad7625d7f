"""The error split of Figure 5 of the OSVOS paper (Caelles et al., CVPR 2017).

The error pixels of a frame (1 - J of it, as fractions of |result | gt|) split into false positives
within 20 px of the ground-truth object ("fp_near": imprecise borders), false positives farther away
("fp_far": spurious detections) and false negatives ("fn": missed object); means over frames 1..N-2, then
over sequences.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage

from osvos_tf.evaluation.layout import evaluated_pairs, open_results_folder, read_frame_pair, report_skipped
from osvos_tf.evaluation.pool import check_workers, run_jobs

ERROR_NEAR_PX = 20.0
"""Default distance (pixels) up to which a false positive counts as "near" the object (OSVOS Fig. 5)."""

SPLIT_KEYS = ("fp_near", "fp_far", "fn")
"""The three parts of the error, in table order."""


def check_near_px(near_px: float) -> float:
    """``near_px`` (anything ``float()`` accepts) as a finite float >= 0, or ValueError."""
    try:
        value = float(near_px)
    except (TypeError, ValueError):
        raise ValueError(f"near_px: expected a number of pixels >= 0, received {near_px!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"near_px: expected a finite number of pixels >= 0, received {near_px!r}")
    return value


def _split_counts(m: np.ndarray, g: np.ndarray, near_px: float) -> tuple[int, int, int, int]:
    """(fp_near, fp_far, fn, union) pixel counts of bool masks ``m`` (result) and ``g`` (ground truth) of
    the same shape; no input checks."""
    fp = m & ~g
    n_fp = int(np.count_nonzero(fp))
    fn = int(np.count_nonzero(g & ~m))
    union = int(np.count_nonzero(m | g))
    rows = np.flatnonzero(np.any(g, axis=1))
    if n_fp == 0 or rows.size == 0:  # no false positive, or no object to be near: every FP is far
        return 0, n_fp, fn, union
    # Every ground-truth pixel lies in its bounding box, so the distance transform of a crop that holds
    # the box grown by near_px gives exact distances there; FPs outside that crop are farther than near_px.
    cols = np.flatnonzero(np.any(g, axis=0))
    pad = int(math.ceil(near_px))
    r0, r1 = max(rows[0] - pad, 0), min(rows[-1] + 1 + pad, g.shape[0])
    c0, c1 = max(cols[0] - pad, 0), min(cols[-1] + 1 + pad, g.shape[1])
    dist = ndimage.distance_transform_edt(~g[r0:r1, c0:c1])
    near = int(np.count_nonzero(fp[r0:r1, c0:c1] & (dist <= near_px)))
    return near, n_fp - near, fn, union


def error_split(mask: ArrayLike, gt: ArrayLike, near_px: float = ERROR_NEAR_PX) -> dict[str, int]:
    """Split the errors of one frame as in Figure 5 of the OSVOS paper (Caelles et al., CVPR 2017).

    ``mask`` (the result) and ``gt`` (the ground truth) are 2-D arrays of the same shape ``(H, W)``,
    dtype ``bool`` (integer arrays are accepted too: nonzero = foreground).  Returns pixel counts (Python
    ``int``)::

        {"fp_near": false-positive pixels (mask & ~gt) at Euclidean distance <= near_px from the nearest
                    ground-truth foreground pixel -- errors at the object's border,
         "fp_far":  false-positive pixels farther than near_px -- spurious detections away from the
                    object; every false positive is far when gt is empty,
         "fn":      false-negative pixels (gt & ~mask) -- missed object,
         "union":   |mask | gt|}

    so that ``(fp_near + fp_far + fn) / union == 1 - J`` when the union is not empty.  The paper's
    Figure 5 uses near_px = 20.  Distances are pixel-centre distances from
    ``scipy.ndimage.distance_transform_edt(~gt)``.  Raises ValueError for a non-2-D input, different
    shapes, or a negative / non-finite ``near_px``.
    """
    m = np.asarray(mask)
    g = np.asarray(gt)
    for name, arr in (("mask", m), ("gt", g)):
        if arr.ndim != 2:
            raise ValueError(f"error_split: {name} expected a 2-D (H, W) array, received shape {arr.shape}")
    if m.shape != g.shape:
        raise ValueError(
            f"error_split: size mismatch, expected mask of the ground truth's shape (H, W) = {g.shape}, "
            f"received mask of shape {m.shape}"
        )
    near_px = check_near_px(near_px)
    fp_near, fp_far, fn, union = _split_counts(m != 0, g != 0, near_px)
    return {"fp_near": fp_near, "fp_far": fp_far, "fn": fn, "union": union}


def _split_fractions(counts: np.ndarray) -> np.ndarray:
    """(n, 4) per-frame counts [fp_near, fp_far, fn, union] -> (n, 3) fractions of the union (0 for a
    frame whose union is empty)."""
    counts = np.asarray(counts, dtype=np.float64).reshape(-1, 4)
    union = counts[:, 3:4]
    out = np.zeros((counts.shape[0], 3))
    np.divide(counts[:, :3], union, out=out, where=union > 0)
    return out


def _split_one_sequence(
    davis_root: str, results_dir: str, seq: str, frames: list[str], near_px: float
) -> tuple[str, np.ndarray]:
    """The job of one sequence (runs in a worker process): (seq, int64 (n, 4) counts of its evaluated
    frames, columns fp_near, fp_far, fn, union)."""
    pairs = evaluated_pairs(davis_root, results_dir, seq, frames)
    counts = np.zeros((len(pairs), 4), dtype=np.int64)
    for i, (result_path, gt_path) in enumerate(pairs):
        r, g = read_frame_pair(result_path, gt_path)
        counts[i] = _split_counts(r, g, near_px)
    return seq, counts


def error_split_results(
    davis_root: str | os.PathLike,
    results_dir: str | os.PathLike,
    sequences: Iterable[str] | None = None,
    near_px: float = ERROR_NEAR_PX,
    workers: int = 2,
    progress: bool = True,
) -> dict:
    """Error split of OSVOS Figure 5 for a results folder ``results_dir/<sequence>/<frame>.png``.

    Same inputs, sequence discovery, frame selection (frames 1..N-2) and error messages as
    :func:`~osvos_tf.evaluation.results.evaluate_results` (``db_info.yaml`` is not needed).  For every
    evaluated frame, :func:`error_split` counts false positives within ``near_px`` pixels of the
    ground-truth object ("fp_near"), false positives farther away ("fp_far") and false negatives ("fn"),
    each expressed as a fraction of that frame's union |result | gt|, so ``fp_near + fp_far + fn == 1 - J``
    of the frame (a frame with an empty union, where J = 1, contributes 0 to all three).  A sequence's
    values are the means over its frames and the overall values the means over sequences, as DAVIS
    averages J; hence ``overall fp_near + fp_far + fn == 1 - overall J-Mean`` of ``evaluate_results``.

    Returns (fractions are floats in [0, 1], counts are ints)::

        {"near_px": float,
         "sequences": {seq: {"fp_near": x, "fp_far": y, "fn": z, "frames": n evaluated frames}},
         "overall":   {"fp_near": x, "fp_far": y, "fn": z, "frames": total evaluated frames},
         "pixels":    {"fp_near": N, "fp_far": N, "fn": N, "union": N},  # totals over all frames
         "skipped":   [names of the skipped sub-folders]}                 # only when some were skipped

    Raises FileNotFoundError for a missing folder or frame, ValueError for a wrong layout, a size
    mismatch, an empty or truncated mask (named in the message), or a negative ``near_px``.
    """
    near_px = check_near_px(near_px)
    workers = check_workers(workers)
    folder = open_results_folder(davis_root, results_dir, sequences)
    if progress:
        report_skipped(folder, "[errors]")
    seqs = folder.sequences
    jobs = [(str(folder.davis_root), str(folder.results_dir), s, folder.frames[s], near_px) for s in seqs]
    per_seq: dict[str, np.ndarray] = {}

    def report(seq: str, counts: np.ndarray) -> None:
        per_seq[seq] = counts
        if progress:
            fr = _split_fractions(counts).mean(axis=0)
            print(
                f"[errors] {len(per_seq)}/{len(jobs)} {seq}: FP-near {fr[0]:.3f} FP-far {fr[1]:.3f} FN {fr[2]:.3f}",
                file=sys.stderr,
                flush=True,
            )

    run_jobs(_split_one_sequence, jobs, workers, report)
    result = _split_dict(near_px, seqs, per_seq)
    if folder.skipped:
        result["skipped"] = list(folder.skipped)
    return result


def _split_dict(near_px: float, seqs: list[str], per_seq: dict[str, np.ndarray]) -> dict:
    """The dict of :func:`error_split_results` (without "skipped") from the per-sequence counts."""
    result: dict = {"near_px": near_px, "sequences": {}, "overall": {}, "pixels": {}}
    for s in seqs:
        means = _split_fractions(per_seq[s]).mean(axis=0)
        result["sequences"][s] = {k: float(v) for k, v in zip(SPLIT_KEYS, means)}
        result["sequences"][s]["frames"] = int(len(per_seq[s]))
    result["overall"] = {k: float(np.mean([result["sequences"][s][k] for s in seqs])) for k in SPLIT_KEYS}
    result["overall"]["frames"] = int(sum(len(per_seq[s]) for s in seqs))
    totals = np.sum([per_seq[s].sum(axis=0) for s in seqs], axis=0)
    result["pixels"] = {k: int(v) for k, v in zip(SPLIT_KEYS + ("union",), totals)}
    return result
