"""J, F and T of a results folder against DAVIS-2016 480p: the JSON-ready dict of the benchmark."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterable

import numpy as np

from osvos_tf.davis import load_db_info
from osvos_tf.evaluation.layout import (
    ResultsFolder,
    evaluated_pairs,
    open_results_folder,
    read_frame_pair,
    report_skipped,
)
from osvos_tf.evaluation.pool import check_workers, run_jobs
from osvos_tf.evaluation.sequence import evaluate_frames
from osvos_tf.evaluation.statistics import nanmean

_STATS = ("mean", "recall", "decay")


def evaluate_results(
    davis_root: str | os.PathLike,
    results_dir: str | os.PathLike,
    sequences: Iterable[str] | None = None,
    compute_t: bool = True,
    workers: int = 2,
    progress: bool = True,
) -> dict:
    """Evaluate a results folder ``results_dir/<sequence>/<frame>.png`` against DAVIS-2016 480p.

    ``davis_root`` holds ``Annotations/480p/<sequence>/`` and ``db_info.yaml``.  ``sequences`` defaults
    to every sub-folder of ``results_dir`` that is a DAVIS sequence; the other sub-folders are skipped
    (see :mod:`osvos_tf.evaluation.layout`).  Sequences run in ``workers`` processes (1 = in this
    process).  When ``progress``, a line per sequence and one naming the skipped sub-folders go to stderr.
    T is computed only when ``compute_t`` and only for sequences with ``eval_t: true`` in ``db_info.yaml``.

    Returns (all numbers are floats in the units of the official code, fractions in [0, 1])::

        {"sequences": {seq: {"J": {"mean", "recall", "decay"}, "F": {...}, "T": {"mean": x or None}}},
         "overall":   {"J": {"mean", "recall", "decay"}, "F": {...}, "T": {"mean": x or None}},
         "skipped":   [names of the skipped sub-folders]}   # only when some were skipped

    Overall values are means over the sequences (T over the sequences that have one).

    Raises:
        FileNotFoundError: a missing folder or frame, a requested sequence without ground truth.
        ValueError: a wrong layout, a size mismatch, an empty or truncated mask (named), a sequence not in
            ``db_info.yaml`` when ``compute_t``, ``workers`` < 1.
    """
    workers = check_workers(workers)
    folder = open_results_folder(davis_root, results_dir, sequences)
    eval_t = _t_flags(folder, compute_t)
    if progress:
        report_skipped(folder, "[eval]")
    jobs = [(str(folder.davis_root), str(folder.results_dir), s, folder.frames[s], eval_t[s]) for s in folder.sequences]
    per_seq: dict[str, dict] = {}

    def report(seq: str, out: dict) -> None:
        per_seq[seq] = out
        if progress:
            print(f"[eval] {len(per_seq)}/{len(jobs)} {_progress_text(seq, out)}", file=sys.stderr, flush=True)

    run_jobs(_evaluate_one_sequence, jobs, workers, report)
    return _results_dict(folder, per_seq)


def _t_flags(folder: ResultsFolder, compute_t: bool) -> dict[str, bool]:
    """Whether T is computed for each sequence: ``compute_t`` and ``eval_t`` of ``db_info.yaml``."""
    if not compute_t:
        return {s: False for s in folder.sequences}
    db_info = load_db_info(folder.davis_root)
    flags = {}
    for s in folder.sequences:
        if s not in db_info:
            raise ValueError(
                f"sequence {s!r} is not in {folder.davis_root / 'db_info.yaml'}, which says whether T counts "
                f"for it; evaluate it without T (compute_t=False / --no-t) or use a DAVIS root whose "
                f"db_info.yaml lists it"
            )
        flags[s] = bool(db_info[s].get("eval_t", False))
    return flags


def _evaluate_one_sequence(
    davis_root: str, results_dir: str, seq: str, frames: list[str], compute_t: bool
) -> tuple[str, dict]:
    """The job of one sequence (runs in a worker process): (seq, :func:`evaluate_frames` dict)."""
    pairs = [read_frame_pair(r, g) for r, g in evaluated_pairs(davis_root, results_dir, seq, frames)]
    return seq, evaluate_frames([g for _, g in pairs], [r for r, _ in pairs], compute_t)


def _progress_text(seq: str, out: dict) -> str:
    t = out["T"]
    t_txt = f" T {t['mean']:.3f}" if t is not None and not math.isnan(t["mean"]) else ""
    return f"{seq}: J {out['J']['mean']:.3f} F {out['F']['mean']:.3f}{t_txt}"


def _json_float(x: float | None) -> float | None:
    """``x`` as a Python float, None for None or NaN (strict JSON has no NaN)."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def _results_dict(folder: ResultsFolder, per_seq: dict[str, dict]) -> dict:
    """The JSON-ready dict of :func:`evaluate_results` from the per-sequence :func:`evaluate_frames` dicts."""
    seqs = folder.sequences
    result: dict = {"sequences": {}, "overall": {}}
    for s in seqs:
        out = per_seq[s]
        t = out["T"]
        result["sequences"][s] = {
            "J": {k: _json_float(out["J"][k]) for k in _STATS},
            "F": {k: _json_float(out["F"][k]) for k in _STATS},
            "T": {"mean": None if t is None else _json_float(t["mean"])},
        }
    for m in ("J", "F"):
        result["overall"][m] = {k: _json_float(nanmean([result["sequences"][s][m][k] for s in seqs])) for k in _STATS}
    t_vals = [result["sequences"][s]["T"]["mean"] for s in seqs]
    t_vals = [v for v in t_vals if v is not None]
    result["overall"]["T"] = {"mean": _json_float(np.mean(t_vals)) if t_vals else None}
    if folder.skipped:
        result["skipped"] = list(folder.skipped)
    return result
