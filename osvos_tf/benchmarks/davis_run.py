"""Running OSVOS over DAVIS-2016 sequences: fine-tune each sequence once, segment it after each budget's number
of updates, snap in each mode, time it, write run folders, evaluate; resume what an earlier call left.

    from osvos_tf.benchmarks import run_davis
    runs = run_davis("../shared/DAVIS", "runs/davis_fast", preset="fast")     # every val sequence present
    runs.run().results["overall"]["J"]["mean"]

``tools/run_davis.py`` is the command line. The layout of a run folder is in
:mod:`osvos_tf.benchmarks.run_folder`.

Several snapping modes (``snap=["none", "bilateral", "contours"]``): each sequence is fine-tuned and
segmented once and ``DIR/<mode>/`` is a complete run folder for each mode (its ``segment_seconds`` counts the
shared network time plus that mode's own snapping and PNG writing).

Several budgets (``preset=["default", "accurate"]`` or ``iterations=[0, 50, 200]``): each sequence is
fine-tuned once, for the largest, and segmented after each budget's number of updates; ``DIR/<preset>/`` or
``DIR/iterations-N/`` is then a complete run folder for each budget (``DIR/<budget>/<mode>/`` with several
modes too), whose settings and ``fit_seconds`` are those of that budget alone.

Folders nest only for an axis with more than one value: ``snap=["none"]`` writes to ``DIR`` as ``snap="none"``.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from osvos_tf.benchmarks.budgets import Budget, resolve_budgets, shared_finetuning
from osvos_tf.benchmarks.run_folder import (
    PARTIAL_SUFFIX,
    RunSettings,
    check_only_subfolders,
    clear_stale,
    evaluate_run,
    is_finished,
    open_run_folder,
    sequence_record,
    write_timing,
)
from osvos_tf.config import BilateralParams, ContourSnapParams, FineTuneConfig
from osvos_tf.davis import annotation_dir, jpeg_dir, list_davis_sequences, load_db_info, sequence_inputs
from osvos_tf.outputs import claim_output_dir
from osvos_tf.parents import ParentSource, resolve_parent

_LOG_PREFIX = "[run_davis]"


@dataclasses.dataclass(frozen=True)
class DavisRun:
    """One run folder of a :func:`run_davis` call.

    Attributes:
        out_dir: the run folder.
        budget: the budget's name (the preset, or ``iterations-N``).
        snap: the snapping mode of its masks.
        timing: the content of ``out_dir/timing.json`` at the end.
        results: the evaluation written to ``out_dir/results.json`` (None when ``evaluate=False``).
        ran: sequences fine-tuned and segmented by this call, in order.
        skipped: sequences found finished by an earlier call, in order.
    """

    out_dir: Path
    budget: str
    snap: str
    timing: dict
    results: dict | None
    ran: list[str]
    skipped: list[str]


@dataclasses.dataclass(frozen=True)
class DavisRuns:
    """What :func:`run_davis` did: one :class:`DavisRun` per (budget, snapping mode), budget-major.

    ``runs.run()`` is the run of a single-budget, single-mode call; ``runs.run(snap="bilateral")``,
    ``runs.run(budget="iterations-50", snap="none")`` pick one of several. Iterating yields every run.
    """

    runs: tuple[DavisRun, ...]

    @property
    def budgets(self) -> tuple[str, ...]:
        """The budget names, in the order given."""
        return tuple(dict.fromkeys(r.budget for r in self.runs))

    @property
    def modes(self) -> tuple[str, ...]:
        """The snapping modes, in the order given."""
        return tuple(dict.fromkeys(r.snap for r in self.runs))

    def run(self, budget: str | None = None, snap: str | None = None) -> DavisRun:
        """The run of ``budget`` and ``snap``; either may be left out when the call had only one.

        Raises:
            ValueError: an axis left out that has several values. KeyError: an unknown budget or mode.
        """
        budget = self._pick("budget", budget, self.budgets)
        snap = self._pick("snap", snap, self.modes)
        return next(r for r in self.runs if r.budget == budget and r.snap == snap)

    @staticmethod
    def _pick(axis: str, value: str | None, values: tuple[str, ...]) -> str:
        if value is None:
            if len(values) != 1:
                raise ValueError(f"This call ran several {axis} values ({', '.join(values)}): pass {axis}=one of them.")
            return values[0]
        if value not in values:
            raise KeyError(f"No run with {axis}={value!r}; this call ran {', '.join(values)}.")
        return value

    def __iter__(self) -> Iterator[DavisRun]:
        return iter(self.runs)

    def __len__(self) -> int:
        return len(self.runs)


@dataclasses.dataclass(eq=False)
class _Folder:
    """A run folder being written: one (budget, mode) of the call (compared by identity)."""

    budget: Budget
    snap: str
    path: Path
    timing: dict
    ran: list[str] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)


def run_davis(
    davis_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    sequences: Iterable[str] | None = None,
    image_set: str = "val",
    preset: str | Sequence[str] | None = None,
    iterations: int | Sequence[int] | None = None,
    checkpoint: str | os.PathLike | None = None,
    snap: str | Sequence[str] | None = "none",
    *,
    config: FineTuneConfig | None = None,
    contour_params: ContourSnapParams | None = None,
    bilateral_params: BilateralParams | None = None,
    osvos=None,
    evaluate: bool = True,
    compute_t: bool = True,
    workers: int = 2,
    progress: bool = True,
    log: TextIO | bool | None = True,
    stream: TextIO | None = None,
) -> DavisRuns:
    """Run OSVOS on DAVIS sequences: fine-tune on frame 0, segment every frame, snap, time it, evaluate.

    Every input is checked before anything is written; then each run folder gets timing.json at once, each
    sequence's masks, and results.json at the end (:mod:`osvos_tf.benchmarks.run_folder`). Running the same
    call again resumes: finished sequences are skipped, interrupted ones are redone.

    Args:
        davis_root: DAVIS-2016 folder (``JPEGImages/480p``, ``Annotations/480p``, ``ImageSets/480p`` and/or
            ``db_info.yaml``).
        out_dir: the run folder (or the folder of the run folders); must be new, empty, or written by this
            function with the same parent, fine-tuning and snapping settings.
        sequences: names to run (default: :func:`~osvos_tf.davis.list_davis_sequences` of ``image_set``).
        image_set: 'val' or 'train' (only used when ``sequences`` is None).
        preset, iterations: the fine-tuning budget (see :func:`~osvos_tf.benchmarks.budgets.resolve_budgets`);
            ``iterations=0`` segments with the network as loaded. A list of several (the paper's Figure 8)
            fine-tunes each sequence once and gives each budget its run folder ``out_dir/<preset>/`` or
            ``out_dir/iterations-N/``, with that budget's own settings and fine-tuning time.
        checkpoint: the parent (see :func:`osvos_tf.parents.resolve_parent`; default: the shipped parent). The
            run folders record its id, so a checkpoint file replaced in place is refused on resume.
        snap: a mode of :data:`osvos_tf.config.SNAP_MODES` or a list of modes; several write each mode's masks
            to ``out_dir/<mode>/``, each a complete run folder.
        config: the recipe the presets / iterations apply to (``freeze_blocks``, ``compute_dtype``, ...;
            default: ``osvos.config``, else ``FineTuneConfig()``). The run records the resolved dtype, so
            'auto' run on a CPU without native bfloat16 and resumed on one with it is refused.
        contour_params, bilateral_params: parameters of 'contours' and 'bilateral' (default:
            ``ContourSnapParams()`` and :data:`~osvos_tf.snapping.CALIBRATED_BILATERAL`).
        osvos: an :class:`~osvos_tf.osvos.OSVOS` to use (its parent is the run's; its ``snap`` is not used;
            its :attr:`~osvos_tf.osvos.OSVOS.state` is left at the last network used). Default: built on
            first need, so resuming a finished run never loads TensorFlow.
        evaluate: evaluate (J, F, and T when ``compute_t``) every finished sequence of each run folder at the
            end, print the table to ``stream`` (stdout) and write results.json.
        workers: evaluation processes.
        progress: the progress bars of fine-tuning, segmentation and evaluation (stderr).
        log: where the per-sequence lines ("[run_davis] sequence k/N ...") go: True = stderr, False/None =
            nowhere, or a text stream.

    Returns:
        :class:`DavisRuns`: one :class:`DavisRun` per (budget, mode).

    Raises:
        FileNotFoundError: missing DAVIS root, sequence, first-frame annotation or checkpoint.
        FileExistsError: a folder holds files but is not a run folder of this function.
        ValueError: bad preset / iterations / snap / config, a resume with other settings or another parent,
            no sequence, a sequence missing from db_info.yaml while T is requested, an ``osvos`` that does not
            match ``checkpoint`` or ``config``.
    """
    davis_root, out_dir = Path(davis_root), Path(out_dir)
    modes = snap_modes(snap)
    params = _snap_params(contour_params, bilateral_params)
    budgets = resolve_budgets(preset, iterations, config or (osvos.config if osvos is not None else FineTuneConfig()))
    shared = shared_finetuning(budgets)
    if osvos is not None:
        _check_network(osvos, shared)
    inputs = _davis_inputs(davis_root, sequences, image_set, db_info=evaluate and compute_t)
    parent = _parent(osvos, checkpoint)

    def settings(budget: Budget, mode: str) -> RunSettings:
        set_name = image_set if sequences is None else None
        davis_name = davis_root.resolve().name
        return RunSettings(parent.id, budget.preset, budget.config, mode, params[mode], set_name, davis_name)

    folders = _open_folders(out_dir, budgets, modes, settings)  # checks only: nothing written yet
    with claim_output_dir(out_dir, overwrite=True):  # a second run_davis on this folder fails at once
        todo = _prepare_folders(folders, inputs)
        work = _Work(osvos, parent, shared, params, progress, _logger(log))
        for k, (seq, (frames, mask)) in enumerate(inputs.items(), start=1):
            _run_sequence(work, seq, frames, mask, budgets, folders, todo[seq], f"sequence {k}/{len(inputs)} {seq}")
    headings = len(budgets) > 1, len(modes) > 1
    if not evaluate:
        return DavisRuns(tuple(_run_of(f, None) for f in folders))
    return DavisRuns(
        tuple(_run_of(f, _evaluate(f, davis_root, headings, compute_t, workers, progress, stream)) for f in folders)
    )


# --------------------------------------------------------------------------------------------------
# Checking the inputs (nothing written yet)
# --------------------------------------------------------------------------------------------------
def snap_modes(snap: str | Sequence[str] | None) -> tuple[str, ...]:
    """The snapping modes of ``snap`` (a mode, None = 'none', or a list of modes), checked.

    Raises:
        ValueError: an unknown mode, an empty list, or a mode given twice.
    """
    from osvos_tf.snapping import check_snap_mode

    if snap is None or isinstance(snap, str):
        return (check_snap_mode(snap),)
    modes = tuple(check_snap_mode(m) for m in snap)
    if not modes:
        raise ValueError("snap: give at least one mode (e.g. 'none').")
    if len(set(modes)) != len(modes):
        raise ValueError(f"snap: each mode once, got {list(modes)}.")
    return modes


def _snap_params(
    contour: ContourSnapParams | None, bilateral: BilateralParams | None
) -> dict[str, ContourSnapParams | BilateralParams | None]:
    """The parameters of each mode, defaults filled in and validated."""
    from osvos_tf.snapping import CALIBRATED_BILATERAL

    contour = contour or ContourSnapParams()
    bilateral = bilateral or CALIBRATED_BILATERAL
    contour.validate()
    bilateral.validate()
    return {"none": None, "contours": contour, "bilateral": bilateral}


def _check_network(osvos, config: FineTuneConfig) -> None:
    """Refuse an ``osvos`` whose network was built for another dtype or use of side losses than ``config``."""
    if config.compute_dtype != osvos.config.compute_dtype:
        raise ValueError(
            f"The OSVOS passed computes in {osvos.config.compute_dtype}, the config asks for {config.compute_dtype}: "
            "pass an OSVOS built with that config, or no OSVOS."
        )
    if (config.side_loss_weight > 0) != (osvos.config.side_loss_weight > 0):
        raise ValueError(
            f"The OSVOS passed was built for side_loss_weight={osvos.config.side_loss_weight}, the config has "
            f"{config.side_loss_weight} (side outputs are built or not): pass an OSVOS built with that config, or "
            "no OSVOS."
        )


def _davis_inputs(
    davis_root: Path, sequences: Iterable[str] | None, image_set: str, db_info: bool
) -> dict[str, tuple[list[Path], Path]]:
    """``{seq: (frames, first-frame annotation)}``, checked; with ``db_info``, every sequence must be in
    db_info.yaml (the T measure needs it)."""
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
        seqs = list(dict.fromkeys(sequences))
        if not seqs:
            raise ValueError("Empty list of sequences: give at least one name, or None for the whole set.")
    inputs = {s: sequence_inputs(davis_root, s) for s in seqs}
    if db_info:
        known = load_db_info(davis_root)
        unknown = [s for s in seqs if s not in known]
        if unknown:
            raise ValueError(
                f"Sequences {unknown} are not in {davis_root / 'db_info.yaml'}, which the T measure "
                "needs (eval_t); run without T (compute_t=False / --no-t)."
            )
    return inputs


def _parent(osvos, checkpoint: str | os.PathLike | None) -> ParentSource:
    """The run's parent: that of ``osvos`` when given (``checkpoint`` must then name the same network)."""
    if osvos is None:
        return resolve_parent(checkpoint)
    parent: ParentSource = osvos.parent
    if checkpoint is not None and resolve_parent(checkpoint).id != parent.id:
        raise ValueError(
            f"The OSVOS passed uses the parent {parent.id}, not the checkpoint {checkpoint} "
            f"({resolve_parent(checkpoint).id}); pass one or the other."
        )
    return parent


def _open_folders(
    out_dir: Path, budgets: Sequence[Budget], modes: Sequence[str], settings: Callable[[Budget, str], RunSettings]
) -> list[_Folder]:
    """One :class:`_Folder` per (budget, mode): ``out_dir[/<budget>][/<mode>]``, each checked (new, empty, or
    a run of the same settings). Writes nothing."""
    several_budgets, several_modes = len(budgets) > 1, len(modes) > 1
    if several_budgets:
        check_only_subfolders(out_dir, [b.name for b in budgets])
    folders = []
    for budget in budgets:
        budget_dir = out_dir / budget.name if several_budgets else out_dir
        if several_modes:
            check_only_subfolders(budget_dir, modes)
        for mode in modes:
            path = budget_dir / mode if several_modes else budget_dir
            folders.append(_Folder(budget, mode, path, open_run_folder(path, settings(budget, mode))))
    return folders


def _prepare_folders(folders: Sequence[_Folder], inputs: dict) -> dict[str, list[_Folder]]:
    """``{seq: the folders where it is not finished}``; clears what interrupted attempts left, creates the
    folders and writes their timing.json."""
    todo = {
        seq: [f for f in folders if not is_finished(f.path, f.timing, seq, frames)]
        for seq, (frames, _) in inputs.items()
    }
    for seq, unfinished in todo.items():
        for f in unfinished:
            clear_stale(f.path, seq)
    for f in folders:
        f.path.mkdir(parents=True, exist_ok=True)
        write_timing(f.path, f.timing)
    return todo


# --------------------------------------------------------------------------------------------------
# Running one sequence
# --------------------------------------------------------------------------------------------------
class _Work:
    """What every sequence shares: the network (built on first need) and the snappers."""

    def __init__(self, osvos, parent: ParentSource, config: FineTuneConfig, params: dict, progress: bool, say):
        self._osvos = osvos
        self._parent = parent
        self.config = config
        self._params = params
        self._snappers: dict = {}
        self.progress = progress
        self.say = say

    def network(self):
        """The OSVOS (built from the run's parent on first call)."""
        if self._osvos is None:
            from osvos_tf.osvos import OSVOS

            parent = self._parent
            osvos = OSVOS(checkpoint=parent.path if parent.path is not None else parent.name, config=self.config)
            if osvos.source != parent.id:
                raise ValueError(
                    f"The parent checkpoint {parent.path} was replaced after this run's checks (it was {parent.id}, "
                    f"it is now {osvos.source}); no mask was written with it. Keep the file unchanged during a run "
                    "and run again."
                )
            self._osvos = osvos
        return self._osvos

    def snapper(self, mode: str):
        """The :class:`~osvos_tf.snapping.Snapper` of ``mode`` (one per mode, so its timing accumulates)."""
        if mode not in self._snappers:
            from osvos_tf.snapping import Snapper

            params = self._params
            self._snappers[mode] = Snapper(mode, contours=params["contours"], bilateral=params["bilateral"])
        return self._snappers[mode]


def _run_sequence(
    work: _Work,
    seq: str,
    frames: list[Path],
    mask: Path,
    budgets: Sequence[Budget],
    folders: Sequence[_Folder],
    todo: list[_Folder],
    head: str,
) -> None:
    """Fine-tune ``seq`` once (for the largest budget of the ``todo`` folders, where it is unfinished), then
    segment it after each of their budgets' updates into them, recording each in timing.json. The other
    folders record it as skipped."""
    for f in folders:
        if f not in todo:
            f.skipped.append(seq)
    if not todo:
        work.say(f"{head}: finished in an earlier run, skipped")
        return
    needed = sorted({f.budget.iterations for f in todo})
    work.say(
        f"{head} ({len(frames)} frames): "
        + (f"fine-tuning {needed[-1]} iterations" if needed[-1] else "no fine-tuning")
        + (f", segmenting after {', '.join(map(str, needed))}" if len(needed) > 1 else "")
    )
    osvos = work.network()
    states = {}
    if needed[-1]:
        keep = [n for n in needed[:-1] if n]
        final = osvos.fit([frames[0]], [mask], work.config, iterations=needed[-1], progress=work.progress, keep_at=keep)
        states = {**final.earlier, final.iterations: final}
    parts = []
    for budget in budgets:
        targets = [f for f in todo if f.budget is budget]
        if not targets:
            continue
        n = budget.iterations
        state = states.get(n) if n else None
        if n and state is None:
            raise RuntimeError(f"Fine-tuning {seq} stopped after {max(states, default=0)} of {n} updates.")
        fit_seconds, done = (state.seconds, state.iterations) if state is not None else (0.0, 0)
        records = _segment_sequence(osvos, state, work, frames, targets, seq)
        texts = []
        for f in targets:
            seconds, snap_ms = records[f.snap]
            f.timing["sequences"][seq] = sequence_record(len(frames), done, fit_seconds, seconds, snap_ms)
            write_timing(f.path, f.timing)
            f.ran.append(seq)
            texts.append(f"{f.snap} {1000.0 * seconds / len(frames):.0f}")
        fit_text = f"fine-tuning {fit_seconds:.1f} s" if n else "no fine-tuning"
        prefix = f"{budget.name}: " if len(budgets) > 1 else ""
        parts.append(f"{prefix}{fit_text}, segmentation ms/frame (incl. snapping and PNG): {', '.join(texts)}")
    work.say(f"{head}: " + "; ".join(parts))


def _segment_sequence(
    osvos, state, work: _Work, frames: Sequence[Path], targets: Sequence[_Folder], seq: str
) -> dict[str, tuple[float, dict]]:
    """Segment ``frames`` once with ``state`` (None: the parent) and write each target folder's masks to
    ``<folder>/<seq>`` (via ``<seq>.partial``, renamed when complete).

    Returns ``{mode: (seconds, snap_ms_per_frame)}``: the shared reading + network time plus that mode's
    snapping and PNG writing, as if the mode had run alone.
    """
    from osvos_tf.masks import write_mask
    from osvos_tf.progress import Progress

    partials = {f.snap: f.path / f"{seq}{PARTIAL_SUFFIX}" for f in targets}
    for partial in partials.values():
        partial.mkdir(parents=True)
    snappers = {m: work.snapper(m) for m in partials}
    own = {m: 0.0 for m in partials}
    before = {m: dict(s.seconds) for m, s in snappers.items()}
    if state is None:
        osvos.reset()  # segment with the parent
    bar = Progress(len(frames), "segment", enabled=work.progress)
    start = time.perf_counter()
    for index, frame, probs in osvos.segment_frames(frames, state):
        for m, partial in partials.items():
            t0 = time.perf_counter()
            write_mask(partial / f"{frames[index].stem}.png", snappers[m](frame, probs))
            own[m] += time.perf_counter() - t0
        bar.update()
    bar.close()
    shared = time.perf_counter() - start - sum(own.values())
    records = {}
    n = max(len(frames), 1)
    for f in targets:
        final = f.path / seq
        if final.exists():
            shutil.rmtree(final)  # checked by clear_stale: only masks of an interrupted attempt
        os.replace(partials[f.snap], final)
        snap_ms = {k: round(1000.0 * (v - before[f.snap][k]) / n, 2) for k, v in snappers[f.snap].seconds.items()}
        records[f.snap] = (shared + own[f.snap], snap_ms)
    return records


# --------------------------------------------------------------------------------------------------
# Finishing
# --------------------------------------------------------------------------------------------------
def _evaluate(
    f: _Folder,
    davis_root: Path,
    headings: tuple[bool, bool],
    compute_t: bool,
    workers: int,
    progress: bool,
    stream: TextIO | None,
) -> dict:
    """Evaluate a run folder (:func:`~osvos_tf.benchmarks.run_folder.evaluate_run`). With several budgets or
    modes (``headings``: (several budgets, several modes)), a line "budget = B snap = M:" comes first."""
    parts = ([f"budget = {f.budget.name}"] if headings[0] else []) + ([f"snap = {f.snap}"] if headings[1] else [])
    if parts:
        print(f"\n{' '.join(parts)}:", file=stream or sys.stdout, flush=True)
    return evaluate_run(davis_root, f.path, compute_t, workers, progress, stream)


def _run_of(f: _Folder, results: dict | None) -> DavisRun:
    return DavisRun(f.path, f.budget.name, f.snap, f.timing, results, f.ran, f.skipped)


def _logger(log: TextIO | bool | None) -> Callable[[str], None]:
    stream = sys.stderr if log is True else (log or None)

    def say(text: str) -> None:
        if stream is not None:
            print(f"{_LOG_PREFIX} {text}", file=stream, flush=True)

    return say
