"""Per-object J and F of a results folder against a DAVIS-2017 root: the JSON-ready dict of the benchmark.

The DAVIS-2017 semi-supervised protocol (davisvideochallenge/davis2017-evaluation, read, not copied): every
sequence of an image set (``ImageSets/2017/<set>.txt``) or of an explicit list is scored object by object
(:mod:`~osvos_tf.evaluation.multi_object` has the rules: objects from the first annotated frame, void as
background, frames 1..N-2, a result id above the number of objects an error), and every global number is a
mean over **objects**, not sequences; J&F = (J mean + F mean) / 2.  There is no T in this protocol.

Ground truth and results are label-map PNGs (:func:`~osvos_tf.label_maps.read_label_map`):
``<root>/Annotations/480p/<seq>/<frame>.png`` and ``DIR/<seq>/<frame>.png`` with the ground-truth frame
names; results of frames 0 and N-1 may be absent.  The folder checks are
:func:`~osvos_tf.evaluation.layout.open_results_folder`'s.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable

from osvos_tf.davis import annotation_dir
from osvos_tf.evaluation.layout import (
    MASK_EXT,
    check_davis2017_root,
    davis2017_sequences,
    evaluated_pairs,
    open_results_folder,
)
from osvos_tf.evaluation.multi_object import evaluate_object_frames
from osvos_tf.evaluation.pool import check_workers, run_jobs
from osvos_tf.evaluation.statistics import nanmean
from osvos_tf.label_maps import read_label_map

_STATS = ("mean", "recall", "decay")


def evaluate_results_2017(
    davis_root: str | os.PathLike,
    results_dir: str | os.PathLike,
    sequences: Iterable[str] | None = None,
    image_set: str = "val",
    workers: int = 2,
    progress: bool = True,
) -> dict:
    """Evaluate a results folder ``results_dir/<sequence>/<frame>.png`` (label maps) against DAVIS-2017.

    ``davis_root`` holds ``Annotations/480p/<sequence>/`` and, unless ``sequences`` is given,
    ``ImageSets/2017/<image_set>.txt`` (the sequences scored by default: all of the set, each must have a
    results folder).  Sequences run in ``workers`` processes (1 = in this process); with ``progress``, a
    line per sequence goes to stderr.

    Returns (floats; Mean and Recall fractions in [0, 1], Decay in [-1, 1])::

        {"objects":   {"<seq>_<k>": {"J&F": x, "J": {"mean", "recall", "decay"}, "F": {...}}},
         "sequences": {seq: {"J&F": x, "J": {...}, "F": {...}, "n_objects": K}},
         "overall":   {"J&F": x, "J": {...}, "F": {...}}}

    Object k of a sequence is ``<seq>_<k>`` (k = 1..K, K the largest id of its first annotated frame);
    a sequence's numbers are means over its objects, the overall ones means over all objects.

    Raises:
        FileNotFoundError: a missing folder, set file or frame; a requested sequence without ground truth.
        ValueError: a wrong layout, a size mismatch, an unreadable or colour PNG (named), a first frame
            without objects, a result id above the number of objects (named), ``workers`` < 1.
    """
    workers = check_workers(workers)
    if sequences is None:
        seqs = davis2017_sequences(davis_root, image_set)
    else:
        check_davis2017_root(davis_root)
        seqs = list(sequences)
    folder = open_results_folder(davis_root, results_dir, seqs)
    jobs = [(str(folder.davis_root), str(folder.results_dir), s, folder.frames[s]) for s in folder.sequences]
    per_seq: dict[str, dict] = {}

    def report(seq: str, objects: dict) -> None:
        per_seq[seq] = objects
        if progress:
            s = _mean_block(list(objects.values()))
            print(
                f"[eval] {len(per_seq)}/{len(jobs)} {seq}: J&F {s['J&F']:.3f} J {s['J']['mean']:.3f} "
                f"F {s['F']['mean']:.3f} ({len(objects)} object{'s' if len(objects) > 1 else ''})",
                file=sys.stderr,
                flush=True,
            )

    run_jobs(_evaluate_one_sequence, jobs, workers, report)
    return _results_dict(folder.sequences, per_seq)


def _evaluate_one_sequence(davis_root: str, results_dir: str, seq: str, frames: list[str]) -> tuple[str, dict]:
    """The job of one sequence (runs in a worker process): (seq, {k: {'J&F', 'J', 'F'}}) of its objects."""
    first_path = annotation_dir(davis_root) / seq / f"{frames[0]}{MASK_EXT}"
    first = read_label_map(first_path, "Ground-truth label map")
    gts, results, names = [], [], []
    for res_path, gt_path in evaluated_pairs(davis_root, results_dir, seq, frames):
        gts.append(read_label_map(gt_path, "Ground-truth label map"))
        results.append(read_label_map(res_path, "Result label map"))
        names.append((f"result {res_path}", f"ground truth {gt_path}"))
    objects = evaluate_object_frames(first, gts, results, names, first_name=str(first_path))
    return seq, {k: _object_block(v) for k, v in objects.items()}


def _object_block(scores: dict) -> dict:
    """{'J&F', 'J', 'F'} (floats) of one object from its :func:`evaluate_object_frames` entry."""
    block = {m: {s: float(scores[m][s]) for s in _STATS} for m in ("J", "F")}
    return {"J&F": (block["J"]["mean"] + block["F"]["mean"]) / 2, **block}


def _mean_block(blocks: list[dict]) -> dict:
    """{'J&F', 'J', 'F'}: each statistic averaged over the object ``blocks``; J&F from the two means."""
    means = {m: {s: nanmean([b[m][s] for b in blocks]) for s in _STATS} for m in ("J", "F")}
    return {"J&F": (means["J"]["mean"] + means["F"]["mean"]) / 2, **means}


def _results_dict(seqs: list[str], per_seq: dict[str, dict]) -> dict:
    """The JSON-ready dict of :func:`evaluate_results_2017` from the per-sequence object blocks."""
    result: dict = {"objects": {}, "sequences": {}, "overall": {}}
    for s in seqs:
        for k, block in per_seq[s].items():
            result["objects"][f"{s}_{k}"] = block
        result["sequences"][s] = {**_mean_block(list(per_seq[s].values())), "n_objects": len(per_seq[s])}
    result["overall"] = _mean_block(list(result["objects"].values()))
    return result
