"""The run folder of :func:`~osvos_tf.benchmarks.run_davis`: its files, its settings, and resuming it.

A run folder ``DIR`` (the contract the tools, the resume logic and the plots rely on):

* ``DIR/timing.json`` -- written when the run starts and rewritten atomically after every sequence::

      {"tool": "osvos_tf.benchmark", "format": 1, "created": ISO time,
       "settings": {"checkpoint": parent id, "preset": name or null, "iterations": N,
                    "snap": "none" | "contours" | "bilateral", "set": "val" or null (explicit sequences),
                    "davis": name of the DAVIS root folder, "fine_tune_config": {...},
                    "snap_params": {...} (not for "none")},
       "sequences": {seq: {"frames": n, "iterations": N, "fit_seconds": s, "segment_seconds": s,
                           "ms_per_frame": ms, "snap_ms_per_frame": {"contour_model": ms, "snap": ms},
                           "total_seconds": s, "finished": ISO time}}}

  ``checkpoint`` is the parent's :attr:`osvos_tf.parents.ParentSource.id`: a preset name, ``sha256:<hex>``
  for another checkpoint file, or ``base:hed`` / ``base:imagenet``; the folder holds no machine path, so it
  can be moved (with or without the checkout) and resumed. ``segment_seconds`` / ``ms_per_frame`` cover
  reading the frames, the network, snapping and writing the PNGs; ``snap_ms_per_frame`` splits out the
  contour network's forward pass and the snapping itself.
* ``DIR/<seq>/<frame>.png`` -- one 0/255 mask per input frame, named after the frame (JPEG stem). They are
  written into ``DIR/<seq>.partial/`` and renamed when the sequence is complete.
* ``DIR/results.json`` -- :func:`osvos_tf.evaluation.evaluate_results` output over every finished sequence
  of the folder (written atomically).

A sequence is *finished* when timing.json records it with its frame count and all its PNGs exist. A folder
is resumed only with the same :data:`RESUME_KEYS` settings; anything unfinished is redone from scratch.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from osvos_tf.atomic import write_json_atomic
from osvos_tf.config import MASK_THRESHOLD, BilateralParams, ContourSnapParams, FineTuneConfig, config_to_dict
from osvos_tf.outputs import folder_entries

TIMING_FILE = "timing.json"
RESULTS_FILE = "results.json"
PARTIAL_SUFFIX = ".partial"
#: The ``tool`` tag of timing.json (the name of the module that first wrote the format; kept so every run
#: folder stays readable).
TOOL = "osvos_tf.benchmark"
FORMAT = 1
#: Settings that must match to resume a run folder (the others are informational).
RESUME_KEYS = ("checkpoint", "fine_tune_config", "snap", "snap_params", "threshold")


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """What identifies one run folder: stored as timing.json ``settings`` (see :meth:`to_json`).

    Attributes:
        parent: the parent network's :attr:`~osvos_tf.parents.ParentSource.id` (never a path).
        preset: the fine-tuning preset's name, or None for an explicit number of iterations.
        config: the fine-tuning recipe (``compute_dtype`` resolved).
        snap: the snapping mode of the masks.
        snap_params: the parameters of that mode (None for 'none').
        image_set: the DAVIS set the sequences came from, or None when they were listed explicitly.
        davis: the name of the DAVIS root folder (informational).
        threshold: the probability threshold of the raw masks (folders written before it was recorded were
            all made at :data:`~osvos_tf.config.MASK_THRESHOLD` 0.5 and resume as such).
    """

    parent: str
    preset: str | None
    config: FineTuneConfig
    snap: str
    snap_params: ContourSnapParams | BilateralParams | None
    image_set: str | None
    davis: str
    threshold: float = MASK_THRESHOLD

    def to_json(self) -> dict:
        """The timing.json ``settings`` dict, as stored (tuples become lists)."""
        data = {
            "checkpoint": self.parent,
            "preset": self.preset,
            "iterations": self.config.iterations,
            "snap": self.snap,
            "set": self.image_set,
            "davis": self.davis,
            "fine_tune_config": config_to_dict(self.config),
            "threshold": self.threshold,
        }
        if self.snap_params is not None:
            data["snap_params"] = dataclasses.asdict(self.snap_params)
        result: dict = json.loads(json.dumps(data))
        return result


def read_timing(run_dir: str | os.PathLike) -> dict:
    """``run_dir/timing.json`` of a run folder written by :func:`~osvos_tf.benchmarks.run_davis`.

    Raises:
        FileNotFoundError: no timing.json; ValueError: it is not one written by run_davis.
    """
    path = Path(run_dir) / TIMING_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: {run_dir} is not a run folder of tools/run_davis.py "
            "(it writes timing.json when it starts)."
        )
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}).") from err
    if not isinstance(data, dict) or data.get("tool") != TOOL or not isinstance(data.get("sequences"), dict):
        raise ValueError(
            f'{path} was not written by tools/run_davis.py (no "tool": "{TOOL}" entry); '
            "refusing to use that folder as a run folder. Choose another --out."
        )
    return data


def write_timing(run_dir: Path, timing: dict) -> None:
    """Write ``run_dir/timing.json`` atomically."""
    write_json_atomic(run_dir / TIMING_FILE, timing)


def open_run_folder(run_dir: Path, settings: RunSettings) -> dict:
    """The timing dict of ``run_dir``: a fresh one for a new or empty folder, the stored one to resume.

    Only checks; creates and writes nothing.

    Raises:
        FileExistsError: ``run_dir`` is a file, or a non-empty folder without timing.json.
        ValueError: timing.json is not run_davis's, or records other :data:`RESUME_KEYS` settings (another
            parent, e.g. a checkpoint file replaced since; another recipe or snapping).
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise FileExistsError(f"Output path {run_dir} exists and is not a folder; choose a folder for --out.")
    wanted = settings.to_json()
    if not run_dir.is_dir() or not folder_entries(run_dir):
        now = datetime.datetime.now().isoformat(timespec="seconds")
        return {"tool": TOOL, "format": FORMAT, "created": now, "settings": wanted, "sequences": {}}
    if not (run_dir / TIMING_FILE).is_file():
        raise FileExistsError(
            f"Output folder {run_dir} is not empty and holds no {TIMING_FILE}, so it is not a "
            "previous run of tools/run_davis.py; nothing was written to it. Choose an empty "
            "or new folder for --out (or the folder of the run you want to resume)."
        )
    timing = read_timing(run_dir)
    check_resumable(run_dir, timing.get("settings", {}), wanted)
    return timing


