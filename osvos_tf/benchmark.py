"""Running OSVOS over DAVIS-2016 sequences: fine-tune, segment, time, evaluate, resume; and plotting runs.

    from osvos_tf.benchmark import run_davis, plot_runs
    run = run_davis("../shared/DAVIS", "runs/davis_fast", preset="fast")     # every val sequence present
    run.results["overall"]["J"]["mean"]
    plot_runs(["runs/davis_fast", "runs/davis_default"], "plots/davis")   # needs matplotlib

``tools/run_davis.py`` and ``tools/plot_davis.py`` are thin command lines over :func:`run_davis` and
:func:`plot_runs`.

A run folder ``DIR`` (the contract the tools, the resume logic and the plots rely on):

* ``DIR/timing.json`` -- written when the run starts and rewritten atomically (tmp file + ``os.replace``)
  after every sequence::

      {"tool": "osvos_tf.benchmark", "format": 1, "created": ISO time,
       "settings": {"checkpoint": path or "base:hed", "preset": name or null, "iterations": N,
                    "snap": "none" | "contours" | "bilateral", "snap_params": {...} (not for "none"),
                    "set": "val", "davis_root": path, "fine_tune_config": {...}},
       "sequences": {seq: {"frames": n, "iterations": N, "fit_seconds": s, "segment_seconds": s,
                           "ms_per_frame": ms, "snap_ms_per_frame": {"contour_model": ms, "snap": ms},
                           "total_seconds": s, "finished": ISO time}}}

  ``segment_seconds`` / ``ms_per_frame`` cover reading the frames, the network, snapping and writing the
  PNGs; ``snap_ms_per_frame`` splits out the contour network's forward pass and the snapping itself.
* ``DIR/<seq>/<frame>.png`` -- one 0/255 mask per input frame, named after the frame (JPEG stem). They are
  written into ``DIR/<seq>.partial/`` and renamed when the sequence is complete.
* ``DIR/results.json`` -- :func:`osvos_tf.evaluation.evaluate_results` output over every finished
  sequence of the folder (also written atomically).

With several snapping modes (``snap=["none", "bilateral", "contours"]``), each sequence is fine-tuned and
segmented once and ``DIR/<mode>/`` is a complete run folder of the layout above for each mode (its
``segment_seconds`` counts the shared network time plus that mode's own snapping and PNG writing).

With several budgets (``preset=["default", "accurate"]`` or ``iterations=[0, 50, 200]``), each sequence is
fine-tuned once, for the largest, and segmented after each budget's number of updates; ``DIR/<preset>/`` or
``DIR/iterations-N/`` is then a complete run folder for each budget (``DIR/<budget>/<mode>/`` with several
modes too), whose settings and ``fit_seconds`` are those of that budget alone.

A sequence is *finished* when timing.json records it with its frame count and all its PNGs exist; finished
sequences are skipped when the same command is run again, anything else is redone from scratch.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from osvos_tf.config import FineTuneConfig, config_to_dict, finetune_config
from osvos_tf.cpu import resolve_compute_dtype
from osvos_tf.davis import annotation_dir, jpeg_dir, list_davis_sequences, load_db_info, sequence_inputs  # noqa: F401
from osvos_tf.osvos import OSVOS
from osvos_tf.parents import resolve_parent

TIMING_FILE = "timing.json"
RESULTS_FILE = "results.json"
PARTIAL_SUFFIX = ".partial"
_TOOL = "osvos_tf.benchmark"
_FORMAT = 1
# Settings that must match to resume a run folder (the others are informational).
_RESUME_KEYS = ("checkpoint", "fine_tune_config", "snap", "snap_params")


@dataclasses.dataclass
class DavisRun:
    """What :func:`run_davis` did.

    Attributes:
        out_dir: the run folder.
        timing: the content of ``out_dir/timing.json`` at the end.
        results: the evaluation written to ``out_dir/results.json`` (None when ``evaluate=False``).
        ran: sequences fine-tuned and segmented by this call, in order.
        skipped: sequences found finished by an earlier call, in order.
        snap: the snapping mode of the folder's masks.
    """

    out_dir: Path
    timing: dict
    results: dict | None
    ran: list
    skipped: list
    snap: str = "none"


# --------------------------------------------------------------------------------------------------
# DAVIS layout
# --------------------------------------------------------------------------------------------------
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
    if int(every) < 1:
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
    probs: Iterable[np.ndarray], annotations: Sequence[str | os.PathLike], threshold: float = 0.5
) -> float:
    """Mean region similarity J of probability maps thresholded at ``threshold`` against mask files.

    Args:
        probs: float (H, W) foreground probabilities in [0, 1], one per annotation, in order (e.g. from
            :meth:`OSVOS.segment`).
        annotations: ground-truth mask paths (read with :func:`osvos_tf.masks.read_davis_mask`).

    Raises:
        ValueError: fewer or more probability maps than annotations.
    """
    from osvos_tf.evaluation import jaccard
    from osvos_tf.masks import read_davis_mask as read_mask

    annotations = list(annotations)
    values = []
    for p in probs:
        if len(values) == len(annotations):
            raise ValueError(f"mean_jaccard got more probability maps than the {len(annotations)} annotations.")
        values.append(jaccard(np.asarray(p) > threshold, read_mask(annotations[len(values)])))
    if not values or len(values) != len(annotations):
        raise ValueError(
            f"mean_jaccard needs one probability map per annotation: got {len(values)} maps for "
            f"{len(annotations)} annotations."
        )
    return float(np.mean(values))


# --------------------------------------------------------------------------------------------------
# The run folder
# --------------------------------------------------------------------------------------------------
def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_timing(run_dir: str | os.PathLike) -> dict:
    """``run_dir/timing.json`` of a run folder written by :func:`run_davis`.

    Raises:
        FileNotFoundError: no timing.json; ValueError: it is not one written by this module.
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
    if not isinstance(data, dict) or data.get("tool") != _TOOL or not isinstance(data.get("sequences"), dict):
        raise ValueError(
            f'{path} was not written by tools/run_davis.py (no "tool": "{_TOOL}" entry); '
            "refusing to use that folder as a run folder. Choose another --out."
        )
    return data


