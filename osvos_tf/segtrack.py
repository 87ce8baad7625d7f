"""SegTrack v2 (Li et al., ICCV 2013): reading its layout, and the paper's Table 7 protocol (mean IoU per
object and per sequence) for the multi-object method.

Layout (the original release): ``JPEGImages/<seq>/<name>.png|.bmp`` frames (PNG despite the folder's name;
names keep the original numbering), ``GroundTruth/<seq>/<name>.png|.bmp`` for a single-object sequence or
``GroundTruth/<seq>/<k>/<name>...`` (k = 1, 2, ...) per object, ``ImageSets/<seq>.txt`` (frame names, after a
``<seq>/`` line) and ``ImageSets/all.txt`` (the sequences). Masks are grey values stored as RGB with an
anti-aliased border: foreground where the value is > 127. Objects may overlap: each is scored on its own mask.

:func:`run_segtrack` fine-tunes one network per object on the first frame (:meth:`OSVOS.fit_objects` with a
dict of the objects' masks), segments every frame without merging (``merge=None``) and scores each object's
mask (probabilities > threshold) by IoU (:func:`osvos_tf.evaluation.region.jaccard`) on every frame, and on
every frame but the first.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from osvos_tf.atomic import write_json_atomic
from osvos_tf.config import MASK_THRESHOLD
from osvos_tf.frames import open_image

#: Frame and mask file extensions of the release, in the order they are looked for.
EXTENSIONS = (".png", ".bmp")


@dataclass(frozen=True)
class SegTrackSequence:
    """One sequence: its frame files in order and, per object id, the ground-truth mask files (same order)."""

    name: str
    frames: tuple[Path, ...]
    objects: dict[int, tuple[Path, ...]]


def _find(folder: Path, name: str, what: str) -> Path:
    for ext in EXTENSIONS:
        path = folder / f"{name}{ext}"
        if path.is_file():
            return path
    raise FileNotFoundError(f"{what} {name} not found in {folder} (looked for {', '.join(EXTENSIONS)}).")


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: is this a SegTrack v2 folder (ImageSets/, JPEGImages/, GroundTruth/)?"
        )
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.strip().endswith("/")]


def list_sequences(root: str | os.PathLike) -> list[str]:
    """The sequences of ``ImageSets/all.txt``."""
    return _lines(Path(root) / "ImageSets" / "all.txt")


def read_sequence(root: str | os.PathLike, name: str) -> SegTrackSequence:
    """The files of one sequence (every frame and mask checked to exist)."""
    root = Path(root)
    names = _lines(root / "ImageSets" / f"{name}.txt")
    if not names:
        raise ValueError(f"{root / 'ImageSets' / f'{name}.txt'} lists no frames.")
    frames = tuple(_find(root / "JPEGImages" / name, n, "Frame") for n in names)
    gt = root / "GroundTruth" / name
    folders = sorted((p for p in gt.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))
    if folders:
        objects = {int(f.name): tuple(_find(f, n, f"Mask of object {f.name}") for n in names) for f in folders}
    else:
        objects = {1: tuple(_find(gt, n, "Mask") for n in names)}
    return SegTrackSequence(name, frames, objects)


def read_segtrack_mask(path: str | os.PathLike) -> np.ndarray:
    """A SegTrack v2 mask as bool (H, W): grey (stored as RGB or not), foreground where > 127."""
    array = np.asarray(open_image(path, "Mask"))
    if array.ndim == 3:
        array = array[..., :3].max(axis=-1)
    return array > 127


def run_segtrack(
    root: str | os.PathLike,
    out_dir: str | os.PathLike,
    preset: str | None = None,
    iterations: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    sequences: list[str] | None = None,
    threshold: float = MASK_THRESHOLD,
    progress: bool = True,
) -> dict:
    """The paper's Table 7 protocol on SegTrack v2 (module docstring); writes ``out_dir/<seq>/<k>/<name>.png``
    masks (0/255) and ``out_dir/results.json``.

    Returns:
        ``{"objects": {"<seq>_<k>": {"iou": mean over every frame, "iou_without_first": ..., "fit_seconds":
        s}}, "sequences": {seq: {"iou": mean over its objects, "iou_without_first": ..., "segment_seconds":
        s}}, "overall": {"per_object": {...}, "per_sequence": {...}}, "settings": {...}}``; IoU in [0, 1].
    """
    from osvos_tf.config import finetune_config
    from osvos_tf.evaluation.region import jaccard
    from osvos_tf.masks import write_mask
    from osvos_tf.osvos import OSVOS
    from osvos_tf.outputs import prepare_output_dir

    out = prepare_output_dir(out_dir)
    preset_name, config = finetune_config(preset, iterations)
    names = sequences or list_sequences(root)
    inputs = [read_sequence(root, s) for s in names]  # every file checked before anything is trained
    osvos = OSVOS(checkpoint=checkpoint, config=config)
    objects: dict[str, dict] = {}
    per_sequence: dict[str, dict] = {}
    for seq in inputs:
        first = {obj: read_segtrack_mask(files[0]) for obj, files in seq.objects.items()}
        state = osvos.fit_objects([seq.frames[0]], [first], progress=progress)
        start = time.perf_counter()
        ious: dict[int, list[float]] = {obj: [] for obj in seq.objects}
        for obj in seq.objects:
            (out / seq.name / str(obj)).mkdir(parents=True, exist_ok=True)
        for index, _, probs in osvos.segment_objects(seq.frames, state, merge=None):
            for obj, files in seq.objects.items():
                mask = probs[obj] > threshold
                write_mask(out / seq.name / str(obj) / f"{files[index].stem}.png", mask)
                ious[obj].append(jaccard(mask, read_segtrack_mask(files[index])))
        seconds = time.perf_counter() - start
        for obj, values in ious.items():
            objects[f"{seq.name}_{obj}"] = {
                "iou": float(np.mean(values)),
                "iou_without_first": float(np.mean(values[1:])) if len(values) > 1 else None,
                "fit_seconds": round(state.states[obj].seconds, 1),
                "iterations": state.states[obj].iterations,
            }
        keys = [f"{seq.name}_{obj}" for obj in seq.objects]
        per_sequence[seq.name] = {
            "iou": float(np.mean([objects[k]["iou"] for k in keys])),
            "iou_without_first": float(np.mean([objects[k]["iou_without_first"] for k in keys])),
            "objects": len(keys),
            "frames": len(seq.frames),
            "segment_seconds": round(seconds, 1),
        }
        if progress:
            print(f"[segtrack] {seq.name}: " + ", ".join(f"{k} IoU {objects[k]['iou']:.3f}" for k in keys))

    def means(table: dict) -> dict:
        return {key: float(np.mean([v[key] for v in table.values()])) for key in ("iou", "iou_without_first")}

    report = {
        "objects": objects,
        "sequences": per_sequence,
        "overall": {"per_object": means(objects), "per_sequence": means(per_sequence)},
        "settings": {
            "preset": preset_name,
            "iterations": config.iterations,
            "compute_dtype": osvos.config.compute_dtype,
            "parent": osvos.source,
            "threshold": threshold,
            "sequences": names,
        },
    }
    write_json_atomic(out / "results.json", report, sort_keys=True)
    return report