def _recorded_defaults(stored: dict) -> dict:
    """``stored`` settings with what older run folders did not record filled in as they were made: the
    threshold :data:`~osvos_tf.config.MASK_THRESHOLD`, and the fine-tuning fields added since at their
    defaults (e.g. ``working_short_side`` 480, which leaves DAVIS 480p frames as they are)."""
    stored = dict(stored)
    stored.setdefault("threshold", MASK_THRESHOLD)
    if isinstance(stored.get("fine_tune_config"), dict):
        defaults = json.loads(json.dumps(config_to_dict(FineTuneConfig())))
        stored["fine_tune_config"] = {**defaults, **stored["fine_tune_config"]}
    return stored


def check_resumable(run_dir: Path, stored: dict, wanted: dict) -> None:
    """Refuse to resume a run whose stored settings differ from ``wanted`` in a :data:`RESUME_KEYS` key.

    Raises:
        ValueError: another parent (with what each id means and how to fix it), or the list of the other
            differing settings.
    """
    there, now = stored.get("checkpoint"), wanted.get("checkpoint")
    if there != now:
        raise ValueError(_parent_mismatch(run_dir, there, now))
    stored = _recorded_defaults(stored)
    diffs = []
    for key in RESUME_KEYS:
        a, b = stored.get(key), wanted.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            diffs += [
                f"{key}.{k}: {a.get(k)!r} there, {b.get(k)!r} now"
                for k in sorted(set(a) | set(b))
                if a.get(k) != b.get(k)
            ]
        elif a != b:
            diffs.append(f"{key}: {a!r} there, {b!r} now")
    if diffs:
        raise ValueError(
            f"Output folder {run_dir} holds a run with other settings ({'; '.join(diffs)}); resuming "
            "would mix results of different settings. Use a new --out, or the settings of that run "
            f"(preset {stored.get('preset')!r}, iterations {stored.get('iterations')}, checkpoint "
            f"{stored.get('checkpoint')})."
        )


def _parent_mismatch(run_dir: Path, there: object, now: object) -> str:
    head = f"Output folder {run_dir} holds a run of the parent {there!r}, but the parent now is {now!r}"
    if isinstance(there, str) and ("/" in there or "\\" in there) and not there.startswith("sha256:"):
        return (
            f"{head}. That folder was written by an older osvos_tf, which recorded the checkpoint's path instead "
            "of its id, so the network it used cannot be verified. Start a new --out (or rewrite its "
            "timing.json 'checkpoint' to the parent's id if you know it)."
        )
    replaced = (
        " If you passed the same checkpoint file as that run, the file has been replaced since (its sha256 "
        "differs): restore the original file to resume."
        if isinstance(there, str) and isinstance(now, str) and "base:" not in there + now
        else ""
    )
    return (
        f"{head}: resuming would mix masks of two parent networks.{replaced} Otherwise use a new --out, or "
        f"run with the parent {there!r}."
    )