def _open_run_dir(out_dir: Path, settings: dict) -> dict:
    """The timing dict of ``out_dir``: a fresh one for a new/empty folder, the stored one to resume.

    Only checks; creates nothing.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise FileExistsError(f"Output path {out_dir} exists and is not a folder; choose a folder for --out.")
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        now = datetime.datetime.now().isoformat(timespec="seconds")
        return {"tool": _TOOL, "format": _FORMAT, "created": now, "settings": settings, "sequences": {}}
    if not (out_dir / TIMING_FILE).is_file():
        raise FileExistsError(
            f"Output folder {out_dir} is not empty and holds no {TIMING_FILE}, so it is not a "
            "previous run of tools/run_davis.py; nothing was written to it. Choose an empty "
            "or new folder for --out (or the folder of the run you want to resume)."
        )
    timing = read_timing(out_dir)
    stored = timing.get("settings", {})
    diffs = []
    for key in _RESUME_KEYS:
        there, now = stored.get(key), settings.get(key)
        if isinstance(there, dict) and isinstance(now, dict):
            diffs += [
                f"{key}.{k}: {there.get(k)!r} there, {now.get(k)!r} now"
                for k in sorted(set(there) | set(now))
                if there.get(k) != now.get(k)
            ]
        elif there != now:
            diffs.append(f"{key}: {there!r} there, {now!r} now")
    if diffs:
        raise ValueError(
            f"Output folder {out_dir} holds a run with other settings ({'; '.join(diffs)}); resuming "
            "would mix results of different settings. Use a new --out, or the settings of that run "
            f"(preset {stored.get('preset')!r}, iterations {stored.get('iterations')}, checkpoint "
            f"{stored.get('checkpoint')})."
        )
    return timing


def _is_finished(out_dir: Path, timing: dict, seq: str, frames: Sequence[Path]) -> bool:
    record = timing["sequences"].get(seq)
    if not record or record.get("frames") != len(frames):
        return False
    folder = out_dir / seq
    return all((folder / f"{f.stem}.png").is_file() for f in frames)


def _clear_stale(out_dir: Path, seq: str) -> None:
    """Remove what an interrupted attempt at ``seq`` left (its .partial folder, an unrecorded folder)."""
    partial = out_dir / f"{seq}{PARTIAL_SUFFIX}"
    if partial.exists():
        shutil.rmtree(partial)
    final = out_dir / seq
    if final.exists():
        foreign = [p.name for p in final.iterdir() if not (p.is_file() and p.suffix == ".png")]
        if not final.is_dir() or foreign:
            raise FileExistsError(
                f"{final} is incomplete and must be redone, but it holds files this tool does "
                f"not write ({', '.join(foreign[:5])}); move them away and run again."
            )


# --------------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------------
def _snap_modes(snap) -> list[str]:
    from osvos_tf.snapping import check_snap_mode

    if snap is None or isinstance(snap, str):
        return [check_snap_mode(snap)]
    modes = [check_snap_mode(m) for m in snap]
    if not modes:
        raise ValueError("snap: give at least one mode (e.g. 'none').")
    if len(set(modes)) != len(modes):
        raise ValueError(f"snap: each mode once, got {modes}.")
    return modes


def _snap_settings(mode: str, contour_params, bilateral_params) -> dict | None:
    if mode == "contours":
        return dataclasses.asdict(contour_params)
    if mode == "bilateral":
        return dataclasses.asdict(bilateral_params)
    return None


def run_davis(
    davis_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    sequences: Iterable[str] | None = None,
    image_set: str = "val",
    preset: str | Sequence[str] | None = None,
    iterations: int | Sequence[int] | None = None,
    checkpoint: str | os.PathLike | None = None,
    snap: str | Sequence[str] = "none",
    evaluate: bool = True,
    compute_t: bool = True,
    workers: int = 2,
    progress: bool = True,
    log: TextIO | bool = True,
    stream: TextIO | None = None,
    osvos=None,
    contour_params=None,
    bilateral_params=None,
    freeze_blocks: int | None = None,
    compute_dtype: str | None = None,
) -> DavisRun | dict[str, DavisRun] | dict[str, dict[str, DavisRun]]:
    """Run OSVOS on DAVIS sequences: fine-tune on frame 0, segment every frame, snap, time it, evaluate.

    Every input is checked before anything is written; then the run folder gets timing.json at once, each
    sequence's masks, and results.json at the end (layout in the module docstring). Running the same call
    again resumes: finished sequences are skipped, interrupted ones are redone.

    Args:
        davis_root: DAVIS-2016 folder (``JPEGImages/480p``, ``Annotations/480p``, ``ImageSets/480p`` and/or
            ``db_info.yaml``).
        out_dir: the run folder; must be new, empty, or a run folder of this function with the same
            checkpoint, fine-tuning and snapping settings.
        sequences: names to run (default: :func:`list_davis_sequences` of ``image_set``).
        image_set: 'val' or 'train' (only used when ``sequences`` is None).
        preset, iterations: the fine-tuning budget (see :func:`finetune_config`); ``iterations=0`` segments
            with the network as loaded. A list of presets or of iteration counts (the paper's Figure 8)
            fine-tunes each sequence once, for the largest budget, and segments it after each budget's number
            of updates, which gives the same network as a run of that budget alone (the updates do not
            depend on the total); each budget's run folder is ``out_dir/<preset>/`` or
            ``out_dir/iterations-N/``, with that budget's own settings and fine-tuning time, so it can be
            resumed or evaluated on its own.
        checkpoint: parent checkpoint (default: the shipped parent, else the base weights).
        snap: a mode of :data:`osvos_tf.snapping.SNAP_MODES` ('none', 'contours', 'bilateral'), or a list of
            modes: each sequence is then fine-tuned and segmented once and every mode's masks are written
            to ``out_dir/<mode>/``, each a complete run folder of its own (timing.json, results.json).
        evaluate: evaluate (J, F, and T when ``compute_t``) every finished sequence of the run folder(s) at
            the end, print the table to ``stream`` (stdout) and write results.json.
        workers: evaluation processes.
        progress: the per-frame progress bars of fine-tuning, segmentation and evaluation (stderr).
        log: where the per-sequence lines ("sequence k/N ...") go: True = stderr, False/None = nowhere, or a
            text stream.
        osvos: an :class:`~osvos_tf.osvos.OSVOS` to reuse (its parent is recorded as the checkpoint, its
            config is the base the preset/iterations apply to; its own ``snap`` is not used); default:
            built on first need, so resuming a finished run never loads TensorFlow.
        freeze_blocks: override ``FineTuneConfig.freeze_blocks`` (VGG blocks kept fixed while fine-tuning).
        compute_dtype: override ``FineTuneConfig.compute_dtype``; the run records the resolved dtype, so
            'auto' run on a CPU without native bfloat16 and resumed on one with it is refused.
        contour_params, bilateral_params: :class:`~osvos_tf.snapping.ContourSnapParams` and
            :class:`~osvos_tf.snapping.BilateralParams` (default: ``ContourSnapParams()`` and
            :data:`~osvos_tf.snapping.CALIBRATED_BILATERAL`).

    Returns:
        A :class:`DavisRun` when ``snap`` is one mode (a string) and the budget one preset / count;
        ``{mode: DavisRun}`` for a list of modes, ``{budget: DavisRun}`` for a list of budgets,
        ``{budget: {mode: DavisRun}}`` for both (folders ``out_dir/<budget>/<mode>/``).

    Raises:
        FileNotFoundError: missing DAVIS root, sequence, first-frame annotation or checkpoint.
        FileExistsError: a run folder holds files but is not a run folder of this function.
        ValueError: bad preset/iterations/snap, a resume with other settings, no sequence, or a sequence
            missing from db_info.yaml while T is requested.
    """
    from osvos_tf.snapping import CALIBRATED_BILATERAL, ContourSnapParams

    modes = _snap_modes(snap)
    contour_params = contour_params or ContourSnapParams()
    bilateral_params = bilateral_params or CALIBRATED_BILATERAL
    contour_params.validate()
    bilateral_params.validate()
    base = osvos.config if osvos is not None else FineTuneConfig()
    if freeze_blocks is not None:
        base = dataclasses.replace(base, freeze_blocks=int(freeze_blocks))
    if compute_dtype is not None:
        if osvos is not None and resolve_compute_dtype(compute_dtype) != osvos.config.compute_dtype:
            raise ValueError(
                f"The OSVOS passed computes in {osvos.config.compute_dtype}, not {compute_dtype}; "
                "pass one or the other."
            )
        base = dataclasses.replace(base, compute_dtype=compute_dtype)
    budgets = _budgets(preset, iterations, base)  # {folder name: (preset name, config)}
    # record the dtype this machine runs ('auto' differs between CPUs, so a resume elsewhere is refused)
    budgets = {
        b: (name, dataclasses.replace(c, compute_dtype=resolve_compute_dtype(c.compute_dtype)))
        for b, (name, c) in budgets.items()
    }
    config = max((c for _, c in budgets.values()), key=lambda c: c.iterations)  # the one fine-tuning run
    if not 0 <= config.freeze_blocks <= 4:
        raise ValueError(f"freeze_blocks must be 0..4, got {config.freeze_blocks}.")
    davis_root = Path(davis_root)
    out_dir = Path(out_dir)
    if not davis_root.is_dir():
        raise FileNotFoundError(
            f"DAVIS root not found: {davis_root}. Pass the DAVIS-2016 folder (holding "
            "JPEGImages/480p and Annotations/480p) as --davis, or set OSVOS_DAVIS_ROOT."
        )
    if not jpeg_dir(davis_root).is_dir() or not annotation_dir(davis_root).is_dir():
        raise FileNotFoundError(
            f"{davis_root} is not a DAVIS-2016 root: expected {jpeg_dir(davis_root)} and {annotation_dir(davis_root)}."
        )
    if sequences is None:
        seqs = list_davis_sequences(davis_root, image_set)
    else:
        seqs = list(dict.fromkeys(s for s in sequences))
        if not seqs:
            raise ValueError("Empty list of sequences: give at least one name, or None for the whole set.")
    inputs = {s: sequence_inputs(davis_root, s) for s in seqs}
    if evaluate and compute_t:
        db_info = load_db_info(davis_root)
        unknown = [s for s in seqs if s not in db_info]
        if unknown:
            raise ValueError(
                f"Sequences {unknown} are not in {davis_root / 'db_info.yaml'}, which the T measure "
                "needs (eval_t); run without T (compute_t=False / --no-t)."
            )
    source = osvos.source if osvos is not None else resolve_parent(checkpoint).id
    if osvos is not None and checkpoint is not None and source != resolve_parent(checkpoint).id:
        raise ValueError(f"The OSVOS passed uses {source}, not the checkpoint {checkpoint}; pass one or the other.")
    multi_mode = not (snap is None or isinstance(snap, str))
    multi_budget = not (isinstance(preset, (str, type(None))) and isinstance(iterations, (int, np.integer, type(None))))
    if multi_mode or multi_budget:
        _check_only_subfolders(out_dir, list(budgets) if multi_budget else modes)
    if multi_mode and multi_budget:
        for b in budgets:
            _check_only_subfolders(out_dir / b, modes)
    # one run folder per (budget, mode): DIR[/<budget>][/<mode>]
    variants = [(b, m) for b in budgets for m in modes]
    folders = {(b, m): out_dir / (b if multi_budget else "") / (m if multi_mode else "") for b, m in variants}
    timings = {}
    for b, m in variants:
        name, budget_config = budgets[b]
        settings = {
            "checkpoint": source,
            "preset": name,
            "iterations": budget_config.iterations,
            "snap": m,
            "set": image_set if sequences is None else None,
            "davis_root": str(davis_root.resolve()),
            "fine_tune_config": config_to_dict(budget_config),
        }
        snap_params = _snap_settings(m, contour_params, bilateral_params)
        if snap_params is not None:
            settings["snap_params"] = snap_params
        settings = json.loads(json.dumps(settings))  # as stored in timing.json (tuples become lists)
        timings[b, m] = _open_run_dir(folders[b, m], settings)
    todo = {s: [v for v in variants if not _is_finished(folders[v], timings[v], s, inputs[s][0])] for s in seqs}
    for s, vs in todo.items():
        for v in vs:
            _clear_stale(folders[v], s)
    for v in variants:
        folders[v].mkdir(parents=True, exist_ok=True)
        _write_json_atomic(folders[v] / TIMING_FILE, timings[v])

    log_stream = sys.stderr if log is True else (log or None)

    def say(text):
        if log_stream is not None:
            print(f"[run_davis] {text}", file=log_stream, flush=True)

    snappers = None
    ran, skipped = {v: [] for v in variants}, {v: [] for v in variants}
    for k, seq in enumerate(seqs, start=1):
        frames, mask = inputs[seq]
        head = f"sequence {k}/{len(seqs)} {seq}"
        for v in variants:
            if v not in todo[seq]:
                skipped[v].append(seq)
        if not todo[seq]:
            say(f"{head}: finished in an earlier run, skipped")
            continue
        if osvos is None:
            osvos = OSVOS(checkpoint=source, config=config)  # also 'base:hed' / 'base:imagenet'
        if snappers is None:
            snappers = _build_snappers(modes, contour_params, bilateral_params)
        needed = sorted({budgets[b][1].iterations for b, _ in todo[seq]})
        say(
            f"{head} ({len(frames)} frames): "
            + (f"fine-tuning {needed[-1]} iterations" if needed[-1] else "no fine-tuning")
            + (f", segmenting after {', '.join(map(str, needed))}" if len(needed) > 1 else "")
        )
        states = {}
        if needed[-1]:
            final = osvos.fit_one_shot(
                frames[0], mask, iterations=needed[-1], progress=progress, keep_at=[n for n in needed[:-1] if n]
            )
            states = {**final.earlier, final.iterations: final}
        parts = []
        for b in budgets:
            n = budgets[b][1].iterations
            todo_modes = [m for bb, m in todo[seq] if bb == b]
            if not todo_modes:
                continue
            if n:
                state = states.get(n)
                if state is None:
                    raise RuntimeError(f"Fine-tuning {seq} stopped after {final.iterations} of {n} updates.")
                fit_seconds, done_iterations = state.seconds, state.iterations
            else:
                osvos.reset()  # segment with the parent
                state, fit_seconds, done_iterations = None, 0.0, 0
            records = _segment_sequence(
                osvos, state, snappers, frames, {m: folders[b, m] for m in todo_modes}, seq, progress
            )
            texts = []
            for m, rec in records.items():
                timings[b, m]["sequences"][seq] = {
                    "frames": len(frames),
                    "iterations": done_iterations,
                    "fit_seconds": round(fit_seconds, 3),
                    "segment_seconds": round(rec["seconds"], 3),
                    "ms_per_frame": round(1000.0 * rec["seconds"] / len(frames), 2),
                    "snap_ms_per_frame": rec["snap_ms_per_frame"],
                    "total_seconds": round(fit_seconds + rec["seconds"], 3),
                    "finished": datetime.datetime.now().isoformat(timespec="seconds"),
                }
                _write_json_atomic(folders[b, m] / TIMING_FILE, timings[b, m])
                ran[b, m].append(seq)
                texts.append(f"{m} {1000.0 * rec['seconds'] / len(frames):.0f}")
            fit_text = f"fine-tuning {fit_seconds:.1f} s" if n else "no fine-tuning"
            parts.append(
                f"{b + ': ' if multi_budget else ''}{fit_text}, segmentation ms/frame (incl. snapping and "
                f"PNG): {', '.join(texts)}"
            )
        say(f"{head}: " + "; ".join(parts))

    runs = {}
    for b, m in variants:
        results = None
        if evaluate:
            if multi_mode or multi_budget:
                label = " ".join(
                    x for x in ((f"budget = {b}" if multi_budget else ""), (f"snap = {m}" if multi_mode else "")) if x
                )
                print(f"\n{label}:", file=stream or sys.stdout, flush=True)
            results = evaluate_run(
                davis_root, folders[b, m], compute_t=compute_t, workers=workers, progress=progress, stream=stream
            )
        runs[b, m] = DavisRun(folders[b, m], timings[b, m], results, ran[b, m], skipped[b, m], m)
    if multi_budget and multi_mode:
        return {b: {m: runs[b, m] for m in modes} for b in budgets}
    if multi_budget:
        return {b: runs[b, modes[0]] for b in budgets}
    if multi_mode:
        return {m: runs[next(iter(budgets)), m] for m in modes}
    return runs[next(iter(budgets)), modes[0]]


def _check_only_subfolders(folder: Path, names: Sequence[str]) -> None:
    """Refuse ``folder`` if it exists and is not a folder, or holds anything but the sub-folders ``names``."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise FileExistsError(f"Output path {folder} exists and is not a folder; choose a folder for --out.")
    foreign = [p.name for p in folder.iterdir() if p.name not in names]
    if foreign:
        raise FileExistsError(
            f"Output folder {folder} holds {', '.join(sorted(foreign)[:5])}, but this run writes "
            f"only the sub-folders {', '.join(names)} there; choose a new or empty --out (or the "
            "folder of the run you want to resume)."
        )


def _budgets(preset, iterations, base: FineTuneConfig) -> dict:
    """``{folder name: (preset name or None, FineTuneConfig)}`` for one or several presets / iteration counts.

    The folder name is the preset's name, or ``iterations-N``. Several budgets must differ only in
    ``iterations`` (they share one fine-tuning run).
    """
    if preset is not None and iterations is not None:
        finetune_config(preset, iterations, base)  # raises the 'not both' error
    if iterations is not None:
        counts = [iterations] if isinstance(iterations, (int, np.integer)) else list(iterations)
        entries = [(f"iterations-{int(n)}", finetune_config(None, n, base)) for n in counts]
    else:
        presets = [preset] if preset is None or isinstance(preset, str) else list(preset)
        entries = [(p or "default", finetune_config(p, None, base)) for p in presets]
    if not entries:
        raise ValueError("Give at least one preset or number of iterations.")
    counts = [c.iterations for _, (_, c) in entries]
    if len(set(counts)) != len(counts):
        raise ValueError(
            f"Budgets {[name for name, _ in entries]} repeat a number of iterations ({counts}); give each once."
        )
    budgets = dict(entries)
    first = next(iter(budgets.values()))[1]
    for b, (_, c) in budgets.items():
        if dataclasses.replace(c, iterations=first.iterations) != first:
            raise ValueError(
                f"Budget {b} differs from {next(iter(budgets))} in more than the number of "
                "iterations, so they cannot share one fine-tuning run; run them separately."
            )
    return budgets


def _build_snappers(modes: Sequence[str], contour_params, bilateral_params) -> dict:
    from osvos_tf.snapping import Snapper

    return {m: Snapper(m, contours=contour_params, bilateral=bilateral_params) for m in modes}


def _segment_sequence(
    osvos, state, snappers: dict, frames: Sequence[Path], folders: dict, seq: str, progress: bool
) -> dict:
    """Segment ``frames`` once with ``state`` and write each mode's masks to ``folders[mode]/<seq>`` (via
    .partial).

    Returns ``{mode: {'seconds': s, 'snap_ms_per_frame': {...}}}``: the shared reading + network time plus
    that mode's snapping and PNG writing, as if the mode had run alone.
    """
    from osvos_tf.masks import write_mask
    from osvos_tf.progress import Progress

    partials = {m: folder / f"{seq}{PARTIAL_SUFFIX}" for m, folder in folders.items()}
    for partial in partials.values():
        partial.mkdir(parents=True)
    own = {m: 0.0 for m in folders}
    before = {m: dict(snappers[m].seconds) for m in folders}
    bar = Progress(len(frames), "segment", enabled=progress)
    start = time.perf_counter()
    for path, (_, frame, probs) in zip(frames, osvos.segment_frames(frames, state)):
        for m, partial in partials.items():
            t0 = time.perf_counter()
            write_mask(partial / f"{path.stem}.png", snappers[m](frame, probs))
            own[m] += time.perf_counter() - t0
        bar.update()
    bar.close()
    shared = time.perf_counter() - start - sum(own.values())
    records = {}
    for m, folder in folders.items():
        final = folder / seq
        if final.exists():
            shutil.rmtree(final)  # checked by _clear_stale: only masks of an interrupted attempt
        os.replace(partials[m], final)
        n = max(len(frames), 1)
        records[m] = {
            "seconds": shared + own[m],
            "snap_ms_per_frame": {k: round(1000.0 * (v - before[m][k]) / n, 2) for k, v in snappers[m].seconds.items()},
        }
    return records


def evaluate_run(
    davis_root: str | os.PathLike,
    run_dir: str | os.PathLike,
    compute_t: bool = True,
    workers: int = 2,
    progress: bool = True,
    stream: TextIO | None = None,
) -> dict:
    """Evaluate every finished sequence of a run folder, print the table, write ``run_dir/results.json``.

    Calls :func:`osvos_tf.evaluation.evaluate_and_report`; results.json is replaced atomically. Returns the
    evaluation dict (its schema is :func:`osvos_tf.evaluation.evaluate_results`'s).

    Raises:
        ValueError: no finished sequence in the folder; the evaluation's own errors otherwise.
    """
    from osvos_tf.evaluation import evaluate_and_report
    from osvos_tf.frames import list_frames

    run_dir = Path(run_dir)
    timing = read_timing(run_dir)
    finished = []
    for seq in timing["sequences"]:
        folder = jpeg_dir(Path(davis_root)) / seq
        if folder.is_dir() and _is_finished(run_dir, timing, seq, list_frames(folder)):
            finished.append(seq)
    if not finished:
        raise ValueError(
            f"No finished sequence to evaluate in {run_dir} (timing.json records "
            f"{len(timing['sequences'])}, none complete against {davis_root})."
        )
    tmp = run_dir / (RESULTS_FILE + ".tmp")
    results = evaluate_and_report(
        davis_root,
        run_dir,
        sequences=finished,
        compute_t=compute_t,
        workers=workers,
        json_path=tmp,
        stream=stream,
        progress=progress,
    )
    os.replace(tmp, run_dir / RESULTS_FILE)
    return results


# --------------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------------
#: x axes of the quality-vs-time plot: timing.json field (or derived value) and axis label.
TIME_AXES = {
    "fit": "fine-tuning time per sequence (s)",
    "total": "total time per sequence (s): fine-tuning + segmentation",
    "per_frame": "time per frame (s): (fine-tuning + segmentation) / frames",
}


def load_run(run_dir: str | os.PathLike) -> dict:
    """A run folder's timing.json and results.json: ``{'dir', 'label', 'timing', 'results'}``.

    ``label`` is the preset name or 'N it', plus the folder name.

    Raises:
        FileNotFoundError: timing.json or results.json is missing; ValueError: not a run folder.
    """
    run_dir = Path(run_dir)
    timing = read_timing(run_dir)
    path = run_dir / RESULTS_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: the run has not been evaluated. Run tools/run_davis.py on "
            "that folder to the end (it resumes), or tools/eval_davis.py --json "
            f"{path}."
        )
    results = json.loads(path.read_text())
    settings = timing.get("settings", {})
    budget = settings.get("preset") or f"{settings.get('iterations')} it"
    return {"dir": run_dir, "label": f"{budget} ({run_dir.name})", "timing": timing, "results": results}


