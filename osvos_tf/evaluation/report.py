"""Text tables of the evaluation and :func:`evaluate_and_report` (what ``tools/eval_davis.py`` calls)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from osvos_tf.atomic import write_json_atomic
from osvos_tf.evaluation.davis2017 import evaluate_results_2017
from osvos_tf.evaluation.error_analysis import ERROR_NEAR_PX, SPLIT_KEYS, check_near_px, error_split_results
from osvos_tf.evaluation.results import evaluate_results

YEARS = (2016, 2017)
"""The DAVIS protocols :func:`evaluate_and_report` runs: 2016 (single object, J/F/T per sequence) and 2017
(semi-supervised, J/F per object)."""

_TABLE_COLUMNS = [
    ("J-Mean", "J", "mean"),
    ("J-Recall", "J", "recall"),
    ("J-Decay", "J", "decay"),
    ("F-Mean", "F", "mean"),
    ("F-Recall", "F", "recall"),
    ("F-Decay", "F", "decay"),
    ("T-Mean", "T", "mean"),
]


def _text_table(label: str, rows: dict, overall: dict, columns: list) -> str:
    """Rows ``{name: values}`` and an 'Overall' row as a text table of ``columns`` ``(header, measure,
    statistic)`` (statistic '' for a plain number); a missing value (None) is shown as '-'."""
    w = max(8, max(len(n) for n in [*rows, "Overall"]))

    def row(name: str, vals: dict) -> str:
        values = [vals[m][k] if k else vals[m] for _, m, k in columns]
        return f"{name:<{w}} " + " ".join(f"{'-':>8}" if v is None else f"{v:8.3f}" for v in values)

    lines = [f"{label:<{w}} " + " ".join(f"{h:>8}" for h, _, _ in columns)]
    lines.append("-" * len(lines[0]))
    lines.extend(row(name, vals) for name, vals in rows.items())
    lines.append("-" * len(lines[0]))
    lines.append(row("Overall", overall))
    return "\n".join(lines)


def format_table(results: dict) -> str:
    """Text table of :func:`~osvos_tf.evaluation.results.evaluate_results` output: one row per sequence
    and an 'Overall' row; a missing value (None) is shown as '-'."""
    return _text_table("Sequence", results["sequences"], results["overall"], _TABLE_COLUMNS)


_OBJECT_COLUMNS = [("J&F-Mean", "J&F", "")] + [(h, m, k) for h, m, k in _TABLE_COLUMNS if m != "T"]


def format_objects_table(results: dict) -> str:
    """Text table of :func:`~osvos_tf.evaluation.davis2017.evaluate_results_2017` output: one row per
    object (``<seq>_<k>``) and an 'Overall' row (means over the objects)."""
    return _text_table("Object", results["objects"], results["overall"], _OBJECT_COLUMNS)


def format_error_table(split: dict) -> str:
    """Text table of :func:`~osvos_tf.evaluation.error_analysis.error_split_results` output: one row per
    sequence and an 'Overall' row with the FP-near / FP-far / FN fractions of the union, their sum
    (= 1 - J) and the number of frames."""
    heads = ["FP-near", "FP-far", "FN", "1-J", "Frames"]
    names = list(split["sequences"]) + ["Overall"]
    w = max(8, max(len(n) for n in names))

    def row(name: str, vals: dict) -> str:
        nums = [vals[k] for k in SPLIT_KEYS]
        return f"{name:<{w}} " + " ".join(f"{v:8.3f}" for v in nums + [sum(nums)]) + f" {vals['frames']:>8d}"

    lines = [f"{'Sequence':<{w}} " + " ".join(f"{h:>8}" for h in heads)]
    lines.append("-" * len(lines[0]))
    for s, vals in split["sequences"].items():
        lines.append(row(s, vals))
    lines.append("-" * len(lines[0]))
    lines.append(row("Overall", split["overall"]))
    lines.append(
        f"(fractions of |result | gt| per frame; FP-near = false positives within "
        f"{split['near_px']:g} px of the object, FP-far = farther, FN = false negatives)"
    )
    return "\n".join(lines)


def evaluate_and_report(
    davis_root: str | os.PathLike,
    results_dir: str | os.PathLike,
    sequences: Iterable[str] | None = None,
    compute_t: bool = True,
    workers: int = 2,
    json_path: str | os.PathLike | None = None,
    stream: TextIO | None = None,
    progress: bool = True,
    errors: bool = False,
    near_px: float = ERROR_NEAR_PX,
    year: int = 2016,
    image_set: str = "val",
) -> dict:
    """Run :func:`~osvos_tf.evaluation.results.evaluate_results`, print :func:`format_table` to ``stream``
    (stdout) and, when ``json_path`` is given, write the results dict there as JSON (null for a missing T),
    atomically (its folder is created).

    With ``errors``, also run :func:`~osvos_tf.evaluation.error_analysis.error_split_results` (``near_px``)
    on the same sequences, print :func:`format_error_table` after the J/F/T table and store the split under
    the key ``"error_split"`` of the returned (and written) dict.  Raises what those functions raise.

    ``year=2017`` runs the DAVIS-2017 semi-supervised protocol instead:
    :func:`~osvos_tf.evaluation.davis2017.evaluate_results_2017` (``sequences`` defaults to the
    ``image_set`` list of ``ImageSets/2017``), printed by :func:`format_objects_table`; it has no T
    (``compute_t`` is ignored) and no error split (``errors`` is a ValueError).
    """
    if year not in YEARS:
        raise ValueError(f"year: expected one of {', '.join(map(str, YEARS))} (the DAVIS protocol), received {year!r}")
    stream = sys.stdout if stream is None else stream
    if year == 2017:
        if errors:
            raise ValueError(
                "the error split (errors=True / --errors) scores one object per sequence: it is part of the "
                "DAVIS-2016 evaluation only; drop it for year 2017"
            )
        results = evaluate_results_2017(
            davis_root, results_dir, sequences=sequences, image_set=image_set, workers=workers, progress=progress
        )
        print(format_objects_table(results), file=stream)
        _write_json(json_path, results)
        return results
    if errors:
        near_px = check_near_px(near_px)  # fail before the (long) J/F/T evaluation
    results = evaluate_results(
        davis_root, results_dir, sequences=sequences, compute_t=compute_t, workers=workers, progress=progress
    )
    print(format_table(results), file=stream)
    if errors:
        results["error_split"] = error_split_results(
            davis_root,
            results_dir,
            sequences=list(results["sequences"]),  # the sequences just evaluated: no second discovery
            near_px=near_px,
            workers=workers,
            progress=progress,
        )
        print("", file=stream)
        print(format_error_table(results["error_split"]), file=stream)
    _write_json(json_path, results)
    return results


def _write_json(json_path: str | os.PathLike | None, results: dict) -> None:
    """Write ``results`` as JSON to ``json_path`` atomically (its folder created); nothing for None."""
    if json_path is not None:
        json_path = Path(json_path)
        json_path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(json_path, results)