def check_only_subfolders(folder: Path, names: Sequence[str]) -> None:
    """Refuse ``folder`` if it exists and is not a folder, or holds anything but the sub-folders ``names``.

    Raises:
        FileExistsError: naming what is there and what the run writes.
    """
    if not folder.exists():
        return
    if not folder.is_dir():
        raise FileExistsError(f"Output path {folder} exists and is not a folder; choose a folder for --out.")
    foreign = [p.name for p in folder_entries(folder) if p.name not in names]
    if foreign:
        raise FileExistsError(
            f"Output folder {folder} holds {', '.join(sorted(foreign)[:5])}, but this run writes "
            f"only the sub-folders {', '.join(names)} there; choose a new or empty --out (or the "
            "folder of the run you want to resume)."
        )


def is_finished(run_dir: Path, timing: dict, seq: str, frames: Sequence[Path]) -> bool:
    """Whether timing.json records ``seq`` with ``len(frames)`` frames and every mask PNG exists."""
    record = timing["sequences"].get(seq)
    if not record or record.get("frames") != len(frames):
        return False
    folder = run_dir / seq
    return all((folder / f"{f.stem}.png").is_file() for f in frames)


def clear_stale(run_dir: Path, seq: str) -> None:
    """Remove what an interrupted attempt at ``seq`` left: its .partial folder (the masks of an unfinished
    sequence folder are replaced when it is redone).

    Raises:
        FileExistsError: the unfinished ``run_dir/seq`` holds files run_davis does not write (nothing is
            deleted then).
    """
    partial = run_dir / f"{seq}{PARTIAL_SUFFIX}"
    if partial.exists():
        shutil.rmtree(partial)
    final = run_dir / seq
    if final.exists():
        foreign = (
            [p.name for p in final.iterdir() if not (p.is_file() and p.suffix == ".png")]
            if final.is_dir()
            else [final.name]
        )
        if foreign:
            raise FileExistsError(
                f"{final} is incomplete and must be redone, but it holds files this tool does "
                f"not write ({', '.join(foreign[:5])}); move them away and run again."
            )


def sequence_record(
    frames: int, iterations: int, fit_seconds: float, segment_seconds: float, snap_ms_per_frame: dict
) -> dict:
    """The timing.json record of one finished sequence (times rounded as the format has them)."""
    return {
        "frames": frames,
        "iterations": iterations,
        "fit_seconds": round(fit_seconds, 3),
        "segment_seconds": round(segment_seconds, 3),
        "ms_per_frame": round(1000.0 * segment_seconds / frames, 2),
        "snap_ms_per_frame": snap_ms_per_frame,
        "total_seconds": round(fit_seconds + segment_seconds, 3),
        "finished": datetime.datetime.now().isoformat(timespec="seconds"),
    }


def finished_sequences(davis_root: str | os.PathLike, run_dir: str | os.PathLike) -> list[str]:
    """The sequences of ``run_dir``'s timing.json that are finished against the frames of ``davis_root``."""
    from osvos_tf.davis import jpeg_dir
    from osvos_tf.frames import list_frames

    run_dir = Path(run_dir)
    timing = read_timing(run_dir)
    finished = []
    for seq in timing["sequences"]:
        folder = jpeg_dir(davis_root) / seq
        if folder.is_dir() and is_finished(run_dir, timing, seq, list_frames(folder)):
            finished.append(seq)
    return finished


def evaluate_run(
    davis_root: str | os.PathLike,
    run_dir: str | os.PathLike,
    compute_t: bool = True,
    workers: int = 2,
    progress: bool = True,
    stream: TextIO | None = None,
) -> dict:
    """Evaluate every finished sequence of a run folder, print the table, write ``run_dir/results.json``.

    Calls :func:`osvos_tf.evaluation.evaluate_and_report` (results.json is replaced atomically). Returns the
    evaluation dict (its schema is :func:`osvos_tf.evaluation.evaluate_results`'s).

    Raises:
        ValueError: no finished sequence in the folder; the evaluation's own errors otherwise.
    """
    from osvos_tf.evaluation import evaluate_and_report

    finished = finished_sequences(davis_root, run_dir)
    if not finished:
        recorded = len(read_timing(run_dir)["sequences"])
        raise ValueError(
            f"No finished sequence to evaluate in {run_dir} (timing.json records {recorded}, none complete "
            f"against {davis_root}). Run tools/run_davis.py on it first (it resumes)."
        )
    return evaluate_and_report(
        davis_root,
        run_dir,
        sequences=finished,
        compute_t=compute_t,
        workers=workers,
        json_path=Path(run_dir) / RESULTS_FILE,
        stream=stream,
        progress=progress,
    )