def _time_value(record: dict, axis: str) -> float:
    if axis == "fit":
        return float(record["fit_seconds"])
    total = float(record["fit_seconds"]) + float(record["segment_seconds"])
    return total if axis == "total" else total / float(record["frames"])


def _matplotlib_figure():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError(
            "The plots need matplotlib, which is not installed: pip install -e .[plots] (or pip install matplotlib)."
        ) from err
    return Figure, FigureCanvasAgg


def plot_runs(
    run_dirs: Sequence[str | os.PathLike],
    out_prefix: str | os.PathLike,
    time_axis: str = "fit",
    labels: Sequence[str] | None = None,
    log_x: bool = False,
) -> list[Path]:
    """Plot one or more evaluated run folders as PNGs; matplotlib is imported here (optional extra).

    Writes ``<out_prefix>_jf.png`` (J mean and F mean per sequence as grouped bars, one bar per run, plus
    the overall mean) and ``<out_prefix>_quality_vs_time.png`` (J mean against time, one marker per
    sequence and a large marker at each run's mean, one marker style per run: with runs of several presets
    this is the paper's Figure 8).

    Args:
        run_dirs: folders written by :func:`run_davis` (timing.json and results.json).
        out_prefix: path prefix of the PNGs; its folder is created.
        time_axis: a key of :data:`TIME_AXES` ('fit', 'total' or 'per_frame').
        labels: legend names, one per run (default: preset or iterations, and the folder name).
        log_x: logarithmic time axis (times must then be > 0, so not with iterations 0 and 'fit').

    Returns:
        The two PNG paths.

    Raises:
        ImportError: matplotlib is missing. ValueError: bad ``time_axis``/``labels``, no runs, or a run with no
        sequence both timed and evaluated. FileNotFoundError: see :func:`load_run`.
    """
    if time_axis not in TIME_AXES:
        raise ValueError(f"time_axis must be one of {', '.join(TIME_AXES)}; got {time_axis!r}.")
    run_dirs = list(run_dirs)
    if not run_dirs:
        raise ValueError("plot_runs needs at least one run folder.")
    if labels is not None and len(labels) != len(run_dirs):
        raise ValueError(f"Give one label per run: {len(run_dirs)} runs, {len(labels)} labels.")
    Figure, FigureCanvasAgg = _matplotlib_figure()
    runs = [load_run(d) for d in run_dirs]
    for i, run in enumerate(runs):
        if labels is not None:
            run["label"] = labels[i]
        run["seqs"] = [s for s in run["results"]["sequences"] if s in run["timing"]["sequences"]]
        if not run["seqs"]:
            raise ValueError(f"Run {run['dir']} has no sequence that is both in timing.json and results.json.")
    out_prefix = Path(out_prefix)
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    markers = "osD^vP*Xh<>p"

    # J and F per sequence.
    seqs = list(dict.fromkeys(s for run in runs for s in run["seqs"])) + ["Overall"]
    width = 0.8 / len(runs)
    fig = Figure(figsize=(max(6.0, 1.0 + 0.45 * len(seqs) * (1 + 0.5 * (len(runs) - 1))), 6.5))
    FigureCanvasAgg(fig)
    for row, measure in enumerate(("J", "F")):
        ax = fig.add_subplot(2, 1, row + 1)
        for i, run in enumerate(runs):
            per_seq = run["results"]["sequences"]
            values = [
                (per_seq[s][measure]["mean"] if s in per_seq else None)
                if s != "Overall"
                else run["results"]["overall"][measure]["mean"]
                for s in seqs
            ]
            xs = [k + (i - (len(runs) - 1) / 2) * width for k in range(len(seqs))]
            ax.bar(xs, [float("nan") if v is None else v for v in values], width, label=run["label"])
        ax.set_ylabel(f"{measure} mean")
        ax.set_ylim(0, 1)
        ax.set_xticks(range(len(seqs)))
        ax.set_xticklabels(seqs if row == 1 else [], rotation=45, ha="right")
        ax.grid(axis="y", alpha=0.3)
        if row == 0:
            ax.legend(fontsize="small")
    fig.tight_layout()
    jf_path = Path(f"{out_prefix}_jf.png")
    fig.savefig(jf_path, dpi=120)

    # Quality against time.
    fig = Figure(figsize=(7, 5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for i, run in enumerate(runs):
        xs = [_time_value(run["timing"]["sequences"][s], time_axis) for s in run["seqs"]]
        ys = [run["results"]["sequences"][s]["J"]["mean"] for s in run["seqs"]]
        marker = markers[i % len(markers)]
        color = f"C{i % 10}"
        ax.scatter(xs, ys, marker=marker, color=color, alpha=0.5, s=25)
        ax.scatter(
            [sum(xs) / len(xs)],
            [sum(ys) / len(ys)],
            marker=marker,
            s=150,
            color=color,
            edgecolors="black",
            label=f"{run['label']}: J {sum(ys) / len(ys):.3f}",
        )
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(TIME_AXES[time_axis])
    ax.set_ylabel("J mean (small: per sequence, large: mean)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    qt_path = Path(f"{out_prefix}_quality_vs_time.png")
    fig.savefig(qt_path, dpi=120)
    return [jf_path, qt_path]


# --------------------------------------------------------------------------------------------------
# Calibrating the snapping parameters (on the training sequences, never on validation)
# --------------------------------------------------------------------------------------------------
#: Candidate UCM thresholds and bilateral (lam, sigma_spatial) pairs of :func:`calibrate_snapping`.
UCM_CANDIDATES = (0.05, 0.1, 0.15, 0.2, 0.225, 0.25, 0.275, 0.29, 0.35, 0.4)
BILATERAL_CANDIDATES = ((32.0, 8.0), (128.0, 8.0), (512.0, 8.0), (128.0, 16.0), (512.0, 16.0))


def calibrate_snapping(
    davis_root: str | os.PathLike,
    image_set: str = "train",
    frames_per_sequence: int = 3,
    checkpoint: str | os.PathLike | None = None,
    ucm_thresholds: Sequence[float] = UCM_CANDIDATES,
    bilateral: Sequence[tuple[float, float]] = BILATERAL_CANDIDATES,
    sequences: Sequence[str] | None = None,
    progress: bool = True,
) -> dict:
    """Choose the snapping parameters by mean IoU on DAVIS frames of ``image_set`` (train by default).

    The masks that are snapped are the parent network's own predictions (no fine-tuning), on
    ``frames_per_sequence`` evenly spaced frames (first and last excluded) of each sequence. Each candidate
    UCM threshold of contour snapping and each (lam, sigma_spatial) pair of the bilateral solver is scored by
    the mean IoU with the ground truth over all those frames; the plain mask (probabilities > 0.5) is the
    reference.

    Returns:
        ``{"frames": n, "sequences": [...], "checkpoint": source, "none": J, "contours": {threshold: J},
        "bilateral": {"lam=..,sigma_spatial=..": J}, "best": {"contours": {"threshold": t, "J": J},
        "bilateral": {"lam": .., "sigma_spatial": .., "J": J}}, "snap_ms_per_frame": {...}}`` (J = mean IoU).
    """
    from osvos_tf.evaluation import jaccard
    from osvos_tf.masks import read_davis_mask as read_mask
    from osvos_tf.progress import Progress
    from osvos_tf.snapping import BilateralParams, Snapper, snap_to_contours

    davis_root = Path(davis_root)
    if frames_per_sequence < 1:
        raise ValueError(f"frames_per_sequence must be >= 1, got {frames_per_sequence}.")
    seqs = list(sequences) if sequences is not None else list_davis_sequences(davis_root, image_set)
    samples = []
    for seq in seqs:
        frames, _ = sequence_inputs(davis_root, seq)
        inner = frames[1:-1] or frames
        picks = np.unique(np.linspace(0, len(inner) - 1, frames_per_sequence + 2)[1:-1].round().astype(int))
        for i in picks:
            gt_path = annotation_dir(davis_root) / seq / f"{inner[i].stem}.png"
            if gt_path.is_file():
                samples.append((seq, inner[i], gt_path))
    if not samples:
        raise ValueError(f"No annotated frame to calibrate on in {davis_root} ({image_set}).")
    source = resolve_parent(checkpoint).id
    osvos = OSVOS(checkpoint=source, config=FineTuneConfig(iterations=0))
    contour_snapper = Snapper("contours")
    bilateral_snappers = {
        f"lam={lam:g},sigma_spatial={ss:g}": Snapper("bilateral", bilateral=BilateralParams(lam=lam, sigma_spatial=ss))
        for lam, ss in bilateral
    }
    bilateral_scores = {key: [] for key in bilateral_snappers}
    contour_scores = {float(t): [] for t in ucm_thresholds}
    plain = []
    bar = Progress(len(samples), "calibrate", enabled=progress)
    for (seq, path, gt_path), (_, frame, probs) in zip(samples, osvos.segment_frames([s[1] for s in samples])):
        gt = read_mask(gt_path)
        plain.append(jaccard(probs > 0.5, gt))
        contour = contour_snapper.contour_map(frame)
        for t in contour_scores:
            contour_scores[t].append(jaccard(snap_to_contours(probs, contour, t), gt))
        for key, snapper in bilateral_snappers.items():
            bilateral_scores[key].append(jaccard(snapper(frame, probs), gt))
        bar.update(status=seq)
    bar.close()
    contour_j = {t: float(np.mean(v)) for t, v in contour_scores.items()}
    bilateral_j = {k: float(np.mean(v)) for k, v in bilateral_scores.items()}
    best_t = max(contour_j, key=contour_j.get)
    best_b = max(range(len(bilateral)), key=lambda i: bilateral_j[list(bilateral_j)[i]])
    n = len(samples)
    return {
        "frames": n,
        "sequences": seqs,
        "checkpoint": source,
        "image_set": image_set,
        "none": float(np.mean(plain)),
        "contours": contour_j,
        "bilateral": bilateral_j,
        "best": {
            "contours": {"threshold": best_t, "J": contour_j[best_t]},
            "bilateral": {
                "lam": bilateral[best_b][0],
                "sigma_spatial": bilateral[best_b][1],
                "J": bilateral_j[list(bilateral_j)[best_b]],
            },
        },
        "snap_ms_per_frame": {
            "contour_model": round(1000 * contour_snapper.seconds["contour_model"] / n, 1),
            "bilateral": round(
                float(np.mean([b.ms_per_frame()["snap"] for b in bilateral_snappers.values()] or [0.0])), 1
            ),
        },
    }


def format_calibration(cal: dict) -> str:
    """A short text table of :func:`calibrate_snapping`'s output."""
    lines = [
        f"Snapping calibration on {cal['frames']} frames of {len(cal['sequences'])} {cal['image_set']} "
        f"sequences (parent predictions, no fine-tuning); mean IoU:",
        f"  no snapping                           {cal['none']:.4f}",
    ]
    for t, j in cal["contours"].items():
        mark = "  <- best" if t == cal["best"]["contours"]["threshold"] else ""
        lines.append(f"  contours, UCM threshold {t:<13g} {j:.4f}{mark}")
    best_key = f"lam={cal['best']['bilateral']['lam']:g},sigma_spatial={cal['best']['bilateral']['sigma_spatial']:g}"
    for k, j in cal["bilateral"].items():
        lines.append(f"  bilateral, {k:<26} {j:.4f}{'  <- best' if k == best_key else ''}")
    return "\n".join(lines)
