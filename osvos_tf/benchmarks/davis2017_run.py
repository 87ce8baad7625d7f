"""Running the multi-object method over a DAVIS-2017 tree (semi-supervised: every object annotated in frame 0),
writing DAVIS-2017 results, timing them and evaluating them with the DAVIS-2017 protocol.

    from osvos_tf.benchmarks.davis2017_run import run_davis2017
    report = run_davis2017("DAVIS2017", "runs/davis2017_default", preset="default")
    report["results"]["overall"]["J&F"]

``tools/run_davis.py --year 2017`` is the command line. The run folder holds ``<sequence>/<frame>.png``
palette PNGs (index = object id), ``timing.json`` (written after every sequence: objects, frames,
fine-tuning and segmentation seconds, the settings with the parent by id) and ``results.json``
(:func:`osvos_tf.evaluation.davis2017.evaluate_results_2017`). A run that stopped resumes: sequences
whose folder holds every frame and whose timing is recorded are kept, a partial one is done again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from osvos_tf.atomic import write_json_atomic
from osvos_tf.config import finetune_config


def _inputs(root: Path, sequences: Sequence[str]) -> dict[str, tuple[list[Path], Path]]:
    """``{seq: (frames, annotation of frame 0)}``, every file checked to exist first."""
    out = {}
    for seq in sequences:
        frames = sorted((root / "JPEGImages" / "480p" / seq).glob("*.jpg"))
        if not frames:
            raise FileNotFoundError(f"No frames for {seq}: expected {root / 'JPEGImages' / '480p' / seq}/*.jpg.")
        annotation = root / "Annotations" / "480p" / seq / f"{frames[0].stem}.png"
        if not annotation.is_file():
            raise FileNotFoundError(f"No annotation of the first frame of {seq}: expected {annotation}.")
        out[seq] = (frames, annotation)
    return out


def run_davis2017(
    davis_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    preset: str | None = None,
    iterations: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    sequences: Sequence[str] | None = None,
    image_set: str = "val",
    compute_dtype: str = "auto",
    evaluate: bool = True,
    workers: int = 2,
    progress: bool = True,
) -> dict:
    """One network per object of each sequence's first frame (:meth:`OSVOS.fit_objects`), every frame
    segmented and merged (argmax), then the DAVIS-2017 evaluation.

    Args:
        davis_root: a DAVIS-2017 tree (``JPEGImages/480p``, ``Annotations/480p``, ``ImageSets/2017``).
        out_dir: the run folder: new, empty, or an earlier run of the same settings to resume.
        preset, iterations: the fine-tuning budget (one), as :func:`osvos_tf.config.finetune_config`.
        checkpoint: the parent (default: the shipped preset).
        sequences: names (default: those of ``ImageSets/2017/<image_set>.txt``).

    Returns:
        ``{"timing": <timing.json>, "results": <results.json> or None}``.

    Raises:
        FileNotFoundError: a missing set file, frame folder or first-frame annotation (before any work).
        ValueError: a run folder of other settings, a bad budget.
    """
    from osvos_tf.evaluation.davis2017 import evaluate_results_2017
    from osvos_tf.evaluation.layout import check_davis2017_root, davis2017_sequences
    from osvos_tf.osvos import OSVOS
    from osvos_tf.outputs import folder_entries

    root = check_davis2017_root(davis_root, None if sequences else image_set)
    names = list(sequences) if sequences else davis2017_sequences(root, image_set)
    inputs = _inputs(root, names)
    preset_name, config = finetune_config(preset, iterations)
    config = dataclasses.replace(config, compute_dtype=compute_dtype)
    out = Path(out_dir)
    osvos = OSVOS(checkpoint=checkpoint, config=config)
    settings = {
        "preset": preset_name,
        "iterations": config.iterations,
        "compute_dtype": osvos.config.compute_dtype,
        "parent": osvos.source,
        "merge": "argmax",
    }
    timing: dict = {"settings": settings, "sequences": {}}
    if out.is_dir() and folder_entries(out):
        old = out / "timing.json"
        if not old.is_file():
            raise FileExistsError(f"{out} is not empty and holds no timing.json: not a DAVIS-2017 run to resume.")
        stored = json.loads(old.read_text())
        if stored.get("settings") != settings:
            raise ValueError(
                f"{out} holds a run with other settings ({stored.get('settings')}); now {settings}. Use another "
                "folder, or the same settings to resume it."
            )
        timing = stored
    out.mkdir(parents=True, exist_ok=True)
    for k, seq in enumerate(names):
        frames, annotation = inputs[seq]
        folder = out / seq
        done = seq in timing["sequences"] and folder.is_dir() and len(list(folder.glob("*.png"))) == len(frames)
        if done:
            continue
        if folder.exists():
            shutil.rmtree(folder)  # a partial sequence of a stopped run: done again
        if progress:
            print(f"[run_davis 2017] sequence {k + 1}/{len(names)} {seq} ({len(frames)} frames)")
        state = osvos.fit_objects([frames[0]], [annotation], progress=progress)
        start = time.perf_counter()
        osvos.segment_objects_to_folder(frames, folder, state, progress=progress)
        timing["sequences"][seq] = {
            "objects": list(state.objects),
            "frames": len(frames),
            "fit_seconds": round(state.seconds, 2),
            "fit_seconds_per_object": round(state.seconds / len(state.objects), 2),
            "segment_seconds": round(time.perf_counter() - start, 2),
        }
        write_json_atomic(out / "timing.json", timing, sort_keys=True)
    results = None
    if evaluate:
        results = evaluate_results_2017(root, out, names, image_set, workers=workers, progress=progress)
        write_json_atomic(out / "results.json", results)
    return {"timing": timing, "results": results}
