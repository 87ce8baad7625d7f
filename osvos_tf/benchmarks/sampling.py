"""A quick J estimate on a subsample of DAVIS frames: :func:`sampled_frames` picks them, :func:`mean_jaccard`
scores probability maps against their ground truth.

    frames, annotations = sampled_frames(davis_root, "car-shadow")            # every 5th of frames 1..N-2
    j = mean_jaccard((probs for _, probs in osvos.segment(frames)), annotations)

Used by the scripts in ``benchmarks/`` (``no_finetune_j.py``, ``finetune_curve.py``, ...).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from osvos_tf.config import MASK_THRESHOLD
from osvos_tf.davis import annotation_dir, sequence_inputs


def sampled_frames(davis_root: str | os.PathLike, seq: str, every: int = 5) -> tuple[list[Path], list[Path]]:
    """Frames for a quick J estimate: every ``every``-th of frames 1..N-2 of ``seq`` (the frames the DAVIS
    protocol scores), and their ground-truth masks.

    With ``every=5`` that is 138 of the 688 scored frames of the 10 val sequences of ../shared/DAVIS; its
    mean J has come within 0.006 of the full protocol's on the runs in benchmarks/results (0.567 against
    0.561, 0.493 against 0.492).

    Returns:
        ``(frame paths, annotation paths)``, pairwise.

    Raises:
        FileNotFoundError: the sequence or its annotations are missing. ValueError: ``every`` < 1.
    """
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
        raise ValueError(f"every must be a positive integer, got {every!r}.")
    davis_root = Path(davis_root)
    frames, _ = sequence_inputs(davis_root, seq)
    picked = frames[1:-1][:: int(every)]
    annotations = [annotation_dir(davis_root) / seq / f"{f.stem}.png" for f in picked]
    missing = [a for a in annotations if not a.is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} ground-truth masks of {seq!r} are missing, e.g. {missing[0]}.")
    return picked, annotations


def mean_jaccard(
    probs: Iterable[np.ndarray], annotations: Sequence[str | os.PathLike], threshold: float = MASK_THRESHOLD
) -> float:
    """Mean region similarity J of probability maps thresholded at ``threshold`` against mask files.

    Args:
        probs: float (H, W) foreground probabilities in [0, 1], one per annotation, in order (e.g. the
            ``probs`` of :meth:`OSVOS.segment`'s ``(index, probs)`` items); consumed lazily.
        annotations: ground-truth mask paths (read with :func:`osvos_tf.masks.read_davis_mask`).

    Raises:
        ValueError: fewer or more probability maps than annotations.
    """
    from osvos_tf.evaluation import jaccard
    from osvos_tf.masks import read_davis_mask

    annotations = list(annotations)
    values: list[float] = []
    for p in probs:
        if len(values) == len(annotations):
            raise ValueError(f"mean_jaccard got more probability maps than the {len(annotations)} annotations.")
        values.append(jaccard(np.asarray(p) > threshold, read_davis_mask(annotations[len(values)])))
    if not values or len(values) != len(annotations):
        raise ValueError(
            f"mean_jaccard needs one probability map per annotation: got {len(values)} maps for "
            f"{len(annotations)} annotations."
        )
    return float(np.mean(values))
